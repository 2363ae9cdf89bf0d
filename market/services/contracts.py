"""技术合同认定登记: apply, register (登记编号), refuse, withdraw, change (变更), cancel (注销).

Applicants are the seller side: researchers and enterprise users for their own organisation, or
brokers and admins for a client. Registrars (登记员) and admins decide. Every step is a
ContractEvent; nothing is deleted. A change is a new application that amends a registered
contract: registering it issues a new number and marks the old version superseded, so the current
version is the only one counted.

登记编号 = year + 6-digit region code of the registering locality (the seller's; the buyer's when
the seller is abroad) + a 6-digit serial that is gapless per (region, year): the serial comes from
a counter row that is incremented (UPDATE … RETURNING) inside the registering transaction, so the
row stays locked until commit and a rollback gives the number back.
"""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import (Achievement, Contract, ContractCounter, ContractEvent, ContractStatus, Match, MatchStatus,
                      Organisation, Role, Station, User, utcnow)
from . import matches
from ..validation import reference, rules, workdays
from ..infra import uploads
from ..infra.notify import notify as send_notice
from ..validation.fields import Field, ValidationError, Vocab, clean

S = ContractStatus

TYPES = {
    "技术开发": ("委托开发", "合作开发"),
    "技术转让": ("专利权转让", "专利申请权转让", "技术秘密转让", "其他"),
    "技术许可": ("专利实施许可", "技术秘密许可", "其他"),
    "技术咨询": ("技术咨询",),
    "技术服务": ("技术服务", "技术中介", "技术培训"),
}
REFUSAL_REASONS = {
    "1": "合同无效或尚未生效",
    "2": "不属于技术合同",
    "3": "当事人、标的、价款或报酬不明确",
    "4": "应当办理审批而未办理",
    "5": "合同名称与内容不符且未更正",
    "6": "含有垄断技术或妨碍技术进步的条款",
    "7": "证明材料缺失或不符",
    "8": "印章缺失或与名称不符",
    "9": "其他",
}
GOALS = ("环境保护、生态建设及污染防治", "能源生产、分配和合理利用", "卫生事业发展", "教育事业发展",
         "基础设施以及城市和农村规划", "社会发展和社会服务", "地球和大气层的探索与利用", "民用空间探测及开发",
         "农林牧渔业发展", "促进工业发展", "非定向研究", "其他民用目标")
# 单位性质 (the organisation kinds of the taxonomy) → the party nature the statistics report
NATURES = {"高校": "高等院校", "科研院所": "科研机构", "新型研发机构": "科研机构", "国有企业": "企业",
           "民营企业": "企业", "外资企业": "企业", "政府机构": "机关团体", "服务机构": "其他组织", "个人": "个人"}
ACTION_LABELS = {"submit": "提交登记申请", "change": "提交变更申请", "register": "登记", "refuse": "未予登记",
                 "withdraw": "撤回申请", "supersede": "被变更登记取代", "cancel_request": "申请注销",
                 "cancel": "注销登记", "cancel_declined": "驳回注销申请"}
CHINA = "中国"
_CHINA_ALIASES = {"中国", "中华人民共和国", "中国大陆", "china", "cn", "prc"}
LONG_REVIEW_AMOUNT = Decimal("5000000")
REVIEW_DAYS, LONG_REVIEW_DAYS = 15, 30
MAX_CONTRACT_AMOUNT = Decimal("10000000000")  # 100亿元 for one contract: beyond that it is a typo
OPEN = (S.pending.value, S.registered.value)

FIELDS = (
    Field("title", "项目名称", required=True, min_len=4, max_len=100, aliases=("合同名称",)),
    Field("amount", "合同成交额", type="money", required=True, aliases=("成交额",), help="元，可写 50万"),
    Field("tech_amount", "技术交易额", type="money", required=True,
          help="成交额减去设备、材料等非技术性费用，不能大于成交额"),
    Field("signed_on", "签订日期", type="date", required=True),
    Field("valid_from", "有效期起", type="date", required=True),
    Field("valid_until", "有效期止", type="date", required=True),
    Field("field", "技术领域", type="choice", vocab="field", required=True),
    Field("ip_type", "知识产权类型", type="choice", vocab="ip_type", help="不涉及知识产权可不选"),
    Field("goal", "社会经济目标", type="choice", vocab="contract_goal"),
    Field("planned_investment", "预计新增投入", type="money", help="技术转让合同填写，元"),
    Field("planned_output", "预计新增产值", type="money", help="技术转让合同填写，元"),
)
SIDES = {"seller": "卖方", "buyer": "买方"}


class NotAllowed(Exception):
    """A step the contract's status does not allow."""


class Conflict(Exception):
    """Someone else decided the application first."""

    def __init__(self):
        super().__init__("该申请刚被其他登记员处理过，请刷新后查看最新状态")


