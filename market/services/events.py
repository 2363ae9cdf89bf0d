"""The hall's and stations' events: create and edit (people signed up are told), sign-up with a
waiting list, cancellation with promotion, reminders, check-in, the attendance list, and the pairs
that met — each pair becomes a match (source “活动”) in the broker workflow.

Seats: every change to the seats of an event starts with an UPDATE of the event row (``seat_lock``),
so the row stays locked until commit (PostgreSQL) or the write lock is held (SQLite) while the
confirmed places are counted: of two sign-ups for the last seat one gets it, the other waits.
"""

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update

from ..extensions import db
from ..infra.notify import mail, notify
from ..models import (
    Achievement,
    Event,
    EventLog,
    EventPair,
    EventSignup,
    ListingStatus,
    Match,
    MatchEvent,
    MatchStatus,
    Need,
    Role,
    SignupStatus,
    Station,
    User,
    utcnow,
)
from ..models.event import EVENT_KINDS
from ..validation import rules
from ..validation.fields import Field, ValidationError, Vocab, clean

SS = SignupStatus
FIELDS = (
    Field("title", "活动名称", required=True, max_len=120, min_len=4),
    Field("kind", "活动类型", "choice", required=True, vocab="event_kind"),
    Field("starts_at", "开始时间", required=True),
    Field("ends_at", "结束时间", required=True),
    Field("place", "地点", max_len=200),
    Field("online_url", "线上链接", max_len=300),
    Field("capacity", "名额", "int", required=True),
    Field("description", "活动介绍", "longtext", max_len=5000),
    Field("achievement_ids", "推介成果（编号，逗号分隔）", max_len=500),
    Field("need_ids", "发布需求（编号，逗号分隔）", max_len=500),
)
VISITOR_FIELDS = (
    Field("name", "姓名", required=True, max_len=40, min_len=2),
    Field("phone", "手机或电话", "phone", max_len=30),
    Field("email", "电子邮箱", "email", max_len=120),
    Field("org_name", "单位", max_len=100),
)
TOLD_FIELDS = {
    "title": "名称",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "place": "地点",
    "online_url": "线上链接",
}
DT_FORMAT = "%Y-%m-%dT%H:%M"
LOG_LABELS = {
    "create": "发布",
    "edit": "修改",
    "cancel_event": "取消活动",
    "signup": "报名",
    "cancel": "取消报名",
    "promote": "候补递补",
    "remind": "提醒",
    "checkin": "签到",
    "pair": "记录对接",
}


class EventError(Exception):
    """A sign-up, check-in or change the rules refuse; the message is for the person."""


def _vocab() -> Vocab:
    return Vocab(names={"event_kind": list(EVENT_KINDS.values())})


