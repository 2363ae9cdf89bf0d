"""Demo technology contracts: about 270 applications over the last 24 months.

Deterministic (seeded) and idempotent (nothing is added when demo contracts exist). Every
application goes through the real services — submit, then register, refuse or withdraw; later
changes and cancellations — with back-dated times, in time order, so the 登记编号, deadlines and
histories are what the live system would have produced. Research organisations are mostly sellers
and enterprises mostly buyers; a few parties outside Zhengzhou (and abroad) give 输出 and 吸纳.
Matches in 对接中/洽谈中, when there are any, get a contract and become 已签约.
"""

import io
import math
import random
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from ..extensions import db
from ..models import Achievement, Contract, Match, MatchStatus, Need, Organisation, Role, Station, User, utcnow
from ..services import contracts, stations
from ..validation import workdays
from ..validation.fields import ValidationError
from ..validation.rules import CREDIT_CHARS, credit_code_check_digit

SEED = 20261
PREFIX = "DEMO-C-"
REGISTERED, REFUSED, WITHDRAWN, PENDING = 236, 18, 4, 10
CHANGES, CANCELLED = 12, 8
HOST_STATIONS = {"郑州大学": "ZZU", "河南工业大学": "HAUT", "河南农业大学": "HNAU"}
# (name, kind, region or None when abroad, country) — fictional parties outside Zhengzhou
OUTSIDE = (
    ("洛阳精工轴承研究院有限公司", "民营企业", "410300", "中国"),
    ("开封黄河智能装备有限公司", "民营企业", "410200", "中国"),
    ("新乡华隆生物科技有限公司", "民营企业", "410700", "中国"),
    ("许昌瑞祥电气有限公司", "民营企业", "411000", "中国"),
    ("北京中科启元技术有限公司", "民营企业", "110108", "中国"),
    ("上海浦江新材料科技有限公司", "民营企业", "310115", "中国"),
    ("深圳鹏程智联电子有限公司", "民营企业", "440305", "中国"),
    ("武汉光谷芯测科技有限公司", "民营企业", "420111", "中国"),
    ("江苏苏南精密机械有限公司", "国有企业", "320500", "中国"),
    ("陕西秦岭航空材料有限公司", "国有企业", "610113", "中国"),
    ("Almaty Agro Technologies LLP", "外资企业", None, "哈萨克斯坦"),
    ("Rheinland Präzisionswerkzeuge GmbH", "外资企业", None, "德国"),
)
OUTSIDE_SELLERS = (
    ("北京中关村先进制造研究院", "科研院所", "110108", "中国"),
    ("上海临港智能装备研究院", "新型研发机构", "310115", "中国"),
    ("西安交通智能传感研究所", "科研院所", "610113", "中国"),
    ("武汉东湖生物医药研究院", "新型研发机构", "420111", "中国"),
)
TYPE_WEIGHTS = (("技术开发", 34), ("技术服务", 30), ("技术咨询", 14), ("技术转让", 13), ("技术许可", 9))
REFUSAL_NOTES = {
    "1": "合同尚未经双方法定代表人签字生效，请生效后再申请。",
    "2": "合同标的为设备买卖，不属于技术合同。",
    "3": "合同未约定价款支付方式和金额。",
    "4": "涉及技术出口限制目录，需先办理出口许可。",
    "5": "合同名称为技术开发，内容实为设备采购，请更正。",
    "6": "第八条限制买方改进技术，属于妨碍技术进步条款。",
    "7": "未提供专利证书复印件。",
    "8": "买方印章名称与营业执照不符。",
    "9": "同一合同已在其他登记机构登记。",
}
CANCEL_NOTES = ("双方协商一致解除合同", "合同约定的研发任务终止", "买方破产清算，合同无法履行", "合同被确认无效")


@dataclass
class Spec:
    """One demo application and what happens to it."""

    key: str
    actor: User
    raw: dict
    submitted: datetime
    outcome: str  # registered | refused | withdrawn | pending
    decided: datetime | None = None
    refusal: str | None = None
    change_at: datetime | None = None
    change_decided: datetime | None = None
    cancel_request_at: datetime | None = None
    cancelled: datetime | None = None
    contract: Contract | None = None
    change: Contract | None = None
    steps: list = dc_field(default_factory=list)