def vocab() -> Vocab:
    v = reference.vocab()
    return Vocab(names={**v.names, "contract_goal": list(GOALS)}, chain_children=v.chain_children,
                 trl_stage=v.trl_stage)


def nature(kind: str | None) -> str:
    return NATURES.get(kind or "", "其他组织")


# ---- who may do what ----------------------------------------------------------------------

def _authenticated(user) -> bool:
    return user is not None and user.is_authenticated


def can_apply(user: User | None) -> bool:
    if not _authenticated(user):
        return False
    return user.has_role(Role.broker, Role.admin) or \
        (user.has_role(Role.researcher, Role.enterprise) and user.member_org_id is not None)


def is_registrar(user: User | None) -> bool:
    return _authenticated(user) and user.has_role(Role.registrar, Role.admin)


def _seller_side(user: User, contract: Contract) -> bool:
    """The applicant, or a confirmed member of the seller organisation (never a mere ``org_id``:
    an unconfirmed member sees only its own applications)."""
    org_id = user.member_org_id if user.has_role(Role.researcher, Role.enterprise) else None
    return contract.applicant_id == user.id or (org_id is not None and org_id == contract.seller_org_id)


def _station_broker(user: User, contract: Contract) -> bool:
    return user.has_role(Role.broker) and (
        contract.broker_id == user.id or (user.station_id is not None and user.station_id == contract.station_id))


def _match_party(user: User, contract: Contract) -> bool:
    """An owner of either listing of the platform match the contract came from (the buyer too)."""
    match = contract.match
    return match is not None and user.id in (match.need.owner_id, match.achievement.owner_id)


def can_view(user: User | None, contract: Contract) -> bool:
    """The full record: the applicant side, the parties of its match, registrars, admins and
    brokers of the station."""
    if not _authenticated(user):
        return False
    return is_registrar(user) or _seller_side(user, contract) or _station_broker(user, contract) or \
        _match_party(user, contract)


def can_act_for(user: User | None, contract: Contract) -> bool:
    """Withdraw, apply for a change or for cancellation."""
    if not _authenticated(user):
        return False
    return user.is_admin or _seller_side(user, contract) or _station_broker(user, contract)


def can_download(user: User | None, contract: Contract) -> bool:
    return _authenticated(user) and (is_registrar(user) or contract.applicant_id == user.id)


def _require_registrar(user: User) -> None:
    if not is_registrar(user):
        raise PermissionError("只有登记员或管理员可以审核技术合同")


# ---- validation ---------------------------------------------------------------------------

def _country(value) -> str:
    s = str(value or "").strip()
    return CHINA if not s or s.lower() in _CHINA_ALIASES else s


def _from_org(side: str, org: Organisation) -> dict:
    return {f"{side}_org_id": org.id, f"{side}_name": org.name, f"{side}_kind": org.kind,
            f"{side}_credit_code": org.credit_code, f"{side}_region": org.region, f"{side}_country": CHINA}


def _party(side: str, raw: dict, actor: User, v: Vocab, errors: dict) -> dict:
    """One party: an organisation of the directory (``<side>_org_id``) or one entered on the form."""
    label = SIDES[side]
    if side == "seller" and actor.has_role(Role.researcher, Role.enterprise):
        if actor.member_org_id is None:
            errors["seller_org_id"] = "您的账号尚未确认为单位成员，不能以单位名义申请"
            return {}
        return _from_org(side, actor.org)
    org_id = str(raw.get(f"{side}_org_id") or "").strip()
    if rules.is_ascii_int(org_id):
        org = db.session.get(Organisation, int(org_id))
        if org is None:
            errors[f"{side}_org_id"] = f"所选{label}单位不存在"
            return {}
        return _from_org(side, org)
    name = str(raw.get(f"{side}_name") or "").strip()
    kind = str(raw.get(f"{side}_kind") or "").strip()
    code = str(raw.get(f"{side}_credit_code") or "").strip().upper()
    region = str(raw.get(f"{side}_region") or "").strip()
    country = _country(raw.get(f"{side}_country"))
    if not 2 <= len(name) <= 100:
        errors[f"{side}_name"] = f"请选择{label}单位，或填写{label}名称（2–100 个字）"
    elif org := db.session.scalar(select(Organisation).where(Organisation.name == name)):
        return _from_org(side, org)
    if not v.allows("org_kind", kind):
        errors[f"{side}_kind"] = f"请选择{label}性质"
    if len(country) > 40:
        errors[f"{side}_country"] = "国家或地区最多 40 个字"
    if country == CHINA:
        if not region:
            errors[f"{side}_region"] = f"请填写{label}的行政区划代码（境内当事人必填）"
        elif msg := rules.check_region_code(region):
            errors[f"{side}_region"] = f"{label}：{msg}"
        if code and (msg := rules.check_credit_code(code)):
            errors[f"{side}_credit_code"] = f"{label}：{msg}"
    else:
        region = None
        if code:
            errors[f"{side}_credit_code"] = "境外当事人没有统一社会信用代码，请留空"
    return {f"{side}_org_id": None, f"{side}_name": name, f"{side}_kind": kind,
            f"{side}_credit_code": code or None, f"{side}_region": region, f"{side}_country": country}