def _parse_dt(text: str) -> datetime:
    text = (text or "").strip().replace(" ", "T")
    for fmt in (DT_FORMAT, "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError("时间格式应为 2026-12-08T14:30")


def _parse_ids(text, model, label: str, errors: dict, key: str) -> list[int]:
    parts = [p for p in str(text or "").replace("，", ",").replace("、", ",").replace(" ", ",").split(",") if p]
    ids = []
    for p in parts:
        if not rules.is_ascii_int(p) or int(p) > rules.MAX_ID:
            errors[key] = f"{label}：“{p}”不是编号"
            return []
        ids.append(int(p))
    ids = list(dict.fromkeys(ids))
    if ids:
        found = set(
            db.session.scalars(select(model.id).where(model.id.in_(ids), model.status == ListingStatus.published.value))
        )
        missing = [str(i) for i in ids if i not in found]
        if missing:
            errors[key] = f"{label}：编号 {'、'.join(missing)} 不存在或未发布"
    return ids


def validate(raw: dict) -> dict:
    """One check for the web form, the API and the demo loader; every problem at once."""
    errors, values = {}, {}
    for f in FIELDS:  # field by field: every problem at once, even with some missing
        try:
            values.update(clean((f,), raw, _vocab()))
        except ValidationError as e:
            errors.update(e.errors)
    for name in ("starts_at", "ends_at"):
        if name in values:
            try:
                values[name] = _parse_dt(values[name])
            except ValueError as e:
                errors[name] = f"{ {f.name: f.label for f in FIELDS}[name] }：{e}"
    if (
        isinstance(values.get("starts_at"), datetime)
        and isinstance(values.get("ends_at"), datetime)
        and values["ends_at"] <= values["starts_at"]
    ):
        errors["ends_at"] = "结束时间应晚于开始时间"
    if "capacity" in values and not 1 <= values["capacity"] <= 5000:
        errors["capacity"] = "名额应在 1 到 5000 之间"
    if "kind" in values:
        values["kind"] = {v: k for k, v in EVENT_KINDS.items()}[values["kind"]]
    url = values.get("online_url")
    if url and not url.startswith(("https://", "http://")):
        errors["online_url"] = "线上链接应以 https:// 开头"
    if "title" in values and not values.get("place") and not url:
        errors["place"] = "请填写地点或线上链接"
    values["achievement_ids"] = _parse_ids(
        raw.get("achievement_ids"), Achievement, "推介成果", errors, "achievement_ids"
    )
    values["need_ids"] = _parse_ids(raw.get("need_ids"), Need, "发布需求", errors, "need_ids")
    if errors:
        raise ValidationError(errors)
    return values


# ---- who organises ----------------------------------------------------------------------------


def may_organise(user: User | None, station: Station | None) -> bool:
    """Admins, the hall's brokers (any event), and the brokers of the organising station."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_admin:
        return True
    if not user.has_role(Role.broker) or user.station is None:
        return False
    return user.station.is_hall or (station is not None and user.station_id == station.id)


def _log(event: Event, actor: User | None, action: str, note: str = "", signup: EventSignup | None = None):
    db.session.add(
        EventLog(
            event_id=event.id,
            signup_id=signup.id if signup else None,
            actor_id=actor.id if actor else None,
            action=action,
            note=note,
        )
    )


def create(raw: dict, actor: User, station: Station | None = None) -> Event:
    station = station or actor.station
    if station is None or not may_organise(actor, station):
        raise EventError("只有驿站或大厅的技术经纪人、管理员可以发布活动")
    values = validate(raw)
    event = Event(station=station, created_by=actor, **values)
    db.session.add(event)
    db.session.flush()
    _log(event, actor, "create", f"{event.kind_label}：{event.title}")
    db.session.flush()
    return event


def _shown(name: str, value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value or "（无）"


def update_event(event: Event, raw: dict, actor: User) -> list[str]:
    """Edit; people signed up (confirmed or waiting) are told what changed. Returns the changes."""
    if not may_organise(actor, event.station):
        raise EventError("只有该活动的组织方可以修改")
    values = validate(raw)
    _lock_seats(event)
    confirmed = _count(event, SS.confirmed)
    if values["capacity"] < confirmed:
        raise ValidationError({"capacity": f"已有 {confirmed} 人确认报名，名额不能少于 {confirmed}"})
    changes, told = [], []
    for name, value in values.items():
        before = getattr(event, name)
        if before != value:
            label = TOLD_FIELDS.get(name) or next(f.label for f in FIELDS if f.name == name)
            changes.append(f"{label}：{_shown(name, before)} → {_shown(name, value)}")
            if name in TOLD_FIELDS:
                told.append(changes[-1])
            setattr(event, name, value)
    if not changes:
        return []
    _log(event, actor, "edit", "；".join(changes))
    _promote(event, actor)
    if told:
        for s in active_signups(event):
            _tell(
                s,
                f"活动信息有变更：{event.title}",
                "您报名的活动有以下变更：\n" + "\n".join(told) + "\n如无法参加，请取消报名，名额将让给候补。",
            )
    db.session.flush()
    return changes


def cancel_event(event: Event, actor: User, reason: str) -> Event:
    if not may_organise(actor, event.station):
        raise EventError("只有该活动的组织方可以取消")
    if not (reason or "").strip():
        raise ValidationError({"reason": "请填写取消原因"})
    if event.cancelled_at:
        raise EventError("活动已取消")
    event.cancelled_at = utcnow()
    _log(event, actor, "cancel_event", reason.strip())
    for s in active_signups(event):
        _tell(s, f"活动取消：{event.title}", f"原因：{reason.strip()}")
    db.session.flush()
    return event


# ---- seats ------------------------------------------------------------------------------------


def _lock_seats(event: Event) -> None:
    """Take the event row's lock before counting seats (see the module docstring)."""
    db.session.flush()
    db.session.execute(
        update(Event.__table__)
        .where(Event.__table__.c.id == event.id)
        .values(seat_lock=Event.__table__.c.seat_lock + 1)
    )


def _count(event: Event, status: SignupStatus) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(EventSignup)
        .where(EventSignup.event_id == event.id, EventSignup.status == status.value)
    )


