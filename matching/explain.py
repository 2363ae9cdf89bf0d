"""Why a pair ranks where it does, in sentences a broker reads (no logits, no probabilities)."""

from .docs import MATURITY, Doc
from .features import pair

# relative cosine (a cosine minus the query's background level) above which meaning is "close"
CLOSE, VERY_CLOSE = 0.015, 0.03


def reasons(query: Doc, doc: Doc, values: dict, alignment: list[dict]) -> list[str]:
    """Sentences in order of weight: meaning, the problem object, 指标对照, field and chain, stage."""
    out = []
    dense = values.get("dense", 0.0)
    if dense >= VERY_CLOSE:
        out.append("两者描述的技术内容高度相近")
    elif dense >= CLOSE:
        out.append("两者描述的技术内容较为相近")
    else:
        out.append("两者的技术内容只有部分相近")
    need, ach = pair(query, doc)
    if need.kind == "need" and ach.kind == "achievement" and (need.text or need.extra):
        obj = values.get("object", 0.0)
        if obj >= VERY_CLOSE:
            out.append("需求标题所说的问题对象，正是该成果处理的对象")
        elif obj < CLOSE:
            out.append("需求标题所说的问题对象与该成果的对象不尽相同，请核对是否同一部件或工序")
    met = [a for a in alignment if a["verdict"] == "met"]
    missed = [a for a in alignment if a["verdict"] == "not_met"]
    unknown = [a for a in alignment if a["verdict"] == "not_reported"]
    if met:
        out.append(f"达到需求的 {len(met)} 项指标：" + "；".join(_figure(a) for a in met[:3]))
    if missed:
        out.append(f"有 {len(missed)} 项指标未达到：" + "；".join(_figure(a) for a in missed[:3]))
    if unknown and (met or missed):
        out.append(f"另有 {len(unknown)} 项指标成果未报告，需向成果方确认")
    elif alignment and not met and not missed:
        out.append("成果未报告需求所列的指标，需向成果方确认")
    if values.get("chain") == 1.0:
        out.append(f"同属产业链「{need.chain}」")
    elif values.get("field") == 1.0:
        out.append(f"同属技术领域「{need.field}」")
    elif values.get("field") == 0.0:
        out.append("两者的技术领域不同")
    if need.stage is not None and ach.stage is not None:
        if ach.stage >= need.stage:
            out.append(f"成果已到「{MATURITY[ach.stage]}」，满足需求期望的「{MATURITY[need.stage]}」")
        else:
            out.append(f"成果处于「{MATURITY[ach.stage]}」，低于需求期望的「{MATURITY[need.stage]}」")
    return out


def _figure(a: dict) -> str:
    name = a["name"] or "指标"
    found = f"，成果 {a['found']}" if a.get("found") else ""
    return f"{name} {a['target']}{found}"
