"""技术合同成交 statistics: the one place that counts. The dashboards, the exports, the big screen
and the JSON API all read these functions.

What counts: contracts in status ``registered``. A change supersedes the version it amends, so
every contract is counted once, in its current version; refused, withdrawn, superseded and
cancelled records never count. A contract is counted on its 登记日期 (``stat_date``: the day it
was first registered; a registered change keeps that date), as the official 技术市场 statistics
count registrations. Amounts are summed in SQL as integer 分, so totals are exact decimals on
SQLite and PostgreSQL alike.
"""

from calendar import monthrange
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import BigInteger, case, cast, extract, func, select

from ..extensions import db
from ..models import Achievement, Contract, ContractStatus, ListingStatus, Match, Need, Role, Station, StatTarget, User
from ..validation import rules, workdays
from ..validation.fields import ValidationError
from . import contracts

REGISTERED = ContractStatus.registered.value
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
DIMENSIONS = {
    "type": "合同类型",
    "subtype": "合同子类",
    "field": "技术领域",
    "district": "卖方所在区县",
    "station": "驿站",
    "seller_nature": "卖方性质",
    "buyer_nature": "买方性质",
    "flow": "技术输出与吸纳",
    "source": "来源",
}
NO_STATION = "未经驿站"
# the tables anyone may see (the public page and its exports, and the public API); the others
# (station, natures, subtypes, years, quarters) are for registrars and admins
PUBLIC_TABLES = ("month", "type", "field", "district", "flow", "source")


def may_see_table(user, name: str) -> bool:
    if name in PUBLIC_TABLES:
        return True
    return bool(user is not None and user.is_authenticated and user.has_role("admin", "registrar"))


OUTSIDE, ABROAD = "郑州市外", "境外"


# ---- whose figures ------------------------------------------------------------------------


def may_see_all_stations(user) -> bool:
    """Registrars, admins and the trading hall's brokers see every station's figures."""
    if user is None or not user.is_authenticated:
        return False
    own = user.station if user.has_role(Role.broker) else None
    return user.has_role(Role.admin, Role.registrar) or (own is not None and own.is_hall)


def station_for(user, code: str = "") -> Station:
    """The station whose figures the user asked for (by ``code``) and may see: brokers their own
    (hall brokers any), registrars and admins any; without a code a broker's own, else the first
    district station. LookupError for an unknown code, PermissionError (with the message the user
    sees) for a station or a view the user may not see."""
    own = user.station if user.has_role(Role.broker) else None
    may_see_all = may_see_all_stations(user)
    if code:
        station = db.session.scalar(select(Station).where(Station.code == code))
        if station is None:
            raise LookupError(f"no station {code!r}")
        if not may_see_all and (own is None or station.id != own.id):
            raise PermissionError("只能查看本驿站的统计")
        return station
    if own is not None:
        return own
    if may_see_all:
        return db.session.scalar(
            select(Station).where(Station.is_hall.is_(False)).order_by(Station.id)
        ) or db.session.scalar(select(Station).order_by(Station.id))
    raise PermissionError("驿站统计仅对技术经纪人、登记员和管理员开放")


# ---- periods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    label: str
    params: tuple = ()  # the query arguments that select this period again

    @classmethod
    def year(cls, y: int) -> "Period":
        return cls(date(y, 1, 1), date(y, 12, 31), f"{y}年", (("year", y),))

    @classmethod
    def quarter(cls, y: int, q: int) -> "Period":
        first = 3 * q - 2
        return cls(
            date(y, first, 1),
            date(y, first + 2, monthrange(y, first + 2)[1]),
            f"{y}年第{q}季度",
            (("year", y), ("quarter", q)),
        )

    @classmethod
    def month(cls, y: int, m: int) -> "Period":
        return cls(date(y, m, 1), date(y, m, monthrange(y, m)[1]), f"{y}年{m}月", (("year", y), ("month", m)))

    @classmethod
    def last_months(cls, n: int, today: date) -> "Period":
        """The n calendar months up to today, this month included."""
        y, m = divmod(today.year * 12 + today.month - 1 - (n - 1), 12)
        return cls(date(y, m + 1, 1), today, f"近{n}个月", (("range", f"{n}m"),))

    @classmethod
    def from_args(cls, args, today: date | None = None) -> "Period":
        today = today or date.today()
        if args.get("range") in ("12m", "24m"):
            return cls.last_months(int(args["range"][:-1]), today)
        try:
            y = int(args.get("year") or today.year)
        except ValueError:
            y = today.year
        y = min(max(y, 2000), 2100)
        q, m = str(args.get("quarter") or ""), str(args.get("month") or "")
        if q in ("1", "2", "3", "4"):
            return cls.quarter(y, int(q))
        if m in {str(i) for i in range(1, 13)}:
            return cls.month(y, int(m))
        return cls.year(y)

    @property
    def args(self) -> dict:
        return dict(self.params)

    @property
    def is_year(self) -> bool:
        return self.start.month == 1 and self.start.day == 1 and self.end == date(self.start.year, 12, 31)


