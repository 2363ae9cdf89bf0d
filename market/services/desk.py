"""The hall's service desk: a member asks for 技术评估、知识产权咨询、合同登记辅导 or 投融资对接; the hall
(its brokers and the platform admins) accepts it, assigns a broker, and it is tracked like a match:

    待受理 → 已受理 / 已分派 → 办理中 → 已办结, or 已拒绝 (with a reason) from any open state.

Every step is a DeskEvent (who, when, from, to, note); the member is told of each. Shared with
申请对接 (services/contact.py): the event record, the refusal of a move, the version check.
"""

from sqlalchemy import select

from ..extensions import db
from ..infra.notify import notify
from ..models import SERVICES, DeskEvent, Role, ServiceRequest, ServiceStatus, Station, User
from ..validation import reference, rules
from ..validation.fields import Field, ValidationError, clean
from . import matches

OPEN = (ServiceStatus.submitted, ServiceStatus.accepted, ServiceStatus.assigned, ServiceStatus.in_progress)


class TransitionError(Exception):
    """A step the request's state or the person does not allow (message in Chinese)."""


class ConcurrentChange(Exception):
    def __init__(self):
        super().__init__("该申请刚被其他人处理过，请刷新后查看最新状态")


def check_version(obj, version) -> None:
    """A form carries the version it was rendered from; an older one means someone acted in between
    (or the same form was sent twice)."""
    if version is not None and str(version) != str(obj.version):
        raise ConcurrentChange()


def record(obj, actor: User | None, action: str, before: str | None, note: str = "") -> DeskEvent:
    side = {"contact": obj} if obj.__tablename__ == "contact_request" else {"service": obj}
    event = DeskEvent(actor=actor, action=action, from_status=before, to_status=obj.status, note=note or "", **side)
    db.session.add(event)
    return event


def flush() -> None:
    matches.flush_or_conflict(ConcurrentChange)


# ---- the service desk --------------------------------------------------------------------

FIELDS = (
    Field("service", "服务类型", required=True),
    Field("description", "需求描述", "longtext", required=True, min_len=10, max_len=2000),
)
ACTION_LABELS = {
    "submit": "提交申请",
    "accept": "受理",
    "assign": "分派经纪人",
    "start": "开始办理",
    "finish": "办结",
    "refuse": "拒绝",
    "note": "备注",
}
# action → (allowed from, to, who: "staff" = the hall | "handler" = the assigned broker or the hall)
TRANSITIONS = {
    "accept": ((ServiceStatus.submitted,), ServiceStatus.accepted, "staff"),
    "assign": (
        (ServiceStatus.submitted, ServiceStatus.accepted, ServiceStatus.assigned),
        ServiceStatus.assigned,
        "staff",
    ),
    "start": ((ServiceStatus.assigned,), ServiceStatus.in_progress, "handler"),
    "finish": ((ServiceStatus.in_progress,), ServiceStatus.done, "handler"),
    "refuse": (OPEN, ServiceStatus.refused, "staff"),
}


def hall() -> Station | None:
    return db.session.scalar(
        select(Station).where(Station.is_hall.is_(True), Station.active.is_(True)).order_by(Station.id)
    )


def is_staff(user) -> bool:
    """The hall: platform admins and the hall station's brokers."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_admin or (user.has_role(Role.broker) and user.station is not None and user.station.is_hall)


def can_view(user, req: ServiceRequest) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return req.user_id == user.id or req.broker_id == user.id or is_staff(user)


def may_request(user) -> bool:
    """Members ask for services; the hall's own staff work the desk instead."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_role(Role.researcher, Role.enterprise)


def submit(user: User, data: dict) -> ServiceRequest:
    if not may_request(user):
        raise PermissionError("只有科研人员和企业用户可以申请大厅服务")
    values = clean(FIELDS, data, reference.vocab())
    if values["service"] not in SERVICES:
        raise ValidationError({"service": f"服务类型：请从 {'、'.join(SERVICES.values())} 中选择"})
    same = db.session.scalar(
        select(ServiceRequest.id).where(
            ServiceRequest.user_id == user.id,
            ServiceRequest.service == values["service"],
            ServiceRequest.description == values["description"],
            ServiceRequest.status.in_([s.value for s in OPEN]),
        )
    )
    if same:
        raise ValidationError({"": f"您已提交过相同的服务申请（编号 {same}），正在办理中，请勿重复提交"})
    station = hall()
    req = ServiceRequest(
        service=values["service"],
        description=values["description"],
        user=user,
        station_id=station.id if station else None,
        status=ServiceStatus.submitted.value,
    )
    db.session.add(req)
    record(req, user, "submit", None)
    db.session.flush()
    for staff in _hall_staff():
        notify(
            staff,
            f"新的大厅服务申请：{req.service_label}",
            values["description"][:200],
            link=f"/desk/services/{req.id}",
            key=f"service:{req.id}:new:{staff.id}",
        )
    return req


