"""Accounts: registration (picking or creating an organisation), login throttling, role grants."""
import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import LoginAttempt, Organisation, Role, Station, User, utcnow
from ..models.org import ENTERPRISE_KINDS, RESEARCH_KINDS
from . import reference, rules
from .schema import ValidationError

_USERNAME = re.compile(r"[A-Za-z0-9_.\-@]{3,40}")


class LoginThrottled(Exception):
    def __init__(self, minutes: int):
        super().__init__(f"登录失败次数过多，请 {minutes} 分钟后再试")
        self.minutes = minutes


def validate_org(data: dict, existing: Organisation | None = None) -> dict:
    """Checked values of an organisation; ``existing`` is the organisation being edited."""
    errors = {}
    name = (data.get("name") or "").strip()
    kind = (data.get("kind") or "").strip()
    code = (data.get("credit_code") or "").strip().upper()
    region = (data.get("region") or "").strip()
    same_name = select(Organisation.id).where(Organisation.name == name)
    same_code = select(Organisation.id).where(Organisation.credit_code == code)
    if existing is not None:
        same_name, same_code = (q.where(Organisation.id != existing.id) for q in (same_name, same_code))
    if not 2 <= len(name) <= 100:
        errors["org_name"] = "请填写单位全称（2–100 个字）"
    elif db.session.scalar(same_name):
        errors["org_name"] = f"单位“{name}”已存在，请直接从列表中选择"
    if not reference.vocab().allows("org_kind", kind):
        errors["org_kind"] = "请选择单位性质"
    if code:
        if msg := rules.check_credit_code(code):
            errors["credit_code"] = msg
        elif db.session.scalar(same_code):
            errors["credit_code"] = "该统一社会信用代码已被其他单位使用"
    if msg := rules.check_region_code(region):
        errors["region"] = msg
    if errors:
        raise ValidationError(errors)
    return {"name": name, "kind": kind, "credit_code": code or None, "region": region}


def create_org(data: dict) -> Organisation:
    org = Organisation(**validate_org(data))
    db.session.add(org)
    db.session.flush()
    return org


def register(form: dict) -> User:
    """Self-service registration as researcher or enterprise user; other roles are granted."""
    errors = {}
    username = (form.get("username") or "").strip()
    password = form.get("password") or ""
    display_name = (form.get("display_name") or "").strip()
    role = form.get("role") or ""
    if not _USERNAME.fullmatch(username):
        errors["username"] = "用户名为 3–40 位字母、数字或 _ . - @"
    elif db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        errors["username"] = "该用户名已被注册"
    if len(password) < 8:
        errors["password"] = "密码至少 8 位"
    elif password != form.get("password2"):
        errors["password2"] = "两次输入的密码不一致"
    if not 1 <= len(display_name) <= 40:
        errors["display_name"] = "请填写姓名"
    if role not in (Role.researcher.value, Role.enterprise.value):
        errors["role"] = "只能自行注册为科研人员或企业用户；经纪人、登记员由管理员授权"
    email = (form.get("email") or "").strip()
    if email and (msg := rules.check_email(email)):
        errors["email"] = msg
    phone = (form.get("phone") or "").strip()
    if phone and (msg := rules.check_phone(phone)):
        errors["phone"] = msg

    org = None
    org_id = form.get("org_id") or ""
    if org_id and org_id != "new":
        org = db.session.get(Organisation, int(org_id)) if org_id.isdigit() else None
        if org is None:
            errors["org_id"] = "所选单位不存在"
    elif org_id == "new":
        try:
            new_org = validate_org({"name": form.get("org_name"), "kind": form.get("org_kind"),
                                    "credit_code": form.get("credit_code"), "region": form.get("region")})
        except ValidationError as e:
            errors.update(e.errors)
            new_org = None
    else:
        errors["org_id"] = "请选择所在单位，或新建单位"
    allowed = RESEARCH_KINDS if role == Role.researcher.value else ENTERPRISE_KINDS
    kind = org.kind if org else (form.get("org_kind") or "")
    if role in (Role.researcher.value, Role.enterprise.value) and kind and kind not in allowed \
            and "org_id" not in errors and "org_kind" not in errors:
        errors["org_id" if org else "org_kind"] = \
            f"{'科研人员' if role == Role.researcher.value else '企业用户'}的单位性质应为{'、'.join(allowed)}"
    if errors:
        raise ValidationError(errors)
    if org is None:
        org = Organisation(**new_org)
        db.session.add(org)
    user = User(username=username, display_name=display_name, role=role, org=org,
                email=email or None, phone=phone or None)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(username: str, password: str, ip: str) -> User | None:
    """The user if the password is right; raises LoginThrottled after repeated failures."""
    cfg = current_app.config
    window = utcnow() - timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
    username = (username or "").strip()[:40]
    last_ok = db.session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username.lower(), LoginAttempt.ok.is_(True)))
    since = max(window, last_ok) if last_ok else window
    failures = db.session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username.lower(), LoginAttempt.ok.is_(False), LoginAttempt.at > since))
    if failures >= cfg["LOGIN_MAX_FAILURES"]:
        raise LoginThrottled(cfg["LOGIN_LOCK_MINUTES"])
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    ok = bool(user and user.active and user.check_password(password))
    db.session.add(LoginAttempt(username=username.lower(), ip=ip[:45], ok=ok))
    if ok:
        user.last_login_at = utcnow()
    db.session.flush()
    return user if ok else None


def grant_role(admin: User, user: User, role: str, station_id=None, org_id=None) -> User:
    if not admin.is_admin:
        raise PermissionError("只有管理员可以授予角色")
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError({"role": "未知角色"}) from None
    station = None
    if role is Role.broker:
        station = db.session.get(Station, int(station_id)) if str(station_id or "").isdigit() else None
        if station is None:
            raise ValidationError({"station_id": "技术经纪人须归属一个驿站"})
    if user.id == admin.id and role is not Role.admin:
        raise ValidationError({"role": "不能撤销自己的管理员权限"})
    if org_id:
        org = db.session.get(Organisation, int(org_id)) if str(org_id).isdigit() else None
        if org is None:
            raise ValidationError({"org_id": "所选单位不存在"})
        user.org = org
    user.role = role.value
    user.station = station
    db.session.flush()
    return user