def _check_type(raw: dict, errors: dict) -> dict:
    ctype, subtype = str(raw.get("ctype") or "").strip(), str(raw.get("subtype") or "").strip()
    if ctype not in TYPES:
        errors["ctype"] = "请选择合同类型"
    elif len(TYPES[ctype]) == 1 and not subtype:
        subtype = TYPES[ctype][0]
    elif subtype not in TYPES[ctype]:
        errors["ctype"] = f"请选择{ctype}合同的子类（{'、'.join(TYPES[ctype])}）"
    return {"ctype": ctype, "subtype": subtype}


def _check_amounts(values: dict, errors: dict) -> None:
    amount, tech = values.get("amount"), values.get("tech_amount")
    for name, label, value in (("amount", "合同成交额", amount), ("tech_amount", "技术交易额", tech)):
        if value is None or name in errors:
            continue
        if value <= 0:
            errors[name] = f"{label}应大于 0"
        elif value > MAX_CONTRACT_AMOUNT:
            errors[name] = f"{label}超过 100 亿元，请核对金额和单位（元）"
    if amount and tech and "amount" not in errors and "tech_amount" not in errors and tech > amount:
        errors["tech_amount"] = (f"技术交易额（{rules.format_amount(tech)}）不能大于合同成交额"
                                 f"（{rules.format_amount(amount)}）")
    if values.get("ctype") != "技术转让":
        for name in ("planned_investment", "planned_output"):
            if values.get(name) is not None:
                errors[name] = "预计新增投入和产值只由技术转让合同填写"


def _check_dates(values: dict, errors: dict, today: date) -> None:
    signed, start, end = values.get("signed_on"), values.get("valid_from"), values.get("valid_until")
    if signed is not None:
        if signed > today:
            errors["signed_on"] = "签订日期不能晚于今天"
        elif signed.year < 1990:
            errors["signed_on"] = "签订日期过早，请核对"
    if start is not None and end is not None and end < start:
        errors["valid_until"] = "有效期止不能早于有效期起"
    elif signed is not None and end is not None and end < signed:
        errors["valid_until"] = "有效期止不能早于签订日期"


