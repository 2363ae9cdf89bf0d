"""The matching facade: two libraries (成果, 需求), each a FAISS index + a BM25 index + its docs.

The web app, ingest and evaluation talk to this class only. It never sees a database: callers
hand it Docs, and it keeps the persisted index in step with what they hand it.
"""

import hashlib
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bm25 import BM25
from .docs import Doc, memo
from .explain import reasons
from .features import FEATURES, evidence, indicator_alignment, pair, rows
from .folders import shipped
from .index import IndexMismatch, IndexParams, VectorIndex
from .pgstore import load_store, make_store
from .ranking import Weights
from .text import Tokenizer, default_tokenizer, generic_words, match_terms

log = logging.getLogger(__name__)
KINDS = ("achievement", "need")
NEAR_COSINE, NEAR_OVERLAP = 0.96, 0.5  # near-duplicate: either this cosine or this character overlap


@dataclass
class Match:
    id: int
    score: float  # calibrated, 0–1
    cosine: float
    components: dict = field(default_factory=dict)  # each feature's push on the score (logit units)
    features: dict = field(default_factory=dict)  # raw feature values
    shared_terms: list = field(default_factory=list)
    indicators: list = field(default_factory=list)  # 指标对照 rows: name, target, found, verdict
    evidence: str = "ok"  # what 指标对照 says for suggesting (features.evidence)
    reasons: list = field(default_factory=list)  # the ranking explained in plain Chinese

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "score": round(self.score, 4),
            "cosine": round(self.cosine, 4),
            "components": self.components,
            "features": {k: round(v, 4) for k, v in self.features.items()},
            "shared_terms": self.shared_terms,
            "indicators": self.indicators,
            "reasons": self.reasons,
        }


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
        return f"{self.kind}: {how}{why}; +{self.added} ~{self.updated} -{self.removed}; {self.total} in index"


class Library:
    def __init__(self, kind: str, dim: int, model_id: str, params: IndexParams, vector_url: str | None = None):
        self.kind = kind
        self.index = make_store(kind, dim, model_id, params, url=vector_url)  # FAISS, or pgvector
        self.bm25 = BM25()
        self.docs: dict[int, Doc] = {}
        self.hashes: dict[int, str] = {}
        self.titles: dict[int, np.ndarray] = {}  # needs only: the title's own vector (the problem object)


BACKGROUND = shipped("matching", "background.jsonl")
LEVEL_K = 3


class Background:
    """Fixed reference listings (data/matching/background.jsonl). A text's *level* is its mean cosine
    to its LEVEL_K nearest reference listings of the other kind; a cosine minus the query's level no
    longer depends on how long or how generic the query is, nor on the library it is ranked in."""

    def __init__(self, embedder, path: Path | None = BACKGROUND, exclude: Iterable[str] = ()):
        self.embedder = embedder
        self.path = path
        self.exclude = set(exclude)
        self._vectors: dict[str, np.ndarray] | None = None
        self._typical: dict[tuple, float] = {}
        self._hashes: dict[str, np.ndarray] = {}
        self._active: dict[str, np.ndarray | None] = {}
        self._lock = threading.Lock()

    def vectors(self, kind: str) -> np.ndarray:
        with self._lock:
            if self._vectors is None:
                rows = []
                if self.path is not None and Path(self.path).exists():
                    rows = [
                        json.loads(line)
                        for line in Path(self.path).read_text(encoding="utf-8").splitlines()
                        if line.strip()
                    ]
                rows = [r for r in rows if r.get("source") not in self.exclude]
                self._vectors, self._hashes = {}, {}
                for k in KINDS:
                    texts = [r["text"] for r in rows if r["kind"] == k]
                    self._vectors[k] = (
                        self.embedder.encode(texts) if texts else np.empty((0, self.embedder.dim), np.float32)
                    )
                    self._hashes[k] = np.array([hashlib.sha256(t.encode("utf-8")).hexdigest()[:32] for t in texts])
            return self._vectors[kind]

    def ignore(self, present: Callable[[str], bool]) -> None:
        """Leave out background listings whose text is also in the libraries (the demo data, say):
        a need's level must not count its own true 成果."""
        for k in KINDS:
            self.vectors(k)
            keep = np.array([not present(h) for h in self._hashes[k]], dtype=bool)
            self._active[k] = None if keep.all() else keep

    def typical(self, kind: str, against: str) -> float:
        """The mean level of the background's own listings of ``kind`` against those of ``against``."""
        key = (kind, against)
        if key not in self._typical:
            vecs = self.vectors(kind)
            self._typical[key] = float(self.level(vecs, against).mean()) if len(vecs) else 0.0
        return self._typical[key]

    def level(self, vecs: np.ndarray, kind: str) -> np.ndarray:
        """Per row of ``vecs``: mean cosine to its LEVEL_K nearest background listings of ``kind``."""
        bg = self.vectors(kind)
        if self._active.get(kind) is not None:
            bg = bg[self._active[kind]]
        vecs = np.atleast_2d(vecs)
        if not len(bg):
            return np.zeros(len(vecs))
        sims = vecs @ bg.T
        k = min(LEVEL_K, sims.shape[1])
        return np.sort(sims, axis=1)[:, -k:].mean(axis=1)


