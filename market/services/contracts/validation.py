"""An application's fields, parties, type, amounts, dates and links to a match, station and
broker — checked the same way for the web form, the JSON API and bulk import — and the
registrar's 核定技术交易额."""

from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select

from ...extensions import db
from ...models import Contract, ContractStatus, Match, MatchStatus, Organisation, Role, Station, User
from ...validation import reference, rules
from ...validation.fields import Field, ValidationError, Vocab, clean
from .. import matches

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
GOALS = (
    "环境保护、生态建设及污染防治",
    "能源生产、分配和合理利用",
    "卫生事业发展",
    "教育事业发展",
    "基础设施以及城市和农村规划",
    "社会发展和社会服务",
    "地球和大气层的探索与利用",
    "民用空间探测及开发",
    "农林牧渔业发展",
    "促进工业发展",
    "非定向研究",
    "其他民用目标",
)
# 单位性质 (the organisation kinds of the taxonomy) → the party nature the statistics report
NATURES = {
    "高校": "高等院校",
    "科研院所": "科研机构",
    "新型研发机构": "科研机构",
    "国有企业": "企业",
    "民营企业": "企业",
    "外资企业": "企业",
    "政府机构": "机关团体",
    "服务机构": "其他组织",
    "个人": "个人",
}
CHINA = "中国"
_CHINA_ALIASES = {"中国", "中华人民共和国", "中国大陆", "china", "cn", "prc"}
MAX_CONTRACT_AMOUNT = Decimal("10000000000")  # 100亿元 for one contract: beyond that it is a typo
OPEN = (ContractStatus.pending.value, ContractStatus.registered.value)

FIELDS = (
    Field("title", "项目名称", required=True, min_len=4, max_len=100, aliases=("合同名称",)),
    Field("amount", "合同成交额", type="money", required=True, aliases=("成交额",), help="元，可写 50万"),
    Field(
        "tech_amount",
        "技术交易额",
        type="money",
        required=True,
        help="成交额减去设备、材料等非技术性费用，不能大于成交额",
    ),
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


def vocab() -> Vocab:
    v = reference.vocab()
    return Vocab(
        names={**v.names, "contract_goal": list(GOALS)}, chain_children=v.chain_children, trl_stage=v.trl_stage
    )


def nature(kind: str | None) -> str:
    return NATURES.get(kind or "", "其他组织")


def _country(value) -> str:
    s = str(value or "").strip()
    return CHINA if not s or s.lower() in _CHINA_ALIASES else s


def _from_org(side: str, org: Organisation) -> dict:
    return {
        f"{side}_org_id": org.id,
        f"{side}_name": org.name,
        f"{side}_kind": org.kind,
        f"{side}_credit_code": org.credit_code,
        f"{side}_region": org.region,
        f"{side}_country": CHINA,
    }


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
    return {
        f"{side}_org_id": None,
        f"{side}_name": name,
        f"{side}_kind": kind,
        f"{side}_credit_code": code or None,
        f"{side}_region": region,
        f"{side}_country": country,
    }


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
        errors["tech_amount"] = (
            f"技术交易额（{rules.format_amount(tech)}）不能大于合同成交额（{rules.format_amount(amount)}）"
        )
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


def _stations_for_member(actor: User) -> set[int]:
    """Stations a seller-side member may name without a match: the one serving its district, any it
    hosts, and the hall."""
    from .. import stations

    org = actor.org
    found = {
        s.id
        for s in db.session.scalars(
            select(Station).where(
                Station.active.is_(True), or_(Station.is_hall.is_(True), Station.host_org_id == org.id)
            )
        )
    }
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
        elif (values.get("seller_org_id"), values.get("buyer_org_id")) != (match.achievement.org_id, match.need.org_id):
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
    kept = (
        amends is not None
        and (broker_id or None) == (str(amends.broker_id) if amends.broker_id else None)
        and (station_id or None) == (str(amends.station_id) if amends.station_id else None)
    )
    if actor.has_role(Role.broker):
        if broker is not None and broker.id != actor.id and not kept:
            errors["broker_id"] = "经办技术经纪人只能是您本人"
        elif (
            station is not None
            and station.id != actor.station_id
            and not kept
            and not (
                match is not None
                and station.id == match.station_id
                and actor.station is not None
                and actor.station.is_hall
            )
        ):
            errors["station_id"] = "只能填写您所在的驿站"
        broker = broker or actor
    elif not actor.is_admin and not kept:
        allowed = {match.station_id} if match is not None else _stations_for_member(actor)
        if station is not None and station.id not in allowed:
            errors["station_id"] = (
                "驿站由关联的平台对接确定" if match is not None else "只能填写为本单位服务的驿站或交易大厅"
            )
        if broker is not None and match is not None and match.broker_id and broker.id != match.broker_id:
            errors["broker_id"] = "经办技术经纪人由关联的平台对接确定"
    if broker is None and match is not None:
        broker = match.broker
    if station is None:
        station = broker.station if broker is not None else (match.station if match is not None else None)
    if (
        broker is not None
        and station is not None
        and broker.station_id != station.id
        and "broker_id" not in errors
        and "station_id" not in errors
    ):
        errors["broker_id"] = f"{broker.display_name}不是{station.name}的技术经纪人"
    return {
        "match_id": match.id if match is not None and "match_id" not in errors else None,
        "broker_id": broker.id if broker else None,
        "station_id": station.id if station else None,
    }


def _check_duplicate(values: dict, amends: Contract | None, errors: dict) -> None:
    stmt = select(Contract).where(
        Contract.seller_name == values["seller_name"],
        Contract.buyer_name == values["buyer_name"],
        Contract.title == values["title"],
        Contract.signed_on == values["signed_on"],
        Contract.status.in_(OPEN),
    )
    if amends is not None:
        stmt = stmt.where(Contract.id != amends.id)
    dup = db.session.scalar(stmt.limit(1))
    if dup is not None:
        errors[""] = (
            f"重复申请：已有当事人、项目名称和签订日期都相同的合同（{dup.number or '待登记'}），"
            f"请勿重复提交；如需修改已登记的合同，请申请变更"
        )


_TEXT_KEYS = (
    "ctype",
    "subtype",
    "match_id",
    "broker_id",
    "station_id",
    *(f"{side}_{k}" for side in SIDES for k in ("org_id", "name", "kind", "credit_code", "region", "country")),
)


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
    if (
        values.get("seller_name")
        and values.get("buyer_name")
        and not locality(values)
        and not any(k.startswith(("seller_", "buyer_")) for k in errors)
    ):
        errors["seller_country"] = "买卖双方至少一方应为境内当事人"
    _check_amounts(values, errors)
    _check_dates(values, errors, today)
    values.update(_links(raw, actor, values, amends, errors))
    if not errors:
        _check_duplicate(values, amends, errors)
    if errors:
        raise ValidationError(errors)
    return values


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
                errors["approved_tech_amount"] = (
                    f"核定技术交易额不能高于申报的{rules.format_amount(contract.tech_amount)}；"
                    "如申报有误，请未予登记并请申请方修改"
                )
            elif amount < contract.tech_amount and not note:
                errors["approved_note"] = "核定额低于申报额时，请写明核减理由"
    if len(note) > 1000:
        errors["approved_note"] = "说明最多 1000 个字"
    if errors:
        raise ValidationError(errors)
    if amount is None or amount == contract.tech_amount:
        return None, None
    return amount, note