def _hall_staff() -> list[User]:
    station = hall()
    if station is None:
        return []
    return list(
        db.session.scalars(
            select(User).where(User.station_id == station.id, User.active.is_(True), User.role == Role.broker.value)
        )
    )


def assignable_brokers() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.broker.value, User.active.is_(True)).order_by(User.station_id, User.id)
        )
    )


def act(req: ServiceRequest, action: str, actor: User, note: str = "", broker_id=None, version=None) -> ServiceRequest:
    if action not in TRANSITIONS:
        raise TransitionError("未知的操作")
    check_version(req, version)
    allowed, to, who = TRANSITIONS[action]
    if who == "staff" and not is_staff(actor):
        raise TransitionError("只有交易大厅的经纪人或管理员可以这样做")
    if who == "handler" and not (is_staff(actor) or req.broker_id == actor.id):
        raise TransitionError("只有分派的经纪人或交易大厅可以这样做")
    if ServiceStatus(req.status) not in allowed:
        raise TransitionError(
            f"当前状态为“{req.status_label}”，不能{ACTION_LABELS[action]}"
            f"（只能从{'、'.join(s.label for s in allowed)}进行）"
        )
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationError({"note": f"说明最多 2000 个字，现有 {len(note)} 个"})
    broker = None
    if action == "assign":
        ident = rules.as_id(broker_id)
        broker = db.session.get(User, ident) if ident else None
        if broker is None or not broker.has_role(Role.broker) or not broker.active:
            raise ValidationError({"broker_id": "请选择要分派的技术经纪人"})
        if broker.id == req.broker_id and req.status == ServiceStatus.assigned.value:
            raise ValidationError({"broker_id": f"已分派给{broker.display_name}"})
        req.broker = broker
        note = note or f"分派给{broker.display_name}"
    if action == "refuse":
        if len(note) < 4:
            raise ValidationError({"note": "拒绝时请写明原因（至少 4 个字）"})
        req.reason = note
    before = req.status
    req.status = to.value
    record(req, actor, action, before, note)
    flush()
    link = f"/desk/services/{req.id}"
    notify(
        req.user,
        f"您的服务申请“{req.service_label}”{to.label}",
        note,
        link=link,
        key=f"service:{req.id}:{action}:{req.version}",
    )
    if broker is not None:
        notify(
            broker,
            f"分派给您的大厅服务：{req.service_label}",
            req.description[:200],
            link=link,
            key=f"service:{req.id}:assigned:{broker.id}:{req.version}",
        )
    return req


def add_note(req: ServiceRequest, actor: User, note: str) -> None:
    if not (is_staff(actor) or req.broker_id == actor.id):
        raise TransitionError("只有分派的经纪人或交易大厅可以添加进展")
    note = (note or "").strip()
    if not 2 <= len(note) <= 2000:
        raise ValidationError({"note": "进展说明为 2–2000 个字"})
    record(req, actor, "note", req.status, note)
    flush()
    notify(req.user, f"您的服务申请“{req.service_label}”有新进展", note, link=f"/desk/services/{req.id}")


def queue(user, status: str = "open"):
    """The hall sees every request; another broker the ones assigned to them."""
    stmt = select(ServiceRequest).order_by(ServiceRequest.id.desc())
    if not is_staff(user):
        stmt = stmt.where(ServiceRequest.broker_id == user.id)
    if status == "open":
        stmt = stmt.where(ServiceRequest.status.in_([s.value for s in OPEN]))
    elif status in ServiceStatus._value2member_map_:
        stmt = stmt.where(ServiceRequest.status == status)
    return stmt


def mine(user) -> list[ServiceRequest]:
    return list(
        db.session.scalars(
            select(ServiceRequest).where(ServiceRequest.user_id == user.id).order_by(ServiceRequest.id.desc())
        )
    )
