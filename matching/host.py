"""A MatchEngine kept in step with the change log: the one writer of its indexes.

``start()`` loads the saved index and repairs it against the newest row of every listing in the
log (embedding only what the saved state lacks); ``catch_up()`` applies the rows committed since,
in order, per change (no reload); every saved state carries the ``seq`` it includes. The matching
service (matching.service) runs one host behind HTTP; the web app's tests and commands may run one
in-process. Queries answer from memory and can wait until a given ``seq`` is applied, so whoever
just wrote a change reads it back.
"""

import logging
import threading
import time

import numpy as np

from .changelog import ALL, Change, ChangeLog
from .docs import Doc
from .embedder import urgency
from .engine import KINDS, Match, MatchEngine
from .filters import predicate
from .ranking import Weights

log = logging.getLogger(__name__)


class NotReady(Exception):
    """The host has not finished loading its indexes."""


class HostState:
    starting, ready, failed = "starting", "ready", "failed"


class EngineHost:
    def __init__(self, engine: MatchEngine, changes: ChangeLog, save_every: float = 60.0):
        self.engine = engine
        self.changes = changes
        self.save_every = save_every
        self.applied = 0
        self.state = HostState.starting
        self.error = ""
        self.started_at = time.time()
        self._apply_lock = threading.Lock()
        self._applied_cv = threading.Condition()
        self._wake = threading.Event()
        self._last_save = time.monotonic()
        self.last_apply: dict = {}
        self.poll = 0.2  # seconds between looks at the log when nobody wakes the host
        self._gaps: dict = {}

    # ---- keeping the indexes in step with the log --------------------------------------------
    def start(self) -> None:
        try:
            with self._apply_lock:
                upto = self.changes.head()
                rows = self.changes.latest(upto)
                self._settings([r for r in rows if r.op == "settings"])
                self.engine.seq = upto  # what the states saved by sync include
                for kind in KINDS:
                    docs = [r.as_doc() for r in rows if r.kind == kind and r.op == "upsert"]
                    log.info("index %s", self.engine.sync(kind, docs))
                self._mark(upto)
                self._save()
                self._warm()
            self.state = HostState.ready
        except Exception as e:
            self.state, self.error = HostState.failed, f"{type(e).__name__}: {e}"
            raise

    def _warm(self) -> None:
        """Load the model now (with its precision self-check, which also runs it), so that no request
        waits for it: until this returns the service answers 503 and the pages say it is loading."""
        t0 = time.perf_counter()
        embedder = self.engine.embedder
        getattr(embedder, "model", None)  # the real embedder loads its model on first access
        for kind in KINDS:  # the tokenizer's dictionary, the background levels, the ranking's caches
            if len(self.engine.libraries[kind].index):
                self.engine.search(kind, "预热：技术需求与科技成果", k=5)
        log.info("warmed up in %.1fs: %s", time.perf_counter() - t0, getattr(embedder, "precision_reason", ""))

    def catch_up(self) -> int:
        """Apply every change committed since the last one applied; returns the seq applied."""
        if self.state != HostState.ready:
            return self.applied
        with self._apply_lock:
            while True:
                batch = self.changes.since(self.applied)
                if not batch:
                    break
                self._apply(batch)
        if self.engine.dirty and time.monotonic() - self._last_save >= self.save_every:
            self._save()
        return self.applied

    def _apply(self, batch: list[Change]) -> None:
        t0 = time.perf_counter()
        final: dict[tuple[str, int], Change] = {}
        for c in batch:
            final[(c.kind, c.listing_id)] = c  # a listing's newest row is its state
        self._settings([c for c in final.values() if c.op == "settings"])
        upserts = [c.as_doc() for c in final.values() if c.op == "upsert"]
        with urgency(True):  # changes become searchable before anything else is encoded
            embedded = self.engine.upsert(upserts, save=False) if upserts else 0
        for kind in KINDS:
            gone = [c.listing_id for c in final.values() if c.kind == kind and c.op == "remove"]
            if gone:
                self.engine.remove(kind, gone, save=False)
        self._mark(batch[-1].seq)
        self.last_apply = {
            "changes": len(batch),
            "upserts": len(upserts),
            "embedded": embedded,
            "seconds": round(time.perf_counter() - t0, 3),
            "seq": self.applied,
        }
        log.info("applied %s", self.last_apply)

    def _settings(self, rows: list[Change]) -> None:
        for row in rows[-1:]:
            if row.kind == ALL and row.doc:
                self.engine.weights = Weights.from_dict(row.doc)
                self.engine.version += 1

    def _mark(self, seq: int) -> None:
        with self._applied_cv:
            self.applied = seq
            self.engine.seq = seq
            self._applied_cv.notify_all()

    def _save(self) -> None:
        self.engine.flush()
        self._last_save = time.monotonic()

    def save(self) -> None:
        with self._apply_lock:
            self._save()

    def wake(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event, compact_every: float = 600.0) -> None:
        """Apply the log until ``stop`` is set: every ``poll`` seconds, or at once when woken."""
        last_compact = time.monotonic()
        while not stop.is_set():
            try:
                self.catch_up()
                if time.monotonic() - last_compact >= compact_every:
                    log.info("change log compacted: %d superseded rows deleted", self.changes.compact())
                    last_compact = time.monotonic()
            except Exception:
                log.exception("applying the change log failed; retrying")
                stop.wait(2.0)
            self._wake.wait(self.poll)
            self._wake.clear()
        self.save()

    def wait_for(self, seq: int | None, timeout: float = 2.0) -> bool:
        """Wait until ``seq`` is applied (True), or ``timeout`` seconds (False)."""
        if not seq:
            return True
        self.wake()
        deadline = time.monotonic() + timeout
        with self._applied_cv:
            while self.applied < seq:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._applied_cv.wait(min(left, 0.1))
        return True

    # ---- queries -------------------------------------------------------------------------------
    def _ready(self) -> MatchEngine:
        if self.state != HostState.ready:
            raise NotReady(self.error or "the indexes are still loading")
        return self.engine

    def match(self, doc: Doc, k: int = 10, min_score: float | None = None, suggest: bool = False) -> list[Match]:
        eng = self._ready()
        if suggest:
            return eng.suggestions(doc)[:k]
        return eng.match(doc, k=k, min_score=min_score)

    def search(self, kind: str, text: str, k: int = 20, where: dict | None = None) -> list[Match]:
        return self._ready().search(kind, text, k=k, where=predicate(kind, where))

    def near_duplicates(self, docs: list[Doc], vectors: np.ndarray | None = None) -> list[list]:
        return self._ready().near_duplicates_many(docs, vectors)

    def embed(self, texts: list[str], prompt: str = "query") -> np.ndarray:
        return self.engine.embedder.encode(texts, prompt=prompt)

    def pair_features(self, doc: Doc, target: str, ids: list[int]) -> np.ndarray:
        return self._ready().pair_features(doc, target, ids)

    def hashes(self, kind: str) -> dict[int, str]:
        """Fingerprints of the listings held (matching.docs.fingerprint), to compare with the database."""
        lib = self._ready().libraries[kind]
        return {i: d.fingerprint() for i, d in list(lib.docs.items())}

    def status(self) -> dict:
        eng = self.engine
        return {
            "state": self.state,
            "error": self.error,
            "applied": self.applied,
            "head": self.changes.head(),
            "model": eng.embedder.model_id,
            "precision": getattr(eng.embedder, "precision", None),
            "libraries": eng.stats() if self.state == HostState.ready else {},
            "weights": {"cutoff": eng.weights.cutoff, "suggest_max": eng.weights.suggest_max},
            "last_apply": self.last_apply,
            "uptime": round(time.time() - self.started_at, 1),
        }

    def gaps(self) -> dict:
        """Needs the suggestion rule gives no 成果 — (id, best score) — and 成果 it suggests to no
        need — (id, best score against any need); recomputed when the libraries or weights change."""
        eng = self._ready()
        w = eng.weights
        key = (
            eng.version,
            w.cutoff,
            w.suggest_relative,
            w.suggest_second,
            w.evidence_cutoff,
            w.veto_unmet,
            w.suggest_max,
        )
        if self._gaps.get("key") != key:
            best_for_ach: dict[int, float] = {}
            open_needs, reached = [], set()
            for doc in list(eng.libraries["need"].docs.values()):
                top = eng.match(doc, k=max(5, w.suggest_max))
                for m in top:
                    best_for_ach[m.id] = max(best_for_ach.get(m.id, 0.0), m.score)
                chosen = eng.pick(top)
                reached.update(m.id for m in chosen)
                if not chosen:
                    open_needs.append((doc.id, top[0].score if top else 0.0))
            lonely = [(i, best_for_ach.get(i, 0.0)) for i in eng.libraries["achievement"].docs if i not in reached]
            self._gaps = {"key": key, "needs": open_needs, "achievements": lonely}
        return {
            "needs": self._gaps["needs"],
            "achievements": self._gaps["achievements"],
            "cutoff": w.cutoff,
            "relative": w.suggest_relative,
            "second": w.suggest_second,
            "evidence_cutoff": w.evidence_cutoff,
        }