# ---- rows ---------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    count: int = 0
    amount: Decimal = ZERO
    tech_amount: Decimal = ZERO
    share: Decimal | None = None  # of the period's 成交额, 0–1

    def add(self, count: int, amount: Decimal, tech_amount: Decimal) -> "Row":
        self.count += count
        self.amount += amount
        self.tech_amount += tech_amount
        return self

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "count": self.count,
            "amount": str(self.amount),
            "tech_amount": str(self.tech_amount),
            "share": None if self.share is None else str(self.share.quantize(Decimal("0.0001"))),
        }


def _cents(column):
    return func.coalesce(func.sum(cast(func.round(column * 100), BigInteger)), 0)


def _money(cents) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(CENT)


def _where(period: Period | None, station_id: int | None):
    conds = [Contract.status == REGISTERED]
    if period is not None:
        conds += [Contract.stat_date >= period.start, Contract.stat_date <= period.end]
    if station_id is not None:
        conds.append(Contract.station_id == station_id)
    return conds


#: the 技术交易额 counted: the registrar's 核定 figure where one was set, else the applicant's
COUNTED_TECH_AMOUNT = func.coalesce(Contract.approved_tech_amount, Contract.tech_amount)


def _grouped(keys: list, period: Period | None, station_id: int | None, *extra) -> list[tuple]:
    """(key…, count, amount, tech_amount) per group of the counted contracts."""
    stmt = select(*keys, func.count(Contract.id), _cents(Contract.amount), _cents(COUNTED_TECH_AMOUNT)).where(
        *_where(period, station_id), *extra
    )
    if keys:
        stmt = stmt.group_by(*keys)
    return [(*r[:-3], int(r[-3]), _money(r[-2]), _money(r[-1])) for r in db.session.execute(stmt)]


def _with_shares(rows: list[Row], total: Decimal) -> list[Row]:
    for r in rows:
        r.share = (r.amount / total) if total else None
    return rows


def totals(period: Period | None = None, station_id: int | None = None) -> Row:
    _, count, amount, tech = (None, *_grouped([], period, station_id)[0])
    return Row("total", "合计", count, amount, tech, Decimal(1) if count else None)


def series(period: Period, grain: str = "month", station_id: int | None = None) -> list[Row]:
    """Every month (quarter, year) of the period, zero-filled."""
    year, month = extract("year", Contract.stat_date), extract("month", Contract.stat_date)
    data = _grouped([year, month], period, station_id)
    rows: dict[str, Row] = {}
    y, m = period.start.year, period.start.month
    while (y, m) <= (period.end.year, period.end.month):
        key, label = {
            "month": (f"{y}-{m:02d}", f"{y}年{m}月"),
            "quarter": (f"{y}-Q{(m - 1) // 3 + 1}", f"{y}年第{(m - 1) // 3 + 1}季度"),
            "year": (f"{y}", f"{y}年"),
        }[grain]
        rows.setdefault(key, Row(key, label))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    for y, m, count, amount, tech in data:
        key = {"month": f"{int(y)}-{int(m):02d}", "quarter": f"{int(y)}-Q{(int(m) - 1) // 3 + 1}", "year": f"{int(y)}"}[
            grain
        ]
        rows[key].add(count, amount, tech)
    return _with_shares(list(rows.values()), totals(period, station_id).amount)


def _merge(pairs, label_of, order: list[str] | None = None) -> list[Row]:
    rows: dict[str, Row] = {}
    for key, count, amount, tech in pairs:
        label = label_of(key)
        rows.setdefault(label, Row(label, label)).add(count, amount, tech)
    if order is not None:
        for label in order:
            rows.setdefault(label, Row(label, label))
        return [rows[label] for label in order] + [r for k, r in rows.items() if k not in order]
    return sorted(rows.values(), key=lambda r: (-r.amount, -r.count, r.key))


