"""Broker stations (驿站): who may see and edit a station's page, the routing of a listing to one,
and a station's figures."""

import re

from sqlalchemy import select

from ..extensions import db
from ..models import Organisation, Role, Station, StationEdit, User
from ..validation import reference, rules
from ..validation.fields import Field, ValidationError, clean


def create(data: dict) -> Station:
    errors = {}
    code = (data.get("code") or "").strip().upper()
    name = (data.get("name") or "").strip()
    if not re.fullmatch(r"[A-Z0-9_]{2,20}", code):
        errors["code"] = "驿站代码为 2–20 位大写字母或数字"
    elif db.session.scalar(select(Station.id).where(Station.code == code)):
        errors["code"] = "驿站代码已存在"
    if not 2 <= len(name) <= 100:
        errors["name"] = "请填写驿站名称"
    elif db.session.scalar(select(Station.id).where(Station.name == name)):
        errors["name"] = "驿站名称已存在"
    host_id = str(data.get("host_org_id") or "")
    host = db.session.get(Organisation, int(host_id)) if rules.is_ascii_int(host_id) else None
    if host is None:
        errors["host_org_id"] = "请选择依托单位"
    region = (data.get("region") or "").strip()
    if msg := rules.check_region_code(region):
        errors["region"] = msg
    districts = [d for d in data.get("districts") or [] if d]
    bad = [d for d in districts if rules.check_region_code(d)]
    if bad:
        errors["districts"] = f"服务区县代码无效：{'、'.join(bad)}"
    if errors:
        raise ValidationError(errors)
    station = Station(
        code=code, name=name, host=host, region=region, districts=districts, is_hall=bool(data.get("is_hall"))
    )
    db.session.add(station)
    db.session.flush()
    return station


def route_for(org: Organisation | None, intake: Station | None = None) -> Station | None:
    """The station whose queue gets a listing: the intake station, else the one serving the
    organisation by name, else the district's, else the hall."""
    if intake is not None and intake.active:
        return intake
    stations = db.session.scalars(select(Station).where(Station.active.is_(True)).order_by(Station.id)).all()
    if org is not None:
        for s in stations:
            if org.id in (s.served_orgs or []):
                return s
        for s in stations:
            if org.region in (s.districts or []):
                return s
    return next((s for s in stations if s.is_hall), None)


def serving(listing) -> Station | None:
    """The station a visitor reaches for a listing: the one whose queue holds it while that station
    is open, else the one the routing rule picks today."""
    if listing.station is not None and listing.station.active:
        return listing.station
    return route_for(listing.org)


# ---- who sees and edits a station --------------------------------------------------------


def visible(user, station: Station) -> bool:
    """Open stations are public; a closed one only to platform admins."""
    return station.active or bool(getattr(user, "is_authenticated", False) and user.is_admin)


def public_list() -> list[Station]:
    return list(
        db.session.scalars(select(Station).where(Station.active.is_(True)).order_by(Station.is_hall.desc(), Station.id))
    )


def brokers(station: Station) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.station_id == station.id, User.role == Role.broker.value, User.active.is_(True))
            .order_by(User.station_admin.desc(), User.id)
        )
    )


def is_station_broker(user, station_id: int | None) -> bool:
    """A broker of that very station (not the hall's, not another's)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.has_role(Role.broker)
        and station_id is not None
        and user.station_id == station_id
    )


def can_edit_page(user, station: Station) -> bool:
    """Platform admins, and the station's own brokers who hold the station-admin flag."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_admin or (is_station_broker(user, station.id) and user.station_admin)


PAGE_FIELDS = (
    Field("address", "地址", required=True, min_len=5, max_len=200),
    Field("phone", "联系电话", "phone", required=True, max_len=40),
    Field("hours", "办公时间", required=True, min_len=4, max_len=100),
    Field("description", "驿站简介", "longtext", max_len=1000),
)
PAGE_LABELS = {**{f.name: f.label for f in PAGE_FIELDS}, "districts": "服务区县", "served_orgs": "服务单位"}


def update_page(station: Station, data: dict, actor: User) -> StationEdit | None:
    """Check every field (all problems at once), apply, and keep the edit in the station's history.
    Nothing changed: nothing recorded (None)."""
    if not can_edit_page(actor, station):
        raise PermissionError("只有该驿站的驿站管理员或平台管理员可以修改驿站信息")
    errors = {}
    try:
        values = clean(PAGE_FIELDS, data, reference.vocab())
    except ValidationError as e:
        values, errors = {}, dict(e.errors)
    local = rules.zhengzhou_districts()
    order = {code: i for i, code in enumerate(local)}
    districts = sorted(
        {d.strip() for d in data.get("districts") or [] if d and d.strip()},
        key=lambda d: (order.get(d, len(order)), d),
    )  # one order: no change by reordering
    bad = [d for d in districts if d not in local]
    if bad:
        errors["districts"] = f"服务区县只能选郑州市的区县，无效：{'、'.join(bad)[:100]}"
    org_ids = [rules.as_id(o) for o in data.get("served_orgs") or [] if str(o).strip()]
    known = set(db.session.scalars(select(Organisation.id).where(Organisation.id.in_([o for o in org_ids if o]))))
    if any(o not in known for o in org_ids):
        errors["served_orgs"] = "服务单位中有不存在的单位"
    if len(org_ids) > 50:
        errors["served_orgs"] = "服务单位最多 50 个"
    team = {b.id: b for b in brokers(station)}
    expertise = {}
    for key, text in (data.get("expertise") or {}).items():
        broker = team.get(rules.as_id(key))
        text = rules.strip_invisible(str(text or "")).strip()
        if broker is None:
            errors["expertise"] = "只能填写本驿站技术经纪人的领域"
        elif len(text) > 40:
            errors[f"expertise-{broker.id}"] = f"{broker.display_name}的领域最多 40 个字，现有 {len(text)} 个"
        else:
            expertise[broker] = text or None
    if errors:
        raise ValidationError(errors)
    values.update(districts=districts, served_orgs=sorted(set(org_ids)))
    changes = {
        k: [getattr(station, k) or ([] if k in ("districts", "served_orgs") else None), v]
        for k, v in values.items()
        if (getattr(station, k) or None) != (v or None)
    }
    for k, (_, v) in changes.items():
        setattr(station, k, v)
    for broker, text in expertise.items():
        if broker.expertise != text:
            changes[f"领域·{broker.display_name}"] = [broker.expertise, text]
            broker.expertise = text
    if not changes:
        return None
    edit = StationEdit(station_id=station.id, actor_id=actor.id, changes=changes)
    db.session.add(edit)
    db.session.flush()
    return edit


def history(station: Station) -> list[StationEdit]:
    return list(
        db.session.scalars(
            select(StationEdit).where(StationEdit.station_id == station.id).order_by(StationEdit.id.desc())
        )
    )


def set_station_admin(broker: User, flag: bool, actor: User) -> None:
    """Platform admins grant or take back the station-admin flag of a station's broker."""
    if not actor.is_admin:
        raise PermissionError("只有平台管理员可以设置驿站管理员")
    if not broker.has_role(Role.broker) or broker.station_id is None:
        raise ValidationError({"": "只能把驿站的技术经纪人设为驿站管理员"})
    broker.station_admin = bool(flag)
    db.session.flush()


def served_orgs(station: Station) -> list[Organisation]:
    ids = station.served_orgs or []
    return (
        list(db.session.scalars(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)))
        if ids
        else []
    )
