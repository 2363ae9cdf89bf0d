"""指标对照: quantities in a need's 技术指标 and in a 成果's reported results, paired and judged.

A quantity is a name, a comparator, a value (or a range) and a unit: "寿命≥2万次", "缺陷密度≤10⁴ cm⁻²",
"厚度3%–5%", "工作温度-40℃~85℃", "识别准确率不低于98%". Values are brought to one base unit per
dimension (mm → m, 万次 → 次, MPa → Pa, h → s), so "0.8 μm" and "800 nm" compare. A need's quantity is
paired with the 成果's quantity of the same dimension whose name fits best; the pair is judged
met, not met, or not reported.
"""

import math
import re
from dataclasses import dataclass

# ---- units -----------------------------------------------------------------------------------
# unit text → (dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, float]] = {}


def _unit(dim: str, factor: float, *names: str) -> None:
    for n in names:
        _UNITS[n] = (dim, factor)


_unit("length", 1.0, "m", "米")
_unit("length", 1e-3, "mm", "毫米")
_unit("length", 1e-2, "cm", "厘米")
_unit("length", 1e-6, "μm", "µm", "um", "微米")
_unit("length", 1e-9, "nm", "纳米")
_unit("length", 1e3, "km", "公里", "千米")
_unit("length", 0.0254, "英寸", "吋")
_unit("area_density", 1.0, "cm⁻²", "cm-2", "cm^-2", "/cm²", "/cm2", "个/cm²", "个/cm2")
_unit("area", 1.0, "m²", "m2", "平方米")
_unit("area", 1e-6, "mm²", "mm2")
_unit("area", 1e-4, "cm²", "cm2")
_unit("mass", 1.0, "g", "克")
_unit("mass", 1e-3, "mg", "毫克")
_unit("mass", 1e3, "kg", "公斤", "千克")
_unit("mass", 1e6, "t", "吨")
_unit("time", 1.0, "s", "秒")
_unit("time", 1e-3, "ms", "毫秒")
_unit("time", 1e-6, "μs", "us", "微秒")
_unit("time", 1e-9, "ns", "纳秒")
_unit("time", 1e-12, "ps", "皮秒")
_unit("time", 60.0, "min", "分钟")
_unit("time", 3600.0, "h", "小时", "hr")
_unit("time", 86400.0, "天", "d", "日")
_unit("time", 86400.0 * 30, "个月", "月")
_unit("time", 86400.0 * 365, "年")
_unit("temperature", 1.0, "℃", "°C", "°c", "度")
_unit("pressure", 1.0, "Pa", "帕")
_unit("pressure", 1e3, "kPa")
_unit("pressure", 1e6, "MPa", "兆帕")
_unit("pressure", 1e9, "GPa")
_unit("force", 1.0, "N", "牛")
_unit("force", 1e3, "kN", "千牛")
_unit("power", 1.0, "W", "瓦")
_unit("power", 1e3, "kW", "千瓦")
_unit("power", 1e6, "MW", "兆瓦")
_unit("voltage", 1.0, "V", "伏")
_unit("voltage", 1e3, "kV", "千伏")
_unit("voltage", 1e-3, "mV")
_unit("current", 1.0, "A", "安")
_unit("current", 1e-3, "mA")
_unit("current", 1e-6, "μA", "uA")
_unit("frequency", 1.0, "Hz")
_unit("frequency", 1e3, "kHz")
_unit("frequency", 1e6, "MHz")
_unit("frequency", 1e9, "GHz")
_unit("resistance", 1.0, "Ω", "欧")
_unit("resistance", 1e-3, "mΩ")
_unit("resistance", 1e3, "kΩ")
_unit("resistance", 1e6, "MΩ")
_unit("energy_density", 1.0, "Wh/kg")
_unit("capacity", 1.0, "mAh/g")
_unit("capacity_cell", 1.0, "mAh")
_unit("capacity_cell", 1e3, "Ah")
_unit("energy", 1.0, "J", "焦")
_unit("energy", 1e3, "kJ")
_unit("energy", 3.6e3, "Wh")
_unit("energy", 3.6e6, "kWh", "度电")
_unit("ratio", 1.0, "%", "％")
_unit("ratio", 1e-3, "‰")
_unit("ratio", 1e-6, "ppm")
_unit("ratio", 1e-9, "ppb")
_unit("level", 1.0, "dB", "分贝")
_unit("luminance", 1.0, "nit", "nits", "cd/m²", "cd/m2")
_unit("rate", 1.0, "fps", "帧/秒", "帧/s", "Hz刷新")
_unit("bitrate", 1.0, "bps")
_unit("bitrate", 1e3, "kbps", "Kbps")
_unit("bitrate", 1e6, "Mbps")
_unit("bitrate", 1e9, "Gbps")
_unit("speed", 1.0, "m/s", "米/秒")
_unit("speed", 1 / 3.6, "km/h", "公里/小时")
_unit("speed", 1 / 60, "m/min", "米/分钟")
_unit("money", 1.0, "元")
_unit("money", 1e4, "万元")
_unit("money", 1e8, "亿元")
_unit("times", 1.0, "次", "周次", "循环", "次循环")
_unit("count", 1.0, "个", "台", "套", "片", "颗", "件", "只", "路", "通道", "株", "头", "人")
_unit("fold", 1.0, "倍")
_unit("hardness", 1.0, "HV")
_unit("hardness_rc", 1.0, "HRC")
_unit("hardness_rb", 1.0, "HRB")
_unit("hardness_ra", 1.0, "HRA")
_unit("hardness_hb", 1.0, "HB")
_unit("yield", 1.0, "kg/亩", "公斤/亩")
_unit("concentration", 1.0, "mg/L", "mg/l")
_unit("concentration", 1e-3, "μg/L", "ug/L")
_unit("concentration_mass", 1.0, "mg/kg")
_unit("particle", 1.0, "CFU/g", "cfu/g")
_unit("dose", 1.0, "mg/kg体重")
_unit("angle", 1.0, "°", "度角")
_unit("angle", 1 / 60, "arcmin", "角分")
_unit("angle", 1 / 3600, "arcsec", "角秒")
_unit("points", 1.0, "个百分点", "百分点")
_unit("pixels", 1.0, "像素", "px")
_unit("flops", 1.0, "TOPS")
_unit("db_per_km", 1.0, "dB/km")
_unit("density", 1.0, "kg/m³", "kg/m3", "公斤/立方米")
_unit("density", 1e3, "g/cm³", "g/cm3", "t/m³", "t/m3")
_unit("density", 1.0, "g/L", "g/l")
_unit("molarity", 1.0, "mol/L", "mol/l")
_unit("molarity", 1e-3, "mmol/L", "mmol/l")
_unit("volume", 1.0, "m³", "m3", "立方米")
_unit("volume", 1e-3, "L", "升")
_unit("volume", 1e-6, "mL", "ml", "毫升")
_unit("flow", 1.0, "m³/h", "m3/h", "立方米/小时")
_unit("flow", 0.06, "L/min", "升/分钟")
_unit("throughput", 1.0, "t/h", "吨/小时")
_unit("throughput", 1 / 24, "t/d", "吨/天", "吨/日")
_unit("thermal_conductivity", 1.0, "W/(m·K)", "W/m·K", "W/(m.K)", "W/mK")
_unit("heart_rate", 1.0, "bpm", "次/分")
_unit("charge", 1e-12, "pC")
_unit("charge", 1e-9, "nC")
_unit("air_concentration", 1.0, "mg/m³", "mg/m3")
_unit("air_concentration", 1e-3, "μg/m³", "ug/m3")
_unit("toughness", 1.0, "MPa·m1/2", "MPa·m^1/2", "MPa·m½")
_unit("energy_per_area", 1.0, "J/cm²", "J/cm2")
_unit("impact", 1.0, "kJ/m²", "kJ/m2")
_unit("activity", 1.0, "U/mL", "U/ml", "IU/mL", "IU/ml")
_unit("efficacy", 1.0, "lm/W")
_unit("illuminance", 1.0, "lx", "lux", "勒克斯")
_unit("pixel_density", 1.0, "ppi", "PPI", "dpi", "DPI")
_unit("bitrate", 1e12, "Tbps", "Tb/s")
_unit("bitrate", 1e9, "Gb/s")
_unit("bitrate", 1e6, "Mb/s")
_unit("activity_mass", 1.0, "U/g", "IU/g", "U/mg")

