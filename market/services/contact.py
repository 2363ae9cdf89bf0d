"""申请对接: a visitor or a member asks the station serving a listing to put them in touch.

The request lands in that station's queue (待回复); a broker of the station replies (已回复) and
closes it (已关闭); the member reads the reply in their account, a visitor through a private link
(only its hash is stored) and by e-mail. The requester's contact details are shown to that
station's brokers and platform admins only. Unanswered requests are reminded after
``CONTACT_REMIND_WORKDAYS`` working days, once.
"""

import hashlib
import secrets
from datetime import date

from flask import current_app
from sqlalchemy import func, or_, select

from ..extensions import db
from ..infra.notify import notify
from ..models import ContactRequest, ContactStatus, Role, User, utcnow
from ..validation import reference, workdays
from ..validation.fields import Field, ValidationError, clean
from . import listings, stations
from .desk import ConcurrentChange, TransitionError, check_version, flush, record  # noqa: F401 (re-exported)

FIELDS = (
    Field("name", "姓名", required=True, min_len=2, max_len=40),
    Field("org_name", "单位", required=True, min_len=2, max_len=100),
    Field("phone", "电话", "phone", max_len=30),
    Field("email", "电子邮箱", "email", max_len=120),
    Field("message", "对接需求", "longtext", required=True, min_len=10, max_len=1000),
)
ACTION_LABELS = {"submit": "提交申请", "reply": "回复", "close": "关闭", "remind": "超时提醒"}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def defaults_for(user) -> dict:
    """A member's form starts from their account."""
    if not getattr(user, "is_authenticated", False):
        return {}
    return {
        "name": user.display_name,
        "org_name": user.org.name if user.org else "",
        "phone": user.phone or "",
        "email": user.email or "",
    }


def submit(listing, data: dict, user: User | None = None) -> tuple[ContactRequest, str | None]:
    """The new request and, for a visitor, the token of its private link (shown once, never stored)."""
    member = user if getattr(user, "is_authenticated", False) else None
    errors = {}
    try:
        values = clean(FIELDS, data, reference.vocab())
    except ValidationError as e:
        values, errors = {}, dict(e.errors)
    if member is None and not errors and not (values.get("phone") or values.get("email")):
        errors["phone"] = "请至少填写电话或电子邮箱中的一项，以便经纪人回复您"
    if not listing.is_published:
        errors[""] = "该信息未公开发布，不能申请对接"
    elif member is not None and listing.owner_id == member.id:
        errors[""] = "这是您自己发布的信息，无需申请对接"
    station = stations.serving(listing)
    if station is None and "" not in errors:
        errors[""] = "暂无受理驿站，请联系交易大厅"
    if errors:
        raise ValidationError(errors)
    if _open_duplicate(listing, values, member):
        raise ValidationError({"": "您已就此信息提交过申请对接，驿站经纪人回复前请勿重复提交"})
    token = None if member else secrets.token_urlsafe(24)
    req = ContactRequest(
        station_id=station.id,
        listing_kind=listing.kind,
        listing_id=listing.id,
        listing_title=listing.title,
        user=member,
        token_hash=_hash(token) if token else None,
        status=ContactStatus.pending.value,
        **values,
    )
    db.session.add(req)
    record(req, member, "submit", None)
    db.session.flush()
    for broker in _answerers(station):
        notify(
            broker,
            f"新的申请对接：{listing.title[:60]}",
            f"{req.org_name} {req.name}：{req.message[:200]}",
            link=f"/desk/requests/{req.id}",
            key=f"contact:{req.id}:new:{broker.id}",
        )
    if token and req.email:
        _mail_visitor(
            req,
            "您的申请对接已提交",
            f"{station.name}已收到您就“{listing.title}”提出的申请对接。经纪人回复后可通过下面的链接查看：",
            f"/desk/r/{token}",
        )
    return req, token


def _answerers(station) -> list[User]:
    """Who is told of a request: the station's brokers; the platform admins while it has none."""
    return stations.brokers(station) or list(
        db.session.scalars(select(User).where(User.role == Role.admin.value, User.active.is_(True)).order_by(User.id))
    )


def _open_duplicate(listing, values: dict, member: User | None) -> bool:
    """The same person already waits for an answer about the same listing."""
    stmt = select(ContactRequest.id).where(
        ContactRequest.listing_kind == listing.kind,
        ContactRequest.listing_id == listing.id,
        ContactRequest.status == ContactStatus.pending.value,
    )
    if member is not None:
        stmt = stmt.where(ContactRequest.user_id == member.id)
    else:
        same = [ContactRequest.phone == values["phone"]] if values.get("phone") else []
        if values.get("email"):
            same.append(func.lower(ContactRequest.email) == values["email"].lower())
        stmt = stmt.where(ContactRequest.user_id.is_(None), or_(*same))
    return db.session.scalar(stmt.limit(1)) is not None


