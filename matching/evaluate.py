"""Measured matching quality: keyword-only, dense-only and the full ranking, side by side.

1. the team's graded dev set (data/eval): needs → 成果, nDCG@10 and Recall@20; the full ranking's
   weights are fitted by 5-fold cross-validation over needs, so no need is scored by weights that
   saw its own judgements;
2. CSL (a path): query = a paper's title, corpus = the other papers' abstracts; P@10 and nDCG@10,
   gain 2 for the same discipline, 1 for the same category;
3. the STS sets (a path): Spearman correlation of cosine with the labels.
Differences come with a paired bootstrap 95% confidence interval over queries.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from .bm25 import BM25
from .datasets import DevSet, Paper, load_csl, load_devset, load_sts, STS_SETS
from .docs import Doc
from .features import FEATURES, structured
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


# ---- the dev set ---------------------------------------------------------------------------

@dataclass
class RunResult:
    name: str
    per_query: dict = field(default_factory=dict)      # metric → np.ndarray over queries

    def mean(self, metric: str) -> float:
        return float(np.mean(self.per_query[metric]))


def _features(query: Doc, docs: list[Doc], cos: np.ndarray, kw: np.ndarray, use_structured: bool = True) -> np.ndarray:
    out = np.full((len(docs), len(FEATURES)), 0.5)
    out[:, 0], out[:, 1] = cos, kw
    if use_structured:
        for n, d in enumerate(docs):
            s = structured(query, d)
            out[n, 2:] = [s[f] for f in FEATURES[2:]]
    return out


class DevEvaluation:
    """Everything computed once: embeddings, keyword scores and features of every need × 成果 pair."""

    def __init__(self, dev: DevSet, embedder, folds: int = 5, base: Weights | None = None):
        self.dev = dev
        self.base = base or Weights()
        self.folds = folds
        self.needs = [n for n in dev.needs if n.meta["ext_id"] in dev.judgements]
        self.achs = dev.achievements
        self.ach_ext = [a.meta["ext_id"] for a in self.achs]
        av = embedder.encode([a.embed_text() for a in self.achs])
        nv = embedder.encode([n.embed_text() for n in self.needs])
        self.cos = nv @ av.T
        bm = BM25()
        for a in self.achs:
            bm.add(a.id, match_terms(a.tokens))
        ids = [a.id for a in self.achs]
        self.kw = np.stack([bm.scores(match_terms(n.tokens), ids) for n in self.needs])
        self.feats = [_features(n, self.achs, self.cos[q], self.kw[q]) for q, n in enumerate(self.needs)]
        self.grades = np.array([[self.dev.judgements[n.meta["ext_id"]].get(e, 0) for e in self.ach_ext]
                                for n in self.needs], dtype=float)
        self.judged = np.array([[e in self.dev.judgements[n.meta["ext_id"]] for e in self.ach_ext]
                                for n in self.needs])

    def _metrics(self, name: str, scores: np.ndarray) -> RunResult:
        res = RunResult(name, {"ndcg@10": [], "recall@20": [], "mrr": []})
        for q in range(len(self.needs)):
            order = np.argsort(-scores[q], kind="stable")
            gains = self.grades[q][order]
            relevant = set(np.flatnonzero(self.grades[q] >= RELEVANT_GRADE).tolist())
            res.per_query["ndcg@10"].append(ndcg(gains.tolist(), self.grades[q].tolist()))
            res.per_query["recall@20"].append(recall(order.tolist(), relevant) if relevant else np.nan)
            hits = [r for r, i in enumerate(order) if self.grades[q][i] >= 3]
            res.per_query["mrr"].append(1.0 / (hits[0] + 1) if hits else np.nan)
        res.per_query = {k: np.array(v, dtype=float) for k, v in res.per_query.items()}
        return res

    def keyword_only(self) -> RunResult:
        return self._metrics("keyword (BM25)", self.kw + 1e-6 * self.cos)

    def dense_only(self) -> RunResult:
        return self._metrics("dense (e5 cosine)", self.cos)

    def fit_weights(self, train: list[int], base: Weights | None = None, **kw) -> Weights:
        return fit([(self.feats[q], self.grades[q], self.judged[q]) for q in train], base or self.base, **kw)

    def full(self, base: Weights | None = None, **kw) -> tuple[RunResult, np.ndarray]:
        """Cross-validated: each need scored by weights fitted on the other folds."""
        scores = np.zeros_like(self.cos)
        rng = np.random.default_rng(11)
        fold_of = rng.permutation(len(self.needs)) % self.folds
        for f in range(self.folds):
            train = [q for q in range(len(self.needs)) if fold_of[q] != f]
            w = self.fit_weights(train, base, **kw)
            for q in np.flatnonzero(fold_of == f):
                scores[q] = w.scores(self.feats[q])
        return self._metrics("full (hybrid, 5-fold CV)", scores), scores

    def with_weights(self, w: Weights, name: str) -> RunResult:
        return self._metrics(name, np.stack([w.scores(f) for f in self.feats]))


def choose_cutoff(scores: np.ndarray, grades: np.ndarray, beta: float = 2.0) -> tuple[float, float]:
    """The score threshold with the best F-beta for 'grade ≥ 2' over all pairs; returns (cut-off, F).

    Suggestions go to a broker who reviews them, so recall weighs more than precision (β = 2)."""
    s, y = scores.ravel(), (grades.ravel() >= RELEVANT_GRADE)
    best = (0.5, 0.0)
    for t in np.unique(np.round(s, 3)):
        pred = s >= t
        tp = (pred & y).sum()
        if tp == 0:
            continue
        p, r = tp / pred.sum(), tp / y.sum()
        f = (1 + beta ** 2) * p * r / (beta ** 2 * p + r)
        if f > best[1]:
            best = (float(t), float(f))
    return best


# ---- CSL -----------------------------------------------------------------------------------

class CslEvaluation:
    def __init__(self, papers: list[Paper], embedder, tokenizer: Tokenizer | None = None, split: str | None = None):
        tok = tokenizer or default_tokenizer()
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
        self.gains = np.stack([np.where(disc == q.discipline, 2.0, np.where(cat == q.category, 1.0, 0.0))
                               for q in self.queries])
        self.gains[np.arange(len(self.queries)), self.self_idx] = 0.0     # the paper itself is not a result

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

    def fused(self, w: Weights) -> np.ndarray:
        feats = np.full(self.cos.shape + (len(FEATURES),), 0.5)
        feats[..., 0], feats[..., 1] = self.cos, self.kw
        return w.scores(feats.reshape(-1, len(FEATURES))).reshape(self.cos.shape)


# ---- STS -----------------------------------------------------------------------------------

def sts_scores(folder, embedder, names=None) -> dict[str, float]:
    out = {}
    for name in names or STS_SETS:
        rows = load_sts(folder, name)
        a = embedder.encode([r[0] for r in rows])
        b = embedder.encode([r[1] for r in rows])
        out[name] = spearman((a * b).sum(axis=1), [r[2] for r in rows])
    return out


__all__ = ["DevEvaluation", "CslEvaluation", "sts_scores", "load_devset", "load_csl", "bootstrap", "choose_cutoff"]
