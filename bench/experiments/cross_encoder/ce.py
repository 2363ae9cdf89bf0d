"""Cross-encoder on the project's multilingual-e5-small weights: mean-pooled encoder output of
"query: <need>" </s></s> "passage: <成果>" (≤256 tokens) → linear head → logit."""
import json, time
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(2)
from transformers import AutoModel, AutoTokenizer

MODEL = Path('/work/main/data/var/models/multilingual-e5-small')
MAXLEN = 256
_table = {int(k): v for k, v in json.loads((MODEL / 'e5_normalization.json').read_text(encoding='utf-8'))['map'].items()}


def norm(s):
    return ' '.join(s.translate(_table).split())


class CrossEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = AutoModel.from_pretrained(str(MODEL), local_files_only=True)
        self.head = torch.nn.Linear(self.enc.config.hidden_size, 1)
        torch.nn.init.zeros_(self.head.weight); torch.nn.init.zeros_(self.head.bias)
        self.enc.embeddings.word_embeddings.weight.requires_grad_(False)   # 250k×384 table frozen

    def forward(self, batch):
        h = self.enc(input_ids=batch['input_ids'], attention_mask=batch['attention_mask']).last_hidden_state
        m = batch['attention_mask'].unsqueeze(-1).to(h.dtype)
        return self.head((h * m).sum(1) / m.sum(1)).squeeze(-1)


_tok = None
def tokenizer():
    global _tok
    if _tok is None:
        _tok = AutoTokenizer.from_pretrained(str(MODEL), local_files_only=True)
    return _tok


def encode(pairs):
    q = ['query: ' + norm(a) for a, _ in pairs]
    p = ['passage: ' + norm(b) for _, b in pairs]
    return tokenizer()(q, p, truncation='longest_first', max_length=MAXLEN, padding=True, return_tensors='pt',
                       return_token_type_ids=False)


def train(model, groups, steps, groups_per_batch=4, lr=2e-5, seed=0, log_every=20, warmup=20):
    """groups: list of (query, positive, [negatives...]) — softmax cross-entropy over each group
    (positive first). Returns seconds per step."""
    rng = np.random.default_rng(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / steps))
    model.train()
    order, pos, t0, losses = rng.permutation(len(groups)), 0, time.time(), []
    for step in range(steps):
        if pos + groups_per_batch > len(order):
            order, pos = rng.permutation(len(groups)), 0
        gb = [groups[i] for i in order[pos:pos + groups_per_batch]]; pos += groups_per_batch
        pairs, sizes = [], []
        for q, p, negs in gb:
            pairs += [(q, p)] + [(q, n) for n in negs]; sizes.append(1 + len(negs))
        logits = model(encode(pairs))
        loss, off = 0.0, 0
        for s in sizes:
            loss = loss + torch.nn.functional.cross_entropy(logits[off:off + s][None], torch.zeros(1, dtype=torch.long))
            off += s
        loss = loss / len(sizes)
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); sched.step()
        losses.append(float(loss))
        if (step + 1) % log_every == 0:
            print(f"  step {step+1}/{steps} loss {np.mean(losses[-log_every:]):.3f} "
                  f"{(time.time()-t0)/(step+1):.2f}s/step", flush=True)
    model.eval()
    return (time.time() - t0) / steps


@torch.inference_mode()
def score(model, pairs, batch=16):
    """Logits for (need text, 成果 text) pairs, and seconds per pair."""
    model.eval()
    t0, out = time.time(), []
    idx = np.argsort([len(a) + len(b) for a, b in pairs])     # length-sorted batches
    res = np.zeros(len(pairs))
    for i in range(0, len(pairs), batch):
        sel = idx[i:i + batch]
        with torch.autocast('cpu', dtype=torch.bfloat16):
            res[sel] = model(encode([pairs[j] for j in sel])).float().numpy()
    return res, (time.time() - t0) / max(1, len(pairs))