def active_signups(event: Event) -> list[EventSignup]:
    return db.session.scalars(
        select(EventSignup)
        .where(EventSignup.event_id == event.id, EventSignup.status != SS.cancelled.value)
        .order_by(EventSignup.status, EventSignup.queued_at, EventSignup.id)
    ).all()


def waiting_position(signup: EventSignup) -> int | None:
    if signup.status != SS.waiting.value:
        return None
    return 1 + db.session.scalar(
        select(func.count())
        .select_from(EventSignup)
        .where(
            EventSignup.event_id == signup.event_id,
            EventSignup.status == SS.waiting.value,
            db.or_(
                EventSignup.queued_at < signup.queued_at,
                db.and_(EventSignup.queued_at == signup.queued_at, EventSignup.id < signup.id),
            ),
        )
    )


def open_for_signup(event: Event, now: datetime | None = None) -> str | None:
    """None, or why sign-up is closed."""
    if event.cancelled_at:
        return "活动已取消"
    if event.starts_at <= (now or utcnow()):
        return "活动已开始或已结束，报名已截止"
    return None


def signup(event: Event, user: User | None = None, raw: dict | None = None, now: datetime | None = None) -> EventSignup:
    """A member's (``user``) or a visitor's (``raw``: name, phone and/or e-mail, org) sign-up:
    confirmed while seats are left, else on the waiting list. Refused when already signed up."""
    if why := open_for_signup(event, now):
        raise EventError(why)
    if user is not None and user.is_authenticated:
        key, person = (
            f"u:{user.id}",
            {
                "name": user.display_name,
                "phone": user.phone,
                "email": user.email,
                "org_name": user.org.name if user.org else None,
                "user_id": user.id,
            },
        )
    else:
        values = clean(VISITOR_FIELDS, raw or {}, _vocab())
        if not values.get("phone") and not values.get("email"):
            raise ValidationError({"phone": "请填写手机（或电话）与电子邮箱中的至少一项，以便通知您"})
        person = dict(values, user_id=None)
        key = (
            f"p:{values['phone'].replace(' ', '').replace('-', '')}"
            if values.get("phone")
            else f"e:{values['email'].lower()}"
        )
    _lock_seats(event)
    row = db.session.scalar(select(EventSignup).where(EventSignup.event_id == event.id, EventSignup.contact_key == key))
    if row is not None and row.status != SS.cancelled.value:
        where = "已确认" if row.status == SS.confirmed.value else f"候补第 {waiting_position(row)} 位"
        raise EventError(f"您已报名该活动（{where}），无需重复报名")
    status = SS.confirmed if _count(event, SS.confirmed) < event.capacity else SS.waiting
    if row is None:
        row = EventSignup(event_id=event.id, contact_key=key, token=secrets.token_hex(16), **person)
        db.session.add(row)
    else:  # signing up again after cancelling: a new place in the queue
        for k, v in person.items():
            setattr(row, k, v)
        row.checked_in_at = row.reminded_at = None
    row.status, row.queued_at = status.value, utcnow()
    db.session.flush()
    _log(
        event,
        user if user is not None and user.is_authenticated else None,
        "signup",
        f"{row.name}：{row.status_label}",
        row,
    )
    db.session.flush()
    return row


def cancel_signup(row: EventSignup, actor: User | None) -> EventSignup:
    """Cancel a place (the person, or the organiser); the first on the waiting list moves up."""
    if row.status == SS.cancelled.value:
        raise EventError("该报名已取消")
    event = row.event
    if event.starts_at <= utcnow():
        raise EventError("活动已开始，不能再取消报名")
    _lock_seats(event)
    db.session.refresh(row)
    before = row.status_label
    row.status = SS.cancelled.value
    _log(event, actor, "cancel", f"{row.name}（原为{before}）", row)
    _promote(event, actor)
    db.session.flush()
    return row


def _promote(event: Event, actor: User | None) -> list[EventSignup]:
    """Fill free seats from the waiting list, in order; each promoted person is told."""
    free = event.capacity - _count(event, SS.confirmed)
    if free <= 0:
        return []
    moved = db.session.scalars(
        select(EventSignup)
        .where(EventSignup.event_id == event.id, EventSignup.status == SS.waiting.value)
        .order_by(EventSignup.queued_at, EventSignup.id)
        .limit(free)
    ).all()
    for s in moved:
        s.status = SS.confirmed.value
        _log(event, actor, "promote", f"{s.name}：候补转为已确认", s)
        _tell(
            s, f"候补成功：{event.title}", f"有人取消了报名，您的名额已确认。时间：{_when(event)}；地点：{where(event)}"
        )
    db.session.flush()
    return moved


