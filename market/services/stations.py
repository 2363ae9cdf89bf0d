"""Broker stations (驿站) and the routing of a listing to one."""
import re

from sqlalchemy import select

from ..extensions import db
from ..models import Organisation, Station
from . import rules
from .schema import ValidationError


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
    station = Station(code=code, name=name, host=host, region=region, districts=districts,
                      is_hall=bool(data.get("is_hall")))
    db.session.add(station)
    db.session.flush()
    return station


def route_for(org: Organisation | None, intake: Station | None = None) -> Station | None:
    """The station whose queue gets a listing: the intake station, else the district's, else the hall."""
    if intake is not None and intake.active:
        return intake
    stations = db.session.scalars(select(Station).where(Station.active.is_(True)).order_by(Station.id)).all()
    if org is not None:
        for s in stations:
            if org.region in (s.districts or []):
                return s
    return next((s for s in stations if s.is_hall), None)