def _scan(spec: "Spec") -> FileStorage | None:
    """A one-page stand-in for the scanned contract; a few applications come without one."""
    if spec.refusal == "7" or int(spec.key[-4:]) % 12 == 5:
        return None
    text = f"BT /F1 16 Tf 72 770 Td (Demo contract scan {spec.key}) Tj ET"
    pdf = (
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R"
        "/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
        f"4 0 obj<</Length {len(text)}>>stream\n{text}\nendstream\nendobj\n"
        "5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    return FileStorage(io.BytesIO(pdf.encode()), filename="合同扫描件.pdf", content_type="application/pdf")


def _credit_code(rng: random.Random, region: str, prefix: str) -> str:
    first = prefix + region + "".join(rng.choice(CREDIT_CHARS) for _ in range(9))
    return first + credit_code_check_digit(first)


def _at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(rng.randint(9, 16), rng.randint(0, 59)))


def _working_day(day: date, step: int = 1) -> date:
    while not workdays.is_working_day(day):
        day += timedelta(days=step)
    return day


def _log_uniform(rng: random.Random, low: int, high: int, unit: int = 1000) -> Decimal:
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    return Decimal(max(unit, int(value) // unit * unit))


def _amounts(rng: random.Random, ctype: str, subtype: str) -> tuple[Decimal, Decimal]:
    r = rng.random()
    if ctype == "技术开发":
        amount = (
            _log_uniform(rng, 20_000_000, 60_000_000, 10_000)
            if r < 0.04
            else _log_uniform(rng, 5_000_000, 20_000_000, 10_000)
            if r < 0.12
            else _log_uniform(rng, 200_000, 5_000_000)
            if r < 0.9
            else _log_uniform(rng, 50_000, 200_000)
        )
        ratio = rng.randint(70, 100)
    elif ctype == "技术转让":
        amount = (
            _log_uniform(rng, 10_000_000, 30_000_000, 10_000) if r < 0.06 else _log_uniform(rng, 100_000, 8_000_000)
        )
        ratio = rng.randint(92, 100)
    elif ctype == "技术许可":
        amount = _log_uniform(rng, 50_000, 3_000_000)
        ratio = rng.randint(90, 100)
    elif ctype == "技术咨询":
        amount = _log_uniform(rng, 20_000, 500_000, 500)
        ratio = 100 if r < 0.7 else rng.randint(85, 99)
    else:
        high = {"技术中介": 200_000, "技术培训": 100_000}.get(subtype, 800_000)
        amount = _log_uniform(rng, 10_000 if subtype != "技术服务" else 20_000, high, 500)
        ratio = rng.randint(60, 100)
    tech = (amount * ratio / 100).quantize(Decimal("0.01"))
    return amount, tech


def _title(rng: random.Random, ctype: str, subtype: str, topic: str, field: str) -> str:
    topic = topic if len(topic) <= 36 else topic[:36]
    return {
        "委托开发": f"{topic}委托开发",
        "合作开发": f"{topic}合作开发",
        "专利权转让": f"{topic}专利权转让",
        "专利申请权转让": f"{topic}专利申请权转让",
        "技术秘密转让": f"{topic}技术秘密转让",
        "专利实施许可": f"{topic}专利实施许可",
        "技术秘密许可": f"{topic}技术秘密许可",
        "其他": f"{topic}技术{ctype[2:]}",
        "技术咨询": rng.choice((f"{topic}技术可行性论证", f"{topic}技术咨询", f"{topic}工艺路线评估")),
        "技术服务": rng.choice((f"{topic}技术服务", f"{topic}检测与工艺优化服务", f"{topic}现场技术指导")),
        "技术中介": f"{topic}成果转化中介服务",
        "技术培训": f"{field}专业技术培训（{topic[:12]}）",
    }[subtype]


def _ip_type(rng: random.Random, ctype: str, subtype: str, field: str) -> str | None:
    if "技术秘密" in subtype:
        return "技术秘密"
    if ctype in ("技术转让", "技术许可"):
        return (
            "软件著作权"
            if field == "电子信息" and rng.random() < 0.3
            else rng.choice(("发明专利", "发明专利", "发明专利", "实用新型"))
        )
    if ctype == "技术开发":
        return rng.choice(("发明专利", "发明专利", None, "技术秘密", "软件著作权" if field == "电子信息" else None))
    return None


def _month_days(rng: random.Random, start: date, end: date, n: int) -> list[date]:
    """n days between start and end, denser towards the end and in December, thinner around 春节."""
    months = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    weights = [
        (1 + 0.8 * i / max(len(months) - 1, 1)) * {12: 1.6, 2: 0.6, 1: 0.9}.get(mm, 1.0)
        for i, (_, mm) in enumerate(months)
    ]
    days = []
    for y, m in rng.choices(months, weights=weights, k=n):
        first = max(date(y, m, 1), start)
        last = min((date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)), end)
        day = first + timedelta(days=rng.randint(0, (last - first).days))
        days.append(_working_day(day) if _working_day(day) <= end else _working_day(day, -1))
    return sorted(days)


class _World:
    """The demo organisations, users and listings the contracts are drawn from."""

    def __init__(self, rng: random.Random):
        orgs = db.session.scalars(select(Organisation).order_by(Organisation.name)).all()
        self.research = [o for o in orgs if o.is_research]
        self.enterprises = [o for o in orgs if o.is_enterprise]
        self.stations = {s.code: s for s in db.session.scalars(select(Station))}
        self.brokers = {}
        for user in db.session.scalars(select(User).where(User.role == Role.broker.value).order_by(User.username)):
            if user.station_id is not None and user.username.startswith("broker."):
                self.brokers.setdefault(user.station_id, user)
        self.members = {}
        for user in db.session.scalars(
            select(User).where(User.role.in_((Role.researcher.value, Role.enterprise.value))).order_by(User.username)
        ):
            self.members.setdefault(user.org_id, user)
        self.admin = db.session.scalar(select(User).where(User.role == Role.admin.value).order_by(User.id))
        self.registrar = (
            db.session.scalar(select(User).where(User.role == Role.registrar.value).order_by(User.id)) or self.admin
        )
        self.topics = {}
        for a in db.session.scalars(select(Achievement).order_by(Achievement.id)):
            self.topics.setdefault(a.org_id, []).append((a.title, a.field))
        for n in db.session.scalars(select(Need).order_by(Need.id)):
            self.topics.setdefault(n.org_id, []).append((n.title, n.field))
        self.outside = [self._party(rng, *row) for row in OUTSIDE]
        self.outside_sellers = [self._party(rng, *row) for row in OUTSIDE_SELLERS]

    @staticmethod
    def _party(rng, name, kind, region, country) -> dict:
        code = _credit_code(rng, region, "12" if kind in ("科研院所", "新型研发机构") else "91") if region else ""
        return {"name": name, "kind": kind, "region": region or "", "country": country, "credit_code": code}

    def station_for(self, org: Organisation | None) -> Station | None:
        if org is None:
            return self.stations.get("HALL")
        code = HOST_STATIONS.get(org.name)
        return self.stations[code] if code in self.stations else stations.route_for(org)


def _party_raw(side: str, party) -> dict:
    if isinstance(party, Organisation):
        return {f"{side}_org_id": str(party.id)}
    return {f"{side}_{k}": v for k, v in party.items()}


def _parties(rng: random.Random, w: _World, seller, buyer) -> tuple:
    """Seller and buyer of a demo application (given ones kept): mostly research sellers and
    enterprise buyers, some from outside the city."""
    if seller is None:
        r = rng.random()
        seller = (
            rng.choice(w.research)
            if r < 0.8
            else rng.choice(w.enterprises)
            if r < 0.93
            else rng.choice(w.outside_sellers)
        )
    if buyer is None:
        r = rng.random()
        if isinstance(seller, dict):
            buyer = rng.choice(w.enterprises)
        elif r < 0.78:
            buyer = rng.choice([e for e in w.enterprises if e is not seller])
        elif r < 0.95:
            buyer = rng.choice(w.outside)
        else:
            buyer = rng.choice([o for o in w.research if o is not seller])
    return seller, buyer


def _application(
    rng: random.Random, w: _World, submitted: date, *, seller=None, buyer=None, ctype=None, match: Match | None = None
) -> tuple[User, dict]:
    """The applicant and the form values of one application."""
    ctype = ctype or rng.choices([t for t, _ in TYPE_WEIGHTS], weights=[p for _, p in TYPE_WEIGHTS])[0]
    subtype = rng.choice(contracts.TYPES[ctype])
    seller, buyer = _parties(rng, w, seller, buyer)
    seller_org = seller if isinstance(seller, Organisation) else None
    topics = (
        w.topics.get(seller_org.id if seller_org else None)
        or (w.topics.get(buyer.id) if isinstance(buyer, Organisation) else None)
        or [("关键共性技术", "先进制造")]
    )
    topic, field = match.achievement.title if match else None, match.achievement.field if match else None
    if topic is None:
        topic, field = rng.choice(topics)
    amount, tech = _amounts(rng, ctype, subtype)
    signed = submitted - timedelta(days=rng.randint(4, 60))
    start = signed + timedelta(days=rng.choice((0, 0, 0, 7, 15)))
    months = {"技术开发": (12, 36), "技术转让": (24, 60), "技术许可": (12, 60)}.get(ctype, (3, 12))
    raw = {
        "title": _title(rng, ctype, subtype, topic, field),
        "ctype": ctype,
        "subtype": subtype,
        "amount": str(amount),
        "tech_amount": str(tech),
        "signed_on": signed.isoformat(),
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=30 * rng.randint(*months))).isoformat(),
        "field": field,
        "ip_type": _ip_type(rng, ctype, subtype, field) or "",
        "goal": rng.choice(
            (
                "促进工业发展",
                "促进工业发展",
                "农林牧渔业发展" if field == "农业" else "促进工业发展",
                *contracts.GOALS[:8],
                "",
                "",
            )
        ),
        **_party_raw("seller", seller),
        **_party_raw("buyer", buyer),
    }
    if ctype == "技术转让":
        raw["planned_investment"] = str(amount * rng.randint(2, 6))
        raw["planned_output"] = str(amount * rng.randint(5, 25))
    station = match.station if match else (w.station_for(seller_org) if rng.random() < 0.85 else None)
    broker = (match.broker if match and match.broker else w.brokers.get(station.id)) if station else None
    member = w.members.get(seller_org.id) if seller_org else None
    if broker is not None and (member is None or rng.random() < 0.45):
        actor = broker
    elif member is not None:
        actor = member
    else:
        actor = w.admin
    if actor is not broker:
        raw.update(station_id=str(station.id) if station else "", broker_id=str(broker.id) if broker else "")
    elif station is not None:
        raw["station_id"] = str(station.id)
    if match is not None:
        raw["match_id"] = str(match.id)
    return actor, raw


