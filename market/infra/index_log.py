"""Writing the index change log (models.IndexChange; read by matching.changelog).

A session hook collects the listings a flush touched and appends one row per listing whose indexed
state changed — what the matcher needs of it (a published listing) or its removal (anything else) —
on the flush's own connection, so the row commits or rolls back with the change. New weights and
repairs go through the same log. Nothing here talks to the matching service: it follows the log.
"""

import logging

from flask import current_app, has_app_context, has_request_context
from flask import session as web_session
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from matching.changelog import ALL, json_value, take_write_lock
from matching.docs import Doc, fingerprint
from matching.ranking import Weights

from ..extensions import db
from ..models import Achievement, IndexChange, ListingStatus, Need
from .docs import KIND_MODELS, chain_parents, doc_from
from .match_client import remote_backend

log = logging.getLogger(__name__)
SEQ_KEY = "index_seq"  # the newest change this browser session wrote (read-your-writes)


def _row(kind: str, ident: int, doc: Doc | None) -> dict:
    if doc is None:
        return {"kind": kind, "listing_id": ident, "op": "remove", "content_hash": None, "doc": None}
    return {"kind": kind, "listing_id": ident, "op": "upsert", "content_hash": doc.content_hash(), "doc": doc.as_dict()}


def append(conn, rows: list[dict]) -> int:
    """Append rows on ``conn`` (inside the caller's transaction); returns the newest seq."""
    if not rows:
        return 0
    take_write_lock(conn)
    newest = 0
    for row in rows:  # one by one: every row's seq, in order, on SQLite and PostgreSQL alike
        newest = conn.execute(insert(IndexChange).values(**row).returning(IndexChange.seq)).scalar_one()
    return int(newest)


def head() -> int:
    return int(db.session.scalar(select(func.coalesce(func.max(IndexChange.seq), 0))))


# ---- every listing change, in the same transaction ----------------------------------------------


@event.listens_for(Session, "after_flush")
def _collect(session, flush_context):
    touched = session.info.setdefault("listings_touched", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (Achievement, Need)):
            touched.add((obj.kind, obj.id, obj in session.deleted))


PREPARE_MAX = 8  # listings a flush pre-embeds; bulk imports embed their batches themselves


@event.listens_for(Session, "before_flush")
def _prepare(session, flush_context, instances):
    """Ask the matching service to embed a published listing's text before it is written (no
    write lock is held yet): when the change commits, applying it finds the vector cached and the
    listing is searchable at once. Best effort: without the service the change is applied later."""
    backend = remote_backend(current_app) if has_app_context() else None
    if backend is None:  # only with the service: an engine in this process embeds when it applies
        return
    live = [  # new ones even as drafts: most are published in the same request, after a first flush
        obj
        for obj in (*session.new, *session.dirty)
        if isinstance(obj, (Achievement, Need)) and (obj in session.new or obj.status == ListingStatus.published.value)
    ]
    if not live or len(live) > PREPARE_MAX:
        return
    parents = chain_parents()
    try:
        backend.encode([doc_from(obj, parents).embed_text() for obj in live])
    except Exception as e:  # noqa: BLE001  (never fail a change for a cache warm-up)
        log.info("pre-embedding skipped: %s", e)


@event.listens_for(Session, "before_commit")
def _write(session):
    """One row per listing the transaction changed, in its final state, written on the transaction's
    own connection just before it commits. A listing whose matchable state did not change (a draft
    edited, an expiry date moved) gets no row."""
    if not session.info.get("listings_touched") or not has_app_context():
        return
    session.flush()  # the last changes, so that the rows describe what commits
    deleted: dict[tuple[str, int], bool] = {}
    for kind, ident, gone in session.info.pop("listings_touched", set()):
        deleted[(kind, ident)] = deleted.get((kind, ident), False) or gone
    conn = session.connection()
    logged = logged_state(conn, list(deleted))  # one query for the whole transaction
    parents, rows = None, []
    for (kind, ident), gone in sorted(deleted.items()):
        obj = None if gone else session.get(KIND_MODELS[kind], ident)
        doc = None
        if obj is not None and obj.status == ListingStatus.published.value:
            parents = parents if parents is not None else chain_parents()
            doc = doc_from(obj, parents)
        if logged.get((kind, ident)) != (doc.fingerprint() if doc is not None else None):
            rows.append(_row(kind, ident, doc))
    if rows:
        session.info["index_seq"] = append(conn, rows)


