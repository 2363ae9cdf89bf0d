"""Train the cross-encoder on CSL: "query: title" → "passage: own abstract" (positive) against 3
abstracts of the same discipline (hard negatives: the closest by character-bigram TF-IDF to the
title, sampled from the top 20). Top 4 encoder layers + head trained, bf16 autocast, time-boxed.
Usage: python train_csl.py MAX_STEPS MAX_SECONDS MAXLEN"""
import sys, time
sys.path.insert(0, '/work/main'); sys.path.insert(0, '/work/evalwork/ce')
import numpy as np, torch
torch.set_num_threads(2)
from scipy import sparse
from matching.datasets import load_csl
import ce

max_steps, max_sec, ce.MAXLEN = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
TRAIN_LAYERS = 4
P = load_csl('/work/shared/eval/csl')
rng = np.random.default_rng(0)

def bigrams(s):
    s = ce.norm(s); return [s[i:i + 2] for i in range(len(s) - 1)]
vocab = {}
def vec(docs):
    rows, cols = [], []
    for r, d in enumerate(docs):
        for g in bigrams(d):
            rows.append(r); cols.append(vocab.setdefault(g, len(vocab)))
    return rows, cols
ra, ca = vec([p.abstract for p in P]); rt, ct = vec([p.title for p in P])
V = len(vocab)
A = sparse.csr_matrix((np.ones(len(ra)), (ra, ca)), shape=(len(P), V)); A.sum_duplicates()
T = sparse.csr_matrix((np.ones(len(rt)), (rt, ct)), shape=(len(P), V)); T.sum_duplicates()
idf = np.log(len(P) / (1 + np.asarray((A > 0).sum(0)).ravel()))
def tfidf(M):
    M = M.multiply(idf).tocsr(); n = np.sqrt(np.asarray(M.multiply(M).sum(1)).ravel()) + 1e-9
    return sparse.diags(1 / n) @ M
S = (tfidf(T) @ tfidf(A).T).toarray()
disc = np.array([p.discipline for p in P])
groups = []
for i, p in enumerate(P):
    cand = np.flatnonzero((disc == disc[i]) & (np.arange(len(P)) != i))
    if len(cand) < 3:
        continue
    top = cand[np.argsort(-S[i, cand])[:20]]
    negs = rng.choice(top, 3, replace=False)
    groups.append((p.title, p.abstract, [P[j].abstract for j in negs]))
print(f"{len(groups)} groups, {len(set(disc))} disciplines", flush=True)

model = ce.CrossEncoder()
n_layers = model.enc.config.num_hidden_layers
for name, prm in model.enc.named_parameters():
    prm.requires_grad_(any(f"encoder.layer.{l}." in name for l in range(n_layers - TRAIN_LAYERS, n_layers)))
print("trainable", sum(p.numel() for p in model.parameters() if p.requires_grad), flush=True)
enc_params = [p for p in model.enc.parameters() if p.requires_grad]
opt = torch.optim.AdamW([{"params": enc_params, "lr": 3e-5}, {"params": model.head.parameters(), "lr": 1e-3}],
                        weight_decay=0.01)
warm = 10
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
model.train()
order, pos, t0, losses, accs = rng.permutation(len(groups)), 0, time.time(), [], []
step = 0
while step < max_steps and time.time() - t0 < max_sec:
    gb = [groups[i] for i in order[pos:pos + 4]]; pos += 4
    pairs = [pp for q, a, negs in gb for pp in [(q, a)] + [(q, n) for n in negs]]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = model(ce.encode(pairs)).float().view(len(gb), 4)
    loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(gb), dtype=torch.long))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(enc_params, 1.0); opt.step(); sched.step()
    losses.append(loss.item()); accs.append(float((logits.argmax(1) == 0).float().mean()))
    step += 1
    if step % 10 == 0:
        print(f"step {step} loss {np.mean(losses[-10:]):.3f} acc {np.mean(accs[-10:]):.2f} "
              f"{(time.time() - t0) / step:.2f} s/step", flush=True)
sec = (time.time() - t0) / step
print(f"TRAINED {step} steps, {sec:.2f} s/step (16 pairs, maxlen {ce.MAXLEN}), total {time.time() - t0:.0f}s", flush=True)
torch.save({k: v for k, v in model.state_dict().items()
            if k.startswith('head') or any(f"encoder.layer.{l}." in k for l in range(n_layers - TRAIN_LAYERS, n_layers))},
           '/work/evalwork/ce/ce_csl.pt')
print("saved", flush=True)
