"""Measured matching quality: keyword-only, dense-only, the full ranking and its suggestion rule.

1. graded sets (datasets.GradedSet: the dev set, the independent tuning sets and the lockbox), every
   need against its whole library through the engine's own features: MRR and R@1 of the true 成果,
   near miss above the true one, nDCG@10, Recall@20, and what the suggestion rule passes;
   `cross_validated` scores each need by weights fitted without it, `choose_rule` picks the rule;
2. CSL (a path): query = a paper's title, corpus = the other papers' abstracts; P@10 and nDCG@10,
   gain 2 for the same discipline, 1 for the same category;
3. the STS sets (a path): Spearman correlation of cosine with the labels.
Differences come with a paired bootstrap 95% confidence interval over queries.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .bm25 import BM25
from .datasets import STS_SETS, GradedSet, Paper, load_csl, load_devset, load_sts
from .docs import Doc
from .features import FEATURES, evidence, indicator_alignment
from .ranking import Weights, fit
from .text import Tokenizer, default_tokenizer, match_terms

RELEVANT_GRADE = 2


# ---- metrics ----------------------------------------------------------------------------------


def dcg(gains) -> float:
    return float(sum(g / math.log2(i + 2) for i, g in enumerate(gains)))


def ndcg(ranked_gains, all_gains, k: int = 10) -> float:
    ideal = dcg(sorted(all_gains, reverse=True)[:k])
    return dcg(ranked_gains[:k]) / ideal if ideal > 0 else 0.0


def recall(ranked_ids, relevant: set, k: int = 20) -> float:
    return len(set(ranked_ids[:k]) & relevant) / len(relevant) if relevant else 0.0


def bootstrap(a: np.ndarray, b: np.ndarray, n: int = 5000, seed: int = 7) -> tuple[float, float, float]:
    """Mean of a−b over queries and its paired-bootstrap 95% interval."""
    d = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def spearman(x, y) -> float:
    def ranks(v):
        v = np.asarray(v, dtype=float)
        order = v.argsort()
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        # average ties
        _, inv, counts = np.unique(v, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=r)
        return (sums / counts)[inv]

    rx, ry = ranks(x), ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


# ---- graded sets (the dev set, the independent tuning sets and the lockbox) --------------------


@dataclass
class RunResult:
    name: str
    per_query: dict = field(default_factory=dict)  # metric → np.ndarray over queries
    extra: dict = field(default_factory=dict)

    def mean(self, metric: str) -> float:
        v = self.per_query[metric]
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


class SetEvaluation:
    """Every need of a graded set against its whole library, through the engine's own features
    (MatchEngine.pair_features): what is measured is what the engine ranks with."""

    def __init__(self, gs: GradedSet, embedder, background_exclude: tuple = (), weights: Weights | None = None):
        from .engine import Background, MatchEngine

        self.set = gs
        self.name = gs.name
        self.needs, self.achs, self.grades, self.near = gs.needs, gs.achs, gs.grades, gs.near
        eng = MatchEngine(
            embedder, None, weights=weights or Weights(), background=Background(embedder, exclude=background_exclude)
        )
        eng.sync("achievement", gs.achs)
        ids = [a.id for a in gs.achs]
        self.feats = [eng.pair_features(n, "achievement", ids) for n in gs.needs]
        vectors = eng.libraries["achievement"].index.vectors(ids)
        self.cos = np.stack([vectors @ eng.vector_of(n) for n in gs.needs])  # the plain e5 cosine
        self.engine = eng
        self.judged = np.ones_like(self.grades, dtype=bool)
        self._evidence: dict = {}

    def column(self, name: str) -> np.ndarray:
        return np.stack([f[:, FEATURES.index(name)] for f in self.feats])

    def scores(self, w: Weights) -> np.ndarray:
        return np.stack([w.scores(f) for f in self.feats])

    def metrics(self, name: str, scores: np.ndarray, w: Weights | None = None) -> RunResult:
        res = RunResult(name, {"mrr": [], "r@1": [], "ndcg@10": [], "recall@20": [], "near_above": []})
        for q in range(len(self.needs)):
            g = self.grades[q]
            order = np.argsort(-scores[q], kind="stable")
            rank = np.empty(len(order), dtype=int)
            rank[order] = np.arange(len(order))
            res.per_query["ndcg@10"].append(ndcg(g[order].tolist(), g.tolist()) if g.max() > 0 else np.nan)
            relevant = set(np.flatnonzero(g >= RELEVANT_GRADE).tolist())
            res.per_query["recall@20"].append(recall(order.tolist(), relevant) if relevant else np.nan)
            true = np.flatnonzero(g >= 3)
            if len(true):
                best = int(rank[true].min())
                res.per_query["mrr"].append(1.0 / (best + 1))
                res.per_query["r@1"].append(float(best == 0))
                res.per_query["near_above"].append(float(rank[self.near[q]] < best) if self.near[q] >= 0 else np.nan)
            else:
                for k in ("mrr", "r@1", "near_above"):
                    res.per_query[k].append(np.nan)
        res.per_query = {k: np.array(v, dtype=float) for k, v in res.per_query.items()}
        if w is not None:
            res.extra = self.suggestions(scores, w)
        return res

    def suggestions(self, scores: np.ndarray, w: Weights, tops: list | None = None) -> dict:
        """What the suggestion rule of ``w`` passes over the set: share of the true 成果 suggested,
        suggestions per need without a true 成果, the suggested pairs' precision and recall.
        ``tops`` (from ``top_candidates``) saves sorting and 指标对照 when many rules are tried."""
        tops = tops or self.top_candidates(scores, w.suggest_max)
        true, none, n, good = [], [], 0, 0
        for q, (idx, probs, says) in enumerate(tops):
            g = self.grades[q][idx[: w.suggest_max]]
            chosen = w.suggest(probs[: w.suggest_max], says[: w.suggest_max])
            n += len(chosen)
            good += int(sum(g[i] >= RELEVANT_GRADE for i in chosen))
            if (self.grades[q] >= 3).any():
                true.append(float(any(g[i] >= 3 for i in chosen)))
            elif self.grades[q].max() == 0:
                none.append(len(chosen))
        pairs = int((self.grades >= RELEVANT_GRADE).sum())
        return {
            "suggest_true": float(np.mean(true)) if true else float("nan"),
            "suggest_none": float(np.mean(none)) if none else float("nan"),
            "suggested": n,
            "suggest_precision": good / n if n else float("nan"),
            "suggest_recall": good / pairs if pairs else float("nan"),
        }

    def top_candidates(self, scores: np.ndarray, top: int) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
        """Per need: its ``top`` best candidates (indices, scores, what 指标对照 says of each)."""
        out = []
        for q in range(len(self.needs)):
            idx = np.argsort(-scores[q], kind="stable")[:top]
            says = self.evidence(q, scores[q], top)
            out.append((idx, scores[q][idx], [says[i] for i in idx]))
        return out

    def evidence(self, q: int, scores: np.ndarray, top: int) -> list[str]:
        """What 指标对照 says of each of need ``q``'s top candidates (features.evidence)."""
        out = ["ok"] * len(self.achs)
        for i in np.argsort(-scores, kind="stable")[:top]:
            key = (q, int(i))
            if key not in self._evidence:
                need, ach = self.needs[q], self.achs[i]
                self._evidence[key] = evidence(need, ach, indicator_alignment(need, ach, self.engine._quantities))
            out[i] = self._evidence[key]
        return out

    def keyword_only(self) -> RunResult:
        return self.metrics("keyword (BM25)", self.column("keyword") + 1e-6 * self.cos)

    def dense_only(self) -> RunResult:
        return self.metrics("dense (e5)", self.cos)

    def run(self, w: Weights, name: str) -> RunResult:
        return self.metrics(name, self.scores(w), w)