def _when(event: Event) -> str:
    return f"{event.starts_at:%Y-%m-%d %H:%M}–{event.ends_at:%H:%M}"


def where(event: Event) -> str:
    return "；".join(x for x in (event.place, f"线上：{event.online_url}" if event.online_url else None) if x)


def _tell(s: EventSignup, title: str, body: str, key: str | None = None) -> bool:
    """A member in-app (and by e-mail when they have one); a visitor by e-mail when given."""
    link = f"/events/{s.event_id}"
    if s.user is not None:
        return notify(s.user, title, body, link, key=key)
    if s.email:
        mail(s.email, title, body, f"/events/signup/{s.token}")
        return True
    return False


# ---- reminders --------------------------------------------------------------------------------


def remind_upcoming(now: datetime | None = None, hours: int = 24) -> int:
    """Remind everyone confirmed for an event starting within ``hours``; once per sign-up (safe to
    run again). Returns how many were reminded."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(EventSignup)
        .join(Event)
        .where(
            Event.cancelled_at.is_(None),
            Event.starts_at > now,
            Event.starts_at <= now + timedelta(hours=hours),
            EventSignup.status == SS.confirmed.value,
            EventSignup.reminded_at.is_(None),
        )
    ).all()
    for s in rows:
        e = s.event
        _tell(
            s,
            f"活动提醒：{e.title}",
            f"时间：{_when(e)}\n地点：{where(e)}\n请携带报名手机号到场签到。",
            key=f"event-remind:{s.id}",
        )
        s.reminded_at = now
        _log(e, None, "remind", s.name, s)
    db.session.flush()
    return len(rows)


# ---- at the door and after --------------------------------------------------------------------


def check_in(row: EventSignup, actor: User) -> EventSignup:
    if not may_organise(actor, row.event.station):
        raise EventError("只有该活动的组织方可以签到")
    if row.status != SS.confirmed.value:
        raise EventError(f"{row.name} 的报名状态为“{row.status_label}”，不能签到")
    if row.checked_in_at:
        raise EventError(f"{row.name} 已于 {row.checked_in_at:%H:%M} 签到")
    row.checked_in_at = utcnow()
    _log(row.event, actor, "checkin", row.name, row)
    db.session.flush()
    return row


def pair_choices(event: Event) -> tuple[list[Need], list[Achievement]]:
    """The needs and 成果 that were at the event: presented, or posted by someone who checked in."""
    present = select(EventSignup.user_id).where(
        EventSignup.event_id == event.id, EventSignup.checked_in_at.is_not(None), EventSignup.user_id.is_not(None)
    )
    out = []
    for model, ids in ((Need, event.need_ids), (Achievement, event.achievement_ids)):
        out.append(
            db.session.scalars(
                select(model)
                .where(
                    model.status == ListingStatus.published.value,
                    db.or_(model.id.in_(ids or [-1]), model.owner_id.in_(present)),
                )
                .order_by(model.id)
            ).all()
        )
    return out[0], out[1]


def record_pair(event: Event, need: Need, achievement: Achievement, actor: User, note: str = "") -> EventPair:
    """The people of ``need`` and ``achievement`` met at the event: a match in the broker workflow
    (对接中, source 活动), or — when the pair is already a match — a step on that match."""
    from . import matches, stations

    if not may_organise(actor, event.station):
        raise EventError("只有该活动的组织方可以记录对接")
    if event.starts_at > utcnow():
        raise EventError("活动开始后才能记录现场对接")
    if db.session.scalar(
        select(EventPair.id).where(
            EventPair.event_id == event.id, EventPair.need_id == need.id, EventPair.achievement_id == achievement.id
        )
    ):
        raise EventError("这一对已记录过")
    m = db.session.scalar(select(Match).where(Match.need_id == need.id, Match.achievement_id == achievement.id))
    text = f"在活动“{event.title}”（{event.starts_at:%Y-%m-%d}）现场对接" + (f"：{note}" if note else "")
    if m is None:
        m = Match(
            need=need,
            achievement=achievement,
            score=0.0,
            source="event",
            status=MatchStatus.introduced.value,
            station=stations.route_for(need.org, event.station),
            broker=actor if actor.is_staff else None,
            introduced_at=utcnow(),
        )
        db.session.add(m)
        db.session.add(
            MatchEvent(match=m, actor=actor, action="introduce", from_status=None, to_status=m.status, note=text)
        )
        m.last_activity_at = utcnow()
        for listing, other in ((need, achievement), (achievement, need)):
            matches.notify_party(m, listing, f"对接通知：“{listing.title}”与“{other.title}”在活动中完成对接", text)
    elif m.status == MatchStatus.suggested.value:
        db.session.flush()
        matches.accept(m, actor, text)
    else:
        matches.add_note(m, actor, text)
    db.session.flush()
    pair = EventPair(
        event_id=event.id, need_id=need.id, achievement_id=achievement.id, match_id=m.id, recorded_by_id=actor.id
    )
    db.session.add(pair)
    _log(event, actor, "pair", f"{need.title} × {achievement.title} → 匹配 #{m.id}")
    db.session.flush()
    return pair


# ---- lists ------------------------------------------------------------------------------------


def upcoming_events(station_id: int | None = None, limit: int = 5, now: datetime | None = None) -> list[Event]:
    """The next events not cancelled (of one station when given), soonest first."""
    stmt = select(Event).where(Event.cancelled_at.is_(None), Event.ends_at > (now or utcnow()))
    if station_id is not None:
        stmt = stmt.where(Event.station_id == station_id)
    return db.session.scalars(stmt.order_by(Event.starts_at, Event.id).limit(limit)).all()


def on_day(day: date) -> list[Event]:
    start = datetime.combine(day, datetime.min.time())
    return db.session.scalars(
        select(Event)
        .where(Event.starts_at >= start, Event.starts_at < start + timedelta(days=1))
        .order_by(Event.starts_at)
    ).all()


def in_month(year: int, month: int, kind: str | None = None, station_id: int | None = None) -> list[Event]:
    start = datetime(year, month, 1)
    end = datetime(year + month // 12, month % 12 + 1, 1)
    stmt = select(Event).where(Event.starts_at >= start, Event.starts_at < end)
    if kind in EVENT_KINDS:
        stmt = stmt.where(Event.kind == kind)
    if station_id:
        stmt = stmt.where(Event.station_id == station_id)
    return db.session.scalars(stmt.order_by(Event.starts_at, Event.id)).all()


def seats(event: Event) -> dict[str, int]:
    confirmed, waiting = _count(event, SS.confirmed), _count(event, SS.waiting)
    return {"confirmed": confirmed, "waiting": waiting, "free": max(event.capacity - confirmed, 0)}


def my_signup(event: Event, user: User | None) -> EventSignup | None:
    if user is None or not user.is_authenticated:
        return None
    return db.session.scalar(
        select(EventSignup).where(EventSignup.event_id == event.id, EventSignup.contact_key == f"u:{user.id}")
    )


def presented(event: Event) -> tuple[list[Need], list[Achievement]]:
    return (
        db.session.scalars(select(Need).where(Need.id.in_(event.need_ids or [-1]))).all(),
        db.session.scalars(select(Achievement).where(Achievement.id.in_(event.achievement_ids or [-1]))).all(),
    )


def history(event: Event) -> list[EventLog]:
    return db.session.scalars(select(EventLog).where(EventLog.event_id == event.id).order_by(EventLog.id)).all()


def pairs(event: Event) -> list[EventPair]:
    return db.session.scalars(select(EventPair).where(EventPair.event_id == event.id).order_by(EventPair.id)).all()


ATTENDANCE_HEADERS = ("序号", "姓名", "单位", "手机/电话", "电子邮箱", "状态", "报名时间", "签到时间")


def attendance(event: Event) -> tuple[list, list[list]]:
    """The attendance list as export columns and rows (confirmed first, then the waiting list)."""
    from ..infra.exports import Column

    cols = [Column(h, width=w) for h, w in zip(ATTENDANCE_HEADERS, (6, 12, 24, 16, 24, 10, 18, 18))]
    rows = [
        [
            i,
            s.name,
            s.org_name,
            s.phone,
            s.email,
            s.status_label,
            f"{s.queued_at:%Y-%m-%d %H:%M}",
            f"{s.checked_in_at:%H:%M}" if s.checked_in_at else "",
        ]
        for i, s in enumerate(active_signups(event), start=1)
    ]
    return cols, rows
