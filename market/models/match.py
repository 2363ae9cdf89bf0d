"""A suggested pairing of a 需求 and a 成果, and its lifecycle (every step is kept)."""

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow
from .listing import Achievement, Need
from .org import Station
from .user import User


class MatchStatus(str, enum.Enum):
    suggested = "suggested"
    accepted = "accepted"
    rejected = "rejected"
    introduced = "introduced"
    negotiating = "negotiating"
    contracted = "contracted"
    closed = "closed"

    @property
    def label(self) -> str:
        return MATCH_STATUS_LABELS[self]


MATCH_STATUS_LABELS = {
    MatchStatus.suggested: "待审核",
    MatchStatus.accepted: "待双方同意",
    MatchStatus.rejected: "未采纳",
    MatchStatus.introduced: "对接中",
    MatchStatus.negotiating: "洽谈中",
    MatchStatus.contracted: "已签约",
    MatchStatus.closed: "已关闭",
}


MATCH_SOURCES = {"system": "系统推荐", "event": "活动", "challenge": "揭榜挂帅"}


class Match(TimestampMixin, Model):
    __tablename__ = "match"
    __table_args__ = (UniqueConstraint("need_id", "achievement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievement.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=MatchStatus.suggested.value, index=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    explanation: Mapped[dict | None] = mapped_column(JSON)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"), index=True)
    broker_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    reason_code: Mapped[str | None] = mapped_column(String(30))
    reason_text: Mapped[str | None] = mapped_column(Text)
    need_response: Mapped[str | None] = mapped_column(String(20))
    achievement_response: Mapped[str | None] = mapped_column(String(20))
    introduced_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_activity_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    offered_at: Mapped[datetime | None] = mapped_column(DateTime)  # the parties were asked: they see it from then
    consent_due: Mapped[date | None] = mapped_column(Date)  # answer 同意对接 / 暂不考虑 by then
    version: Mapped[int] = mapped_column(default=1)
    source: Mapped[str] = mapped_column(String(12), default="system", server_default="system")

    need: Mapped[Need] = relationship()
    achievement: Mapped[Achievement] = relationship()
    station: Mapped[Station | None] = relationship()
    broker: Mapped[User | None] = relationship()
    events: Mapped[list["MatchEvent"]] = relationship(back_populates="match", order_by="MatchEvent.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return MatchStatus(self.status).label

    @property
    def source_label(self) -> str:
        return MATCH_SOURCES.get(self.source, self.source)


class MatchEvent(Model):
    """One step of a match: who moved it from what to what, when, and why."""

    __tablename__ = "match_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    internal: Mapped[bool] = mapped_column(default=False, server_default=false())  # brokers and staff only
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    match: Mapped[Match] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
