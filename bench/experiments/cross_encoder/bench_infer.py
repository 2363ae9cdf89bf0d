"""Inference cost of the cross-encoder: ms per pair over 160 tuning top-10 pairs (10 needs), batch 16
(one need's top 10 = 10 pairs also timed as one batch), bf16 autocast, 2 threads; load average printed."""
import sys, time, pickle, os
sys.path.insert(0, '/work/evalwork/ce')
import numpy as np, torch
torch.set_num_threads(2)
import ce
C = pickle.load(open('/work/evalwork/ce/cands.pkl', 'rb')); d = C['tuning']
top = np.argsort(-d['logit'], axis=1, kind='stable')[:, :10]
m = ce.CrossEncoder(); m.load_state_dict(torch.load('/work/evalwork/ce/ce_csl.pt'), strict=False); m.eval()
pairs = [(d['needs'][q], d['achs'][j]) for q in range(16) for j in top[q]]
for L in (128, 256):
    ce.MAXLEN = L
    ce.score(m, pairs[:16])
    _, per = ce.score(m, pairs, batch=16)
    t = time.time()
    for q in range(16):
        ce.score(m, pairs[q * 10:(q + 1) * 10], batch=10)
    per_need = (time.time() - t) / 16
    print(f"maxlen {L}: {per*1000:.1f} ms/pair (batch 16); one need's top 10 as one batch: {per_need*1000:.0f} ms; "
          f"load avg {os.getloadavg()[0]:.2f}", flush=True)
