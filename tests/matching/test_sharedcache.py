"""Embeddings shared through the database: what one host embedded, another never embeds again."""

import numpy as np
import sqlalchemy as sa

from matching.sharedcache import SharedCache, SharedCacheEmbedder
from tests.matching.fakes import FakeEmbedder


class Keyed(FakeEmbedder):
    def cache_key(self, text, prompt="query"):
        import hashlib

        return hashlib.sha256((prompt + ": " + text).encode()).digest()


def test_a_text_embedded_by_one_host_is_reused_by_another(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    host1, host2 = Keyed(), Keyed()
    e1 = SharedCacheEmbedder(host1, SharedCache(engine, host1.model_id, host1.dim))
    e2 = SharedCacheEmbedder(host2, SharedCache(engine, host2.model_id, host2.dim))
    a = e1.encode(["盾构滚刀刀圈", "速冻面皮"])
    b = e2.encode(["速冻面皮", "盾构滚刀刀圈", "新的文本"])
    assert host1.texts == 2 and host2.texts == 1  # only the new text was embedded by host 2
    assert np.allclose(b[0], a[1]) and np.allclose(b[1], a[0])
    assert e2.dim == host2.dim and e2.model_id == host2.model_id  # the rest is the wrapped embedder's
    e1.encode(["新的文本"])
    assert host1.texts == 2
