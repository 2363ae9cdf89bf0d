"""Okapi BM25 over jieba tokens, kept up to date one document at a time.

Postings are per-term lists of (row, tf), turned into numpy arrays on first use, so a query costs
a few vector operations per query term whatever the corpus size.
"""

import math
import threading
from array import array
from collections import Counter

import numpy as np


class BM25:
    def __init__(self, k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self._row_of: dict[int, int] = {}
        self._ids: list[int] = []
        self._alive: list[bool] = []
        self._lengths: list[int] = []
        self._terms: list[tuple[str, ...] | None] = []  # a row's distinct terms
        self._postings: dict[str, tuple[array, array]] = {}  # term → rows, tfs (4 bytes each)
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.df: Counter = Counter()
        self._total_len = 0
        self._dead = 0
        self._row_arrays = None  # (lengths, alive) as numpy, rebuilt after a change
        self._impact: dict[str, np.ndarray] = {}  # per term: its BM25 contribution per posting
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, ident) -> bool:
        return int(ident) in self._row_of

    @property
    def avg_len(self) -> float:
        return self._total_len / len(self) if len(self) else 1.0

    def idf(self, term: str) -> float:
        n, df = len(self), self.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def add(self, ident: int, tokens: list[str]) -> None:
        with self._lock:
            self.remove(ident)
            tf = Counter(tokens)
            row = len(self._ids)
            self._row_of[int(ident)] = row
            self._ids.append(int(ident))
            self._alive.append(True)
            self._lengths.append(len(tokens))
            self._terms.append(tuple(tf))
            self._total_len += len(tokens)
            self._row_arrays = None
            self._impact.clear()
            for term, n in tf.items():
                rows, tfs = self._postings.setdefault(term, (array("i"), array("f")))
                rows.append(row)
                tfs.append(n)
                self._arrays.pop(term, None)
                self.df[term] += 1

    def remove(self, ident: int) -> bool:
        with self._lock:
            row = self._row_of.pop(int(ident), None)
            if row is None:
                return False
            self._alive[row] = False
            self._total_len -= self._lengths[row]
            for term in self._terms[row]:
                self.df[term] -= 1
                if self.df[term] <= 0:
                    del self.df[term]
            self._terms[row] = None
            self._row_arrays = None
            self._impact.clear()
            self._dead += 1
            if self._dead > 1000 and self._dead > len(self):
                self._compact()
            return True

    def _compact(self) -> None:
        """Rebuild without the dead rows (their postings stay behind until then)."""
        alive = [r for r in range(len(self._ids)) if self._alive[r]]
        new_row = {r: n for n, r in enumerate(alive)}
        postings = {}
        for term, (rows, tfs) in self._postings.items():
            keep = [(new_row[r], f) for r, f in zip(rows, tfs) if r in new_row]
            if keep:
                postings[term] = (array("i", [r for r, _ in keep]), array("f", [f for _, f in keep]))
        self._ids = [self._ids[r] for r in alive]
        self._alive = [True] * len(alive)
        self._lengths = [self._lengths[r] for r in alive]
        self._terms = [self._terms[r] for r in alive]
        self._row_of = {i: n for n, i in enumerate(self._ids)}
        self._postings = postings
        self._arrays.clear()
        self._impact.clear()
        self._row_arrays = None
        self._dead = 0

    def _posting(self, term: str):
        arrays = self._arrays.get(term)
        if arrays is None:
            rows, tfs = self._postings.get(term, (array("i"), array("f")))
            arrays = (np.array(rows, dtype=np.int64), np.array(tfs, dtype=np.float32))
            self._arrays[term] = arrays
        return arrays

    def _score_rows(self, query_tokens: list[str]) -> tuple[np.ndarray, float]:
        """Raw BM25 per row, and the best score any document could reach for this query."""
        n_rows = len(self._ids)
        scores = np.zeros(n_rows, dtype=np.float32)
        if not n_rows:
            return scores, 1.0
        if self._row_arrays is None:
            self._row_arrays = (np.asarray(self._lengths, dtype=np.float32), np.asarray(self._alive, dtype=bool))
        lengths, alive = self._row_arrays
        ceiling = 0.0
        for term in set(query_tokens):
            idf = self.idf(term)
            ceiling += idf * (self.k1 + 1)
            rows, tfs = self._posting(term)
            if len(rows):
                impact = self._impact.get(term)
                if impact is None:  # computed once per term until the corpus changes
                    norm = self.k1 * (1 - self.b + self.b * lengths[rows] / self.avg_len)
                    impact = self._impact[term] = (idf * tfs * (self.k1 + 1) / (tfs + norm)).astype(np.float32)
                scores[rows] += impact
        scores[~alive] = 0
        return scores, max(ceiling, 1e-9)

    def query(self, query_tokens: list[str]) -> "Scored":
        """Score every document once; ask the result for the top ones and for any others."""
        with self._lock:
            scores, ceiling = self._score_rows(query_tokens)
            return Scored(scores / ceiling, list(self._ids), dict(self._row_of))

    def top(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        """The k best documents with their normalised score (0–1), best first, score > 0 only."""
        return self.query(query_tokens).top(k)

    def scores(self, query_tokens: list[str], ids) -> np.ndarray:
        """Normalised scores (0–1) of the given documents; 0 for unknown ids.

        Dividing by the highest score a document could reach (every query term, saturated tf)
        makes the value the idf-weighted share of the query found, comparable across corpora.
        """
        return self.query(query_tokens).of(ids)


class Scored:
    def __init__(self, scores: np.ndarray, ids: list[int], row_of: dict[int, int]):
        self._scores, self._ids, self._row_of = scores, ids, row_of

    def top(self, k: int) -> list[tuple[int, float]]:
        s = self._scores
        if not len(s):
            return []
        k = min(k, len(s))
        best = np.argpartition(-s, k - 1)[:k]
        best = best[np.argsort(-s[best])]
        return [(self._ids[r], float(s[r])) for r in best if s[r] > 0]

    def of(self, ids) -> np.ndarray:
        rows = [self._row_of.get(int(i), -1) for i in ids]
        return np.array([self._scores[r] if r >= 0 else 0.0 for r in rows], dtype=np.float32)