def _plan(rng: random.Random, w: _World, today: date) -> list[Spec]:
    start = today - timedelta(days=730)
    specs: list[Spec] = []

    def add(outcome: str, decided_day: date | None, submitted_day: date, **kw) -> Spec:
        actor, raw = _application(rng, w, submitted_day, **kw)
        spec = Spec(
            f"{PREFIX}{len(specs) + 1:04d}",
            actor,
            raw,
            _at(submitted_day, rng),
            outcome,
            _at(decided_day, rng) if decided_day else None,
        )
        specs.append(spec)
        return spec

    for day in _month_days(rng, start + timedelta(days=21), today - timedelta(days=1), REGISTERED):
        submitted = _working_day(day - timedelta(days=rng.randint(3, 19)), -1)
        add("registered", day, submitted)
    for day in _month_days(rng, start + timedelta(days=21), today - timedelta(days=1), REFUSED):
        add("refused", day, _working_day(day - timedelta(days=rng.randint(3, 19)), -1))
    for spec, code in zip(specs[-REFUSED:], [str(1 + i % 9) for i in range(REFUSED)]):
        spec.refusal = code
    for day in _month_days(rng, start + timedelta(days=21), today - timedelta(days=1), WITHDRAWN):
        add("withdrawn", day, _working_day(day - timedelta(days=rng.randint(2, 8)), -1))
    for ago in (1, 2, 3, 5, 6, 8, 11, 14, 23, 27)[:PENDING]:
        add("pending", None, _working_day(today - timedelta(days=ago), -1))

    linkable = db.session.scalars(
        select(Match)
        .where(Match.status.in_((MatchStatus.introduced.value, MatchStatus.negotiating.value)))
        .order_by(Match.id)
    ).all()
    for i, match in enumerate(linkable[:48:2]):  # half of them: the rest stay with the brokers' workflow
        if match.achievement.org_id == match.need.org_id:
            continue
        introduced = match.introduced_at or utcnow()
        if introduced.date() < today - timedelta(days=30):
            day = _working_day(introduced.date() + timedelta(days=rng.randint(10, 25)))
            submitted = _working_day(day - timedelta(days=rng.randint(2, 6)), -1)
            if not introduced.date() < submitted < day < today:
                continue
            submitted_at, decided_at = _at(submitted, rng), _at(day, rng)
        else:  # a match the demo has just introduced: its contract is filed and registered right after
            submitted_at = introduced + timedelta(minutes=1 + i)
            decided_at = submitted_at + timedelta(seconds=30)
        actor, raw = _application(
            rng,
            w,
            submitted_at.date(),
            seller=match.achievement.org,
            buyer=match.need.org,
            match=match,
            ctype=rng.choice(("技术开发", "技术开发", "技术转让", "技术许可")),
        )
        specs.append(Spec(f"{PREFIX}{len(specs) + 1:04d}", actor, raw, submitted_at, "registered", decided_at))

    registered = [s for s in specs if s.outcome == "registered" and s.decided.date() < today - timedelta(days=40)]
    rng.shuffle(registered)
    for spec in registered[:CHANGES]:
        spec.change_at = spec.decided + timedelta(days=rng.randint(10, 30), hours=1)
        spec.change_decided = spec.change_at + timedelta(days=rng.randint(3, 12))
    for spec in registered[CHANGES : CHANGES + CANCELLED]:
        spec.cancel_request_at = spec.decided + timedelta(days=rng.randint(20, 35))
        spec.cancelled = spec.cancel_request_at + timedelta(days=rng.randint(2, 8))
    recent = [
        s
        for s in specs
        if s.outcome == "registered"
        and s.change_at is None
        and s.cancel_request_at is None
        and today - timedelta(days=60) < s.decided.date() < today - timedelta(days=10)
    ]
    if len(recent) >= 3:
        recent[0].change_at = _at(today - timedelta(days=2), rng)  # a change waiting for the registrar
        recent[1].cancel_request_at = _at(today - timedelta(days=4), rng)  # a cancellation request waiting
        recent[2].cancel_request_at = _at(today - timedelta(days=6), rng)
    return specs