def headline(full: RunResult, dense: RunResult) -> tuple[str, tuple[float, float, float]]:
    """The metric full − dense is judged on — MRR of the true 成果 where a set has true 成果, else
    nDCG@10 — and the paired-bootstrap mean and 95% interval of the difference."""
    metric = "mrr" if np.isfinite(full.per_query["mrr"]).any() else "ndcg@10"
    x, y = full.per_query[metric], dense.per_query[metric]
    ok = np.isfinite(x) & np.isfinite(y)
    return metric, bootstrap(x[ok], y[ok])


def losses_to_dense(pairs: list[tuple[str, RunResult, RunResult]]) -> list[str]:
    """Names of the sets where the full ranking does worse than dense-only (mean difference below
    zero): weights that lose anywhere are not shipped."""
    return [name for name, full, dense in pairs if headline(full, dense)[1][0] < 0]


def first_stage(w: Weights) -> Weights:
    """The same weights without the second stage (指标对照 and the problem object)."""
    return replace(w, coef={**w.coef, "indicators": 0.0, "object": 0.0})


def fit_sets(evals: list["SetEvaluation"], base: Weights, exclude: dict | None = None, **kw) -> Weights:
    """Weights fitted on the needs of several sets (``exclude``: set index → needs left out)."""
    queries = []
    for n, ev in enumerate(evals):
        skip = (exclude or {}).get(n, set())
        queries += [
            (ev.feats[q], ev.grades[q], ev.judged[q])
            for q in range(len(ev.needs))
            if q not in skip and ev.grades[q].max() > 0
        ]
    return fit(queries, base, **kw)