_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_MULT = {"万": 1e4, "亿": 1e8, "千": 1e3, "百": 1e2}
_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")

# a number: 1.5, -40, 10⁴, 1×10⁻⁶, 1e-6, 10^4, 2.6万
_NUM = (
    r"10(?:\^\s*[-+−]?\d+|[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)"
    r"|[-+−]?\d+(?:\.\d+)?(?:\s*[×xX*]\s*10(?:\^\s*[-+−]?\d+|[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+))?(?:[eE][-+]?\d+)?"
)
_RANGE_SEP = r"\s*(?:~|～|–|—|－|-|至|到)\s*"

_GE = ("≥", ">=", "⩾", "不低于", "不少于", "不小于", "大于等于", "大于或等于", "至少", "不得低于", "不应低于", "最低")
_LE = (
    "≤",
    "<=",
    "⩽",
    "不高于",
    "不超过",
    "不大于",
    "小于等于",
    "小于或等于",
    "至多",
    "最多",
    "不得超过",
    "不应超过",
    "不得高于",
    "最高",
    "控制在",
)
_GT = (">", "大于", "超过", "高于", "优于")
_LT = ("<", "小于", "低于", "少于")
_EQ = (
    "达到",
    "达",
    "为",
    "是",
    "=",
    "约",
    "提升至",
    "提高到",
    "提高至",
    "降至",
    "降低至",
    "降低到",
    "降到",
    "减少至",
    "缩短至",
    "缩短到",
    "延长至",
    "延长到",
    "增至",
    "升至",
    "仅",
    "只有",
    "可达",
    "高达",
    "低至",
    "稳定在",
    "保持在",
)
_COMP_WORDS = sorted(_GE + _LE + _GT + _LT + _EQ, key=len, reverse=True)
_COMP_ALT = "|".join(re.escape(w) for w in _COMP_WORDS)
_AFTER_GE = ("以上", "及以上", "或以上", "以上水平")
_AFTER_LE = ("以下", "及以下", "或以下", "以内", "之内")
_AFTER_ALT = "|".join(re.escape(w) for w in sorted(_AFTER_GE + _AFTER_LE, key=len, reverse=True))

