"""Chinese tokenisation: one jieba.Tokenizer of our own with the domain user dictionary."""

import logging
import re
import threading
from functools import lru_cache
from pathlib import Path

import jieba

from .folders import shipped

jieba.setLogLevel(logging.WARNING)

DICT_DIR = shipped("dict")
_WORD = re.compile(r"[\w\u4e00-\u9fff]")
_ASCII_TOKEN = re.compile(r"[a-z0-9][a-z0-9.+\-]*")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_FUNCTION_CHARS = set(
    "的了和与及或在对于以从把被将为是有中上下等个其该此各每并且而但也都就又还很较更最已可能会要使让由向至到之所"
)


class Tokenizer:
    """Segments Chinese text for keyword search and BM25; thread-safe after the first call."""

    def __init__(
        self, user_dict: Path | None = DICT_DIR / "domain.txt", stopwords: Path | None = DICT_DIR / "stopwords.txt"
    ):
        self._jieba = jieba.Tokenizer()
        self._user_dict = user_dict
        self._ready = False
        self._lock = threading.Lock()
        self.stopwords = set()
        if stopwords and stopwords.exists():
            self.stopwords = {w.strip() for w in stopwords.read_text(encoding="utf-8").splitlines() if w.strip()}

    def _init(self) -> None:
        with self._lock:
            if not self._ready:
                self._jieba.initialize()
                if self._user_dict and self._user_dict.exists():
                    self._jieba.load_userdict(str(self._user_dict))
                self._ready = True

    def tokens(self, text: str, for_search: bool = True) -> list[str]:
        """Lower-cased terms without punctuation and stopwords; ``for_search`` adds sub-words."""
        if not self._ready:
            self._init()
        cut = self._jieba.cut_for_search if for_search else self._jieba.cut
        out = []
        for tok in cut(text.lower()):
            tok = tok.strip()
            if not tok or tok in self.stopwords or not _WORD.search(tok):
                continue
            if tok.isascii() and not _ASCII_TOKEN.fullmatch(tok):
                continue
            out.append(tok)
        return out

    def whole_words(self, text: str) -> set[str]:
        """Words as a plain segmentation cuts them, with a lone content character joined to its
        neighbour (jieba cuts 憎水性 into 憎 + 水性: the word is 憎水性, 水性 is only a fragment)."""
        if not self._ready:
            self._init()
        toks = [t.strip() for t in self._jieba.cut(text.lower())]
        toks = [t for t in toks if t]
        out, n = [], 0
        while n < len(toks):
            t = toks[n]
            lone = len(t) == 1 and _CJK.match(t) and t not in _FUNCTION_CHARS
            if lone and n + 1 < len(toks) and _CJK.match(toks[n + 1]):
                out.append(t + toks[n + 1])
                n += 2
                continue
            if lone and out and _CJK.match(out[-1][-1]):
                out[-1] += t
            else:
                out.append(t)
            n += 1
        return {t for t in out if t not in self.stopwords}

    def add_word(self, word: str) -> None:
        if not self._ready:
            self._init()
        self._jieba.add_word(word)


@lru_cache(maxsize=1)
def default_tokenizer() -> Tokenizer:
    return Tokenizer()


def listing_terms(
    tokenizer: Tokenizer, title: str, text: str, keywords=(), org: str = "", extra: str = ""
) -> list[str]:
    """The keyword-index terms of a listing, in first-seen order (the web app and evaluation agree)."""
    return list(dict.fromkeys(tokenizer.tokens(" ".join([title, text, " ".join(keywords), org, extra]))))


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """Region names (with and without 省/市/区/县) and a few words of origin: where a listing comes
    from is no evidence of what it can do, so they never count as shared keywords in matching."""
    import json

    path = shipped("reference", "regions.json")
    regions = json.loads(path.read_text(encoding="utf-8"))
    names = {"郑州", "河南", "中原", "黄淮", "豫中", "豫南", "豫北", "豫西", "豫东", "国内", "国外", "省内", "市内"}
    for table in ("zhengzhou", "henan", "provinces"):
        for name in regions[table].values():
            names.add(name)
            for suffix in ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市", "区", "县"):
                if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                    names.add(name[: -len(suffix)])
                    break
    return frozenset(names)


def match_terms(tokens) -> list[str]:
    """Keyword-index terms for matching: a listing's terms without place names."""
    places = place_names()
    return [t for t in tokens if t not in places]


@lru_cache(maxsize=1)
def generic_words() -> frozenset[str]:
    """Words too general to show a broker as evidence (data/dict/generic.txt)."""
    path = DICT_DIR / "generic.txt"
    words = (
        {w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip() and not w.startswith("#")}
        if path.exists()
        else set()
    )
    return frozenset(words)
