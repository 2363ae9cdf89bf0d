"""The web app's one door to the matching engine: listings in as Docs, ranked ids out.

The engine is created once per process, synced against the database on first use, and kept in
step from one place: a session hook collects changed listings at flush and applies them to the
engine after the transaction commits (published → indexed, anything else → removed).
"""

import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from matching.docs import Doc, stage_index
from matching.engine import Match, MatchEngine
from matching.index import IndexParams
from matching.ranking import Weights

from ..extensions import db
from ..models import Achievement, ListingStatus, Need
from ..validation import reference

log = logging.getLogger(__name__)
_engine_lock = threading.Lock()
KIND_MODELS = {"achievement": Achievement, "need": Need}


def doc_from(listing, parents: dict[str, str] | None = None) -> Doc:
    is_need = listing.kind == "need"
    parents = parents if parents is not None else _chain_parents()

    def money(v):
        return float(v) if v is not None else None

    return Doc(
        id=listing.id,
        kind=listing.kind,
        title=listing.title,
        text=listing.public_text,
        keywords=tuple(listing.keywords or ()),
        extra=(listing.indicators or "") if is_need else "",
        field=listing.field,
        chain=listing.chain,
        chain_parent=parents.get(listing.chain or ""),
        stage=stage_index(listing.wanted_maturity if is_need else listing.maturity),
        modes=tuple((listing.coop_modes if is_need else listing.transfer_modes) or ()),
        price_min=money(listing.budget_min if is_need else listing.price_min),
        price_max=money(listing.budget_max if is_need else listing.price_max),
        region=listing.org.region if listing.org else None,
        bottleneck=bool(getattr(listing, "bottleneck", False)),
        tokens=tuple(map(sys.intern, (listing.search_text or "").split())),  # one copy of each term
    )


def _chain_parents() -> dict[str, str]:
    v = reference.vocab()
    return {child: parent for parent, children in v.chain_children.items() for child in children}


def published_docs(kind: str) -> list[Doc]:
    model = KIND_MODELS[kind]
    parents = _chain_parents()
    rows = db.session.scalars(select(model).where(model.status == ListingStatus.published.value)).all()
    return [doc_from(x, parents) for x in rows]


# ---- the engine -----------------------------------------------------------------------------


def enabled() -> bool:
    return has_app_context() and current_app.config.get("MATCHING_ENABLED", False)


def build_engine(app) -> MatchEngine:
    from matching.embedder import Embedder

    cfg = app.config
    embedder = Embedder(Path(cfg["MODEL_DIR"]), cache_path=Path(cfg["EMBED_CACHE"]))
    params = IndexParams(hnsw_threshold=cfg.get("HNSW_THRESHOLD", 50_000))
    return MatchEngine(embedder, Path(cfg["INDEX_DIR"]), Weights.load(cfg.get("MATCH_WEIGHTS")), params)


def engine(sync: bool = True) -> MatchEngine | None:
    """The process's engine, synced with the database; None when matching is switched off."""
    if not enabled():
        return None
    app = current_app._get_current_object()
    with _engine_lock:
        eng = app.extensions.get("match_engine")
        if eng is None:
            eng = app.extensions["match_engine"] = build_engine(app)
            app.extensions["match_engine_synced"] = set()
        synced = app.extensions.setdefault("match_engine_synced", set())
        if sync:
            for kind in KIND_MODELS:
                if kind not in synced or eng.changed_on_disk(kind):
                    report = eng.sync(kind, published_docs(kind))
                    log.info("index %s", report)
                    synced.add(kind)
    return eng


def sync_all(rebuild: bool = False) -> list:
    eng = engine(sync=False)
    reports = [eng.sync(kind, published_docs(kind), rebuild=rebuild) for kind in KIND_MODELS]
    current_app.extensions["match_engine_synced"] = set(KIND_MODELS)
    return reports


# ---- keeping the index in step after commit -------------------------------------------------


@event.listens_for(Session, "after_flush")
def _collect(session, flush_context):
    touched = session.info.setdefault("listings_touched", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (Achievement, Need)):
            touched.add((obj.kind, obj.id, obj in session.deleted))


@event.listens_for(Session, "after_flush_postexec")
def _snapshot(session, flush_context):
    """Docs are built here, while SQL may still run; after_commit may not touch the database."""
    touched = session.info.pop("listings_touched", set())
    if not touched or not enabled():
        return
    pending = session.info.setdefault("index_pending", {})
    parents = None
    for kind, ident, deleted in touched:
        obj = None if deleted else session.get(KIND_MODELS[kind], ident)
        if obj is not None and obj.status == ListingStatus.published.value:
            parents = parents if parents is not None else _chain_parents()
            pending[(kind, ident)] = doc_from(obj, parents)
        else:
            pending[(kind, ident)] = None


@event.listens_for(Session, "after_commit")
def _apply(session):
    pending = session.info.pop("index_pending", None)
    if not pending or not enabled():
        return
    eng = current_app.extensions.get("match_engine")
    if eng is None:
        return  # the engine syncs from the database when first used
    upserts = [d for d in pending.values() if d is not None]
    removals = [(k, i) for (k, i), d in pending.items() if d is None]
    try:
        if upserts:
            eng.upsert(upserts, save=False)
        for kind in KIND_MODELS:
            ids = [i for k, i in removals if k == kind]
            if ids:
                eng.remove(kind, ids, save=False)
        eng.schedule_save()
    except Exception:
        log.exception("could not apply listing changes to the index; it will be repaired at next sync")
        current_app.extensions["match_engine_synced"] = set()


