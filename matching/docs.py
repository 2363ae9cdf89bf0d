"""What the matcher knows of a listing: plain data, built by the web app or by an evaluation."""

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from dataclasses import field as dc_field

MATURITY = ("实验室", "小试", "中试", "试生产", "产业化")


@dataclass
class Doc:
    id: int
    kind: str  # "achievement" (成果) or "need" (需求)
    title: str
    text: str  # summary of a 成果, problem statement of a need
    keywords: tuple[str, ...] = ()
    extra: str = ""  # a need's 技术指标
    field: str | None = None  # 技术领域
    chain: str | None = None  # 产业链
    chain_parent: str | None = None
    stage: int | None = None  # a 成果's maturity, or the stage a need wants (index in MATURITY)
    modes: tuple[str, ...] = ()  # transfer modes of a 成果, cooperation modes of a need
    price_min: float | None = None  # a 成果's price, a need's budget (元)
    price_max: float | None = None
    region: str | None = None  # 行政区划代码 of the organisation
    bottleneck: bool = False
    tokens: tuple[str, ...] = ()  # keyword-index terms (jieba)
    meta: dict = dc_field(default_factory=dict)

    def embed_text(self) -> str:
        """Title, keywords, then the text: the most specific words first, inside 512 tokens."""
        parts = [self.title]
        if self.keywords:
            parts.append("关键词：" + "、".join(self.keywords))
        parts.append(self.text)
        if self.extra:
            parts.append("指标：" + self.extra)
        return "\n".join(p for p in parts if p)

    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text().encode("utf-8")).hexdigest()[:32]

    def fingerprint(self) -> str:
        """Everything the matcher knows of the listing (text, keyword terms, field, region …):
        what the change log compares, where content_hash covers only the embedded text."""
        return fingerprint(self.as_dict())

    def as_dict(self) -> dict:
        """Plain JSON data (the change log and the matching service carry Docs this way)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Doc":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        for name in ("keywords", "modes", "tokens"):
            d[name] = tuple(d.get(name) or ())
        return cls(**d)


def fingerprint(data: dict) -> str:
    """A Doc's dict (or its JSON round trip, where tuples came back as lists) as a digest."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=list)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def memo(cache: dict, doc: Doc, compute, limit: int = 200_000):
    """``compute(doc)``, kept in ``cache`` under the listing's kind, id and content (so an edit
    recomputes it); the cache is emptied when it outgrows ``limit``."""
    key = (doc.kind, doc.id, doc.content_hash())
    if key not in cache:
        if len(cache) >= limit:
            cache.clear()
        cache[key] = compute(doc)
    return cache[key]


def stage_index(name: str | None) -> int | None:
    return MATURITY.index(name) if name in MATURITY else None
