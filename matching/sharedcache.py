"""Embeddings shared by every host through the database (PostgreSQL deployments): a text embedded by
one host's matching service — for a suggestion, a search, an import — is never embedded again by
another host's. Keyed like the embedder's own cache: (model id, sha256 of prompt + text)."""

import logging

import numpy as np
import sqlalchemy as sa

log = logging.getLogger(__name__)
_meta = sa.MetaData()
TABLE = sa.Table(
    "embedding_cache",
    _meta,
    sa.Column("model_id", sa.String(120), primary_key=True),
    sa.Column("key", sa.LargeBinary(32), primary_key=True),
    sa.Column("vec", sa.LargeBinary, nullable=False),
)


class SharedCache:
    def __init__(self, engine: sa.Engine, model_id: str, dim: int):
        self.engine, self.model_id, self.dim = engine, model_id, dim
        _meta.create_all(engine, checkfirst=True)

    def get_many(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        out: dict[bytes, np.ndarray] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = conn.execute(
                    sa.select(TABLE.c.key, TABLE.c.vec).where(TABLE.c.model_id == self.model_id, TABLE.c.key.in_(chunk))
                )
                for key, blob in rows:
                    if len(blob) == 4 * self.dim:
                        out[bytes(key)] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return out

    def put_many(self, items: list[tuple[bytes, np.ndarray]]) -> None:
        if not items:
            return
        rows = [{"model_id": self.model_id, "key": k, "vec": np.asarray(v, "<f4").tobytes()} for k, v in items]
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert

                conn.execute(insert(TABLE).on_conflict_do_nothing(), rows)
            else:
                from sqlalchemy.dialects.sqlite import insert

                conn.execute(insert(TABLE).on_conflict_do_nothing(), rows)


class SharedCacheEmbedder:
    """An embedder that asks the shared cache before its own (and the model), and shares what it
    embedded. Everything else is the wrapped embedder's."""

    def __init__(self, inner, cache: SharedCache):
        self._inner, self._cache = inner, cache

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def encode(self, texts, prompt: str = "query") -> np.ndarray:
        texts = list(texts)
        if not texts:
            return self._inner.encode(texts, prompt=prompt)
        keys = [self._inner.cache_key(t, prompt) for t in texts]
        try:
            found = self._cache.get_many(list(dict.fromkeys(keys)))
        except sa.exc.SQLAlchemyError:
            log.warning("shared embedding cache unreadable; embedding here", exc_info=True)
            return self._inner.encode(texts, prompt=prompt)
        todo = [n for n, k in enumerate(keys) if k not in found]
        if todo:
            vecs = self._inner.encode([texts[n] for n in todo], prompt=prompt)
            new = dict(zip((keys[n] for n in todo), vecs))
            try:
                self._cache.put_many(list(new.items()))
            except sa.exc.SQLAlchemyError:
                log.warning("could not share embeddings", exc_info=True)
            found.update(new)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