def locality(values) -> str | None:
    """The region code the contract is registered under: the seller's, else (seller abroad) the buyer's."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    if get("seller_country") == CHINA:
        return get("seller_region")
    return get("buyer_region") if get("buyer_country") == CHINA else None


def _open_contract_for(match: Match, amends: Contract | None) -> Contract | None:
    stmt = select(Contract).where(Contract.match_id == match.id, Contract.status.in_(OPEN))
    if amends is not None:
        stmt = stmt.where(Contract.id != amends.id)
    return db.session.scalar(stmt.limit(1))


def may_link(actor: User, match: Match) -> bool:
    """Whether the actor may see and name a match on an application: admins any, brokers their
    station's (hall brokers any), a seller-side member its organisation's 成果 matches."""
    if actor.is_admin:
        return True
    if actor.has_role(Role.broker):
        return matches.is_broker_for(actor, match) or match.broker_id == actor.id
    org_id = actor.member_org_id if actor.has_role(Role.researcher, Role.enterprise) else None
    return org_id is not None and match.achievement.org_id == org_id


def contract_of(match: Match) -> Contract | None:
    """The contract (pending or registered) that names this match."""
    return _open_contract_for(match, None)


def may_apply_for(actor: User, match: Match) -> bool:
    """The match page offers 申请技术合同登记: a deal in 对接中/洽谈中 with no contract yet, to someone
    who may apply for the seller and name the match."""
    return (match.status in (MatchStatus.introduced.value, MatchStatus.negotiating.value)
            and can_apply(actor) and may_link(actor, match) and _open_contract_for(match, None) is None)


def _stations_for_member(actor: User) -> set[int]:
    """Stations a seller-side member may name without a match: the one serving its district, any it
    hosts, and the hall."""
    from . import stations
    org = actor.org
    found = {s.id for s in db.session.scalars(select(Station).where(
        Station.active.is_(True), or_(Station.is_hall.is_(True), Station.host_org_id == org.id)))}
    routed = stations.route_for(org)
    return found | ({routed.id} if routed is not None else set())


def _links(raw: dict, actor: User, values: dict, amends: Contract | None, errors: dict) -> dict:
    """The platform match the contract came from, the broker and the station, each consistent
    with the actor; a match the actor may not name is answered as if it did not exist."""
    match = None
    match_id = str(raw.get("match_id") or "").strip()
    if match_id:
        match = db.session.get(Match, rules.as_id(match_id) or 0)
        if match is None or not (may_link(actor, match) or (amends is not None and amends.match_id == match.id)):
            errors["match_id"], match = "所选对接不存在或您无权关联", None
        elif amends is not None and amends.match_id == match.id:
            pass
        elif match.status not in (MatchStatus.introduced.value, MatchStatus.negotiating.value):
            errors["match_id"] = f"该对接当前为“{match.status_label}”，只有对接中或洽谈中的对接可以关联合同"
        elif (values.get("seller_org_id"), values.get("buyer_org_id")) != (match.achievement.org_id,
                                                                            match.need.org_id):
            errors["match_id"] = "该对接的成果方和需求方与合同的卖方、买方不一致"
        elif _open_contract_for(match, amends) is not None:
            errors["match_id"] = "该对接已关联合同，不能再关联另一份"
    broker_id, station_id = str(raw.get("broker_id") or "").strip(), str(raw.get("station_id") or "").strip()
    broker = station = None
    if broker_id:
        broker = db.session.get(User, rules.as_id(broker_id) or 0)
        if broker is None or not broker.has_role(Role.broker):
            errors["broker_id"], broker = "所选技术经纪人不存在", None
    if station_id:
        station = db.session.get(Station, rules.as_id(station_id) or 0)
        if station is None:
            errors["station_id"] = "所选驿站不存在"
    kept = amends is not None and (broker_id or None) == (str(amends.broker_id) if amends.broker_id else None) \
        and (station_id or None) == (str(amends.station_id) if amends.station_id else None)
    if actor.has_role(Role.broker):
        if broker is not None and broker.id != actor.id and not kept:
            errors["broker_id"] = "经办技术经纪人只能是您本人"
        elif station is not None and station.id != actor.station_id and not kept and not (
                match is not None and station.id == match.station_id and actor.station is not None
                and actor.station.is_hall):
            errors["station_id"] = "只能填写您所在的驿站"
        broker = broker or actor
    elif not actor.is_admin and not kept:
        allowed = {match.station_id} if match is not None else _stations_for_member(actor)
        if station is not None and station.id not in allowed:
            errors["station_id"] = ("驿站由关联的平台对接确定" if match is not None
                                    else "只能填写为本单位服务的驿站或交易大厅")
        if broker is not None and match is not None and match.broker_id and broker.id != match.broker_id:
            errors["broker_id"] = "经办技术经纪人由关联的平台对接确定"
    if broker is None and match is not None:
        broker = match.broker
    if station is None:
        station = broker.station if broker is not None else (match.station if match is not None else None)
    if broker is not None and station is not None and broker.station_id != station.id \
            and "broker_id" not in errors and "station_id" not in errors:
        errors["broker_id"] = f"{broker.display_name}不是{station.name}的技术经纪人"
    return {"match_id": match.id if match is not None and "match_id" not in errors else None,
            "broker_id": broker.id if broker else None, "station_id": station.id if station else None}


def _check_duplicate(values: dict, amends: Contract | None, errors: dict) -> None:
    stmt = select(Contract).where(Contract.seller_name == values["seller_name"],
                                  Contract.buyer_name == values["buyer_name"], Contract.title == values["title"],
                                  Contract.signed_on == values["signed_on"], Contract.status.in_(OPEN))
    if amends is not None:
        stmt = stmt.where(Contract.id != amends.id)
    dup = db.session.scalar(stmt.limit(1))
    if dup is not None:
        errors[""] = (f"重复申请：已有当事人、项目名称和签订日期都相同的合同（{dup.number or '待登记'}），"
                      f"请勿重复提交；如需修改已登记的合同，请申请变更")


_TEXT_KEYS = ("ctype", "subtype", "match_id", "broker_id", "station_id",
              *(f"{side}_{k}" for side in SIDES for k in ("org_id", "name", "kind", "credit_code", "region", "country")))


def _plain_text(raw: dict, errors: dict) -> dict:
    """Parties, type and links are text (a JSON body may carry anything): others are refused,
    invisible characters dropped."""
    out = dict(raw)
    for key in _TEXT_KEYS:
        value = raw.get(key)
        if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            out[key] = rules.strip_invisible(str(value)) if value is not None else None
        else:
            errors[key], out[key] = "类型不对，应为文本", None
    return out


def validate(raw: dict, actor: User, amends: Contract | None = None, today: date | None = None) -> dict:
    """Typed values of an application, or ValidationError with every problem in Chinese."""
    today = today or date.today()
    v = vocab()
    errors: dict[str, str] = {}
    raw = _plain_text(raw, errors)
    try:
        values = clean(FIELDS, raw, v)
    except ValidationError as e:
        errors.update(e.errors)
        values = {}
    values.update(_check_type(raw, errors))
    for side in SIDES:
        values.update(_party(side, raw, actor, v, errors))
    if values.get("seller_name") and values.get("seller_name") == values.get("buyer_name"):
        errors["buyer_name"] = "买方与卖方不能是同一单位"
    if values.get("seller_name") and values.get("buyer_name") and not locality(values) \
            and not any(k.startswith(("seller_", "buyer_")) for k in errors):
        errors["seller_country"] = "买卖双方至少一方应为境内当事人"
    _check_amounts(values, errors)
    _check_dates(values, errors, today)
    values.update(_links(raw, actor, values, amends, errors))
    if not errors:
        _check_duplicate(values, amends, errors)
    if errors:
        raise ValidationError(errors)
    return values


def review_days(tech_amount: Decimal) -> int:
    return LONG_REVIEW_DAYS if tech_amount >= LONG_REVIEW_AMOUNT else REVIEW_DAYS


def deadline(submitted: date, tech_amount: Decimal) -> date:
    """Registrars decide within 15 working days of the application (30 when 技术交易额 ≥ 500万元)."""
    return workdays.add_working_days(submitted, review_days(tech_amount))


def days_left(due_on: date, today: date | None = None) -> int:
    """Working days left until the deadline; negative once it has passed (at least -1, even when
    only a weekend lies between)."""
    today = today or date.today()
    if today > due_on:
        return -max(1, workdays.working_days_between(due_on, today))
    return workdays.working_days_between(today, due_on)


def working_days_left(contract: Contract, today: date | None = None) -> int:
    return days_left(contract.due_on, today)


# ---- use cases ----------------------------------------------------------------------------

def _record(contract: Contract, actor: User | None, action: str, note: str = "", before: str | None = None,
            at: datetime | None = None) -> None:
    db.session.add(ContractEvent(contract=contract, actor=actor, action=action, from_status=before,
                                 to_status=contract.status, note=note or "", at=at or utcnow()))


def _tell(user: User | None, key: str, title: str, body: str, contract: Contract) -> None:
    send_notice(user, title, body, link=f"/contracts/{contract.id}", key=key)  # in-app, and mail when SMTP is set


def _flush() -> None:
    matches.flush_or_conflict(Conflict)


def submit(raw: dict, actor: User, file=None, amends: Contract | None = None, now: datetime | None = None,
           ext_id: str | None = None) -> Contract:
    """A registration application (or, with ``amends``, a change application); nothing is stored
    when anything is wrong, the scanned contract included."""
    if not can_apply(actor):
        raise PermissionError("只有卖方单位的用户、技术经纪人或管理员可以申请技术合同登记")
    now = now or utcnow()
    errors = {}
    values = {}
    try:
        values = validate(raw, actor, amends, today=now.date())
    except ValidationError as e:
        errors.update(e.errors)
    try:
        upload = uploads.check(file)
    except ValueError as e:
        errors["attachment"] = f"合同扫描件：{e}"
    if errors:
        raise ValidationError(errors)
    contract = Contract(**values, applicant=actor, status=S.pending.value, submitted_at=now, amends=amends,
                        due_on=deadline(now.date(), values["tech_amount"]), ext_id=ext_id)
    stored = uploads.save(upload) if upload else None
    if stored:
        contract.file_key, contract.file_name, contract.file_mime, contract.file_size = \
            stored.key, stored.name, stored.mime, stored.size
    elif amends is not None:
        contract.file_key, contract.file_name, contract.file_mime, contract.file_size = \
            amends.file_key, amends.file_name, amends.file_mime, amends.file_size
    db.session.add(contract)
    try:
        db.session.flush()
    except Exception:
        if stored:
            uploads.discard(stored.key)
        raise
    note = f"变更已登记的合同 {amends.number}" if amends is not None else ""
    _record(contract, actor, "change" if amends is not None else "submit", note, at=now)
    match = contract.match
    if match is not None and amends is None:
        matches.record_contract_applied(match, actor, contract)
        if match.broker is not None and match.broker_id != actor.id:
            _tell(match.broker, f"contract:{contract.id}:submitted", f"#{match.id} 已申请技术合同登记",
                  f"“{contract.title}”已提交登记申请。", contract)
    return contract


def submit_change(original: Contract, raw: dict, actor: User, file=None, now: datetime | None = None) -> Contract:
    if not can_act_for(actor, original):
        raise PermissionError("只有申请方、该驿站的技术经纪人或管理员可以申请变更")
    if original.status != S.registered.value:
        raise NotAllowed(f"该合同当前为“{original.status_label}”，只有已登记的合同可以申请变更")
    if original.cancel_requested_at is not None:
        raise NotAllowed("该合同正在申请注销，不能同时申请变更")
    if pending_change(original) is not None:
        raise NotAllowed("该合同已有一份待登记的变更申请")
    return submit(raw, actor, file, amends=original, now=now)


def pending_change(contract: Contract) -> Contract | None:
    return db.session.scalar(select(Contract).where(Contract.amends_id == contract.id,
                                                    Contract.status == S.pending.value))


def allocate_number(region: str, year: int) -> str:
    """The next 登记编号 of (region, year). The counter row stays locked until the transaction ends,
    so concurrent registrations queue behind each other and a rollback returns the serial."""
    counter = ContractCounter.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(pg_insert(counter).values(region=region, year=year, last=0)
                           .on_conflict_do_nothing(index_elements=["region", "year"]))
    elif dialect == "sqlite":
        db.session.execute(sqlite_insert(counter).values(region=region, year=year, last=0)
                           .on_conflict_do_nothing())
    else:
        exists = db.session.execute(select(counter.c.last).where(counter.c.region == region,
                                                                 counter.c.year == year).with_for_update()).first()
        if exists is None:
            db.session.execute(counter.insert().values(region=region, year=year, last=0))
    serial = db.session.execute(update(counter).where(counter.c.region == region, counter.c.year == year)
                                .values(last=counter.c.last + 1).returning(counter.c.last)).scalar_one()
    if serial > 999999:
        raise NotAllowed(f"{region} 地区 {year} 年的登记编号已用完")
    return f"{year:04d}{region}{serial:06d}"


CHECKLIST = {
    "parties": "买卖双方名称、性质与所在地与合同文本一致",
    "type": "合同类型与技术交易额的核定依据符合认定规则",
    "scan": "扫描件清晰完整，签章齐全",
}


def check_approval(contract: Contract, approved, note: str = "", checked=None) -> tuple[Decimal | None, str | None]:
    """The registrar's review: every checklist item ticked, and a 核定技术交易额 no higher than the
    applicant's figure (a lower one needs the reason)."""
    errors = {}
    if checked is not None and set(CHECKLIST) - set(checked):
        errors["checklist"] = "请逐项核对审查要点并勾选"
    note = (note or "").strip()
    amount = None
    if approved not in (None, ""):
        try:
            amount = rules.parse_amount(approved)
        except ValueError as e:
            errors["approved_tech_amount"] = f"核定技术交易额：{e}"
        else:
            if amount <= 0:
                errors["approved_tech_amount"] = "核定技术交易额应大于 0；不予认定的请作出未予登记决定"
            elif amount > contract.tech_amount:
                errors["approved_tech_amount"] = (f"核定技术交易额不能高于申报的{rules.format_amount(contract.tech_amount)}；"
                                                  "如申报有误，请未予登记并请申请方修改")
            elif amount < contract.tech_amount and not note:
                errors["approved_note"] = "核定额低于申报额时，请写明核减理由"
    if len(note) > 1000:
        errors["approved_note"] = "说明最多 1000 个字"
    if errors:
        raise ValidationError(errors)
    if amount is None or amount == contract.tech_amount:
        return None, None
    return amount, note


