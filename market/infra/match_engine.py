"""The web app's one door to matching: listings in as Docs, ranked listings out.

Which engine answers is configuration: the matching service over HTTP when ``MATCHING_SERVICE_URL``
is set (``make run`` starts one; web workers never load the model), else an engine in this process
(tests, one-process deployments). Either follows the index change log (infra.index_log), never the
session directly. When the service cannot answer, the functions here answer empty, remember why
(``unavailable()``, shown by the pages), and nothing fails.
"""

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, g, has_app_context, has_request_context
from flask import session as web_session
from sqlalchemy import select

from matching.docs import Doc, stage_index
from matching.engine import Match

from ..extensions import db
from ..models import Achievement, Need
from ..validation import reference
from . import index_log
from .docs import KIND_MODELS, doc_from
from .match_client import LocalBackend, Unavailable, remote_backend

log = logging.getLogger(__name__)
_backend_lock = threading.Lock()
__all__ = ["KIND_MODELS", "doc_from", "Unavailable"]


def enabled() -> bool:
    return has_app_context() and current_app.config.get("MATCHING_ENABLED", False)


def remote() -> bool:
    return bool(current_app.config.get("MATCHING_SERVICE_URL"))


def build_host(app):
    from matching.service import Settings, make_host

    cfg = app.config
    settings = Settings(
        database_url=cfg["SQLALCHEMY_DATABASE_URI"],
        index_dir=Path(cfg["INDEX_DIR"]),
        model_dir=Path(cfg["MODEL_DIR"]),
        embed_cache=Path(cfg["EMBED_CACHE"]),
        weights=cfg.get("MATCH_WEIGHTS"),
        hnsw_threshold=cfg.get("HNSW_THRESHOLD", 50_000),
        save_every=0.0,  # one process: save whenever something changed
        vector_url=cfg.get("VECTOR_STORE_URL"),
    )
    return make_host(settings, engine=db.engine)


def backend():
    """This app's matching backend (made on first use); None when matching is switched off."""
    if not enabled():
        return None
    app = current_app._get_current_object()
    found = app.extensions.get("match_backend")
    if found is None:
        with _backend_lock:
            found = app.extensions.get("match_backend")
            if found is None:
                found = remote_backend(app) or LocalBackend(build_host(app))
                app.extensions["match_backend"] = found
    return found


def engine():
    """The in-process engine, caught up with the log (tests and one-process commands); None when
    matching is off or answered by the service."""
    b = backend()
    if not isinstance(b, LocalBackend):
        return None
    return b._host().engine


def _down(e: Unavailable) -> None:
    log.warning("matching unavailable: %s", e)
    if has_app_context():
        g.matching_down = str(e)


def unavailable() -> str | None:
    """Why matching could not answer in this request (None when it did, or was not asked)."""
    return g.get("matching_down") if has_app_context() else None


def _ask(fn, default):
    b = backend()
    if b is None:
        return default
    try:
        return fn(b)
    except Unavailable as e:
        _down(e)
        return default


def _own_seq() -> int | None:
    """The newest change this browser session wrote: its searches wait for it (read-your-writes)."""
    return web_session.get(index_log.SEQ_KEY) if has_request_context() else None


# ---- preparing, checking ---------------------------------------------------------------------


def prepare(rebuild: bool = False) -> list[str]:
    """Make the log hold every published listing (committed here); then, without a service, build
    the index files from it so that the first request does not wait. Returns what was done."""
    counts = index_log.reconcile()
    db.session.commit()
    out = [f"change log: {counts['missing']} added, {counts['stale']} updated, {counts['extra']} removed"]
    b = backend()
    if isinstance(b, LocalBackend):
        if rebuild and b.host.engine.index_dir is not None:
            for f in Path(b.host.engine.index_dir).glob("*"):
                f.unlink()
        b._host()
        out += [f"index {kind}: {sizes}" for kind, sizes in b.host.engine.stats().items()]
    return out


def check() -> tuple[bool, list[str]]:
    """Whether the log and the engine's indexes hold exactly the published listings."""
    lines, ok = [], True
    found = index_log.drift()
    for part, items in found.items():
        if items:
            ok = False
            lines.append(f"change log {part}: {len(items)} e.g. {[(k, i) for k, i, _ in items[:10]]}")
    b = backend()
    if b is None:
        return ok, [*lines, "matching is switched off (MARKET_MATCHING=0): only the change log was checked"]
    for kind in KIND_MODELS:
        want = {d.id: d.fingerprint() for d in index_log.published_docs(kind)}
        try:
            have = b.hashes(kind)
        except Unavailable as e:
            return False, [*lines, f"{kind}: matching unavailable: {e}"]
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        changed = sorted(i for i in set(want) & set(have) if want[i] != have[i])
        good = not (missing or extra or changed)
        ok &= good
        lines.append(
            f"{kind}: {'ok' if good else 'DRIFT'} indexed {len(have)}, published {len(want)}"
            + ("" if good else f"; missing {missing[:20]} extra {extra[:20]} changed {changed[:20]}")
        )
    return ok, lines


# ---- queries --------------------------------------------------------------------------------