def _mail_visitor(req: ContactRequest, subject: str, body: str, link: str | None) -> None:
    """Visitors have no account: the mail goes straight to the outbox sent after commit."""
    db.session.info.setdefault("outbox", []).append((req.email, subject, body, link))


# ---- who sees what ---------------------------------------------------------------------------


def can_handle(user, req: ContactRequest) -> bool:
    """The station's own brokers and platform admins: they see the contact details and answer."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_admin or stations.is_station_broker(user, req.station_id)


def can_view(user, req: ContactRequest) -> bool:
    return can_handle(user, req) or (getattr(user, "is_authenticated", False) and req.user_id == user.id)


def by_token(token: str) -> ContactRequest | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(ContactRequest).where(ContactRequest.token_hash == _hash(token)))


def listing_of(req: ContactRequest):
    kind = listings.KINDS.get(req.listing_kind)
    return db.session.get(kind.model, req.listing_id) if kind else None


# ---- the broker's side ----------------------------------------------------------------------


def reply(req: ContactRequest, actor: User, text: str, version=None, token: str | None = None) -> ContactRequest:
    if not can_handle(actor, req):
        raise TransitionError("只有该驿站的技术经纪人或管理员可以回复")
    check_version(req, version)
    if req.status == ContactStatus.closed.value:
        raise TransitionError("该申请已关闭，不能再回复")
    text = (text or "").strip()
    if not 5 <= len(text) <= 2000:
        raise ValidationError({"reply": f"回复内容为 5–2000 个字，现有 {len(text)} 个"})
    before = req.status
    req.status, req.reply, req.replied_by, req.replied_at = ContactStatus.replied.value, text, actor, utcnow()
    record(req, actor, "reply", before, text)
    flush()
    subject = f"{req.station.name}回复了您的申请对接"
    if req.user is not None:
        notify(req.user, subject, text, link=f"/desk/requests/{req.id}", key=f"contact:{req.id}:reply:{req.version}")
    elif req.email:
        _mail_visitor(
            req, subject, f"关于“{req.listing_title}”：\n{text}\n\n请使用提交申请时保存的专属链接查看详情。", None
        )
    return req


def close(req: ContactRequest, actor: User | None, note: str = "", version=None) -> ContactRequest:
    """The station closes a request; so may the member who made it."""
    if not (can_handle(actor, req) or (actor is not None and req.user_id == actor.id)):
        raise TransitionError("只有该驿站的技术经纪人、管理员或申请人可以关闭")
    check_version(req, version)
    if req.status == ContactStatus.closed.value:
        raise TransitionError("该申请已关闭")
    note = (note or "").strip()
    if req.status == ContactStatus.pending.value and can_handle(actor, req) and len(note) < 4:
        raise ValidationError({"note": "尚未回复就关闭时，请写明原因（至少 4 个字）"})
    if len(note) > 2000:
        raise ValidationError({"note": f"说明最多 2000 个字，现有 {len(note)} 个"})
    before = req.status
    req.status = ContactStatus.closed.value
    record(req, actor, "close", before, note)
    flush()
    return req


def queue(user, status: str = "pending"):
    """A broker's queue: their station's requests (admins: every station's)."""
    stmt = select(ContactRequest).order_by(ContactRequest.id.desc())
    if not user.is_admin:
        stmt = stmt.where(ContactRequest.station_id == (user.station_id or -1))
    if status in ContactStatus._value2member_map_:
        stmt = stmt.where(ContactRequest.status == status)
    return stmt


def queue_counts(user) -> dict[str, int]:
    stmt = select(ContactRequest.status, func.count()).group_by(ContactRequest.status)
    if not user.is_admin:
        stmt = stmt.where(ContactRequest.station_id == (user.station_id or -1))
    return dict(db.session.execute(stmt).all())


def mine(user) -> list[ContactRequest]:
    return list(
        db.session.scalars(
            select(ContactRequest).where(ContactRequest.user_id == user.id).order_by(ContactRequest.id.desc())
        )
    )


def remind_unanswered(today: date | None = None, days: int | None = None) -> int:
    """Tell the station's brokers (once) about requests still 待回复 after ``days`` working days."""
    today = today or date.today()
    days = current_app.config["CONTACT_REMIND_WORKDAYS"] if days is None else days
    sent = 0
    for req in db.session.scalars(
        select(ContactRequest).where(
            ContactRequest.status == ContactStatus.pending.value, ContactRequest.reminded_at.is_(None)
        )
    ):
        if workdays.add_working_days(req.created_at.date(), days) > today:
            continue
        for broker in _answerers(req.station):
            notify(
                broker,
                f"申请对接已 {days} 个工作日未回复：{req.listing_title[:60]}",
                f"{req.org_name} {req.name} 于 {req.created_at:%Y-%m-%d} 提交，请尽快回复。",
                link=f"/desk/requests/{req.id}",
                key=f"contact:{req.id}:remind:{broker.id}",
            )
        req.reminded_at = utcnow()
        record(req, None, "remind", req.status, f"{days} 个工作日未回复")
        sent += 1
    db.session.flush()
    return sent