class MatchEngine:
    def __init__(
        self,
        embedder,
        index_dir: Path | None = None,
        weights: Weights | None = None,
        params: IndexParams | None = None,
        tokenizer: Tokenizer | None = None,
        candidates: int = 100,
        keyword_candidates: int = 30,
        background: Background | None = None,
        vector_url: str | None = None,
    ):
        self.embedder = embedder
        self.background = background or Background(embedder)
        self.index_dir = Path(index_dir) if index_dir else None
        self.weights = weights or Weights()
        self.params = params or IndexParams()
        self.tokenizer = tokenizer or default_tokenizer()
        self.candidates = candidates
        self.keyword_candidates = keyword_candidates
        self.vector_url = vector_url  # PostgreSQL + pgvector holds the vectors (several hosts), else FAISS files
        self.libraries = {k: Library(k, embedder.dim, embedder.model_id, self.params, vector_url) for k in KINDS}
        self._lock = threading.RLock()
        self._dirty: set[str] = set()
        self.version = 0  # bumped by every change, for callers' caches
        self.seq = 0  # the last change-log entry this state includes (matching.host), saved with it
        self.last_timings: dict[str, float] = {}
        self._quantities: dict = {}  # parsed 指标 of listings, by (kind, id, content hash)
        self._words: dict = {}  # whole words of listings, for the shared-term chips
        self._background_version = -1
        self._present: Counter = Counter()  # content hashes in the libraries, with their counts

    # ---- keeping the index in step ----------------------------------------------------------
    def _embed(self, docs: list[Doc]) -> np.ndarray:
        return self.embedder.encode([d.embed_text() for d in docs])

    def _count_hash(self, h: str | None, n: int) -> None:
        if h is not None:
            self._present[h] += n

    def _title_vectors(self, docs: list[Doc]) -> np.ndarray:
        return self.embedder.encode([d.title for d in docs])

    def _add_titles(self, lib: Library, docs: list[Doc], vectors: np.ndarray | None = None) -> None:
        """Title vectors of needs (the problem object), embedded once (the embedder caches them)."""
        if lib.kind != "need" or not docs:
            return
        if vectors is None:
            vectors = np.concatenate([self._title_vectors(docs[s : s + 256]) for s in range(0, len(docs), 256)])
        for d, v in zip(docs, vectors):
            lib.titles[d.id] = v

    @staticmethod
    def _stored(lib: Library, ids: list[int]) -> tuple[list[int], np.ndarray]:
        """The ids that have a stored vector, and their vectors (with pgvector another host may have
        removed one a moment ago)."""
        try:
            return ids, lib.index.vectors(ids)
        except KeyError:
            ids = [i for i in ids if i in lib.index]
            return ids, lib.index.vectors(ids)

    def _views(
        self, query: Doc, qvec: np.ndarray, target: str, ids: list[int], vecs: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(dense, object) of ``query`` against stored ``ids`` of ``target``, each a cosine minus the
        query side's background level. Object: a need's title against the 成果's full text."""
        if self._background_version != self.version:
            self.background.ignore(lambda h: self._present[h] > 0)
            self._background_version = self.version
        lib = self.libraries[target]
        if vecs is None:
            vecs = lib.index.vectors(ids) if ids else np.empty((0, self.embedder.dim), np.float32)
        cos = vecs @ qvec
        other = "achievement" if target == "need" else "need"
        lam = self.weights.doc_level
        if query.kind == "need" and target == "achievement":
            tvec = self._title_vectors([query])[0] if query.embed_text() != query.title else qvec
            lv = self.background.level(np.stack([qvec, tvec]), target)
            own = (
                lam * (self.background.level(vecs, other) - self.background.typical(target, other))
                if lam and len(vecs)
                else 0.0
            )
            return cos - lv[0] - own, vecs @ tvec - lv[1] - own
        if query.kind == "achievement" and target == "need":
            # the same pair scores the same from either side: the levels are the need's (full text
            # and title) against background 成果, and λ × the 成果's own against background needs
            if not ids:
                return cos, cos
            titles = np.stack([lib.titles.get(i, v) for i, v in zip(ids, vecs)])
            own = (
                lam * (self.background.level(qvec[None, :], target)[0] - self.background.typical(other, target))
                if lam
                else 0.0
            )
            return (
                cos - self.background.level(vecs, other) - own,
                titles @ qvec - self.background.level(titles, other) - own,
            )
        level = self.background.level(qvec[None, :], target if query.kind == "query" else other)[0]
        return cos - level, cos - level

    def _tokens(self, doc: Doc) -> list[str]:
        return match_terms(doc.tokens if doc.tokens else self.tokenizer.tokens(doc.embed_text()))

    def upsert(self, docs: Iterable[Doc], save: bool = True) -> int:
        """Add or replace documents (embedding only what changed); returns how many were embedded.
        The encoding happens before the engine's lock is taken: queries never wait for a batch."""
        docs = list(docs)
        prepared = {}
        for kind in KINDS:
            mine = [d for d in docs if d.kind == kind]
            if mine:
                lib = self.libraries[kind]
                fresh = [d for d in mine if lib.hashes.get(d.id) != d.content_hash() or d.id not in lib.index]
                vectors = self._embed(fresh) if fresh else None
                titles = self._title_vectors(mine) if kind == "need" else None
                prepared[kind] = (mine, fresh, vectors, titles)
        with self._lock:
            embedded = 0
            for kind, (mine, fresh, vectors, titles) in prepared.items():
                lib = self.libraries[kind]
                if fresh:
                    lib.index.add([d.id for d in fresh], vectors)
                    embedded += len(fresh)
                for d in mine:
                    lib.docs[d.id] = d
                    self._count_hash(lib.hashes.get(d.id), -1)
                    lib.hashes[d.id] = d.content_hash()
                    self._count_hash(lib.hashes[d.id], 1)
                    lib.bm25.add(d.id, self._tokens(d))
                self._add_titles(lib, mine, titles)
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
                self._count_hash(lib.hashes.pop(i, None), -1)
                lib.titles.pop(i, None)
                lib.bm25.remove(i)
            n = lib.index.remove(ids) if ids else 0
            self._dirty.add(kind)
            self.version += 1
            if save:
                self.save(kind)
            return n

    def save(self, kind: str) -> None:
        """Persist one library; the content hashes travel inside the index manifest."""
        if self.index_dir is None and not self.vector_url:
            return
        lib = self.libraries[kind]
        with self._lock:
            hashes = {str(k): v for k, v in lib.hashes.items()}
            lib.index.save(self.index_dir, kind, extra={"hashes": hashes, "seq": self.seq})
            self._dirty.discard(kind)

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def flush(self) -> None:
        """Save the libraries changed since they were last saved."""
        with self._lock:
            for kind in list(self._dirty):
                try:
                    self.save(kind)
                except OSError:
                    log.exception("saving the %s index failed; it is repaired at next sync", kind)

    def sync(self, kind: str, docs: Iterable[Doc], rebuild: bool = False) -> SyncReport:
        """Load the saved index and repair it against ``docs`` (the database's truth); rebuild when
        it is missing, torn, for another model, or asked to."""
        docs = {d.id: d for d in docs}
        report = SyncReport(kind)
        with self._lock:
            lib = Library(kind, self.embedder.dim, self.embedder.model_id, self.params, self.vector_url)
            if not rebuild and (self.index_dir is not None or self.vector_url):
                try:
                    lib.index = load_store(
                        self.index_dir, kind, self.embedder.model_id, self.embedder.dim, self.params, self.vector_url
                    )
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
                chunk = todo[start : start + 256]
                lib.index.add([d.id for d in chunk], self._embed(chunk))
            lib.hashes = {i: d.content_hash() for i, d in docs.items()}
            lib.docs = dict(docs)
            for d in docs.values():
                lib.bm25.add(d.id, self._tokens(d))
            self._add_titles(lib, list(docs.values()))
            old = self.libraries[kind]
            self._present.subtract(old.hashes.values())
            self._present.update(lib.hashes.values())
            self.libraries[kind] = lib
            self.version += 1
            report.total = len(lib.index)
            if report.rebuilt or todo or stale:
                self.save(kind)
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
        return {
            "kind": kind,
            "ok": not (missing or extra or changed),
            "indexed": len(ids),
            "expected": len(docs),
            "missing": missing[:20],
            "extra": extra[:20],
            "changed": changed[:20],
            "hnsw": index.uses_hnsw,
        }

    def stats(self) -> dict:
        return {
            k: {
                "docs": len(lib.docs),
                "vectors": len(lib.index),
                "keyword_terms": len(lib.bm25.df),
                "hnsw": lib.index.uses_hnsw,
            }
            for k, lib in self.libraries.items()
        }

    # ---- ranking ----------------------------------------------------------------------------
    def vector_of(self, doc: Doc) -> np.ndarray:
        lib = self.libraries.get(doc.kind)
        if lib is not None and doc.id in lib.index and lib.hashes.get(doc.id) == doc.content_hash():
            return lib.index.vectors([doc.id])[0]
        return self._embed([doc])[0]

    def match(
        self,
        doc: Doc,
        k: int = 10,
        where: Callable[[Doc], bool] | None = None,
        min_score: float | None = None,
        target: str | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Match]:
        """The best documents of the other library for ``doc`` (or of ``target``), best first."""
        target = target or ("achievement" if doc.kind == "need" else "need")
        t0 = time.perf_counter()
        qvec = self.vector_of(doc) if vector is None else vector
        encode = time.perf_counter() - t0
        out = self._rank(doc, qvec, self._tokens(doc), target, k, where, min_score)
        self.last_timings["encode"] = encode
        return out

    def suggestions(self, doc: Doc, where: Callable[[Doc], bool] | None = None) -> list[Match]:
        """The candidates a broker should review for ``doc`` (the suggestion rule of the weights:
        at or above the cut-off, close enough to the best, at most ``suggest_max``)."""
        return self.pick(self.match(doc, k=max(self.weights.suggest_max, 1), where=where))

    def pick(self, found: list[Match]) -> list[Match]:
        """Of one listing's best matches (best first), those the suggestion rule keeps."""
        return [found[i] for i in self.weights.suggest(np.array([m.score for m in found]), [m.evidence for m in found])]

    def search(self, kind: str, text: str, k: int = 20, where: Callable[[Doc], bool] | None = None) -> list[Match]:
        """Free-text search of one library with the same ranking (structured features neutral)."""
        query = Doc(id=-1, kind="query", title=text.strip(), text="")
        t0 = time.perf_counter()
        qvec = self._embed([query])[0]
        encode = time.perf_counter() - t0
        out = self._rank(query, qvec, self.tokenizer.tokens(text), kind, k, where, None)
        self.last_timings["encode"] = encode
        return out

    def _rank(self, query: Doc, qvec, qtokens, target, k, where, min_score) -> list[Match]:
        lib = self.libraries[target]
        total = len(lib.index)
        if not total:
            return []
        with self._lock:
            t0 = time.perf_counter()
            exclude = {query.id} if query.kind == target else set()
            cand: dict[int, float] = {}
            want = self.candidates
            while True:
                scores, ids = lib.index.search(qvec[None, :], want)
                for s, i in zip(scores[0], ids[0]):
                    if i >= 0:
                        cand.setdefault(int(i), float(s))
                passing = [
                    i for i in cand if i not in exclude and i in lib.docs and (where is None or where(lib.docs[i]))
                ]
                if len(passing) >= k or want >= total:
                    break
                want = min(want * 4, total)
            t1 = time.perf_counter()
            keyword = lib.bm25.query(qtokens)
            extra = [
                i
                for i, _ in keyword.top(self.keyword_candidates)
                if i not in cand and i not in exclude and i in lib.docs and (where is None or where(lib.docs[i]))
            ]
            passing, vecs = self._stored(lib, passing + extra)  # one lookup (a round trip on pgvector)
            for i, v in zip(passing, vecs):
                cand.setdefault(i, float(v @ qvec))
            t2 = time.perf_counter()
            if not passing:
                return []
            kw = keyword.of(passing)
            dense, obj = self._views(query, qvec, target, passing, vecs)
            feats = rows(query, [lib.docs[i] for i in passing], dense, kw, self._quantities, obj)
            probs = self.weights.scores(feats)
            order = np.argsort(-probs)
            contrib = self.weights.contributions(feats)
            out = []
            qset = set(qtokens) & self._whole_words(query)
            for n in order[:k]:
                if min_score is not None and probs[n] < min_score:
                    break
                i = passing[n]
                doc = lib.docs[i]
                values = {f: float(v) for f, v in zip(FEATURES, feats[n])}
                alignment, says = [], "ok"
                if {query.kind, doc.kind} == {"need", "achievement"}:
                    need, ach = pair(query, doc)
                    aligned = indicator_alignment(need, ach, self._quantities)
                    alignment, says = [a.as_dict() for a in aligned], evidence(need, ach, aligned)
                out.append(
                    Match(
                        id=i,
                        score=float(probs[n]),
                        cosine=float(cand[i]),
                        components={f: round(float(c), 3) for f, c in zip(FEATURES, contrib[n])},
                        features=values,
                        shared_terms=self._shared_terms(qset, doc, lib.bm25),
                        indicators=alignment,
                        evidence=says,
                        reasons=reasons(query, doc, values, alignment),
                    )
                )
            self.last_timings = {"search": t1 - t0, "keyword": t2 - t1, "rerank": time.perf_counter() - t2}
            return out

    def pair_features(self, query: Doc, target: str, ids: list[int]) -> np.ndarray:
        """Feature rows (FEATURES order) of ``query`` against stored documents of ``target``."""
        lib = self.libraries[target]
        ids = [i for i in ids if i in lib.docs]
        if not ids:
            return np.empty((0, len(FEATURES)))
        qvec = self.vector_of(query)
        dense, obj = self._views(query, qvec, target, ids)
        kw = lib.bm25.scores(self._tokens(query), ids)
        return rows(query, [lib.docs[i] for i in ids], dense, kw, self._quantities, obj)

    def _whole_words(self, doc: Doc) -> set[str]:
        """The words of a listing as a plain (not search-mode) segmentation cuts them: 憎水性 stays
        whole, so its fragment 水性 is never shown as a shared term."""
        return memo(self._words, doc, lambda d: self.tokenizer.whole_words(d.embed_text()), limit=50_000)

    def _shared_terms(self, qset: set[str], doc: Doc, bm25: BM25, limit: int = 8) -> list[str]:
        """The rarest words both texts use as whole words, longest first where one contains
        another; generic words (取得, 其中, 批次 …) never count."""
        generic = generic_words()
        common = [t for t in qset & set(self._tokens(doc)) & self._whole_words(doc) if _telling(t) and t not in generic]
        common.sort(key=lambda t: (-bm25.idf(t), -len(t)))
        chosen: list[str] = []
        for t in common:
            if any(t in c for c in chosen):
                continue
            chosen = [c for c in chosen if c not in t] + [t]
            if len(chosen) >= limit:
                break
        return chosen

    def near_duplicates(
        self, doc: Doc, k: int = 5, min_cosine: float = NEAR_COSINE, min_overlap: float = NEAR_OVERLAP
    ) -> list[tuple[int, float, float]]:
        """Listings of the same library that say nearly the same: (id, cosine, character overlap)."""
        return self.near_duplicates_many([doc], k=k, min_cosine=min_cosine, min_overlap=min_overlap)[0]

    def near_duplicates_many(
        self,
        docs: list[Doc],
        vectors: np.ndarray | None = None,
        k: int = 5,
        min_cosine: float = NEAR_COSINE,
        min_overlap: float = NEAR_OVERLAP,
    ) -> list[list[tuple[int, float, float]]]:
        """near_duplicates of documents of one library with one index search; ``vectors`` are
        their embeddings when the caller already has them."""
        if not docs:
            return []
        kinds = {d.kind for d in docs}
        if len(kinds) != 1:
            raise ValueError(f"near_duplicates_many takes documents of one library, not {sorted(kinds)}")
        lib = self.libraries[kinds.pop()]
        if not len(lib.index):
            return [[] for _ in docs]
        qvecs = np.stack([self.vector_of(d) for d in docs]) if vectors is None else np.asarray(vectors, np.float32)
        with self._lock:
            scores, ids = lib.index.search(qvecs, k + 1)
            candidates = [
                [
                    (int(i), float(s), lib.docs[int(i)].embed_text())
                    for s, i in zip(srow, irow)
                    if i >= 0 and int(i) != d.id and int(i) in lib.docs
                ]
                for d, srow, irow in zip(docs, scores, ids)
            ]
        out = []
        for d, cands in zip(docs, candidates):
            mine = _shingles(d.embed_text())
            hits = []
            for i, s, text in cands:
                overlap = _jaccard(mine, _shingles(text))
                if s >= min_cosine or overlap >= min_overlap:
                    hits.append((i, s, overlap))
            out.append(hits)
        return out


def near_duplicate_pairs(
    texts: list[str],
    vectors: np.ndarray,
    k: int = 5,
    min_cosine: float = NEAR_COSINE,
    min_overlap: float = NEAR_OVERLAP,
) -> list[tuple[int, int, float, float]]:
    """Among texts not yet indexed (a batch of an import): (later, earlier, cosine, overlap) for
    each text and the earlier ones it nearly repeats, by the rule near_duplicates applies."""
    if len(texts) < 2:
        return []
    vectors = np.asarray(vectors, np.float32)
    sims = vectors @ vectors.T
    shingles = [_shingles(t) for t in texts]
    out = []
    for i in range(1, len(texts)):
        row = sims[i, :i]
        for j in np.argsort(-row)[:k]:
            j = int(j)
            overlap = _jaccard(shingles[i], shingles[j])
            if row[j] >= min_cosine or overlap >= min_overlap:
                out.append((i, j, float(row[j]), overlap))
    return out


_COUNTED = re.compile(r"^[一二两三四五六七八九十百千万几多每各首]+[个种批次项类件台套条位年月天步道层级期号代]$")


def _telling(term: str) -> bool:
    """Worth showing a broker as a shared term: two Chinese characters or more, or a Latin term
    with letters of three characters or more (PCD, MEMS, GaN) — not bare numbers or units, not a
    counted thing (两个, 三批)."""
    cjk = sum(1 for ch in term if "\u4e00" <= ch <= "\u9fff")
    if cjk:
        return cjk >= 2 and not _COUNTED.match(term)
    return len(term) >= 3 and any(ch.isalpha() for ch in term)


def _shingles(text: str, n: int = 3) -> set[str]:
    t = "".join(ch for ch in text if not ch.isspace())
    return {t[i : i + n] for i in range(max(len(t) - n + 1, 1))}


def _jaccard(sa: set, sb: set) -> float:
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def shingle_overlap(a: str, b: str) -> float:
    """Jaccard similarity of character 3-grams: 1 for copies, high for light edits."""
    return _jaccard(_shingles(a), _shingles(b))