@dataclass
class Suggestion:
    listing: object
    match: Match

    @property
    def percent(self) -> int:
        return round(self.match.score * 100)


def _load(kind: str, matches: list[Match]) -> list[Suggestion]:
    model = KIND_MODELS[kind]
    rows = {x.id: x for x in db.session.scalars(select(model).where(model.id.in_([m.id for m in matches])))}
    return [Suggestion(rows[m.id], m) for m in matches if m.id in rows and rows[m.id].is_published]


def _load(kind: str, matches: list[Match]) -> list[Suggestion]:
    model = KIND_MODELS[kind]
    rows = {x.id: x for x in db.session.scalars(select(model).where(model.id.in_([m.id for m in matches])))}
    return [Suggestion(rows[m.id], m) for m in matches if m.id in rows and rows[m.id].is_published]


def best_matches(listing, k: int = 5, min_score: float | None = None) -> list[Suggestion]:
    """The other library's best listings for a published listing: by default those the suggestion
    rule picks (above the cut-off, at most ``k``); with ``min_score``, every one scoring that much."""
    target = "achievement" if listing.kind == "need" else "need"
    doc = doc_from(listing)
    found = _ask(lambda b: b.match(doc, k=k, min_score=min_score, suggest=min_score is None), [])
    return _load(target, found[:k])


def semantic_search(kind: str, text: str, where: dict | None = None, k: int = 200) -> list[Suggestion]:
    return _load(kind, _ask(lambda b: b.search(kind, text, k=k, where=where, min_seq=_own_seq()), []))


def relevance_floor(hits: list[Suggestion], floor: float, share: float) -> tuple[list[Suggestion], int]:
    """The ranked hits of a semantic search that are worth showing, and how many were left out: those
    scoring at least ``floor`` — or, when even the best scores lower (a short query's scores all are),
    at least ``share`` of the best (bench/search_floor.py measured both)."""
    if not hits:
        return [], 0
    bar = min(floor, share * hits[0].match.score)
    kept = [h for h in hits if h.match.score >= bar]
    return kept, len(hits) - len(kept)


def near_duplicates(listing) -> list[tuple[object, float, float]]:
    """Published listings of the same library that say nearly the same as ``listing`` (which may
    be an unsaved instance): (listing, cosine, character overlap)."""
    doc = doc_from(listing)
    if doc.id is None:
        doc.id = -1
    return near_duplicates_many([doc], None)[0]


def near_duplicates_many(docs: list[Doc], vectors) -> list[list[tuple[object, float, float]]]:
    """near_duplicates for many docs of one library at once (``vectors``: their embeddings, when
    the caller has them — bulk import)."""
    if not docs:
        return []
    hits = _ask(lambda b: b.near_duplicates(docs, vectors), [[] for _ in docs])
    model = KIND_MODELS[docs[0].kind]
    wanted = {int(i) for found in hits for i, _, _ in found}
    rows = {x.id: x for x in db.session.scalars(select(model).where(model.id.in_(wanted)))} if wanted else {}
    return [[(rows[int(i)], cos, overlap) for i, cos, overlap in found if int(i) in rows] for found in hits]


def filter_spec(kind: str, filters) -> dict | None:
    """The browse filters as plain data for semantic search (matching.filters.predicate)."""
    spec = {
        "field": filters.field or None,
        "chains": list(reference.vocab().chain_with_children(filters.chain)) if filters.chain else None,
        "stage": stage_index(filters.maturity) if filters.maturity else None,
        "bottleneck": bool(filters.bottleneck) and kind == "need",
        "region": filters.region or None,
    }
    return spec if any(v not in (None, False) for v in spec.values()) else None


def gaps(user=None) -> dict:
    """Needs the suggestion rule gives no 成果 (卡脖子 first) and 成果 it suggests to no need. The
    second list is for brokers and admins only (institutions do not want their unasked-for 成果
    listed in public): for anyone else ``achievements`` is None."""
    staff = user is not None and user.is_authenticated and user.is_staff
    empty = {"needs": [], "achievements": [], "cutoff": None, "relative": None, "second": None, "evidence_cutoff": None}
    found = _ask(lambda b: b.gaps(), empty)
    needs = {x.id: x for x in db.session.scalars(select(Need).where(Need.id.in_([n[0] for n in found["needs"]])))}
    achs = {}
    if staff and found["achievements"]:
        ids = [a[0] for a in found["achievements"]]
        achs = {x.id: x for x in db.session.scalars(select(Achievement).where(Achievement.id.in_(ids)))}
    open_needs = sorted(
        ((needs[i], best) for i, best in found["needs"] if i in needs),
        key=lambda t: (not t[0].bottleneck, not t[0].is_challenge, t[1]),
    )
    lonely = sorted(((achs[i], best) for i, best in found["achievements"] if i in achs), key=lambda t: t[1])
    return {
        "needs": open_needs,
        "achievements": lonely if staff else None,
        "cutoff": found["cutoff"],
        "relative": found["relative"],
        "second": found.get("second"),
        "evidence_cutoff": found["evidence_cutoff"],
    }