def register(contract: Contract, registrar: User, now: datetime | None = None, notify: bool = True,
             approved=None, approved_note: str = "", checked=None) -> Contract:
    """认定登记: issue the 登记编号; a change supersedes the version it amends; a named match is contracted.
    ``approved`` sets the 核定技术交易额 when lower than the applicant's figure; ``checked`` (the web
    form's ticked checklist items) must cover CHECKLIST when given."""
    _require_registrar(registrar)
    if contract.status != S.pending.value:
        raise NotAllowed(f"该申请当前为“{contract.status_label}”，不能登记")
    contract.approved_tech_amount, contract.approved_note = check_approval(contract, approved, approved_note, checked)
    original = contract.amends
    if original is not None and original.status != S.registered.value:
        raise NotAllowed(f"被变更的合同当前为“{original.status_label}”，不能登记这份变更")
    now = now or utcnow()
    today = now.date()
    before = contract.status
    contract.status = S.registered.value
    contract.decided_at, contract.decided_by, contract.registered_on = now, registrar, today
    contract.stat_date = original.stat_date if original is not None and original.stat_date else today
    _flush()  # claims the application: a second registrar's flush fails here, before a number is drawn
    contract.number = allocate_number(locality(contract), today.year)
    _record(contract, registrar, "register", f"登记编号 {contract.number}", before, now)
    if original is not None:
        original.status = S.superseded.value
        _record(original, registrar, "supersede", f"由变更登记 {contract.number} 取代", S.registered.value, now)
        if original.cancel_requested_at is not None:
            original.cancel_requested_at = None
    match = contract.match
    if match is not None and match.status in (MatchStatus.introduced.value, MatchStatus.negotiating.value):
        matches.mark_contracted(match, registrar, f"技术合同已登记，登记编号 {contract.number}")
    _flush()
    if notify:
        body = f"登记编号 {contract.number}。"
        if contract.approved_tech_amount is not None:
            body += (f"核定技术交易额{rules.format_amount(contract.approved_tech_amount)}"
                     f"（申报{rules.format_amount(contract.tech_amount)}）：{contract.approved_note}")
        _tell_parties(contract, "registered", f"技术合同“{contract.title}”已登记", body)
    return contract