SHORT_NAMES = {
    "郑州经济技术开发区": "经开区",
    "郑州高新技术产业开发区": "高新区",
    "郑州航空港经济综合实验区": "航空港区",
    "管城回族区": "管城区",
    "环境保护与资源综合利用": "环保与资源利用",
    "生物医药和医疗器械": "生物医药与器械",
    "新能源与高效节能": "新能源与节能",
    "城市建设与社会发展": "城建与社会发展",
}


def short(label: str) -> str:
    """A row label short enough for a chart axis."""
    return SHORT_NAMES.get(label, label)


def _district(region: str | None) -> str:
    if not region:
        return ABROAD
    return rules.region_name(region) if rules.is_local(region) else OUTSIDE


def breakdown(dimension: str, period: Period | None, station_id: int | None = None) -> list[Row]:
    """Count, 成交额 and 技术交易额 by one dimension (see DIMENSIONS), with each row's share of 成交额."""
    total = totals(period, station_id).amount
    if dimension == "type":
        rows = _merge(_grouped([Contract.ctype], period, station_id), str, order=list(contracts.TYPES))
    elif dimension == "subtype":
        pairs = [
            (f"{t}·{s}", *rest) for t, s, *rest in _grouped([Contract.ctype, Contract.subtype], period, station_id)
        ]
        order = [f"{t}·{s}" for t, subs in contracts.TYPES.items() for s in subs]
        rows = [r for r in _merge(pairs, str, order=order) if r.count]
    elif dimension == "field":
        rows = _merge(_grouped([Contract.field], period, station_id), str)
    elif dimension == "district":
        rows = _merge(_grouped([Contract.seller_region], period, station_id), _district)
    elif dimension == "station":
        names = dict(db.session.execute(select(Station.id, Station.name)).all())
        rows = _merge(_grouped([Contract.station_id], period, station_id), lambda sid: names.get(sid, NO_STATION))
    elif dimension in ("seller_nature", "buyer_nature"):
        column = Contract.seller_kind if dimension == "seller_nature" else Contract.buyer_kind
        order = list(dict.fromkeys(contracts.NATURES.values()))
        rows = [r for r in _merge(_grouped([column], period, station_id), contracts.nature, order=order) if r.count]
    elif dimension == "flow":
        seller_local, buyer_local = Contract.seller_region.like("4101%"), Contract.buyer_region.like("4101%")
        rows = []
        for key, label, cond in (
            ("output", "技术输出（卖方在郑州）", seller_local),
            ("input", "技术吸纳（买方在郑州）", buyer_local),
            ("internal", "其中：双方均在郑州", seller_local & buyer_local),
        ):
            _, count, amount, tech = (None, *_grouped([], period, station_id, cond)[0])
            rows.append(Row(key, label, count, amount, tech))
    elif dimension == "source":
        via_match = case((Contract.match_id.is_not(None), "match"), else_="direct")
        labels = {"match": "平台对接促成", "direct": "其他来源"}
        rows = _merge(_grouped([via_match], period, station_id), lambda k: labels[k], order=list(labels.values()))
    else:
        raise ValueError(f"unknown dimension {dimension!r}")
    return _with_shares(rows, total)


def match_share(period: Period, station_id: int | None = None) -> Row:
    """Contracts that came from a match made on the platform; ``share`` is their part of 成交额."""
    return breakdown("source", period, station_id)[0]


# ---- target and progress ------------------------------------------------------------------


def default_target() -> Decimal | None:
    """STAT_YEAR_TARGET, or None when it is not configured (then no year has a target unless an
    admin set one: the public screens show the year-on-year comparison instead)."""
    raw = (current_app.config.get("STAT_YEAR_TARGET") or "").strip()
    return rules.parse_amount(raw) if raw else None


def target_for(year: int) -> Decimal | None:
    row = db.session.get(StatTarget, year)
    return row.amount if row is not None else default_target()


def set_target(year: int, raw_amount, actor: User) -> StatTarget:
    if not actor.has_role(Role.admin):
        raise PermissionError("只有管理员可以设置年度目标")
    errors = {}
    if not 2000 <= int(year) <= 2100:
        errors["year"] = "年份应在 2000–2100 之间"
    try:
        amount = rules.parse_amount(raw_amount)
        if amount <= 0:
            errors["target"] = "年度目标应大于 0"
    except ValueError as e:
        errors["target"] = f"年度目标：{e}"
    if errors:
        raise ValidationError(errors)
    row = db.session.get(StatTarget, int(year)) or StatTarget(year=int(year))
    row.amount, row.updated_by_id = amount, actor.id
    db.session.add(row)
    db.session.flush()
    return row


