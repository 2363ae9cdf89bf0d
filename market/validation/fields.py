"""Field definitions for listings, and the one validator that forms, the API and ingest share.

A field's ``label`` is what the user sees, the key of its error message and the Chinese column
header an import file may use; ``aliases`` lists further accepted headers.
"""

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from decimal import Decimal

from . import rules

_SPLIT = re.compile(r"[,，、;；\s]+")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str = "text"  # text longtext int money date bool choice choices keywords ip phone email
    required: bool = False
    max_len: int | None = None
    min_len: int = 0
    vocab: str | None = None
    aliases: tuple[str, ...] = ()
    private: bool = False
    help: str = ""


@dataclass
class Vocab:
    """Allowed taxonomy values by kind, and the 产业链 tree (parent → children)."""

    names: dict[str, list[str]]
    chain_children: dict[str, list[str]] = dc_field(default_factory=dict)
    trl_stage: dict[int, str] = dc_field(default_factory=dict)

    def allows(self, kind: str, value: str) -> bool:
        return value in self.names.get(kind, ())

    def chain_with_children(self, name: str) -> list[str]:
        return [name, *self.chain_children.get(name, [])]

    def chain_tree(self) -> list[tuple[str, list[str]]]:
        """Top-level 产业链 with their children, in order."""
        child_names = {c for cs in self.chain_children.values() for c in cs}
        return [(n, self.chain_children.get(n, [])) for n in self.names.get("chain", []) if n not in child_names]