_QUANTITY = re.compile(
    rf"(?P<comp>{_COMP_ALT})?\s*(?P<pm>±)?\s*"
    rf"(?P<v1>{_NUM})\s*(?P<m1>[万亿千])?\s*(?P<u1>{_UNIT_ALT})?"
    rf"(?:{_RANGE_SEP}(?P<v2>{_NUM})\s*(?P<m2>[万亿千])?\s*(?P<u2>{_UNIT_ALT})?)?"
    rf"\s*(?P<after>{_AFTER_ALT})?"
)
_NAME_STOP = re.compile(r"[，,；;。：:、（）()\[\]【】\s]|并且|并|且|和|及|与|或|其中|要求|目标|指标|实现|使|将|在|的")
_CJK_OR_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z]")


@dataclass
class Quantity:
    name: str  # what is measured, as written before the value ("寿命", "缺陷密度")
    op: str  # ">=", "<=", ">", "<", "=", "range", "±"
    lo: float  # in the dimension's base unit; lo == hi for a single value
    hi: float
    dim: str  # "length", "ratio", "times", … or "" when no unit was written
    unit: str  # the unit as written
    text: str  # the span it was read from
    named_after: bool = False  # the name was read after the value ("2.6万次循环后无失效")
    condition: bool = False  # a condition, not a figure: "能见度低于200m时", "每15 min定位一次", "-20℃环境下"

    def describe(self) -> str:
        return self.text.strip()


