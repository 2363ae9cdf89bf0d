"""Reaching the network: 申请对接 requests to a station, the hall's service desk, the history of
both, and the history of a station page's edits."""

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow
from .org import Station
from .user import User


class ContactStatus(str, enum.Enum):
    pending = "pending"
    replied = "replied"
    closed = "closed"

    @property
    def label(self) -> str:
        return {"pending": "待回复", "replied": "已回复", "closed": "已关闭"}[self.value]


class ServiceStatus(str, enum.Enum):
    submitted = "submitted"
    accepted = "accepted"
    assigned = "assigned"
    in_progress = "in_progress"
    done = "done"
    refused = "refused"

    @property
    def label(self) -> str:
        return {
            "submitted": "待受理",
            "accepted": "已受理",
            "assigned": "已分派",
            "in_progress": "办理中",
            "done": "已办结",
            "refused": "已拒绝",
        }[self.value]


SERVICES = {
    "assessment": "技术评估",
    "ip_advice": "知识产权咨询",
    "contract_help": "合同登记辅导",
    "financing": "投融资对接",
}


class ContactRequest(TimestampMixin, Model):
    """申请对接: someone (a member, or a visitor with a private link) asks a station about a listing."""

    __tablename__ = "contact_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    listing_kind: Mapped[str] = mapped_column(String(12))  # need | achievement
    listing_id: Mapped[int] = mapped_column(index=True)
    listing_title: Mapped[str] = mapped_column(String(200))  # as it was when asked
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    org_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=ContactStatus.pending.value, index=True)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # a visitor's private link
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(default=1)

    station: Mapped[Station] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    replied_by: Mapped[User | None] = relationship(foreign_keys=[replied_by_id])
    events: Mapped[list["DeskEvent"]] = relationship(back_populates="contact", order_by="DeskEvent.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return ContactStatus(self.status).label


class ServiceRequest(TimestampMixin, Model):
    """A member asks the hall for a service; the hall accepts, assigns a broker and tracks it."""

    __tablename__ = "service_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(String(20), index=True)
    description: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"), index=True)
    broker_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=ServiceStatus.submitted.value, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    broker: Mapped[User | None] = relationship(foreign_keys=[broker_id])
    station: Mapped[Station | None] = relationship()
    events: Mapped[list["DeskEvent"]] = relationship(back_populates="service", order_by="DeskEvent.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return ServiceStatus(self.status).label

    @property
    def service_label(self) -> str:
        return SERVICES.get(self.service, self.service)


class DeskEvent(Model):
    """One step of a 申请对接 or a service request: who, what, from which status to which, a note."""

    __tablename__ = "desk_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact_request.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service_request.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    contact: Mapped[ContactRequest | None] = relationship(back_populates="events")
    service: Mapped[ServiceRequest | None] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class StationEdit(Model):
    """One edit of a station's page: field → [before, after]."""

    __tablename__ = "station_edit"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    changes: Mapped[dict] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()
