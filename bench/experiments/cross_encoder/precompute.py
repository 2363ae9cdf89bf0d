"""Top-10 candidates of the shipped ranking for each need of the tuning and dev sets; saves
full logits, cosines, grades, near misses and the pair texts to cands.pkl. Read-only on /work/main."""
import sys, time, pickle
sys.path.insert(0, '/work/main')
import numpy as np, torch
torch.set_num_threads(2)
from pathlib import Path
from matching.datasets import INDEPENDENT_DIR, graded_devset, load_devset, load_graded
from matching.embedder import Embedder
from matching.evaluate import SetEvaluation
from matching.ranking import Weights

emb = Embedder(Path('/work/main/data/var/models/multilingual-e5-small'),
               cache_path=Path('/work/evalwork/ce/cache/embeddings.sqlite'))
w = Weights.load()
out = {}
for name, gs, excl in [("tuning", load_graded(INDEPENDENT_DIR / "tuning"), ("tuning",)),
                       ("dev", graded_devset(load_devset()), ("demo",))]:
    t = time.time()
    ev = SetEvaluation(gs, emb, background_exclude=excl, weights=w)
    logit = np.stack([w.bias + w.contributions(f).sum(axis=1) for f in ev.feats])
    out[name] = dict(needs=[n.embed_text() for n in gs.needs], achs=[a.embed_text() for a in gs.achs],
                     need_ids=[n.meta["ext_id"] for n in gs.needs], ach_ids=[a.meta["ext_id"] for a in gs.achs],
                     logit=logit, prob=ev.scores(w), cos=ev.cos, grades=gs.grades, near=gs.near)
    print(name, len(gs.needs), len(gs.achs), f"{time.time()-t:.1f}s", "true per need:", (gs.grades >= 3).sum(1).mean(),
          "needs with true:", int((gs.grades.max(1) >= 3).sum()), "near:", int((gs.near >= 0).sum()))
    print("  check prob vs sigmoid(logit):", float(np.abs(out[name]['prob'] - 1/(1+np.exp(-logit))).max()))
print("encoded (cache misses):", emb.encoded_count)
pickle.dump(out, open('/work/evalwork/ce/cands.pkl', 'wb'))