def _tell_parties(contract: Contract, what: str, title: str, body: str) -> None:
    """A decision goes to the applicant and, for a contract from a platform match, to both parties
    of the match and its broker."""
    people = [contract.applicant]
    if contract.match is not None:
        people += [contract.match.need.owner, contract.match.achievement.owner, contract.match.broker]
    for user in {u.id: u for u in people if u is not None}.values():
        _tell(user, f"contract:{contract.id}:{what}:{user.id}", title, body, contract)


def refuse(contract: Contract, registrar: User, code, note: str = "", now: datetime | None = None,
           notify: bool = True) -> Contract:
    """未予登记 with one of the nine standard reasons and a note the applicant sees."""
    _require_registrar(registrar)
    if contract.status != S.pending.value:
        raise NotAllowed(f"该申请当前为“{contract.status_label}”，不能作出未予登记决定")
    code, note = str(code or "").strip(), (note or "").strip()
    errors = {}
    if code not in REFUSAL_REASONS:
        errors["refusal_code"] = "请选择未予登记的理由"
    elif code == "9" and not note:
        errors["refusal_note"] = "选择“其他”时请写明理由"
    if len(note) > 1000:
        errors["refusal_note"] = "说明最多 1000 个字"
    if errors:
        raise ValidationError(errors)
    now = now or utcnow()
    before = contract.status
    contract.status = S.refused.value
    contract.refusal_code, contract.refusal_note = code, note or None
    contract.decided_at, contract.decided_by = now, registrar
    _flush()
    _record(contract, registrar, "refuse", refusal_text(contract), before, now)
    if notify:
        _tell_parties(contract, "refused", f"技术合同“{contract.title}”未予登记",
                      f"理由：{refusal_text(contract)}。可按说明修改后重新申请。")
    return contract