class ValidationError(Exception):
    """Field name → message in Chinese; ``""`` keys errors about the whole record."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _as_list(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        items = [rules.strip_invisible(str(v)).strip() for v in value]
        return [v for v in items if v]
    return [p for p in _SPLIT.split(rules.strip_invisible(str(value)).strip()) if p]


def _parse_ip(value) -> list[dict]:
    """[{type, number}] or lines of '类型:编号'; a bare patent number gets its type from its type digit."""
    if isinstance(value, list):
        items = value
    else:
        items = []
        for line in filter(None, (x.strip() for x in re.split(r"[\n;；]+", str(value)))):
            m = re.fullmatch(r"([^:：]+?)\s*[:：]\s*(.*)", line)
            if m:  # "技术秘密:" (a trade secret has no number) is what the edit form shows for one
                items.append({"type": m.group(1), "number": m.group(2)})
            elif norm := rules.normalise_patent_number(line):
                items.append({"type": rules.PATENT_KIND[norm[6]], "number": norm})
            elif line == "技术秘密":
                items.append({"type": line, "number": ""})
            else:
                raise ValueError(f"“{line}”请按“类型:编号”填写，如 发明专利:ZL202110356789.1")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("知识产权每项应包含类型和编号")
        if any(not isinstance(item.get(k) or "", str) for k in ("type", "number")):
            raise ValueError("知识产权的类型和编号应为文本")
        out.append(
            {
                "type": rules.strip_invisible(item.get("type") or "").strip(),
                "number": rules.strip_invisible(item.get("number") or "").strip(),
            }
        )
    return out


_SCALAR = (str, int, float, Decimal, date)
_JSON_TYPES = {  # what a JSON body may carry for each field type (forms and files give text)
    "text": _SCALAR,
    "longtext": _SCALAR,
    "phone": _SCALAR,
    "email": _SCALAR,
    "choice": (str,),
    "int": (str, int),
    "money": _SCALAR,
    "date": (str, date),
    "bool": (bool, str, int),
    "choices": (str, list),
    "keywords": (str, list),
    "ip": (str, list),
}


def _text_of(value, keep_newlines: bool = False) -> str:
    return rules.strip_invisible(str(value), keep_newlines).strip()


def _clean_value(f: Field, value, vocab: Vocab):
    """Convert one raw value; raise ValueError with a Chinese message."""
    allowed = _JSON_TYPES.get(f.type, _SCALAR)
    if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
        raise ValueError("类型不对，应为" + ("列表或文本" if list in allowed else "文本"))
    if isinstance(value, list) and any(
        not isinstance(v, dict if f.type == "ip" else _SCALAR) or isinstance(v, bool) for v in value
    ):
        raise ValueError("列表中的项类型不对")
    if f.type in ("text", "longtext", "phone", "email"):
        s = _text_of(value, keep_newlines=f.type == "longtext")
        if f.max_len and len(s) > f.max_len:
            raise ValueError(f"最多 {f.max_len} 个字，现有 {len(s)} 个")
        if len(s) < f.min_len:
            raise ValueError(f"至少 {f.min_len} 个字")
        if f.type == "phone" and (msg := rules.check_phone(s)):
            raise ValueError(msg)
        if f.type == "email" and (msg := rules.check_email(s)):
            raise ValueError(msg)
        return s
    if f.type == "int":
        try:
            return int(str(value).strip())
        except ValueError:
            raise ValueError(f"“{value}”不是整数") from None
    if f.type == "money":
        return rules.parse_amount(value)
    if f.type == "date":
        return rules.parse_date(value)
    if f.type == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("1", "true", "yes", "y", "on", "是", "√"):
            return True
        if s in ("0", "false", "no", "n", "off", "否", ""):
            return False
        raise ValueError(f"“{value}”应为 是 或 否")
    if f.type == "choice":
        s = _text_of(value)
        if not vocab.allows(f.vocab, s):
            raise ValueError(f"“{s}”不是可选的值（可选：{'、'.join(vocab.names.get(f.vocab, []))}）")
        return s
    if f.type == "choices":
        items = list(dict.fromkeys(_as_list(value)))
        unknown = [s for s in items if not vocab.allows(f.vocab, s)]
        if unknown:
            raise ValueError(f"“{'、'.join(unknown)}”不是可选的值（可选：{'、'.join(vocab.names.get(f.vocab, []))}）")
        return items
    if f.type == "keywords":
        items = list(dict.fromkeys(_as_list(value)))
        if len(items) > 10:
            raise ValueError("关键词最多 10 个")
        long = [k for k in items if len(k) > 20]
        if long:
            raise ValueError(f"关键词“{long[0]}”太长（每个最多 20 个字）")
        return items
    if f.type == "ip":
        items = _parse_ip(value)
        for item in items:
            if not vocab.allows("ip_type", item["type"]):
                raise ValueError(f"知识产权类型“{item['type']}”不是可选的值")
            if msg := rules.check_ip_number(item["type"], item["number"]):
                raise ValueError(msg)
            if item["type"] in ("发明专利", "实用新型", "外观设计"):
                item["number"] = rules.normalise_patent_number(item["number"])
        return items
    raise AssertionError(f"unknown field type {f.type}")


def clean(fields: tuple[Field, ...], raw: dict, vocab: Vocab, partial: bool = False) -> dict:
    """Validate ``raw`` (strings from a form or file, or JSON values) into typed values.

    With ``partial`` only the keys present in ``raw`` are checked (for updates). Raises
    ValidationError listing every problem at once.
    """
    values, errors = {}, {}
    for f in fields:
        if partial and f.name not in raw:
            continue
        value = raw.get(f.name)
        if _is_blank(value):
            if f.required:
                errors[f.name] = f"请填写“{f.label}”"
            else:
                values[f.name] = (
                    [] if f.type in ("choices", "keywords", "ip") else (False if f.type == "bool" else None)
                )
            continue
        try:
            values[f.name] = _clean_value(f, value, vocab)
        except ValueError as e:
            errors[f.name] = f"{f.label}：{e}"
    if errors:
        raise ValidationError(errors)
    return values


def check_range(values: dict, low: str, high: str, label: str, errors: dict) -> None:
    lo, hi = values.get(low), values.get(high)
    if lo is not None and hi is not None and lo > hi:
        errors[high] = f"{label}上限不能小于下限"


def check_future(values: dict, name: str, label: str, errors: dict, today: date) -> None:
    if values.get(name) is not None and values[name] <= today:
        errors[name] = f"{label}应晚于今天"


def field_map(fields: tuple[Field, ...]) -> dict[str, Field]:
    return {f.name: f for f in fields}


def header_map(fields: tuple[Field, ...]) -> dict[str, str]:
    """Every accepted column header (English name, Chinese label, aliases) → field name."""
    out = {}
    for f in fields:
        for key in (f.name, f.label, *f.aliases):
            out[key.strip().lower()] = f.name
    return out


def money_or_none(value) -> Decimal | None:
    return None if value in (None, "") else rules.parse_amount(value)
