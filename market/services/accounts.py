"""Accounts: registration (picking or creating an organisation), organisation membership, login
throttling, role grants.

Membership: an account that creates an organisation becomes its administrator-member, and a
platform admin verifies the organisation (统一社会信用代码). Joining an existing organisation is a
request that the organisation's confirmed administrator-member or a platform admin confirms; until
then the account sees and acts on its own records only (``User.member_org_id`` is None).
"""

import re
import secrets

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import LoginAttempt, Organisation, OrgState, Role, Station, User, utcnow
from ..models.org import ENTERPRISE_KINDS, RESEARCH_KINDS
from ..validation import reference, rules
from ..validation.fields import ValidationError

_USERNAME = re.compile(r"[A-Za-z0-9_.\-@]{3,40}")
MIN_PASSWORD = 10
COMMON_PASSWORDS = {
    "1234567890",
    "12345678910",
    "0123456789",
    "1111111111",
    "0000000000",
    "1234512345",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "1q2w3e4r5t",
    "password12",
    "password123",
    "passw0rd12",
    "abcdefghij",
    "abc1234567",
    "a123456789",
    "woaini1314",
    "iloveyou12",
    "qwerty1234",
    "zxcvbnm123",
    "asdfghjkl1",
    "admin12345",
    "administrator",
    "p@ssw0rd12",
    "aa12345678",
    "qq12345678",
    "5201314520",
    "1314520520",
    "demo123456",
}
# names that would pass an account off as the platform or its staff
RESERVED_NAME_PARTS = (
    "管理员",
    "系统",
    "平台",
    "登记员",
    "经纪人",
    "客服",
    "官方",
    "交易市场",
    "工作人员",
    "admin",
    "root",
    "system",
    "support",
)


def check_password(password: str, username: str = "", display_name: str = "") -> str | None:
    """Length, not a common password, not made of the account's own names."""
    if len(password) < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 位"
    if len(password) > 128:
        return "密码最多 128 位"
    low = password.lower()
    if low in COMMON_PASSWORDS or len(set(low)) < 5:
        return "密码太常见或太简单，请换一个不易猜到的密码"
    for name in (username, display_name):
        name = (name or "").lower()
        if len(name) >= 3 and (name in low or low in name):
            return "密码不能包含用户名或姓名"
    return None


def check_display_name(name: str) -> str | None:
    if not 1 <= len(name) <= 40:
        return "请填写姓名（最多 40 个字）"
    if any(part in name.lower() for part in RESERVED_NAME_PARTS):
        return "姓名不能含有“管理员”“系统”“平台”等字样"
    return None


def validate_org(data: dict, existing: Organisation | None = None) -> dict:
    """Checked values of an organisation; ``existing`` is the organisation being edited."""
    errors = {}
    name = rules.strip_invisible(str(data.get("name") or "")).strip()
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


def create_org(data: dict, verified: bool = True) -> Organisation:
    """An organisation entered by an admin or an import is verified; one entered at registration
    waits for a platform admin."""
    org = Organisation(**validate_org(data), verified_at=utcnow() if verified else None)
    db.session.add(org)
    db.session.flush()
    return org


def _registration_org(form: dict, role: str, errors: dict) -> tuple[Organisation | None, dict | None]:
    """The organisation a registration names (an existing one, or the values of a new one), adding
    what is wrong to ``errors``."""
    org, new_org = None, None
    org_id = str(form.get("org_id") or "")
    if org_id and org_id != "new":
        org = db.session.get(Organisation, int(org_id)) if rules.is_ascii_int(org_id) else None
        if org is None:
            errors["org_id"] = "所选单位不存在"
    elif org_id == "new":
        try:
            new_org = validate_org(
                {
                    "name": form.get("org_name"),
                    "kind": form.get("org_kind"),
                    "credit_code": form.get("credit_code"),
                    "region": form.get("region"),
                }
            )
        except ValidationError as e:
            errors.update(e.errors)
            new_org = None
    else:
        errors["org_id"] = "请选择所在单位，或新建单位"
    allowed = RESEARCH_KINDS if role == Role.researcher.value else ENTERPRISE_KINDS
    kind = org.kind if org else (form.get("org_kind") or "")
    if (
        role in (Role.researcher.value, Role.enterprise.value)
        and kind
        and kind not in allowed
        and "org_id" not in errors
        and "org_kind" not in errors
    ):
        errors["org_id" if org else "org_kind"] = (
            f"{'科研人员' if role == Role.researcher.value else '企业用户'}的单位性质应为{'、'.join(allowed)}"
        )
    return org, new_org


