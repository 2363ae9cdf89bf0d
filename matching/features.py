"""Structured compatibility of a need and a 成果, each feature in [0, 1] with 0.5 meaning 'unknown'."""
from .docs import Doc

FEATURES = ("dense", "keyword", "field", "chain", "stage", "modes", "price", "region")
LABELS = {
    "dense": "语义相似", "keyword": "关键词重合", "field": "技术领域", "chain": "产业链",
    "stage": "成熟度与期望", "modes": "转化/合作方式", "price": "价格与预算", "region": "地域",
}


def pair(a: Doc, b: Doc) -> tuple[Doc, Doc]:
    """(need, 成果) whatever order they come in; two of a kind are compared symmetrically."""
    if a.kind == "achievement" and b.kind == "need":
        return b, a
    return a, b


def field_fit(need: Doc, ach: Doc) -> float:
    if not need.field or not ach.field:
        return 0.5
    return 1.0 if need.field == ach.field else 0.0


def chain_fit(need: Doc, ach: Doc) -> float:
    if not need.chain or not ach.chain:
        return 0.5
    if need.chain == ach.chain:
        return 1.0
    np_, ap = need.chain_parent or need.chain, ach.chain_parent or ach.chain
    return 0.6 if np_ == ap else 0.0


def stage_fit(need: Doc, ach: Doc) -> float:
    """A 成果 at or beyond the stage the need wants fits; one stage short half fits."""
    if need.stage is None or ach.stage is None:
        return 0.5
    gap = need.stage - ach.stage
    return 1.0 if gap <= 0 else 0.5 if gap == 1 else 0.0


def modes_fit(need: Doc, ach: Doc) -> float:
    if not need.modes or not ach.modes:
        return 0.5
    return 1.0 if set(need.modes) & set(ach.modes) else 0.0


def price_fit(need: Doc, ach: Doc) -> float:
    """1 when the asking price can meet the budget, falling to 0 at twice the budget."""
    budget_hi = need.price_max if need.price_max is not None else need.price_min
    asking_lo = ach.price_min if ach.price_min is not None else ach.price_max
    if budget_hi is None or asking_lo is None or budget_hi <= 0:
        return 0.5
    if asking_lo <= budget_hi:
        return 1.0
    return max(0.0, 1.0 - (asking_lo - budget_hi) / budget_hi)


def region_fit(need: Doc, ach: Doc) -> float:
    if not need.region or not ach.region:
        return 0.5
    if need.region[:4] == ach.region[:4] == "4101":
        return 1.0
    return 0.75 if need.region[:2] == ach.region[:2] else 0.5


STRUCTURED = {"field": field_fit, "chain": chain_fit, "stage": stage_fit, "modes": modes_fit,
              "price": price_fit, "region": region_fit}


def structured(a: Doc, b: Doc) -> dict[str, float]:
    need, ach = pair(a, b)
    return {name: fn(need, ach) for name, fn in STRUCTURED.items()}