def _number(text: str) -> float:
    t = text.replace("−", "-").replace(" ", "")
    m = re.fullmatch(r"([-+]?\d+(?:\.\d+)?)?[×xX*]?10(?:\^([-+]?\d+)|([⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+))", t)
    if m:
        base = float(m.group(1)) if m.group(1) else 1.0
        exp = m.group(2) if m.group(2) is not None else m.group(3).translate(_SUPER)
        return base * 10 ** int(exp)
    return float(t)


def _name_before(text: str, start: int) -> str:
    """The words just before a value: back to punctuation, a clause word or a number, ≤ 12 characters."""
    head = text[max(0, start - 24) : start]
    head = re.sub(r"(?:由|从)[^，,；;。由从]*$", "", head)[-16:]  # "RSD由11.2%降至…": the name is before 由
    parts = _NAME_STOP.split(head)
    name = parts[-1] if parts else ""
    if not _CJK_OR_WORD.search(name) and len(parts) > 1:
        name = parts[-2]
    pieces = re.split(r"[\d.%℃μ×~～–—\-+/⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", name.strip())
    if len(pieces) > 1 and not _CJK_OR_WORD.search(pieces[-1]) and re.search(r"[A-Za-z]\d+$", name.strip()):
        pieces = pieces[:-1]  # a symbol with its index before the value: "相干时间T2≥10μs"
    return pieces[-1][-12:]


def _name_after(text: str, end: int) -> str:
    tail = text[end : end + 12]
    name = _NAME_STOP.split(tail)[0].strip()
    return re.split(_COMP_ALT, name)[0][:8]


_LEADING_UNIT = re.compile(rf"^(?:{_UNIT_ALT})")


def _op(comp: str | None, after: str | None) -> str:
    if after:
        return ">=" if after in _AFTER_GE else "<="
    if not comp:
        return "="
    for words, op in ((_GE, ">="), (_LE, "<="), (_GT, ">"), (_LT, "<")):
        if comp in words:
            return op
    return "="


_CONDITION_AFTER = re.compile(r"\s*(?:时|的条件下|条件下|工况下|环境下|情况下)")

_PREFIX_UNIT = re.compile(r"(HRC|HRB|HRA|HV|HB)\s*([-+]?\d+(?:\.\d+)?(?:\s*(?:~|～|–|—|-|至)\s*\d+(?:\.\d+)?)?)")


def parse(text: str) -> list[Quantity]:
    """Every quantity in ``text`` with a unit (or a comparator), in order."""
    out = []
    if not text:
        return out
    text = _PREFIX_UNIT.sub(r"\2 \1", text)  # hardness written unit first: HRC58–62 → 58–62 HRC
    for m in _QUANTITY.finditer(text):
        u1, u2 = m.group("u1"), m.group("u2")
        unit = u1 or u2 or ""
        comp, after, pm = m.group("comp"), m.group("after"), m.group("pm")
        if not unit and not comp and not after and not pm:
            continue
        if not unit and not m.group("m1") and not (comp or after):
            continue  # a bare number is a quantity only with a comparator word: "不低于98"
        # a Chinese number word before a unit: 2万次 → 20000 次
        try:
            v1 = _number(m.group("v1")) * _MULT.get(m.group("m1") or "", 1.0)
            v2 = _number(m.group("v2")) * _MULT.get(m.group("m2") or "", 1.0) if m.group("v2") else None
        except (ValueError, OverflowError):
            continue
        dim = _UNITS.get(unit, ("", 1.0))[0]
        v1 *= _UNITS.get(u1 or unit, ("", 1.0))[1]
        if v2 is not None:
            v2 *= _UNITS.get(u2 or unit, ("", 1.0))[1]
        if v2 is not None:
            lo, hi, op = min(v1, v2), max(v1, v2), "range"
        elif pm:
            lo, hi, op = -abs(v1), abs(v1), "±"
        else:
            lo = hi = v1
            op = _op(comp, after)
        start = m.start("comp") if comp else m.start()
        name = _LEADING_UNIT.sub("", _name_before(text, start))
        after = len(name) < 2
        if after:
            name = _name_after(text, m.end())
        condition = bool(_CONDITION_AFTER.match(text, m.end())) or text[max(0, start - 1) : start] == "每"
        out.append(
            Quantity(
                name=name,
                op=op,
                lo=lo,
                hi=hi,
                dim=dim,
                unit=unit,
                text=m.group(0),
                named_after=after,
                condition=condition,
            )
        )
    out = [q for q in out if not any(math.isnan(v) or math.isinf(v) for v in (q.lo, q.hi))]
    return _drop_before_values(text, out)


