"""Score each need's top-10 candidates (shipped ranking) with the trained cross-encoder.
Usage: python score_ce.py CHECKPOINT MAXLEN OUT.pkl [sets...]"""
import sys, time, pickle
sys.path.insert(0, '/work/evalwork/ce')
import numpy as np, torch
torch.set_num_threads(2)
import ce
ckpt, ce.MAXLEN, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sets = sys.argv[4:] or ["tuning", "dev"]
C = pickle.load(open('/work/evalwork/ce/cands.pkl', 'rb'))
model = ce.CrossEncoder()
if ckpt != "none":
    missing = model.load_state_dict(torch.load(ckpt), strict=False)
    print("unexpected:", missing.unexpected_keys)
model.eval()
out = {}
for name in sets:
    d = C[name]
    top = np.argsort(-d['logit'], axis=1, kind='stable')[:, :10]
    pairs = [(d['needs'][q], d['achs'][j]) for q in range(len(top)) for j in top[q]]
    t = time.time()
    s, per = ce.score(model, pairs)
    out[name] = dict(top=top, ce=s.reshape(top.shape), sec_per_pair=per)
    print(f"{name}: {len(pairs)} pairs, {per*1000:.1f} ms/pair (batch 16, bf16, maxlen {ce.MAXLEN}), "
          f"{time.time()-t:.0f}s", flush=True)
    pickle.dump(out, open(out_path, 'wb'))
