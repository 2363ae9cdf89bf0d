"""Continue training the CSL cross-encoder on tuning pairs, 5-fold over needs: each tuning need's top
10 is scored by a model whose training never saw that need; the dev set by a model trained on all
tuning needs. Groups: need → true 成果 vs near miss + 2 other shipped top-10 candidates.
Usage: python train_tuning_cv.py STEPS MAXLEN OUT.pkl"""
import sys, time, pickle
sys.path.insert(0, '/work/evalwork/ce')
import numpy as np, torch
torch.set_num_threads(2)
import ce
steps, ce.MAXLEN, out_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
C = pickle.load(open('/work/evalwork/ce/cands.pkl', 'rb'))
d = C['tuning']
top = np.argsort(-d['logit'], axis=1, kind='stable')[:, :10]
n = len(top)
fold = np.random.default_rng(11).permutation(n) % 5
rng = np.random.default_rng(1)


def groups_of(qs):
    out = []
    for q in qs:
        true = np.flatnonzero(d['grades'][q] >= 3)
        if not len(true):
            continue
        others = [j for j in top[q] if d['grades'][q][j] < 3 and j != d['near'][q]]
        negs = [d['near'][q]] + list(rng.choice(others, 2, replace=False))
        out.append((d['needs'][q], d['achs'][true[0]], [d['achs'][j] for j in negs]))
    return out


def fresh():
    m = ce.CrossEncoder()
    m.load_state_dict(torch.load('/work/evalwork/ce/ce_csl.pt'), strict=False)
    L = m.enc.config.num_hidden_layers
    for name, p in m.enc.named_parameters():
        p.requires_grad_(any(f"encoder.layer.{l}." in name for l in range(L - 4, L)))
    return m


def fit(m, groups):
    enc = [p for p in m.enc.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": enc, "lr": 3e-5}, {"params": m.head.parameters(), "lr": 1e-3}], weight_decay=0.01)
    m.train(); t0 = time.time(); order = rng.permutation(len(groups)); pos = 0
    for step in range(steps):
        if pos + 4 > len(order):
            order, pos = rng.permutation(len(groups)), 0
        gb = [groups[i] for i in order[pos:pos + 4]]; pos += 4
        pairs = [pp for q, a, negs in gb for pp in [(q, a)] + [(q, x) for x in negs]]
        with torch.autocast('cpu', dtype=torch.bfloat16):
            logits = m(ce.encode(pairs)).float().view(len(gb), 4)
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(gb), dtype=torch.long))
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(enc, 1.0); opt.step()
    m.eval()
    return (time.time() - t0) / steps


scores = np.zeros(top.shape); secs, per_pair = [], []
for f in range(5):
    m = fresh()
    tr = np.flatnonzero(fold != f); held = np.flatnonzero(fold == f)
    g = groups_of(tr)
    secs.append(fit(m, g))
    pairs = [(d['needs'][q], d['achs'][j]) for q in held for j in top[q]]
    s, per = ce.score(m, pairs); per_pair.append(per)
    scores[held] = s.reshape(len(held), 10)
    print(f"fold {f}: {len(g)} training groups, {steps} steps at {secs[-1]:.2f} s/step; "
          f"{len(pairs)} held-out pairs at {per*1000:.1f} ms/pair", flush=True)
out = {"tuning": dict(top=top, ce=scores, sec_per_pair=float(np.mean(per_pair)))}
pickle.dump(out, open(out_path, 'wb'))
m = fresh()
g = groups_of(range(n)); sec = fit(m, g)
dv = C['dev']; dtop = np.argsort(-dv['logit'], axis=1, kind='stable')[:, :10]
pairs = [(dv['needs'][q], dv['achs'][j]) for q in range(len(dtop)) for j in dtop[q]]
s, per = ce.score(m, pairs)
out["dev"] = dict(top=dtop, ce=s.reshape(dtop.shape), sec_per_pair=per)
print(f"all tuning: {len(g)} groups, {sec:.2f} s/step; dev {len(pairs)} pairs at {per*1000:.1f} ms/pair", flush=True)
pickle.dump(out, open(out_path, 'wb'))