_CHANGE_TO = re.compile(
    r"降至|降低至|降低到|降到|下降至|下降到|减少至|减少到|减至|提高到|提高至|提升至|提升到|增至|增加到|升至|"
    r"缩短至|缩短到|延长至|延长到|变为|改善至|→"
)


def _drop_before_values(text: str, qs: list[Quantity]) -> list[Quantity]:
    """'由8.6%降至5.1%': the first figure is the state before; only the result counts."""
    keep = []
    for n, q in enumerate(qs):
        nxt = qs[n + 1] if n + 1 < len(qs) else None
        if nxt is not None and nxt.dim == q.dim:
            a = text.find(q.text)
            b = text.find(nxt.text, a + len(q.text)) if a >= 0 else -1
            if (
                a >= 0
                and 0 <= b - (a + len(q.text)) <= 10
                and (_CHANGE_TO.search(text[a + len(q.text) : b + len(nxt.text)]) or _CHANGE_TO.match(nxt.text))
            ):
                continue
        keep.append(q)
    return keep


# ---- pairing and judging ---------------------------------------------------------------------

MET, NOT_MET, UNKNOWN = "met", "not_met", "not_reported"
_LOWER_BETTER = (
    "损耗",
    "误差",
    "缺陷",
    "杂质",
    "噪声",
    "噪音",
    "能耗",
    "功耗",
    "成本",
    "时间",
    "时延",
    "延迟",
    "漏",
    "失效",
    "故障",
    "不良",
    "破损",
    "裂纹",
    "残留",
    "含量",
    "粗糙度",
    "偏差",
    "波动",
    "温升",
    "电阻",
    "衰减",
    "磨损",
    "排放",
    "浓度",
    "粉尘",
    "孔隙",
    "内阻",
    "振动",
    "返工",
    "报废",
    "误报",
    "漏报",
    "死亡",
)


@dataclass
class Alignment:
    need: Quantity
    found: Quantity | None
    verdict: str  # met / not_met / not_reported

    def as_dict(self) -> dict:
        return {
            "name": self.need.name,
            "target": self.need.describe(),
            "found": self.found.describe() if self.found else "",
            "verdict": self.verdict,
        }


# the same measure in other words (a quantity's name ends in its head noun)
_SYNONYMS = (
    (("正确率", "一致率", "符合率", "准确度"), "准确率"),
    (("用时", "耗时", "时长", "历时", "周期"), "时间"),
    (("时延", "延时"), "延迟"),
    (("使用寿命", "工作寿命", "服役寿命"), "寿命"),
)
# heads specific enough that two names ending in one are the same measure ("识别准确率" / "判别准确率");
# not 温度, 压力, 长度…: 工作温度 and 烧结温度 are different figures
_HEADS = (
    "准确率", "召回率", "检出率", "误报率", "漏检率", "漏报率", "合格率", "良率", "收率", "去除率", "转化率",
    "利用率", "保持率", "时间", "寿命", "带宽", "功耗", "能耗", "延迟", "抖动", "回差", "续航", "白度", "纯度",
    "亩产", "产量", "色差", "噪声", "残留", "含量", "浓度", "损耗", "精度", "误差", "速率", "容量",
)  # fmt: skip


