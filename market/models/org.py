from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin

RESEARCH_KINDS = ("高校", "科研院所", "新型研发机构")
ENTERPRISE_KINDS = ("国有企业", "民营企业", "外资企业")


class Organisation(TimestampMixin, Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    region: Mapped[str] = mapped_column(String(6), index=True)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime)  # by a platform admin, 信用代码 checked

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def is_research(self) -> bool:
        return self.kind in RESEARCH_KINDS

    @property
    def is_enterprise(self) -> bool:
        return self.kind in ENTERPRISE_KINDS


class Station(TimestampMixin, Model):
    """A broker station (驿站); the trading hall is the station with ``is_hall``."""

    __tablename__ = "station"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    host_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    region: Mapped[str] = mapped_column(String(6))
    is_hall: Mapped[bool] = mapped_column(default=False)
    districts: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # the public page (edited by the station's admins, every edit kept in station_edit)
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    hours: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    served_orgs: Mapped[list | None] = mapped_column(
        JSON, default=list
    )  # organisation ids it serves besides its districts

    host: Mapped[Organisation] = relationship()
    brokers: Mapped[list["User"]] = relationship(back_populates="station")  # noqa: F821