def cross_validated(
    evals: list["SetEvaluation"], base: Weights, folds: int = 5, seed: int = 11, **kw
) -> list[np.ndarray]:
    """Per set, the score matrix where each need is scored by weights fitted without it."""
    rng = np.random.default_rng(seed)
    fold_of = [rng.permutation(len(ev.needs)) % folds for ev in evals]
    out = [np.zeros_like(ev.grades) for ev in evals]
    for f in range(folds):
        held = {n: set(np.flatnonzero(fo == f).tolist()) for n, fo in enumerate(fold_of)}
        w = fit_sets(evals, base, exclude=held, **kw)
        for n, ev in enumerate(evals):
            for q in held[n]:
                out[n][q] = w.scores(ev.feats[q])
    return out


def choose_rule(
    evals: list["SetEvaluation"],
    scores: list[np.ndarray],
    w: Weights,
    max_none: float = 0.4,
    max_none_set: float = 0.55,
    min_precision: float = 0.4,
    titles_precision: float = 0.3,
) -> dict:
    """The suggestion rule (cut-off, share of the best, the score a runner-up needs, the score needed
    when no stated target is met, how many a listing gets at most) that suggests the most true 成果
    over all the sets' needs, keeping suggestions on needs without a true 成果 at or below
    ``max_none`` over the sets of full texts together and ``max_none_set`` on each, and the
    suggested pairs' precision at or above ``min_precision`` on every set of full texts — on a
    library known by titles only, where no figure can be compared, at or above
    ``titles_precision``; among equals, the one with fewest suggestions on needs without a true
    成果. ``max_none`` sits below the goal (0.5) on purpose: a rule chosen right at the goal on the
    tuning sets overshot it on the first lockbox (1.0 suggestions per no-match need at 367fc01), and
    the shipped rule of 9e7a6d6, chosen at 0.4 on two sets, made 0.45 and 0.48 on the two sets written
    after it. Over five full-text sets, 0.35 would cost four points of true 成果 for 0.05 fewer
    no-match suggestions (cross-validated: 0.825 / 0.345 against 0.861 / 0.395)."""
    best = None
    grid = [
        (float(c), r, sec, e, m)
        for c in np.round(np.arange(0.025, 0.8, 0.025), 3)
        for r in (0.0, 0.5, 0.7)
        for sec in (0.0, 0.2, 0.3, 0.4, 0.5)
        for e in (0.0, 0.3, 0.4, 0.5, 0.6, 0.8, 1.01)
        if e == 0.0 or e > c
        for m in (5, 3, 2, 1)
        if sec == 0.0 or (sec > c and m > 1)
    ]
    tops = [ev.top_candidates(s, 5) for ev, s in zip(evals, scores)]
    n_true = [int((ev.grades >= 3).any(axis=1).sum()) for ev in evals]
    n_none = [int((ev.grades.max(axis=1) == 0).sum()) for ev in evals]
    for cutoff, relative, second, evidence_cutoff, most in grid:
        trial = replace(
            w,
            cutoff=cutoff,
            suggest_relative=relative,
            suggest_second=second,
            evidence_cutoff=evidence_cutoff,
            suggest_max=most,
        )
        extras = [ev.suggestions(s, trial, t) for ev, s, t in zip(evals, scores, tops)]
        full = [(e, k) for ev, e, k in zip(evals, extras, n_none) if not ev.set.titles_only]
        titles = [e for ev, e in zip(evals, extras) if ev.set.titles_only]
        if any(k and e["suggest_none"] > max_none_set for e, k in full):
            continue
        if sum(k * e["suggest_none"] for e, k in full if k) > max_none * sum(k for _, k in full):
            continue
        if any(not np.isfinite(e["suggest_precision"]) or e["suggest_precision"] < min_precision for e, _ in full):
            continue
        if any(not np.isfinite(e["suggest_precision"]) or e["suggest_precision"] < titles_precision for e in titles):
            continue
        value = sum(k * e["suggest_true"] for e, k in zip(extras, n_true) if k) / sum(n_true)
        none = sum(k * e["suggest_none"] for e, k in full if k) / max(sum(k for _, k in full), 1)
        if (
            best is None
            or value > best["true"] + 1e-9
            or (abs(value - best["true"]) <= 1e-9 and none < best["none"] - 1e-9)
        ):
            best = {
                "cutoff": float(cutoff),
                "relative": relative,
                "second": second,
                "evidence_cutoff": evidence_cutoff,
                "most": most,
                "true": value,
                "none": none,
                "per_set": {ev.name: {k: round(float(v), 3) for k, v in e.items()} for ev, e in zip(evals, extras)},
            }
    return best or {
        "cutoff": w.cutoff,
        "relative": w.suggest_relative,
        "second": w.suggest_second,
        "evidence_cutoff": w.evidence_cutoff,
        "most": w.suggest_max,
        "true": float("nan"),
        "none": float("nan"),
        "per_set": {},
    }