def _normal(name: str) -> str:
    for words, to in _SYNONYMS:
        for w in words:
            name = name.replace(w, to)
    return name


def _name_fit(a: str, b: str) -> float:
    """Character overlap of two quantity names (0–1), bigrams where both have them; two names
    ending in the same specific head noun (after synonyms: 正确率 → 准确率, 用时 → 时间) fit at 0.6."""
    if not a or not b:
        return 0.0
    a, b = _normal(a), _normal(b)
    if a in b or b in a:
        return 1.0
    if any(a.endswith(h) and b.endswith(h) for h in _HEADS):
        return 0.6
    ga = {a[i : i + 2] for i in range(len(a) - 1)} or {a}
    gb = {b[i : i + 2] for i in range(len(b) - 1)} or {b}
    bi = len(ga & gb) / min(len(ga), len(gb))
    ch = len(set(a) & set(b)) / min(len(set(a)), len(set(b)))
    return max(bi, 0.6 * ch)


def _judge(need: Quantity, got: Quantity) -> str:
    tol = 1e-9 + 0.02 * max(abs(need.lo), abs(need.hi))
    lo, hi = got.lo, got.hi
    if need.op in (">=", ">"):
        return MET if hi >= need.lo - tol else NOT_MET
    if need.op in ("<=", "<"):
        return MET if lo <= need.hi + tol else NOT_MET
    if need.op == "=" and got.op in ("range", "±") and lo - tol <= need.lo <= hi + tol:
        return MET  # a reported window that holds the wanted value
    if need.op in ("range", "±"):
        within = lo >= need.lo - tol and hi <= need.hi + tol
        covers = lo <= need.lo + tol and hi >= need.hi - tol  # an operating window: wider is better
        return MET if within or covers else NOT_MET
    # a bare target "为5%": met when within 10 %, or on the better side where the name tells it
    if abs(lo - need.lo) <= 0.1 * max(abs(need.lo), 1e-9):
        return MET
    lower_better = any(w in need.name for w in _LOWER_BETTER)
    return MET if (hi <= need.lo if lower_better else lo >= need.lo) else NOT_MET


def align(
    need_text: str, ach_text: str, needs: list[Quantity] | None = None, found: list[Quantity] | None = None
) -> list[Alignment]:
    """Each quantity of the need with the 成果's best-fitting quantity of the same dimension."""
    needs = parse(need_text) if needs is None else needs
    found = parse(ach_text) if found is None else found
    out = []
    for q in needs:
        if not q.dim or q.condition:
            continue
        same = [g for g in found if g.dim == q.dim]
        best, fit = None, 0.0
        for g in same:
            f = _name_fit(q.name, g.name)
            if f > fit:
                best, fit = g, f
        if (
            (best is None or fit < 0.34)
            and len(same) == 1
            and q.dim not in ("ratio", "count", "money", "time")
            and (fit >= 0.15 or same[0].named_after or not same[0].name)
        ):
            best, fit = same[0], 0.5  # one quantity of a telling dimension: the same thing, differently named
        if best is None or fit < 0.34:
            out.append(Alignment(q, None, UNKNOWN))
        else:
            out.append(Alignment(q, best, _judge(q, best)))
    return out


def score(alignments: list[Alignment]) -> tuple[float, int, int, int]:
    """(evidence in [-1, 1], met, not met, not reported): met minus not met over the need's quantities."""
    met = sum(a.verdict == MET for a in alignments)
    miss = sum(a.verdict == NOT_MET for a in alignments)
    unknown = sum(a.verdict == UNKNOWN for a in alignments)
    total = met + miss + unknown
    return ((met - miss) / total if total else 0.0), met, miss, unknown