def register(form: dict) -> User:
    """Self-service registration as researcher or enterprise user; other roles are granted."""
    errors = {}
    username = (form.get("username") or "").strip()
    password = form.get("password") or ""
    display_name = rules.strip_invisible(form.get("display_name") or "").strip()
    role = form.get("role") or ""
    if not _USERNAME.fullmatch(username):
        errors["username"] = "用户名为 3–40 位字母、数字或 _ . - @"
    elif db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        errors["username"] = "该用户名已被注册"
    if msg := check_password(password, username, display_name):
        errors["password"] = msg
    elif password != form.get("password2"):
        errors["password2"] = "两次输入的密码不一致"
    if msg := check_display_name(display_name):
        errors["display_name"] = msg
    if role not in (Role.researcher.value, Role.enterprise.value):
        errors["role"] = "只能自行注册为科研人员或企业用户；经纪人、登记员由管理员授权"
    email = (form.get("email") or "").strip()
    if email and (msg := rules.check_email(email)):
        errors["email"] = msg
    phone = (form.get("phone") or "").strip()
    if phone and (msg := rules.check_phone(phone)):
        errors["phone"] = msg

    org, new_org = _registration_org(form, role, errors)
    if errors:
        raise ValidationError(errors)
    creates_org = org is None
    if creates_org:
        org = Organisation(**new_org, verified_at=None)
        db.session.add(org)
    user = User(
        username=username, display_name=display_name, role=role, org=org, email=email or None, phone=phone or None
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    if creates_org:
        user.org_state, user.org_admin, user.org_requested_at = OrgState.confirmed.value, True, utcnow()
        _tell_admins(
            f"新单位待核验：{org.name}",
            f"{display_name}（{username}）注册时新建了单位“{org.name}”，请核对统一社会信用代码后核验。",
        )
    else:
        request_membership(user, org)
    db.session.flush()
    return user


# ---- membership ---------------------------------------------------------------------------


def _tell_admins(title: str, body: str, link: str = "/admin/memberships") -> None:
    from ..infra.notify import notify

    for admin in db.session.scalars(select(User).where(User.role == Role.admin.value, User.active.is_(True))):
        notify(admin, title, body, link)


def org_admins(org: Organisation) -> list[User]:
    return db.session.scalars(
        select(User)
        .where(
            User.org_id == org.id,
            User.org_admin.is_(True),
            User.org_state == OrgState.confirmed.value,
            User.active.is_(True),
        )
        .order_by(User.id)
    ).all()


def request_membership(user: User, org: Organisation) -> User:
    """Ask to join ``org``; the organisation's administrator-members and the platform admins are told."""
    from ..infra.notify import notify

    if user.org_id == org.id and user.org_state in (OrgState.pending.value, OrgState.confirmed.value):
        return user
    user.org, user.org_state, user.org_admin = org, OrgState.pending.value, False
    user.org_requested_at, user.org_decided_at = utcnow(), None
    db.session.flush()
    body = f"{user.display_name}（{user.username}，{user.role_label}）申请加入“{org.name}”，请确认是否为本单位人员。"
    for admin in org_admins(org):
        notify(admin, f"加入单位申请：{user.display_name}", body, "/me/org")
    _tell_admins(f"加入单位申请：{user.display_name} → {org.name}", body)
    return user


def can_decide(actor: User | None, member: User) -> bool:
    """Platform admins, and the confirmed administrator-members of the member's organisation."""
    if actor is None or not actor.is_authenticated or member.org_id is None:
        return False
    if actor.is_admin:
        return True
    return actor.id != member.id and actor.org_admin and actor.org_confirmed and actor.org_id == member.org_id


def decide_membership(member: User, actor: User, confirm: bool, make_admin: bool = False) -> User:
    from ..infra.notify import notify

    if not can_decide(actor, member):
        raise PermissionError("只有该单位的管理员或平台管理员可以确认成员")
    if member.org_state != OrgState.pending.value:
        raise ValidationError({"": f"{member.display_name}的申请当前为“{member.org_state_label or '无'}”，无需处理"})
    member.org_state = (OrgState.confirmed if confirm else OrgState.refused).value
    member.org_admin = bool(confirm and make_admin and actor.is_admin)
    member.org_decided_at = utcnow()
    db.session.flush()
    org = member.org
    if confirm:
        notify(
            member,
            f"已确认您为“{org.name}”的成员",
            "您现在可以以本单位名义发布信息、申请合同登记，并查看本单位的合同与对接。",
            "/me/org",
        )
    else:
        notify(member, f"加入“{org.name}”的申请未获确认", "如有疑问，请联系该单位或平台管理员。", "/me/org")
    return member


def pending_members(actor: User) -> list[User]:
    """The join requests ``actor`` may decide: every one for a platform admin, else its organisation's."""
    stmt = select(User).where(User.org_state == OrgState.pending.value).order_by(User.org_requested_at, User.id)
    if not actor.is_admin:
        if not (actor.org_admin and actor.org_confirmed):
            return []
        stmt = stmt.where(User.org_id == actor.org_id, User.id != actor.id)
    return db.session.scalars(stmt).all()


def members(org: Organisation) -> list[User]:
    return db.session.scalars(
        select(User)
        .where(User.org_id == org.id, User.org_state == OrgState.confirmed.value)
        .order_by(User.org_admin.desc(), User.id)
    ).all()


def unverified_orgs() -> list[Organisation]:
    return db.session.scalars(
        select(Organisation)
        .where(Organisation.verified_at.is_(None))
        .order_by(Organisation.created_at, Organisation.id)
    ).all()


def verify_org(org: Organisation, admin: User, credit_code: str) -> Organisation:
    """A platform admin verifies an organisation against its 统一社会信用代码 (required here)."""
    if not admin.is_admin:
        raise PermissionError("只有平台管理员可以核验单位")
    code = (credit_code or "").strip().upper()
    if not code:
        raise ValidationError({"credit_code": "核验单位须填写统一社会信用代码"})
    if msg := rules.check_credit_code(code):
        raise ValidationError({"credit_code": msg})
    if db.session.scalar(select(Organisation.id).where(Organisation.credit_code == code, Organisation.id != org.id)):
        raise ValidationError({"credit_code": "该统一社会信用代码已被其他单位使用"})
    org.credit_code, org.verified_at = code, utcnow()
    db.session.flush()
    from ..infra.notify import notify

    for user in org_admins(org):
        notify(user, f"单位“{org.name}”已通过核验", "本单位的成员现在可以以单位名义发布信息、申请合同登记。", "/me/org")
    return org


def normal_username(username) -> str:
    return str(username or "").strip()[:40].lower()


_DUMMY_HASH: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash made like real ones, checked for unknown names so they answer as slowly as a wrong password."""
    from ..models import user as user_model

    method = user_model.PASSWORD_METHOD
    if method not in _DUMMY_HASH:
        _DUMMY_HASH[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASH[method]


def authenticate(username: str, password: str, ip: str) -> User | None:
    """The user if the password is right. Unknown names and inactive accounts cost the same hash
    check as a wrong password. Throttling is the login view's (Flask-Limiter); each attempt is kept."""
    name = normal_username(username)
    user = db.session.scalar(select(User).where(func.lower(User.username) == name)) if name else None
    if user is None:
        check_password_hash(_dummy_hash(), str(password or ""))
        ok = False
    else:
        ok = user.check_password(str(password or "")) and user.active
    db.session.add(LoginAttempt(username=name, ip=(ip or "")[:45], ok=ok))
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
        station = db.session.get(Station, int(station_id)) if rules.is_ascii_int(station_id) else None
        if station is None:
            raise ValidationError({"station_id": "技术经纪人须归属一个驿站"})
    if user.id == admin.id and role is not Role.admin:
        raise ValidationError({"role": "不能撤销自己的管理员权限"})
    if org_id:
        org = db.session.get(Organisation, int(org_id)) if rules.is_ascii_int(org_id) else None
        if org is None:
            raise ValidationError({"org_id": "所选单位不存在"})
        if user.org_id != org.id:
            user.org_admin = False
        user.org, user.org_state, user.org_decided_at = org, OrgState.confirmed.value, utcnow()
    user.role = role.value
    user.station = station
    db.session.flush()
    return user