@event.listens_for(Session, "after_rollback")
def _discard(session):
    session.info.pop("index_pending", None)
    session.info.pop("listings_touched", None)


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


def best_matches(listing, k: int = 5, min_score: float | None = None) -> list[Suggestion]:
    """The other library's best listings for a published listing: by default those the suggestion
    rule picks (above the cut-off, at most ``k``); with ``min_score``, every one scoring that much."""
    eng = engine()
    if eng is None:
        return []
    target = "achievement" if listing.kind == "need" else "need"
    if min_score is None:
        return _load(target, eng.suggestions(doc_from(listing))[:k])
    return _load(target, eng.match(doc_from(listing), k=k, min_score=min_score))


def semantic_search(kind: str, text: str, where=None, k: int = 200) -> list[Suggestion]:
    eng = engine()
    if eng is None:
        return []
    return _load(kind, eng.search(kind, text, k=k, where=where))


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
    eng = engine()
    if eng is None:
        return []
    model = KIND_MODELS[listing.kind]
    doc = doc_from(listing)
    if doc.id is None:
        doc.id = -1
    hits = eng.near_duplicates(doc)
    rows = {x.id: x for x in db.session.scalars(select(model).where(model.id.in_([h[0] for h in hits])))}
    return [(rows[i], cos, overlap) for i, cos, overlap in hits if i in rows]


def near_duplicates_many(docs: list[Doc], vectors) -> list[list[tuple[object, float, float]]]:
    """near_duplicates for many docs of one library at once, embedded by the caller (bulk import)."""
    eng = engine()
    if eng is None or not docs:
        return [[] for _ in docs]
    model = KIND_MODELS[docs[0].kind]
    hits = eng.near_duplicates_many(docs, vectors)
    wanted = {i for found in hits for i, _, _ in found}
    rows = {x.id: x for x in db.session.scalars(select(model).where(model.id.in_(wanted)))} if wanted else {}
    return [[(rows[i], cos, overlap) for i, cos, overlap in found if i in rows] for found in hits]


def filter_predicate(kind: str, filters) -> "callable | None":
    """The browse filters as a predicate on Docs, for semantic search."""
    region = filters.region
    chains = set(reference.vocab().chain_with_children(filters.chain)) if filters.chain else None
    stage = stage_index(filters.maturity) if filters.maturity else None

    def keep(d: Doc) -> bool:
        if filters.field and d.field != filters.field:
            return False
        if chains is not None and d.chain not in chains:
            return False
        if stage is not None and d.stage != stage:
            return False
        if filters.bottleneck and kind == "need" and not d.bottleneck:
            return False
        if region == "other" and (d.region or "").startswith("4101"):
            return False
        if region and region != "other" and d.region != region:
            return False
        return True

    active = filters.field or chains or stage is not None or filters.bottleneck or region
    return keep if active else None


_gap_cache: dict = {}


def gaps(user=None) -> dict:
    """Needs the suggestion rule gives no 成果 (卡脖子 first) and 成果 it suggests to no need. The
    second list is for brokers and admins only (institutions do not want their unasked-for 成果
    listed in public): for anyone else ``achievements`` is None."""
    staff = user is not None and user.is_authenticated and user.is_staff
    eng = engine()
    if eng is None:
        return {
            "needs": [],
            "achievements": [] if staff else None,
            "cutoff": None,
            "relative": None,
            "evidence_cutoff": None,
        }
    w = eng.weights
    key = (eng.version, w.cutoff, w.suggest_relative, w.evidence_cutoff, w.veto_unmet, w.suggest_max)
    if _gap_cache.get("key") != key:
        cutoff = w.cutoff
        best_for_ach: dict[int, float] = {}
        open_needs = []
        reached: set[int] = set()
        for doc in eng.libraries["need"].docs.values():
            top = eng.match(doc, k=max(5, w.suggest_max))
            for m in top:
                best_for_ach[m.id] = max(best_for_ach.get(m.id, 0.0), m.score)
            chosen = eng.pick(top)
            reached.update(m.id for m in chosen)
            if not chosen:
                open_needs.append((doc.id, top[0].score if top else 0.0, top[0].id if top else None))
        lonely = [(i, best_for_ach.get(i, 0.0)) for i in eng.libraries["achievement"].docs if i not in reached]
        _gap_cache.update(key=key, needs=open_needs, achievements=lonely, cutoff=cutoff)
    needs = {x.id: x for x in db.session.scalars(select(Need).where(Need.id.in_([n[0] for n in _gap_cache["needs"]])))}
    achs = (
        {
            x.id: x
            for x in db.session.scalars(
                select(Achievement).where(Achievement.id.in_([a[0] for a in _gap_cache["achievements"]]))
            )
        }
        if staff
        else {}
    )
    open_needs = sorted(
        ((needs[i], best) for i, best, _ in _gap_cache["needs"] if i in needs),
        key=lambda t: (not t[0].bottleneck, not t[0].is_challenge, t[1]),
    )
    lonely = sorted(((achs[i], best) for i, best in _gap_cache["achievements"] if i in achs), key=lambda t: t[1])
    return {
        "needs": open_needs,
        "achievements": lonely if staff else None,
        "cutoff": _gap_cache["cutoff"],
        "relative": w.suggest_relative,
        "evidence_cutoff": w.evidence_cutoff,
    }
