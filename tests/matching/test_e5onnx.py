"""The ONNX Runtime encoding path: which path ``precision="auto"`` takes, the self-check that refuses a
variant, the export's freshness, and (``@pytest.mark.model``) the real export against torch float32."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from matching import e5onnx
from matching import embedder as emb_mod
from matching.embedder import Embedder, OnnxE5Model, OnnxUnavailableError, load_model
from matching.modelfiles import ONNX_DIR_NAME, ONNX_EXPORT_VERSION, ONNX_STAMP_NAME, ONNX_VARIANTS, STAMP_NAME
from tests.matching.reference import TEXTS

MODEL_STAMP = {"model_id": "fake-e5@test", "converter_version": "2", "source_sha256": "ab" * 32, "dim": 8}


def fake_export(model_dir: Path, checks: dict[str, float] | None = None, **changes) -> Path:
    """A model folder whose ONNX export is fresh (files are empty; nothing here runs them)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / STAMP_NAME).write_text(json.dumps(MODEL_STAMP))
    folder = model_dir / ONNX_DIR_NAME
    folder.mkdir(exist_ok=True)
    for name in ONNX_VARIANTS.values():
        (folder / name).write_bytes(b"")
    np.save(folder / "reference.npy", np.eye(2, dtype=np.float32))
    stamp = {
        **{k: MODEL_STAMP[k] for k in ("model_id", "converter_version", "source_sha256")},
        "export_version": ONNX_EXPORT_VERSION,
        "onnxruntime": metadata.version("onnxruntime"),
        "reference": "reference.npy",
        "reference_texts": ["query: a", "passage: b"],
        "checks": checks if checks is not None else dict.fromkeys(ONNX_VARIANTS, 0.99995),
        **changes,
    }
    (folder / ONNX_STAMP_NAME).write_text(json.dumps(stamp))
    return model_dir


# --------------------------------------------------------------------------
# which path "auto" takes
# --------------------------------------------------------------------------
class FakeTorchModel:
    def __init__(self, model_dir, precision="auto"):
        if precision == "auto":
            precision = "bf16" if FakeTorchModel.bf16_passes else "float32"
        self.precision = precision
        self.precision_reason = f"torch {self.precision}"

    bf16_passes = True


class FakeOnnxModel:
    refuse: str | None = None
    tried: list[str] = []

    def __init__(self, model_dir, variant="onnx-int8", check=True):
        FakeOnnxModel.tried.append(variant)
        if self.refuse:
            raise OnnxUnavailableError(self.refuse)
        self.precision = variant
        self.precision_reason = f"{variant} self-check min cosine to float32 0.999900"


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setattr(emb_mod, "E5Model", FakeTorchModel)
    monkeypatch.setattr(emb_mod, "OnnxE5Model", FakeOnnxModel)
    FakeTorchModel.bf16_passes = True
    FakeOnnxModel.refuse = None
    FakeOnnxModel.tried = []
    return monkeypatch


def test_auto_without_native_bf16_takes_the_first_onnx_path_whose_check_passes(fakes, tmp_path):
    fakes.setattr(emb_mod, "bf16_support", lambda: (False, "no avx512_bf16 (test)"))
    model = load_model(tmp_path, "auto")
    assert model.precision == "onnx"
    assert model.precision_reason.startswith("no avx512_bf16 (test); onnx self-check")
    fakes.setattr(emb_mod, "AUTO_ONNX_VARIANTS", ("onnx-int8", "onnx"))
    assert load_model(tmp_path, "auto").precision == "onnx-int8"


def test_auto_refuses_an_onnx_path_whose_check_fails(fakes, tmp_path, caplog):
    fakes.setattr(emb_mod, "bf16_support", lambda: (False, "no avx512_bf16 (test)"))
    FakeOnnxModel.refuse = "self-check failed: min cosine to float32 0.990000 < 0.999"
    with caplog.at_level("WARNING", logger="matching.embedder"):
        model = load_model(tmp_path, "auto")
    assert model.precision == "float32"
    assert FakeOnnxModel.tried == ["onnx", "onnx-int8"]
    assert "no avx512_bf16 (test)" in model.precision_reason
    assert "onnx not used: self-check failed" in model.precision_reason
    assert "onnx-int8 not used: self-check failed" in model.precision_reason
    assert "self-check failed" in caplog.text