def refusal_text(contract: Contract) -> str:
    if not contract.refusal_code:
        return ""
    label = REFUSAL_REASONS.get(contract.refusal_code, contract.refusal_code)
    return f"{contract.refusal_code}. {label}" + (f"——{contract.refusal_note}" if contract.refusal_note else "")


def withdraw(contract: Contract, actor: User, note: str = "", now: datetime | None = None) -> Contract:
    if not can_act_for(actor, contract):
        raise PermissionError("只有申请方、该驿站的技术经纪人或管理员可以撤回申请")
    if contract.status != S.pending.value:
        raise NotAllowed(f"该申请当前为“{contract.status_label}”，不能撤回")
    before = contract.status
    contract.status = S.withdrawn.value
    _flush()
    _record(contract, actor, "withdraw", note.strip(), before, now)
    return contract


def _required_note(note: str, what: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": f"请写明{what}"})
    if len(note) > 1000:
        raise ValidationError({"note": "说明最多 1000 个字"})
    return note


def request_cancel(contract: Contract, actor: User, note: str, now: datetime | None = None) -> Contract:
    """The applicant side asks the registrar to cancel (注销) a registered contract."""
    if not can_act_for(actor, contract):
        raise PermissionError("只有申请方、该驿站的技术经纪人或管理员可以申请注销")
    if contract.status != S.registered.value:
        raise NotAllowed(f"该合同当前为“{contract.status_label}”，只有已登记的合同可以申请注销")
    if contract.cancel_requested_at is not None:
        raise NotAllowed("已经提交过注销申请，请等待登记员处理")
    if pending_change(contract) is not None:
        raise NotAllowed("该合同有待登记的变更申请，请先撤回变更申请")
    note = _required_note(note, "注销原因")
    now = now or utcnow()
    contract.cancel_requested_at, contract.cancel_request_note = now, note
    _flush()
    _record(contract, actor, "cancel_request", note, contract.status, now)
    return contract


def cancel(contract: Contract, registrar: User, note: str, now: datetime | None = None,
           notify: bool = True) -> Contract:
    """注销登记: the contract leaves the statistics; its record and number stay."""
    _require_registrar(registrar)
    if contract.status != S.registered.value:
        raise NotAllowed(f"该合同当前为“{contract.status_label}”，只有已登记的合同可以注销")
    if pending_change(contract) is not None:
        raise NotAllowed("该合同有待登记的变更申请，请先对变更申请作出决定")
    note = _required_note(note, "注销理由")
    now = now or utcnow()
    before = contract.status
    contract.status = S.cancelled.value
    contract.cancelled_at, contract.cancel_requested_at = now, None
    _flush()
    _record(contract, registrar, "cancel", note, before, now)
    if notify:
        _tell(contract.applicant, f"contract:{contract.id}:cancelled", f"技术合同“{contract.title}”已注销登记",
              f"登记编号 {contract.number}。说明：{note}", contract)
    return contract


def decline_cancel(contract: Contract, registrar: User, note: str, now: datetime | None = None) -> Contract:
    _require_registrar(registrar)
    if contract.status != S.registered.value or contract.cancel_requested_at is None:
        raise NotAllowed("该合同没有待处理的注销申请")
    note = _required_note(note, "驳回理由")
    now = now or utcnow()
    contract.cancel_requested_at = None
    _flush()
    _record(contract, registrar, "cancel_declined", note, contract.status, now)
    _tell(contract.applicant, f"contract:{contract.id}:cancel_declined:{now.isoformat()}",
          f"技术合同“{contract.title}”的注销申请未获同意", f"说明：{note}", contract)
    return contract


# ---- reading ------------------------------------------------------------------------------

def _matches_owned_by(user: User):
    from ..models import Need
    return select(Match.id).where(or_(Match.need_id.in_(select(Need.id).where(Need.owner_id == user.id)),
                                      Match.achievement_id.in_(select(Achievement.id).where(
                                          Achievement.owner_id == user.id))))


def visible_query(user: User, status: str = "", q: str = ""):
    """Contracts whose full record the user may see, newest application first."""
    stmt = select(Contract)
    if not is_registrar(user):
        conds = [Contract.applicant_id == user.id, Contract.match_id.in_(_matches_owned_by(user))]
        if user.has_role(Role.researcher, Role.enterprise) and user.member_org_id is not None:
            conds.append(Contract.seller_org_id == user.member_org_id)
        if user.has_role(Role.broker):
            conds.append(Contract.broker_id == user.id)
            if user.station_id is not None:
                conds.append(Contract.station_id == user.station_id)
        stmt = stmt.where(or_(*conds))
    if status in {s.value for s in S}:
        stmt = stmt.where(Contract.status == status)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Contract.title.like(like), Contract.number.like(like),
                              Contract.seller_name.like(like), Contract.buyer_name.like(like)))
    return stmt.order_by(Contract.submitted_at.desc(), Contract.id.desc())


