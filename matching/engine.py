"""The matching facade: two libraries (成果, 需求), each a FAISS index + a BM25 index + its docs.

The web app, ingest and evaluation talk to this class only. It never sees a database: callers
hand it Docs, and it keeps the persisted index in step with what they hand it.
"""
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .bm25 import BM25
from .docs import Doc
from .features import FEATURES, structured
from .index import IndexMismatch, IndexParams, VectorIndex
from .ranking import Weights
from .text import Tokenizer, default_tokenizer

log = logging.getLogger(__name__)
KINDS = ("achievement", "need")


@dataclass
class Match:
    id: int
    score: float                                   # calibrated, 0–1
    cosine: float
    components: dict = field(default_factory=dict)  # each feature's push on the score (logit units)
    features: dict = field(default_factory=dict)    # raw feature values
    shared_terms: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"id": self.id, "score": round(self.score, 4), "cosine": round(self.cosine, 4),
                "components": self.components, "features": {k: round(v, 4) for k, v in self.features.items()},
                "shared_terms": self.shared_terms}


@dataclass
class SyncReport:
    kind: str
    loaded: bool = False
    rebuilt: bool = False
    reason: str = ""
    added: int = 0
    updated: int = 0
    removed: int = 0
    total: int = 0

    def __str__(self):
        how = "rebuilt" if self.rebuilt else "loaded" if self.loaded else "new"
        why = f" ({self.reason})" if self.reason else ""
        return (f"{self.kind}: {how}{why}; +{self.added} ~{self.updated} -{self.removed}; "
                f"{self.total} in index")


class Library:
    def __init__(self, kind: str, dim: int, model_id: str, params: IndexParams):
        self.kind = kind
        self.index = VectorIndex(dim, model_id, params)
        self.bm25 = BM25()
        self.docs: dict[int, Doc] = {}
        self.hashes: dict[int, str] = {}


