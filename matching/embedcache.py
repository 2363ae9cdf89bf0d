"""The embedder's caches of vectors, keyed by (model id, sha256 of prompt + text):
in memory, or in SQLite (persistent; several processes may share one file)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np


class MemoryCache:
    """The cache of one process, for an Embedder given no cache file."""

    def __init__(self, model_id: str, dim: int):
        self.model_id, self.dim = model_id, dim
        self._data: dict[bytes, np.ndarray] = {}
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, np.ndarray]:
        with self._lock:
            return {k: self._data[k] for k in keys if k in self._data}

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        with self._lock:
            for k, v in items:
                self._data.setdefault(k, np.array(v, dtype=np.float32))

    def __len__(self) -> int:
        return len(self._data)

    def close(self) -> None:
        pass


class SqliteCache:
    """Embeddings in SQLite: one row per (model id, sha256 key), float32 blob.

    WAL mode lets readers in several processes proceed while one writes;
    ``INSERT OR IGNORE`` makes racing writers harmless.  The connection is
    reopened after a fork.
    """

    _CHUNK = 500

    def __init__(self, path: Path, model_id: str, dim: int):
        self.path, self.model_id, self.dim = Path(path), model_id, dim
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = None
        self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS embeddings ("
            " model_id TEXT NOT NULL,"
            " key BLOB NOT NULL,"
            " dim INTEGER NOT NULL,"
            " vec BLOB NOT NULL,"
            " created REAL NOT NULL,"
            " PRIMARY KEY (model_id, key)) WITHOUT ROWID"
        )
        self._conn, self._pid = conn, os.getpid()
        return conn

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, np.ndarray]:
        keys = list(keys)
        out: dict[bytes, np.ndarray] = {}
        with self._lock:
            conn = self._connect()
            for i in range(0, len(keys), self._CHUNK):
                chunk = keys[i : i + self._CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, dim, vec FROM embeddings WHERE model_id = ? AND key IN ({marks})",
                    [self.model_id, *chunk],
                ).fetchall()
                for key, dim, blob in rows:
                    if dim == self.dim and len(blob) == 4 * self.dim:
                        out[bytes(key)] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return out

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        now = time.time()
        rows = [(self.model_id, k, self.dim, np.asarray(v, dtype="<f4").tobytes(), now) for k, v in items]
        if not rows:
            return
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR IGNORE INTO embeddings (model_id, key, dim, vec, created) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            conn = self._connect()
            return conn.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (self.model_id,)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