@dataclass
class Progress:
    year: int
    target: Decimal | None  # None: no target configured or set for the year
    total: Row
    ratio: Decimal | None  # 成交额 ÷ target
    elapsed: Decimal  # part of the year gone by
    previous: Row  # the year before, over the same days (1 January to the same date)
    change: Decimal | None  # 成交额 against ``previous``: 0.12 = +12 %; None when there is nothing to compare


def progress(year: int, today: date | None = None) -> Progress:
    today = today or date.today()
    total = totals(Period.year(year))
    target = target_for(year)
    if today.year > year:
        elapsed, upto = Decimal(1), date(year, 12, 31)
    elif today.year < year:
        elapsed, upto = Decimal(0), date(year, 1, 1)
    else:
        elapsed = Decimal(today.timetuple().tm_yday) / Decimal(366 if monthrange(year, 2)[1] == 29 else 365)
        upto = today
    same_day = upto.replace(year=year - 1, day=min(upto.day, monthrange(year - 1, upto.month)[1]))
    previous = totals(Period(date(year - 1, 1, 1), same_day, f"{year - 1}年同期"))
    change = (total.amount / previous.amount - 1) if previous.amount else None
    return Progress(year, target, total, (total.amount / target) if target else None, elapsed, previous, change)


# ---- lists --------------------------------------------------------------------------------

_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团公司",
    "集团",
    "研究院",
    "研究所",
    "研究中心",
    "实验室",
    "大学",
    "科学院",
    "学院",
    "中心",
    "公司",
    "医院",
)


def abbreviate(name: str) -> str:
    """A party's name for public display: '郑州轻工业大学' → '郑州**大学'."""
    name = (name or "").strip()
    suffix = next((s for s in _SUFFIXES if name.endswith(s) and len(name) > len(s)), "")
    head = name[:2] if len(name) - len(suffix) > 3 or suffix else name[:1]
    return f"{head}**{suffix}"


@dataclass
class Registration:
    """A registered contract as the public may see it: parties abbreviated, no 登记编号 serial."""

    registered_on: date
    type_label: str
    field: str
    seller: str
    buyer: str
    district: str
    amount: Decimal


def latest(n: int = 10, station_id: int | None = None) -> list[Registration]:
    stmt = (
        select(Contract)
        .where(*_where(None, station_id))
        .order_by(Contract.decided_at.desc(), Contract.id.desc())
        .limit(n)
    )
    return [
        Registration(
            c.registered_on,
            c.ctype,
            c.field,
            abbreviate(c.seller_name),
            abbreviate(c.buyer_name),
            _district(c.seller_region),
            c.amount,
        )
        for c in db.session.scalars(stmt)
    ]


def contract_list(period: Period, station_id: int | None = None, limit: int | None = None) -> list[Contract]:
    """The counted contracts themselves (for staff: the station view and the export), newest first."""
    stmt = select(Contract).where(*_where(period, station_id)).order_by(Contract.stat_date.desc(), Contract.id.desc())
    return db.session.scalars(stmt.limit(limit) if limit else stmt).all()


def years_with_data() -> list[int]:
    first, last = db.session.execute(
        select(func.min(Contract.stat_date), func.max(Contract.stat_date)).where(Contract.status == REGISTERED)
    ).one()
    this_year = date.today().year
    if first is None:
        return [this_year]
    return list(range(min(first.year, this_year), max(last.year, this_year) + 1))


# ---- the registrar's desk and the stations ------------------------------------------------


@dataclass
class QueueHealth:
    pending: int
    overdue: int
    due_soon: int  # within 3 working days
    decided: int  # in the period
    refused: int
    mean_days: Decimal | None  # working days from application to decision
    refusals: list[Row] = dc_field(default_factory=list)


