"""The hall's and stations' events (路演、对接会、培训、政策宣讲): sign-ups with a waiting list, check-in,
the pairs that met there, and a history of every change."""

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow
from .org import Station
from .user import User

EVENT_KINDS = {"roadshow": "路演", "matchmaking": "对接会", "training": "培训", "policy": "政策宣讲"}


class SignupStatus(str, enum.Enum):
    confirmed = "confirmed"
    waiting = "waiting"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return {"confirmed": "已确认", "waiting": "候补", "cancelled": "已取消"}[self.value]


class Event(TimestampMixin, Model):
    __tablename__ = "hall_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(12), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    place: Mapped[str | None] = mapped_column(String(200))
    online_url: Mapped[str | None] = mapped_column(String(300))
    capacity: Mapped[int] = mapped_column(default=50)
    description: Mapped[str] = mapped_column(Text, default="")
    achievement_ids: Mapped[list] = mapped_column(JSON, default=list)  # 成果 presented
    need_ids: Mapped[list] = mapped_column(JSON, default=list)  # needs presented
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    seat_lock: Mapped[int] = mapped_column(default=0)  # bumped first in every seat change: serialises them

    station: Mapped[Station] = relationship()
    created_by: Mapped[User | None] = relationship()
    signups: Mapped[list["EventSignup"]] = relationship(back_populates="event", order_by="EventSignup.id")

    @property
    def kind_label(self) -> str:
        return EVENT_KINDS.get(self.kind, self.kind)


class EventSignup(TimestampMixin, Model):
    """One person's place: a member (``user_id``) or a visitor (name + phone or e-mail).
    ``contact_key`` is who it is (u:<id>, p:<phone>, e:<email>): one row per person and event; a
    cancelled row is taken up again on a new sign-up, nothing is deleted."""

    __tablename__ = "hall_event_signup"
    __table_args__ = (UniqueConstraint("event_id", "contact_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("hall_event.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    contact_key: Mapped[str] = mapped_column(String(130))
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(120))
    org_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12), index=True)
    queued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # place in the waiting list
    token: Mapped[str] = mapped_column(String(32), unique=True)  # a visitor's link to cancel
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)

    event: Mapped[Event] = relationship(back_populates="signups")
    user: Mapped[User | None] = relationship()

    @property
    def status_label(self) -> str:
        return SignupStatus(self.status).label


class EventPair(Model):
    """A need and a 成果 whose people met at the event; it became (or joined) a match."""

    __tablename__ = "hall_event_pair"
    __table_args__ = (UniqueConstraint("event_id", "need_id", "achievement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("hall_event.id"), index=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"))
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievement.id"))
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    need = relationship("Need")
    achievement = relationship("Achievement")
    match = relationship("Match")


class EventLog(Model):
    """History: every change to an event and its sign-ups (who, what, when)."""

    __tablename__ = "hall_event_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("hall_event.id"), index=True)
    signup_id: Mapped[int | None] = mapped_column(ForeignKey("hall_event_signup.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()