@event.listens_for(Session, "after_commit")
def _committed(session):
    seq = session.info.pop("index_seq", None)
    if seq is None or not has_app_context():
        return
    if has_request_context():
        web_session[SEQ_KEY] = max(seq, web_session.get(SEQ_KEY) or 0)
    backend = current_app.extensions.get("match_backend")  # made by match_engine on first use
    if backend is not None:
        backend.wake()  # the service applies the change now instead of at its next poll


@event.listens_for(Session, "after_rollback")
def _discard(session):
    for key in ("listings_touched", "index_seq"):
        session.info.pop(key, None)


# ---- settings and repairs ------------------------------------------------------------------------


def append_weights(weights: Weights) -> int:
    """New ranking weights for every matching service (applied in log order, like any change)."""
    doc = {k: v for k, v in weights.as_dict().items() if k != "meta"}  # the fit's report (NaN AUCs) stays in the file
    seq = append(db.session.connection(), [{"kind": ALL, "listing_id": 0, "op": "settings", "doc": doc}])
    db.session.info["index_seq"] = seq
    return seq


def current_weights(path) -> Weights:
    """The newest weights in the log, else those of the weights file (or the shipped ones)."""
    row = db.session.scalars(
        select(IndexChange).where(IndexChange.op == "settings").order_by(IndexChange.seq.desc()).limit(1)
    ).first()
    return Weights.from_dict(row.doc) if row is not None and row.doc else Weights.load(path)


def logged_state(conn=None, keys: list[tuple[str, int]] | None = None) -> dict[tuple[str, int], str | None]:
    """(kind, id) → fingerprint of the newest row per listing (None: removed), of every listing in
    the log or of ``keys`` only; on ``conn`` (default: the session)."""
    newest = select(IndexChange.kind, IndexChange.listing_id, func.max(IndexChange.seq).label("m")).group_by(
        IndexChange.kind, IndexChange.listing_id
    )
    if keys is not None:
        newest = newest.where(IndexChange.listing_id.in_({i for _, i in keys}))
    sub = newest.subquery()
    rows = (conn or db.session).execute(
        select(IndexChange.kind, IndexChange.listing_id, IndexChange.op, IndexChange.doc).join(
            sub, IndexChange.seq == sub.c.m
        )
    )
    wanted = set(keys) if keys is not None else None
    return {
        (k, i): (fingerprint(json_value(d)) if op == "upsert" else None)
        for k, i, op, d in rows
        if k != ALL and (wanted is None or (k, i) in wanted)
    }


def published_docs(kind: str) -> list[Doc]:
    model = KIND_MODELS[kind]
    parents = chain_parents()
    rows = db.session.scalars(select(model).where(model.status == ListingStatus.published.value)).all()
    return [doc_from(x, parents) for x in rows]


def drift() -> dict[str, list]:
    """Where the log's newest state differs from the database: published listings missing or stale
    in the log, and listings the log still holds that are no longer published."""
    state = logged_state()
    out = {"missing": [], "stale": [], "extra": []}
    live = set()
    for kind in KIND_MODELS:
        for d in published_docs(kind):
            live.add((kind, d.id))
            have = state.get((kind, d.id))
            if have is None:
                out["missing"].append((kind, d.id, d))
            elif have != d.fingerprint():
                out["stale"].append((kind, d.id, d))
    out["extra"] = [(k, i, None) for (k, i), h in state.items() if h is not None and (k, i) not in live]
    return out


def reconcile() -> dict[str, int]:
    """Append what the log lacks so that its newest state is the database's (after a migration,
    a restore, or a change made behind the app's back). The caller commits."""
    found = drift()
    rows = [_row(kind, ident, doc) for part in found.values() for kind, ident, doc in part]
    if rows:
        db.session.info["index_seq"] = append(db.session.connection(), rows)
    return {k: len(v) for k, v in found.items()}
