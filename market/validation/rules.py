"""Pure checks of Chinese identifiers and amounts; each returns a message in Chinese or None."""

import json
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from ..config import REFERENCE_DIR

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
MAX_AMOUNT = Decimal("100000000000")
MAX_ID = 2**31 - 1  # the largest id an INTEGER primary key holds (PostgreSQL int4)
_ASCII_INT = re.compile(r"[0-9]{1,10}")  # 1000亿元: more than any single technology contract


_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}  # control, format (zero-width, BOM, bidi), surrogate, private, unassigned


def strip_invisible(text: str, keep_newlines: bool = False) -> str:
    """Text without control and invisible format characters (NUL, zero-width spaces, BOMs, bidi
    overrides that visibly reverse text); long texts keep their line breaks and tabs."""
    if text.isprintable():
        return text
    keep = "\n\t" if keep_newlines else ""
    text = text.replace("\r\n", "\n") if keep_newlines else text
    return "".join(c for c in text if c in keep or unicodedata.category(c) not in _INVISIBLE)


def safe_file_name(name: str, default: str) -> str:
    """A display name for an uploaded file: no folders, no control or bidi characters."""
    name = strip_invisible(str(name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip().lstrip(".")
    return name[:200] or default


def is_ascii_int(value) -> bool:
    """Whether ``value`` is an id as a form or query carries it: ASCII digits (``str.isdigit`` also
    accepts ² and other digits ``int`` refuses) and no larger than a database integer."""
    s = str(value if value is not None else "")
    return bool(_ASCII_INT.fullmatch(s)) and int(s) <= MAX_ID


def as_id(value) -> int | None:
    return int(value) if is_ascii_int(value) else None


def credit_code_check_digit(first17: str) -> str:
    total = sum(CREDIT_CHARS.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def check_credit_code(code: str) -> str | None:
    """统一社会信用代码 per GB 32100-2015: 18 characters, the last a mod-31 check character."""
    if len(code) != 18:
        return "统一社会信用代码应为 18 位"
    bad = sorted({c for c in code if c not in CREDIT_CHARS})
    if bad:
        return f"统一社会信用代码含有不允许的字符：{''.join(bad)}（不使用 I、O、Z、S、V）"
    if not code[2:8].isdigit():
        return "统一社会信用代码第 3–8 位应为行政区划代码"
    if credit_code_check_digit(code[:17]) != code[17]:
        return "统一社会信用代码校验位不正确，请核对"
    return None


@lru_cache(maxsize=1)
def regions() -> dict:
    with open(REFERENCE_DIR / "regions.json", encoding="utf-8") as f:
        return json.load(f)


def zhengzhou_districts() -> dict[str, str]:
    return {k: v for k, v in regions()["zhengzhou"].items() if k != "410100"}


def region_groups(current: str | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The regions an organisation can be in, grouped for a picker: Zhengzhou's districts (and the
    city itself), Henan's other cities, the other provinces (their XX0000 code). A ``current`` code
    outside these lists (a county elsewhere) is kept as a group of its own."""
    r = regions()
    groups = [
        ("郑州市", list(r["zhengzhou"].items())),
        ("河南省其他地市", [(k, v) for k, v in r["henan"].items() if k != "410000"]),
        ("其他省（区、市）", [(p + "0000", name) for p, name in r["provinces"].items()]),
    ]
    if current and not check_region_code(current) and all(current != c for _, g in groups for c, _ in g):
        groups.insert(0, ("当前", [(current, region_name(current) or current)]))
    return groups


def region_name(code: str | None) -> str:
    if not code:
        return ""
    r = regions()
    for table in (r["zhengzhou"], r["henan"]):
        if code in table:
            return table[code]
    return r["provinces"].get(code[:2], code)


def is_local(code: str | None) -> bool:
    """Whether a region code lies in Zhengzhou (410100 and its districts)."""
    return bool(code) and code.startswith("4101")


def check_region_code(code: str) -> str | None:
    """行政区划代码 (GB/T 2260): six digits, a known province; inside Zhengzhou a known district."""
    if not re.fullmatch(r"\d{6}", code):
        return "行政区划代码应为 6 位数字"
    r = regions()
    if code[:2] not in r["provinces"]:
        return f"行政区划代码 {code} 的省级代码 {code[:2]} 不存在"
    if code.startswith("4101") and code not in r["zhengzhou"]:
        return f"郑州市没有代码为 {code} 的区县"
    return None


_PATENT = re.compile(r"(?:ZL|CN)?\s*(\d{4})([1-9])(\d{7})\.?([0-9X])", re.I)
PATENT_KIND = {"1": "发明专利", "8": "发明专利", "2": "实用新型", "9": "实用新型", "3": "外观设计"}


def patent_check_digit(digits12: str) -> str:
    total = sum(int(d) * w for d, w in zip(digits12, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)))
    r = total % 11
    return "X" if r == 10 else str(r)


def normalise_patent_number(number: str) -> str | None:
    m = _PATENT.fullmatch(number.strip())
    if not m:
        return None
    year, kind, serial, check = m.groups()
    return f"ZL{year}{kind}{serial}.{check.upper()}"


def check_ip_number(ip_type: str, number: str) -> str | None:
    """Patent numbers carry a type digit and a mod-11 check digit; copyrights a fixed pattern."""
    number = (number or "").strip()
    if not number:
        return None if ip_type == "技术秘密" else f"请填写{ip_type}的编号"
    if ip_type in ("发明专利", "实用新型", "外观设计"):
        norm = normalise_patent_number(number)
        if not norm:
            return f"专利号 {number} 格式不对，应如 ZL202110356789.1"
        digits, check = norm[2:14], norm[15]
        if patent_check_digit(digits) != check:
            return f"专利号 {number} 的校验位不正确"
        if PATENT_KIND[digits[4]] != ip_type:
            return f"专利号 {number} 是{PATENT_KIND[digits[4]]}，与所选类型“{ip_type}”不符"
        return None
    if ip_type == "软件著作权" and not re.fullmatch(r"\d{4}SR\d{6,8}", number, re.I):
        return f"软件著作权登记号 {number} 格式不对，应如 2023SR0123456"
    if len(number) > 40:
        return "知识产权编号最多 40 个字符"
    return None


_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(-\d{1,6})?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def check_phone(phone: str) -> str | None:
    p = phone.replace(" ", "")
    if _MOBILE.fullmatch(p) or _LANDLINE.fullmatch(p):
        return None
    return "电话格式不对：手机号为 11 位，座机如 0371-67781234"


def check_email(email: str) -> str | None:
    return None if _EMAIL.fullmatch(email) and len(email) <= 120 else "电子邮箱格式不对"


_FULLWIDTH = str.maketrans("０１２３４５６７８９．，－", "0123456789.,-")
_UNITS = {"亿": Decimal("100000000"), "万": Decimal("10000")}


def parse_amount(text) -> Decimal:
    """'50万', '1.2亿元', '300000', 300000 → Decimal with two places; ValueError with a message."""
    if isinstance(text, (int, Decimal)) and not isinstance(text, bool):
        value = Decimal(text)
    elif isinstance(text, float):
        value = Decimal(str(text))
    else:
        s = str(text).translate(_FULLWIDTH).replace(",", "").replace(" ", "").removesuffix("元")
        factor = Decimal(1)
        if s and s[-1] in _UNITS:
            factor, s = _UNITS[s[-1]], s[:-1]
        try:
            value = Decimal(s) * factor
        except InvalidOperation:
            raise ValueError(f"“{text}”不是有效金额，请填写数字，如 500000 或 50万") from None
    if not value.is_finite():
        raise ValueError(f"“{text}”不是有效金额")
    if value < 0:
        raise ValueError("金额不能为负数")
    if value > MAX_AMOUNT:
        raise ValueError("金额超过 1000 亿元，请核对单位")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("金额最多保留两位小数（分）")
    return value.quantize(Decimal("0.01"))


def parse_date(text) -> date:
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    s = str(text).strip().translate(_FULLWIDTH)
    s = re.sub(r"[年月/.]", "-", s).rstrip("日")
    try:
        return datetime.strptime(s, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"“{text}”不是有效日期，请按 2027-06-30 的格式填写") from None


def format_amount(value: Decimal | None) -> str:
    """12345678.00 → '1,234.57万元'; small amounts in 元."""
    if value is None:
        return "面议"
    if value >= 10000:
        return f"{(value / 10000):,.2f}".rstrip("0").rstrip(".") + "万元"
    return f"{value:,.2f}元"