def _changed(rng: random.Random, raw: dict) -> dict:
    amount = Decimal(raw["amount"]) * Decimal(100 + rng.randint(5, 30)) / 100
    amount = amount.quantize(Decimal("1"))
    ratio = Decimal(raw["tech_amount"]) / Decimal(raw["amount"])
    until = date.fromisoformat(str(raw["valid_until"])) + timedelta(days=30 * rng.randint(3, 12))
    return {
        **raw,
        "amount": str(amount),
        "tech_amount": str((amount * ratio).quantize(Decimal("0.01"))),
        "valid_until": until.isoformat(),
    }


def load(today: date | None = None, log=print) -> dict[str, int]:
    if db.session.scalar(select(Contract.id).where(Contract.ext_id.like(f"{PREFIX}%")).limit(1)) is not None:
        log("demo: technology contracts already loaded")
        return {}
    today = today or date.today()
    rng = random.Random(SEED)
    w = _World(rng)
    if not w.research or not w.enterprises or w.registrar is None:
        log("demo: no organisations or registrar yet, technology contracts skipped")
        return {}
    specs = _plan(rng, w, today)
    steps = []
    for spec in specs:
        steps.append((spec.submitted, 0, spec, "submit"))
        if spec.decided is not None:
            steps.append((spec.decided, 1, spec, spec.outcome))
        if spec.change_at is not None:
            steps.append((spec.change_at, 2, spec, "change"))
        if spec.change_decided is not None and spec.change_decided.date() < today:
            steps.append((spec.change_decided, 3, spec, "change_registered"))
        if spec.cancel_request_at is not None:
            steps.append((spec.cancel_request_at, 2, spec, "cancel_request"))
        if spec.cancelled is not None and spec.cancelled.date() < today:
            steps.append((spec.cancelled, 3, spec, "cancel"))
    steps.sort(key=lambda s: (s[0], s[1], s[2].key))
    counts = dict.fromkeys(("submitted", "registered", "refused", "withdrawn", "changed", "cancelled", "skipped"), 0)
    skipped = set()
    for at, _, spec, step in steps:
        if spec.key in skipped:
            continue
        c = spec.contract
        if step == "submit":
            try:
                spec.contract = contracts.submit(spec.raw, spec.actor, file=_scan(spec), now=at, ext_id=spec.key)
                counts["submitted"] += 1
            except ValidationError as e:
                log(f"demo: {spec.key} skipped: {e}")
                skipped.add(spec.key)
                counts["skipped"] += 1
        elif step == "registered":
            contracts.register(c, w.registrar, now=at, notify=False)
            counts["registered"] += 1
        elif step == "refused":
            contracts.refuse(c, w.registrar, spec.refusal, REFUSAL_NOTES[spec.refusal], now=at, notify=False)
            counts["refused"] += 1
        elif step == "withdrawn":
            contracts.withdraw(c, spec.actor, "申请人撤回，合同条款需重新协商", now=at)
            counts["withdrawn"] += 1
        elif step == "change":
            spec.change = contracts.submit_change(c, _changed(rng, contracts.values_of(c)), spec.actor, now=at)
        elif step == "change_registered":
            contracts.register(spec.change, w.registrar, now=at, notify=False)
            counts["changed"] += 1
        elif step == "cancel_request":
            contracts.request_cancel(c, spec.actor, rng.choice(CANCEL_NOTES), now=at)
        elif step == "cancel":
            contracts.cancel(
                c, w.registrar, "经核实，" + (c.cancel_request_note or "双方协商解除"), now=at, notify=False
            )
            counts["cancelled"] += 1
    db.session.flush()
    log("demo: technology contracts " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts
