import numpy as np
import pytest

from matching import index as index_mod
from matching.index import IndexMismatch, IndexParams, VectorIndex


def unit(rng, n, d=16):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# add / replace / remove / search, shared with the pgvector store: test_pgstore.py


def test_removal_does_not_renumber_others():
    rng = np.random.default_rng(2)
    idx = VectorIndex(16, "m")
    x = unit(rng, 100)
    idx.add(np.arange(1000, 1100), x)
    idx.remove([1000, 1050])
    for i in (1001, 1049, 1051, 1099):
        assert idx.search(x[i - 1000], 1)[1][0, 0] == i


def test_save_load_and_manifest(tmp_path):
    rng = np.random.default_rng(3)
    idx = VectorIndex(16, "model-a")
    idx.add([1, 2, 3], unit(rng, 3))
    manifest = idx.save(tmp_path, "achievement", extra={"hashes": {"1": "h"}})
    assert manifest["count"] == 3 and manifest["model_id"] == "model-a"
    loaded = VectorIndex.load(tmp_path, "achievement", "model-a", 16)
    assert sorted(loaded.ids().tolist()) == [1, 2, 3] and loaded.extra == {"hashes": {"1": "h"}}
    assert np.allclose(loaded.vectors([2]), idx.vectors([2]))
    with pytest.raises(IndexMismatch, match="model-a"):
        VectorIndex.load(tmp_path, "achievement", "model-b", 16)
    with pytest.raises(IndexMismatch):
        VectorIndex.load(tmp_path, "need", "model-a", 16)


def test_torn_write_is_detected(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    idx = VectorIndex(16, "m")
    idx.add([1, 2], unit(rng, 2))
    idx.save(tmp_path, "lib")
    idx.add([3], unit(rng, 1))
    real = index_mod._atomic_write

    def crash_on_manifest(path, data):
        if path.suffix == ".json":
            raise OSError("power cut")
        return real(path, data)

    monkeypatch.setattr(index_mod, "_atomic_write", crash_on_manifest)
    with pytest.raises(OSError):
        idx.save(tmp_path, "lib")
    monkeypatch.undo()
    # the new index file sits under the old manifest: refused, never silently used
    with pytest.raises(IndexMismatch, match="torn"):
        VectorIndex.load(tmp_path, "lib", "m", 16)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


@pytest.mark.slow
def test_hnsw_recall_against_exact_search():
    """recall@10 of the HNSW graph vs exact search on 20k clustered 384-d vectors."""
    rng = np.random.default_rng(0)
    n, d = 20_000, 384
    centers = rng.normal(size=(200, d))
    x = centers[rng.integers(0, 200, n)] + 0.6 * rng.normal(size=(n, d))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    q = x[rng.integers(0, n, 200)] + 0.2 * rng.normal(size=(200, d)).astype(np.float32)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    idx = VectorIndex(d, "m", IndexParams(hnsw_threshold=10_000))
    idx.add(np.arange(n), x)
    assert idx.uses_hnsw
    _, exact = idx.search(q, 10, exact=True)
    _, approx = idx.search(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx)])
    assert recall >= 0.95, recall


def test_hnsw_masks_removed_and_replaced(tmp_path):
    rng = np.random.default_rng(5)
    idx = VectorIndex(16, "m", IndexParams(hnsw_threshold=50))
    x = unit(rng, 200)
    idx.add(np.arange(200), x)
    assert idx.uses_hnsw
    idx.remove([7])
    assert 7 not in idx.search(x[7], 5)[1][0]
    y = unit(rng, 1)
    idx.add([8], y)  # replaced: the old vector must not answer
    s, i = idx.search(y[0], 1)
    assert i[0, 0] == 8 and s[0, 0] == pytest.approx(1.0, abs=1e-4)
    idx.save(tmp_path, "h")
    loaded = VectorIndex.load(tmp_path, "h", "m", 16, IndexParams(hnsw_threshold=50))
    assert loaded.uses_hnsw and 7 not in loaded.search(x[7], 5)[1][0]
    for _ in range(30):  # many removals trigger a rebuild
        loaded.remove([int(loaded.ids()[0])])
    assert (~loaded._hnsw_alive).sum() <= 0.1 * len(loaded) + 1
