"""Reading the index change log (table ``index_change``, written by the web app in the same
transaction as each listing change): the one way listings reach the matching indexes.

Writers take a lock before they append (PostgreSQL: a transaction-level advisory lock; SQLite has
one writer anyway), so rows become visible in ``seq`` order and a reader that has applied up to
``seq`` never misses an earlier row that commits later. Applying a row means "this listing is now
this" — idempotent — so a reader may see a row twice, and superseded rows may be deleted.
"""

import json
from dataclasses import dataclass

import sqlalchemy as sa

from .docs import Doc

TABLE = "index_change"
ALL = "*"  # the kind of a settings row
WRITE_LOCK = 7_140_001  # the advisory lock key writers take on PostgreSQL


@dataclass
class Change:
    seq: int
    kind: str
    listing_id: int
    op: str  # upsert | remove | settings
    content_hash: str | None
    doc: dict | None

    def as_doc(self) -> Doc:
        return Doc.from_dict(self.doc)


def take_write_lock(conn) -> None:
    """Serialise appends so that commit order is ``seq`` order (PostgreSQL; a no-op on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK})


class ChangeLog:
    def __init__(self, engine: "sa.Engine | str"):
        self.engine = sa.create_engine(engine, pool_pre_ping=True) if isinstance(engine, str) else engine

    def _rows(self, sql: str, **params) -> list[Change]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(sql), params).all()
        return [Change(int(r.seq), r.kind, int(r.listing_id), r.op, r.content_hash, json_value(r.doc)) for r in rows]

    def head(self) -> int:
        """The newest ``seq`` committed (0 for an empty log)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT COALESCE(MAX(seq), 0) FROM {TABLE}")).scalar())

    def since(self, seq: int, limit: int = 2000) -> list[Change]:
        return self._rows(f"SELECT * FROM {TABLE} WHERE seq > :seq ORDER BY seq LIMIT :limit", seq=seq, limit=limit)

    def latest(self, upto: int) -> list[Change]:
        """The newest row of every listing (and of the settings) up to ``upto``: the state of the
        libraries at that point, in ``seq`` order."""
        return self._rows(
            f"SELECT c.* FROM {TABLE} c JOIN (SELECT kind, listing_id, MAX(seq) AS m FROM {TABLE} "
            "WHERE seq <= :upto GROUP BY kind, listing_id) l ON c.seq = l.m ORDER BY c.seq",
            upto=upto,
        )

    def compact(self) -> int:
        """Delete rows superseded by a newer row of the same listing; returns how many."""
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.text(
                    f"DELETE FROM {TABLE} WHERE seq < (SELECT MAX(n.seq) FROM {TABLE} n "
                    f"WHERE n.kind = {TABLE}.kind AND n.listing_id = {TABLE}.listing_id)"
                )
            )
            return int(result.rowcount or 0)


def json_value(value):
    """A JSON column's value as Python data (some drivers hand back the text)."""
    return json.loads(value) if isinstance(value, str) else value