class MatchEngine:
    def __init__(self, embedder, index_dir: Path | None = None, weights: Weights | None = None,
                 params: IndexParams | None = None, tokenizer: Tokenizer | None = None,
                 candidates: int = 100, keyword_candidates: int = 30):
        self.embedder = embedder
        self.index_dir = Path(index_dir) if index_dir else None
        self.weights = weights or Weights()
        self.params = params or IndexParams()
        self.tokenizer = tokenizer or default_tokenizer()
        self.candidates = candidates
        self.keyword_candidates = keyword_candidates
        self.libraries = {k: Library(k, embedder.dim, embedder.model_id, self.params) for k in KINDS}
        self._manifest_mtime: dict[str, float] = {}
        self._lock = threading.RLock()
        self._dirty: set[str] = set()
        self._save_timer: threading.Timer | None = None
        self.save_delay = 5.0
        self.version = 0          # bumped by every change, for callers' caches

    # ---- keeping the index in step ----------------------------------------------------------
    def _embed(self, docs: list[Doc]) -> np.ndarray:
        return self.embedder.encode([d.embed_text() for d in docs])

    def _tokens(self, doc: Doc) -> list[str]:
        return list(doc.tokens) if doc.tokens else self.tokenizer.tokens(doc.embed_text())

    def upsert(self, docs: Iterable[Doc], save: bool = True) -> int:
        """Add or replace documents (embedding only what changed); returns how many were embedded."""
        docs = list(docs)
        with self._lock:
            embedded = 0
            for kind in KINDS:
                mine = [d for d in docs if d.kind == kind]
                if not mine:
                    continue
                lib = self.libraries[kind]
                fresh = [d for d in mine if lib.hashes.get(d.id) != d.content_hash() or d.id not in lib.index]
                if fresh:
                    lib.index.add([d.id for d in fresh], self._embed(fresh))
                    embedded += len(fresh)
                for d in mine:
                    lib.docs[d.id] = d
                    lib.hashes[d.id] = d.content_hash()
                    lib.bm25.add(d.id, self._tokens(d))
                self._dirty.add(kind)
                self.version += 1
                if save:
                    self.save(kind)
            return embedded

    def remove(self, kind: str, ids: Iterable[int], save: bool = True) -> int:
        ids = [int(i) for i in ids]
        with self._lock:
            lib = self.libraries[kind]
            for i in ids:
                lib.docs.pop(i, None)
                lib.hashes.pop(i, None)
                lib.bm25.remove(i)
            n = lib.index.remove(ids) if ids else 0
            self._dirty.add(kind)
            self.version += 1
            if save:
                self.save(kind)
            return n

    def save(self, kind: str) -> None:
        """Persist one library; the content hashes travel inside the index manifest."""
        if self.index_dir is None:
            return
        lib = self.libraries[kind]
        with self._lock:
            lib.index.save(self.index_dir, kind, extra={"hashes": {str(k): v for k, v in lib.hashes.items()}})
            self._manifest_mtime[kind] = self._mtime(kind)
            self._dirty.discard(kind)

    def schedule_save(self) -> None:
        """Save changed libraries a little later, once for a burst of edits. A crash before then
        loses nothing: the next sync repairs the index from the database."""
        with self._lock:
            if self._save_timer is not None or self.index_dir is None:
                return
            self._save_timer = threading.Timer(self.save_delay, self.flush)
            self._save_timer.daemon = True
            self._save_timer.start()

    def flush(self) -> None:
        with self._lock:
            self._save_timer = None
            for kind in list(self._dirty):
                try:
                    self.save(kind)
                except OSError:
                    log.exception("saving the %s index failed; it is repaired at next sync", kind)

    def _mtime(self, kind: str) -> float:
        try:
            return os.stat(self.index_dir / f"{kind}.json").st_mtime
        except (OSError, TypeError):
            return 0.0

    def changed_on_disk(self, kind: str) -> bool:
        """Whether another process saved this library since we last loaded or saved it."""
        return self.index_dir is not None and self._mtime(kind) != self._manifest_mtime.get(kind, 0.0)

    def sync(self, kind: str, docs: Iterable[Doc], rebuild: bool = False) -> SyncReport:
        """Load the saved index and repair it against ``docs`` (the database's truth); rebuild when
        it is missing, torn, for another model, or asked to."""
        docs = {d.id: d for d in docs}
        report = SyncReport(kind)
        with self._lock:
            lib = Library(kind, self.embedder.dim, self.embedder.model_id, self.params)
            if not rebuild and self.index_dir is not None:
                try:
                    lib.index = VectorIndex.load(self.index_dir, kind, self.embedder.model_id,
                                                 self.embedder.dim, self.params)
                    lib.hashes = {int(k): v for k, v in lib.index.extra.get("hashes", {}).items()}
                    report.loaded = True
                except IndexMismatch as e:
                    report.reason = str(e)
            report.rebuilt = not report.loaded
            stale = [i for i in lib.index.ids().tolist() if i not in docs]
            if stale:
                lib.index.remove(stale)
                report.removed = len(stale)
            todo = []
            for d in docs.values():
                if d.id not in lib.index:
                    report.added += 1
                    todo.append(d)
                elif lib.hashes.get(d.id) != d.content_hash():
                    report.updated += 1
                    todo.append(d)
            for start in range(0, len(todo), 256):
                chunk = todo[start:start + 256]
                lib.index.add([d.id for d in chunk], self._embed(chunk))
            lib.hashes = {i: d.content_hash() for i, d in docs.items()}
            lib.docs = dict(docs)
            for d in docs.values():
                lib.bm25.add(d.id, self._tokens(d))
            self.libraries[kind] = lib
            self.version += 1
            report.total = len(lib.index)
            if report.rebuilt or todo or stale:
                self.save(kind)
            else:
                self._manifest_mtime[kind] = self._mtime(kind)
            return report

    def check(self, kind: str, docs: Iterable[Doc]) -> dict:
        """Drift between the saved index and ``docs``, without repairing anything."""
        docs = {d.id: d for d in docs}
        try:
            index = VectorIndex.load(self.index_dir, kind, self.embedder.model_id, self.embedder.dim, self.params)
            hashes = {int(k): v for k, v in index.extra.get("hashes", {}).items()}
        except (IndexMismatch, TypeError) as e:
            return {"kind": kind, "ok": False, "error": str(e)}
        ids = set(index.ids().tolist())
        missing = sorted(set(docs) - ids)
        extra = sorted(ids - set(docs))
        changed = sorted(i for i in set(docs) & ids if hashes.get(i) != docs[i].content_hash())
        return {"kind": kind, "ok": not (missing or extra or changed), "indexed": len(ids), "expected": len(docs),
                "missing": missing[:20], "extra": extra[:20], "changed": changed[:20],
                "hnsw": index.uses_hnsw}

    def stats(self) -> dict:
        return {k: {"docs": len(lib.docs), "vectors": len(lib.index), "keyword_terms": len(lib.bm25.df),
                    "hnsw": lib.index.uses_hnsw} for k, lib in self.libraries.items()}

    # ---- ranking ----------------------------------------------------------------------------
    def vector_of(self, doc: Doc) -> np.ndarray:
        lib = self.libraries.get(doc.kind)
        if lib is not None and doc.id in lib.index and lib.hashes.get(doc.id) == doc.content_hash():
            return lib.index.vectors([doc.id])[0]
        return self._embed([doc])[0]

    def match(self, doc: Doc, k: int = 10, where: Callable[[Doc], bool] | None = None,
              min_score: float | None = None, target: str | None = None, vector: np.ndarray | None = None
              ) -> list[Match]:
        """The best documents of the other library for ``doc`` (or of ``target``), best first."""
        target = target or ("achievement" if doc.kind == "need" else "need")
        qvec = self.vector_of(doc) if vector is None else vector
        return self._rank(doc, qvec, self._tokens(doc), target, k, where, min_score)

    def search(self, kind: str, text: str, k: int = 20, where: Callable[[Doc], bool] | None = None) -> list[Match]:
        """Free-text search of one library with the same ranking (structured features neutral)."""
        query = Doc(id=-1, kind="query", title=text.strip(), text="")
        return self._rank(query, self._embed([query])[0], self.tokenizer.tokens(text), kind, k, where, None)

    def _rank(self, query: Doc, qvec, qtokens, target, k, where, min_score) -> list[Match]:
        lib = self.libraries[target]
        if not len(lib.index):
            return []
        with self._lock:
            exclude = {query.id} if query.kind == target else set()
            cand: dict[int, float] = {}
            want = self.candidates
            while True:
                scores, ids = lib.index.search(qvec[None, :], want)
                for s, i in zip(scores[0], ids[0]):
                    if i >= 0:
                        cand.setdefault(int(i), float(s))
                passing = [i for i in cand if i not in exclude and i in lib.docs
                           and (where is None or where(lib.docs[i]))]
                if len(passing) >= k or want >= len(lib.index):
                    break
                want = min(want * 4, len(lib.index))
            for i, _ in lib.bm25.top(qtokens, self.keyword_candidates):
                if i not in cand and i not in exclude and i in lib.docs and (where is None or where(lib.docs[i])):
                    cand[i] = float(lib.index.vectors([i])[0] @ qvec)
                    passing.append(i)
            if not passing:
                return []
            kw = lib.bm25.scores(qtokens, passing)
            feats = np.empty((len(passing), len(FEATURES)))
            for n, i in enumerate(passing):
                s = structured(query, lib.docs[i]) if query.kind != "query" else {}
                feats[n] = [cand[i], kw[n], *(s.get(f, 0.5) for f in FEATURES[2:])]
            probs = self.weights.scores(feats)
            order = np.argsort(-probs)
            contrib = self.weights.contributions(feats)
            out = []
            qset = set(qtokens)
            for n in order[:k]:
                if min_score is not None and probs[n] < min_score:
                    break
                i = passing[n]
                out.append(Match(id=i, score=float(probs[n]), cosine=float(cand[i]),
                                 components={f: round(float(c), 3) for f, c in zip(FEATURES, contrib[n])},
                                 features={f: float(v) for f, v in zip(FEATURES, feats[n])},
                                 shared_terms=self._shared_terms(qset, lib.docs[i], lib.bm25)))
            return out

    def _shared_terms(self, qset: set[str], doc: Doc, bm25: BM25, limit: int = 8) -> list[str]:
        """The rarest terms both texts use, longest first where one contains another."""
        common = [t for t in qset & set(self._tokens(doc)) if len(t) >= 2 or not t.isascii()]
        common.sort(key=lambda t: (-bm25.idf(t), -len(t)))
        chosen: list[str] = []
        for t in common:
            if any(t in c for c in chosen):
                continue
            chosen = [c for c in chosen if c not in t] + [t]
            if len(chosen) >= limit:
                break
        return chosen

    def near_duplicates(self, doc: Doc, k: int = 5, min_cosine: float = 0.96, min_overlap: float = 0.5
                        ) -> list[tuple[int, float, float]]:
        """Listings of the same library that say nearly the same: (id, cosine, character overlap)."""
        lib = self.libraries[doc.kind]
        if not len(lib.index):
            return []
        qvec = self.vector_of(doc)
        scores, ids = lib.index.search(qvec[None, :], k + 1)
        out = []
        for s, i in zip(scores[0], ids[0]):
            i = int(i)
            if i < 0 or i == doc.id or i not in lib.docs:
                continue
            overlap = shingle_overlap(doc.embed_text(), lib.docs[i].embed_text())
            if s >= min_cosine or overlap >= min_overlap:
                out.append((i, float(s), overlap))
        return out


def _shingles(text: str, n: int = 3) -> set[str]:
    t = "".join(ch for ch in text if not ch.isspace())
    return {t[i:i + n] for i in range(max(len(t) - n + 1, 1))}


def shingle_overlap(a: str, b: str) -> float:
    """Jaccard similarity of character 3-grams: 1 for copies, high for light edits."""
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0
