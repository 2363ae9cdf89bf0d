"""Metrics of the true 成果 (grade 3): dense, shipped full, CE alone on the top 10, full + a·CE.
Usage: python analyze.py CE_SCORES.pkl"""
import sys, pickle
sys.path.insert(0, '/work/main')
import numpy as np
from matching.evaluate import bootstrap, ndcg

C = pickle.load(open('/work/evalwork/ce/cands.pkl', 'rb'))
S = pickle.load(open(sys.argv[1], 'rb'))
GRID = [0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
sd = S['tuning']['ce'].std()          # CE logits in units of their spread over the tuning top-10 pairs


def ranking(d, s, how, a=0.0):
    """Per need an order over the whole library."""
    orders = []
    for q in range(len(d['grades'])):
        if how == 'dense':
            orders.append(np.argsort(-d['cos'][q], kind='stable')); continue
        full = np.argsort(-d['logit'][q], kind='stable')
        top, rest = full[:10], full[10:]
        if how == 'full':
            orders.append(full); continue
        c = s['ce'][q] / sd
        assert (s['top'][q] == top).all()
        key = c if how == 'ce' else d['logit'][q][top] + a * c
        orders.append(np.concatenate([top[np.argsort(-key, kind='stable')], rest]))
    return orders


def per_need(d, orders):
    mrr, r1, near, nd = [], [], [], []
    for q, o in enumerate(orders):
        g = d['grades'][q]
        rank = np.empty(len(o), dtype=int); rank[o] = np.arange(len(o))
        nd.append(ndcg(g[o].tolist(), g.tolist()) if g.max() > 0 else np.nan)
        true = np.flatnonzero(g >= 3)
        if not len(true):
            mrr.append(np.nan); r1.append(np.nan); near.append(np.nan); continue
        best = rank[true].min()
        mrr.append(1 / (best + 1)); r1.append(float(best == 0))
        near.append(float(rank[d['near'][q]] < best) if d['near'][q] >= 0 else np.nan)
    return {k: np.array(v) for k, v in dict(mrr=mrr, r1=r1, near=near, ndcg=nd).items()}


def row(name, m):
    n = m['near'][np.isfinite(m['near'])]
    near = f"{int(n.sum())}/{len(n)}" if len(n) else "–"
    return f"| {name} | {np.nanmean(m['mrr']):.3f} | {np.nanmean(m['r1']):.3f} | {near} | {np.nanmean(m['ndcg']):.3f} |"


def cv_a(d, s, folds=5, seed=11):
    """Each tuning need ranked with the a chosen (max MRR) on the other folds."""
    n = len(d['grades'])
    fold = np.random.default_rng(seed).permutation(n) % folds
    per_a = {a: per_need(d, ranking(d, s, 'mix', a))['mrr'] for a in GRID}
    chosen, orders = [], [None] * n
    for f in range(folds):
        tr = fold != f
        a = max(GRID, key=lambda a: (np.nanmean(per_a[a][tr]), -a))
        chosen.append(a)
        o = ranking(d, s, 'mix', a)
        for q in np.flatnonzero(fold == f):
            orders[q] = o[q]
    return orders, chosen


print(f"CE logit spread (std over tuning top-10 pairs) = {sd:.3f}; a is in shipped-logit units per CE std")
a_all = max(GRID, key=lambda a: (np.nanmean(per_need(C['tuning'], ranking(C['tuning'], S['tuning'], 'mix', a))['mrr']), -a))
for name in S:
    d, s = C[name], S[name]
    print(f"\n### {name}: {len(d['grades'])} needs, {int((d['grades'].max(1) >= 3).sum())} with a true 成果; "
          f"CE {s['sec_per_pair']*1000:.1f} ms/pair")
    print("| ranking | MRR | R@1 | near miss above true | nDCG@10 |\n|---|---|---|---|---|")
    base = per_need(d, ranking(d, s, 'full'))
    intop = np.mean([(np.argsort(-d['logit'][q])[:10][:, None] == np.flatnonzero(d['grades'][q] >= 3)).any()
                     for q in range(len(d['grades'])) if d['grades'][q].max() >= 3])
    print(row("dense only (e5 cosine)", per_need(d, ranking(d, s, 'dense'))))
    print(row("shipped full ranking", base))
    print(row("cross-encoder alone (re-orders the top 10)", per_need(d, ranking(d, s, 'ce'))))
    for a in GRID[1:]:
        print(row(f"full logit + {a}·CE", per_need(d, ranking(d, s, 'mix', a))))
    if name == 'tuning':
        o, chosen = cv_a(d, s)
        m = per_need(d, o)
        print(row(f"full + a·CE, a by 5-fold CV (chosen {chosen})", m))
    else:
        m = per_need(d, ranking(d, s, 'mix', a_all))
        print(row(f"full + a·CE, a = {a_all} (chosen on all of tuning)", m))
    mean, lo, hi = bootstrap(m['mrr'][np.isfinite(m['mrr'])], base['mrr'][np.isfinite(base['mrr'])])
    print(f"MRR (CV/chosen a) − shipped: {mean:+.3f} [95% CI {lo:+.3f}, {hi:+.3f}]; "
          f"true 成果 within the shipped top 10: {intop:.3f}")