def queue() -> dict[str, list[Contract]]:
    """The registrar's work: applications by deadline, then registered contracts asking to be cancelled."""
    pending = db.session.scalars(select(Contract).where(Contract.status == S.pending.value)
                                 .order_by(Contract.due_on, Contract.submitted_at, Contract.id)).all()
    cancels = db.session.scalars(select(Contract).where(Contract.status == S.registered.value,
                                                        Contract.cancel_requested_at.is_not(None))
                                 .order_by(Contract.cancel_requested_at)).all()
    return {"pending": pending, "cancels": cancels}


def pending_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Contract).where(Contract.status == S.pending.value))


def versions(contract: Contract) -> list[Contract]:
    """Every version of the contract, oldest first (the changes that amend one another)."""
    first = contract
    while first.amends is not None:
        first = first.amends
    chain, current = [first], first
    while nxt := db.session.scalar(select(Contract).where(Contract.amends_id == current.id)
                                   .order_by(Contract.id.desc()).limit(1)):
        chain.append(nxt)
        current = nxt
    return chain


def linkable_matches(actor: User) -> list[Match]:
    """Matches in 对接中/洽谈中 the actor may name on an application."""
    stmt = select(Match).where(Match.status.in_((MatchStatus.introduced.value, MatchStatus.negotiating.value)))
    if actor.has_role(Role.researcher, Role.enterprise):
        stmt = stmt.join(Achievement, Match.achievement_id == Achievement.id).where(
            Achievement.org_id == actor.member_org_id)
    elif actor.has_role(Role.broker) and not (actor.station is not None and actor.station.is_hall):
        stmt = stmt.where(or_(Match.station_id == actor.station_id, Match.broker_id == actor.id))
    linked = select(Contract.match_id).where(Contract.match_id.is_not(None), Contract.status.in_(OPEN))
    return db.session.scalars(stmt.where(Match.id.not_in(linked)).order_by(Match.id.desc()).limit(200)).all()


def values_from_match(match: Match) -> dict:
    """Form values an application starts from when it names a match."""
    return {"match_id": str(match.id), "seller_org_id": str(match.achievement.org_id),
            "buyer_org_id": str(match.need.org_id), "title": match.achievement.title[:100],
            "field": match.achievement.field,
            "station_id": str(match.station_id or ""), "broker_id": str(match.broker_id or "")}


def values_of(contract: Contract) -> dict:
    """Form values of an existing contract (for a change, or a new application after a refusal)."""
    out = {f.name: getattr(contract, f.name) for f in FIELDS}
    out.update(ctype=contract.ctype, subtype=contract.subtype, match_id=str(contract.match_id or ""),
               station_id=str(contract.station_id or ""), broker_id=str(contract.broker_id or ""))
    for side in SIDES:
        for key in ("org_id", "name", "kind", "credit_code", "region", "country"):
            value = getattr(contract, f"{side}_{key}")
            out[f"{side}_{key}"] = "" if value is None else str(value)
    return out