def test_auto_with_native_bf16_keeps_bf16_and_tries_onnx_only_when_bf16_fails(fakes, tmp_path):
    fakes.setattr(emb_mod, "bf16_support", lambda: (True, "native bf16 (test)"))
    assert load_model(tmp_path, "auto").precision == "bf16"
    assert FakeOnnxModel.tried == []
    FakeTorchModel.bf16_passes = False
    assert load_model(tmp_path, "auto").precision == "onnx"


def test_forced_precisions(fakes, tmp_path):
    fakes.setattr(emb_mod, "bf16_support", lambda: (False, "no avx512_bf16 (test)"))
    for precision in ("float32", "bf16", "onnx", "onnx-int8"):
        assert load_model(tmp_path, precision).precision == precision
    with pytest.raises(ValueError, match="precision must be one of"):
        Embedder(fake_export(tmp_path / "m"), precision="int4")


# --------------------------------------------------------------------------
# the self-check of a real OnnxE5Model (graph loading left out)
# --------------------------------------------------------------------------
@pytest.fixture
def no_graph(monkeypatch):
    monkeypatch.setattr(OnnxE5Model, "open", lambda self, model_dir, graph: None)
    return monkeypatch


def test_onnx_model_passes_when_both_checks_hold(no_graph, tmp_path):
    no_graph.setattr(OnnxE5Model, "self_check", lambda self: 0.99993)
    m = OnnxE5Model(fake_export(tmp_path), "onnx-int8")
    assert m.precision == "onnx-int8" and m.check_cosine == pytest.approx(0.99993)
    assert "0.999930 here, 0.999950 on 2 texts at export" in m.precision_reason


def test_onnx_model_refused_when_the_check_here_fails(no_graph, tmp_path):
    no_graph.setattr(OnnxE5Model, "self_check", lambda self: 0.998)
    with pytest.raises(OnnxUnavailableError, match=r"self-check failed: min cosine to float32 0\.998000 < 0\.999"):
        OnnxE5Model(fake_export(tmp_path), "onnx-int8")
    assert OnnxE5Model(fake_export(tmp_path), "onnx-int8", check=False).precision == "onnx-int8"


def test_onnx_model_refused_when_the_export_check_failed(no_graph, tmp_path):
    no_graph.setattr(OnnxE5Model, "self_check", lambda self: 1.0)
    model_dir = fake_export(tmp_path, checks={"onnx": 1.0, "onnx-int8": 0.9963})
    with pytest.raises(OnnxUnavailableError, match="failed its check at export: min cosine to float32 0.996300"):
        OnnxE5Model(model_dir, "onnx-int8")
    assert OnnxE5Model(model_dir, "onnx").precision == "onnx"


# --------------------------------------------------------------------------
# the export's freshness
# --------------------------------------------------------------------------
def test_export_status(tmp_path):
    assert emb_mod.onnx_export_status(fake_export(tmp_path / "a")) == (True, "fresh")
    ok, why = emb_mod.onnx_export_status(fake_export(tmp_path / "b", model_id="older-e5@test"))
    assert not ok and "model_id 'older-e5@test', expected 'fake-e5@test'" in why
    ok, why = emb_mod.onnx_export_status(fake_export(tmp_path / "c", export_version="0"))
    assert not ok and "export_version" in why
    ok, why = emb_mod.onnx_export_status(fake_export(tmp_path / "d", onnxruntime="1.0.0"))
    assert not ok and "onnxruntime" in why
    (fake_export(tmp_path / "e") / ONNX_DIR_NAME / ONNX_VARIANTS["onnx-int8"]).unlink()
    assert emb_mod.onnx_export_status(tmp_path / "e") == (False, f"ONNX export lacks {ONNX_VARIANTS['onnx-int8']}")
    assert not emb_mod.onnx_export_status(tmp_path / "nothing")[0]