# ---- CSL -----------------------------------------------------------------------------------


class CslEvaluation:
    def __init__(self, papers: list[Paper], embedder, tokenizer: Tokenizer | None = None, split: str | None = None):
        tok = tokenizer or default_tokenizer()
        self.embedder = embedder
        self.queries = [p for p in papers if split is None or p.split == split]
        self.corpus = papers
        qv = embedder.encode([p.title for p in self.queries])
        cv = embedder.encode([p.abstract for p in self.corpus])
        self.cos = qv @ cv.T
        bm = BM25()
        for n, p in enumerate(self.corpus):
            bm.add(n, match_terms(tok.tokens(p.abstract)))
        ids = list(range(len(self.corpus)))
        self.kw = np.stack([bm.scores(match_terms(tok.tokens(p.title)), ids) for p in self.queries])
        index_of = {p.id: n for n, p in enumerate(self.corpus)}
        self.self_idx = np.array([index_of[p.id] for p in self.queries])
        disc = np.array([p.discipline for p in self.corpus])
        cat = np.array([p.category for p in self.corpus])
        self.gains = np.stack(
            [np.where(disc == q.discipline, 2.0, np.where(cat == q.category, 1.0, 0.0)) for q in self.queries]
        )
        self.gains[np.arange(len(self.queries)), self.self_idx] = 0.0  # the paper itself is not a result

    def metrics(self, name: str, scores: np.ndarray) -> RunResult:
        scores = scores.copy()
        scores[np.arange(len(self.queries)), self.self_idx] = -np.inf
        res = RunResult(name, {"p@10": [], "ndcg@10": []})
        for q in range(len(self.queries)):
            top = np.argpartition(-scores[q], 10)[:10]
            top = top[np.argsort(-scores[q][top])]
            g = self.gains[q][top]
            res.per_query["p@10"].append(float((g == 2).mean()))
            res.per_query["ndcg@10"].append(ndcg(g.tolist(), self.gains[q].tolist()))
        res.per_query = {k: np.array(v) for k, v in res.per_query.items()}
        return res

    def ranked(self, name: str, w: Weights) -> RunResult:
        """The engine's own top 10 for each title (candidates: dense top 100 and BM25 top 30)."""
        from .engine import MatchEngine

        eng = MatchEngine(self.embedder, None, weights=w)
        eng.upsert(
            [Doc(id=n, kind="achievement", title="", text=p.abstract) for n, p in enumerate(self.corpus)], save=False
        )
        scores = np.full(self.cos.shape, -np.inf)
        for q, p in enumerate(self.queries):
            own = int(self.self_idx[q])
            for rank, m in enumerate(
                eng.match(Doc(id=-1, kind="need", title=p.title, text=""), k=10, where=lambda d, own=own: d.id != own)
            ):
                scores[q, m.id] = 10 - rank
        return self.metrics(name, scores)


# ---- STS -----------------------------------------------------------------------------------


def sts_scores(folder, embedder, names=None) -> dict[str, float]:
    out = {}
    for name in names or STS_SETS:
        rows = load_sts(folder, name)
        a = embedder.encode([r[0] for r in rows])
        b = embedder.encode([r[1] for r in rows])
        out[name] = spearman((a * b).sum(axis=1), [r[2] for r in rows])
    return out


__all__ = ["SetEvaluation", "CslEvaluation", "sts_scores", "load_devset", "load_csl", "bootstrap", "choose_rule"]
