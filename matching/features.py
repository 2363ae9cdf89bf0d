"""Features of a need–成果 pair (FEATURES): relative cosines, keyword overlap, 指标对照 and structured
compatibility (each structured feature in [0, 1], 0.5 meaning 'unknown'), computed in one place."""

import numpy as np

from .docs import Doc, memo

FEATURES = ("dense", "object", "keyword", "indicators", "field", "chain", "stage", "modes", "price", "region")
STRUCTURED_FROM = FEATURES.index("field")  # FEATURES[STRUCTURED_FROM:] come from structured()
LABELS = {
    "dense": "语义相似",
    "object": "问题对象",
    "keyword": "关键词重合",
    "indicators": "指标对照",
    "field": "技术领域",
    "chain": "产业链",
    "stage": "成熟度与期望",
    "modes": "转化/合作方式",
    "price": "价格与预算",
    "region": "地域",
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


STRUCTURED = {
    "field": field_fit,
    "chain": chain_fit,
    "stage": stage_fit,
    "modes": modes_fit,
    "price": price_fit,
    "region": region_fit,
}


def structured(a: Doc, b: Doc) -> dict[str, float]:
    need, ach = pair(a, b)
    return {name: fn(need, ach) for name, fn in STRUCTURED.items()}


def need_quantities(need: Doc) -> list:
    """The quantities a need asks for: its 技术指标; without them, the targets in its title and
    statement (a bound or a range: "…不低于98%"; a bare figure there mostly tells today's state)."""
    from .indicators import parse

    if need.extra:
        return [q for q in parse(need.extra) if q.dim]
    text = "；".join(p for p in (need.title, need.text) if p)
    return [q for q in parse(text) if q.dim and q.op in (">=", "<=", "range", "±")]


def reported_quantities(ach: Doc) -> list:
    from .indicators import parse

    return parse("。".join(p for p in (ach.title, ach.text) if p))


def indicator_alignment(need: Doc, ach: Doc, cache: dict | None = None) -> list:
    """指标对照 of a need and a 成果 (parsed quantities cached per (kind, id, content) in ``cache``)."""
    from .indicators import align

    def quantities(d: Doc, fn):
        return fn(d) if cache is None else memo(cache, d, fn)

    wanted = quantities(need, need_quantities)
    if not wanted:
        return []
    return align("", "", wanted, quantities(ach, reported_quantities))


def evidence(need: Doc, ach: Doc, alignment: list) -> str:
    """What the 指标对照 says for suggesting the pair: "unmet" — the 成果's figures miss more of the
    need's targets than they meet; "unproven" — the need states targets, the 成果 has a summary,
    and none is met; else "ok" (met, or nothing to compare: no targets, or a 成果 known by title)."""
    from .indicators import score

    _, met, miss, _ = score(alignment)
    if miss > met:
        return "unmet"
    if alignment and not met and ach.text:
        return "unproven"
    return "ok"


def indicator_fit(need: Doc, ach: Doc, cache: dict | None = None) -> float:
    """Met minus not met over the need's quantities, in [-1, 1]; 0 when the need states none."""
    from .indicators import score

    return score(indicator_alignment(need, ach, cache))[0]


def rows(query: Doc, docs: list, cos, kw, cache: dict | None = None, obj=None) -> np.ndarray:
    """Feature rows (FEATURES order) of ``query`` against ``docs`` given their cosines, keyword
    scores and object cosines (the need's title against the 成果, ``cos`` when not given): what the
    engine ranks with and what the evaluation measures, computed in one place."""
    out = np.full((len(docs), len(FEATURES)), 0.5)
    out[:, 0], out[:, 2] = cos, kw
    out[:, 1] = cos if obj is None else obj
    out[:, 3] = 0.0
    if query.kind == "query":
        return out
    for n, d in enumerate(docs):
        need, ach = pair(query, d)
        if need.kind == "need" and ach.kind == "achievement":
            out[n, 3] = indicator_fit(need, ach, cache)
        s = structured(query, d)
        out[n, STRUCTURED_FROM:] = [s[f] for f in FEATURES[STRUCTURED_FROM:]]
    return out