def test_ensure_export_redoes_a_stale_export_only(monkeypatch, tmp_path):
    exports = []
    monkeypatch.setattr(e5onnx, "export_available", lambda: (True, "ok"))
    monkeypatch.setattr(e5onnx, "export", lambda model_dir: exports.append(model_dir) or model_dir / ONNX_DIR_NAME)
    fresh = fake_export(tmp_path / "fresh")
    assert e5onnx.ensure_export(fresh) == fresh / ONNX_DIR_NAME and exports == []
    stale = fake_export(tmp_path / "stale")
    (stale / STAMP_NAME).write_text(json.dumps({**MODEL_STAMP, "model_id": "newer-e5@test"}))
    e5onnx.ensure_export(stale)
    assert exports == [stale]
    monkeypatch.setattr(e5onnx, "export_available", lambda: (False, "no onnx (test)"))
    assert e5onnx.ensure_export(stale) is None and exports == [stale]


# --------------------------------------------------------------------------
# the real export
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch_float32(converted_model_dir):
    return emb_mod.E5Model(converted_model_dir, precision="float32")


@pytest.mark.model
@pytest.mark.parametrize("variant, floor", [("onnx", 0.99999), ("onnx-int8", 0.999)])
def test_onnx_vectors_are_within_cosine_of_torch_float32(converted_model_dir, torch_float32, variant, floor):
    model = OnnxE5Model(converted_model_dir, variant)
    inputs = ["query: " + t for t in TEXTS]
    ref = emb_mod.embed_with_model(torch_float32, inputs)
    got = emb_mod.embed_with_model(model, inputs)
    cos = np.sum(ref * got, axis=1)
    print(f"\n{variant} vs torch float32: min {cos.min():.6f} mean {cos.mean():.6f}; {model.precision_reason}")
    assert cos.min() >= floor, dict(zip(TEXTS, cos.round(6)))


@pytest.mark.model
def test_onnx_windows_long_texts_like_torch(converted_model_dir, torch_float32):
    model = OnnxE5Model(converted_model_dir, "onnx", check=False)
    texts = emb_mod.check_texts()
    assert model.tokenize(texts) == torch_float32.tokenize(texts)
    long = texts[-1]  # four demo listings one after another
    ids = model.tokenize([long])[0]
    assert len(ids) > model.window  # two windows
    ref = emb_mod.embed_with_model(torch_float32, [long])
    got = emb_mod.embed_with_model(model, [long])
    assert float(ref[0] @ got[0]) >= 0.99999
    first = emb_mod._l2_normalize(model.forward([ids[: model.window]]))
    assert float(first[0] @ got[0]) < 0.99  # the second window counts


@pytest.mark.model
def test_onnx_gathers_the_word_embeddings_of_the_float32_table(converted_model_dir, torch_float32):
    import torch

    model = OnnxE5Model(converted_model_dir, "onnx-int8", check=False)
    ids = np.array([[0, 1, 2, 6, 1000, 250036], [5, 77, 9999, 123456, 200000, 3]])
    table = torch_float32.hf.embeddings.word_embeddings(torch.from_numpy(ids)).numpy()
    assert np.array_equal(model.embed_rows(ids), table)


@pytest.mark.model
def test_auto_without_native_bf16_runs_on_onnx(converted_model_dir, monkeypatch):
    monkeypatch.setattr(emb_mod, "_MODELS", {})
    monkeypatch.setattr(emb_mod, "bf16_support", lambda: (False, "CPU lacks native bf16 (forced by test)"))
    e = Embedder(converted_model_dir, precision="auto")
    v = e.encode(["无原生bf16时走ONNX"])
    assert e.precision == "onnx", e.precision_reason
    assert "forced by test" in e.precision_reason and "self-check min cosine" in e.precision_reason
    assert v.shape == (1, 384)