def queue_health(period: Period, today: date | None = None) -> QueueHealth:
    today = today or date.today()
    pending = db.session.scalars(select(Contract.due_on).where(Contract.status == ContractStatus.pending.value)).all()
    left = [contracts.days_left(due, today) for due in pending]
    start, end = datetime.combine(period.start, time.min), datetime.combine(period.end + timedelta(days=1), time.min)
    decided = db.session.execute(
        select(Contract.submitted_at, Contract.decided_at, Contract.status, Contract.refusal_code).where(
            Contract.decided_at >= start, Contract.decided_at < end
        )
    ).all()
    spans = [workdays.working_days_between(s.date(), d.date()) for s, d, _, _ in decided]
    reasons: dict[str, Row] = {code: Row(code, f"{code}. {label}") for code, label in contracts.REFUSAL_REASONS.items()}
    for _, _, status, code in decided:
        if status == ContractStatus.refused.value and code in reasons:
            reasons[code].count += 1
    refused = sum(r.count for r in reasons.values())
    for r in reasons.values():
        r.share = Decimal(r.count) / refused if refused else None
    mean = (Decimal(sum(spans)) / len(spans)).quantize(Decimal("0.1")) if spans else None
    return QueueHealth(
        len(pending),
        sum(1 for d in left if d < 0),
        sum(1 for d in left if 0 <= d <= 3),
        len(decided),
        refused,
        mean,
        list(reasons.values()),
    )


def solved_needs(period: Period, station_id: int | None = None) -> int:
    """需求 their owners took down as 已解决 or 已找到合作方 during the period."""
    from .listings import SOLVED_REASONS

    start, end = datetime.combine(period.start, time.min), datetime.combine(period.end + timedelta(days=1), time.min)
    stmt = (
        select(func.count())
        .select_from(Need)
        .where(Need.close_reason.in_(SOLVED_REASONS), Need.closed_at >= start, Need.closed_at < end)
    )
    if station_id is not None:
        stmt = stmt.where(Need.station_id == station_id)
    return db.session.scalar(stmt)


def station_activity(station_id: int, period: Period) -> dict[str, int]:
    """A station's work besides contracts: listings taken in during the period, matches in its queue."""
    start, end = datetime.combine(period.start, time.min), datetime.combine(period.end + timedelta(days=1), time.min)
    out = {}
    for key, model in (("achievements", Achievement), ("needs", Need)):
        out[key] = db.session.scalar(
            select(func.count())
            .select_from(model)
            .where(model.station_id == station_id, model.created_at >= start, model.created_at < end)
        )
    by_status = dict(
        db.session.execute(
            select(Match.status, func.count()).where(Match.station_id == station_id).group_by(Match.status)
        ).all()
    )
    out["matches_open"] = sum(by_status.get(s, 0) for s in ("suggested", "accepted"))
    out["matches_introduced"] = sum(by_status.get(s, 0) for s in ("introduced", "negotiating", "contracted"))
    out["matches_contracted"] = by_status.get("contracted", 0)
    return out


# ---- tables (what the pages show and the exports write) -----------------------------------


@dataclass
class Table:
    name: str
    title: str
    key_header: str
    rows: list[Row]
    total: Row | None
    additive: bool = True  # whether the rows add up to the total (输出/吸纳 overlap)


TABLE_TITLES = {"month": "按月", "quarter": "按季度", "year": "按年", **DIMENSIONS}


def table(name: str, period: Period, station_id: int | None = None) -> Table:
    if name not in TABLE_TITLES:
        raise ValueError(f"unknown table {name!r}")
    total = totals(period, station_id)
    if name in ("month", "quarter", "year"):
        p = period
        if name == "year":
            years = years_with_data()
            p = Period(date(min(years[0], period.start.year), 1, 1), period.end, "历年")
            total = totals(p, station_id)
        return Table(
            name,
            TABLE_TITLES[name],
            {"month": "月份", "quarter": "季度", "year": "年度"}[name],
            series(p, name, station_id),
            total,
        )
    return Table(
        name, TABLE_TITLES[name], DIMENSIONS[name], breakdown(name, period, station_id), total, additive=name != "flow"
    )


def now_label() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M")


def station_figures(station: Station, today: date | None = None) -> dict:
    """Listings the station serves now; this year's introductions, registered contracts and 成交额."""
    today = today or date.today()
    year = Period.year(today.year)
    start = datetime.combine(year.start, time.min)
    listed = sum(
        db.session.scalar(
            select(func.count())
            .select_from(model)
            .where(model.station_id == station.id, model.status == ListingStatus.published.value)
        )
        for model in (Achievement, Need)
    )
    introduced = db.session.scalar(
        select(func.count()).select_from(Match).where(Match.station_id == station.id, Match.introduced_at >= start)
    )
    total = totals(year, station.id)
    return {
        "year": today.year,
        "listings": listed,
        "introductions": introduced,
        "contracts": total.count,
        "amount": total.amount,
    }
