"""成果 (Achievement) and 需求 (Need): two tables sharing one listing shape."""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from .base import Model, TimestampMixin
from .org import Organisation, Station

Money = Numeric(16, 2)


class ListingStatus(str, enum.Enum):
    draft = "draft"
    published = "published"
    archived = "archived"
    expired = "expired"

    @property
    def label(self) -> str:
        return {"draft": "草稿", "published": "已发布", "archived": "已归档", "expired": "已过期"}[self.value]


class ListingMixin(TimestampMixin):
    id: Mapped[int] = mapped_column(primary_key=True)
    ext_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    field: Mapped[str] = mapped_column(String(40), index=True)
    chain: Mapped[str | None] = mapped_column(String(40), index=True)
    contact_name: Mapped[str] = mapped_column(String(40))
    contact_phone: Mapped[str] = mapped_column(String(30))
    contact_email: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12), default=ListingStatus.draft.value, index=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[date | None] = mapped_column(Date, index=True)
    search_text: Mapped[str] = mapped_column(Text, default="")
    close_reason: Mapped[str | None] = mapped_column(String(20))  # why its owner took it down
    close_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)

    @declared_attr
    def org_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("organisation.id"), index=True)

    @declared_attr
    def owner_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("user_account.id"), index=True)

    @declared_attr
    def station_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("station.id"), index=True)

    @declared_attr
    def org(cls) -> Mapped[Organisation]:
        return relationship(Organisation)

    @declared_attr
    def owner(cls) -> Mapped["User | None"]:  # noqa: F821
        return relationship("User")

    @declared_attr
    def station(cls) -> Mapped[Station | None]:
        return relationship(Station)

    @property
    def status_label(self) -> str:
        return ListingStatus(self.status).label

    @property
    def is_published(self) -> bool:
        return self.status == ListingStatus.published.value


class Achievement(ListingMixin, Model):
    __tablename__ = "achievement"
    kind = "achievement"
    kind_label = "成果"

    summary: Mapped[str] = mapped_column(Text)
    maturity: Mapped[str] = mapped_column(String(12), index=True)
    trl: Mapped[int | None]
    ip: Mapped[list] = mapped_column(JSON, default=list)
    transfer_modes: Mapped[list] = mapped_column(JSON, default=list)
    price_min: Mapped[Decimal | None] = mapped_column(Money)
    price_max: Mapped[Decimal | None] = mapped_column(Money)

    @property
    def public_text(self) -> str:
        return self.summary


class Need(ListingMixin, Model):
    __tablename__ = "need"
    kind = "need"
    kind_label = "需求"

    statement: Mapped[str] = mapped_column(Text)
    indicators: Mapped[str] = mapped_column(Text, default="")
    bottleneck: Mapped[bool] = mapped_column(default=False, index=True)
    challenge_reward: Mapped[Decimal | None] = mapped_column(Money)
    challenge_deadline: Mapped[date | None] = mapped_column(Date)
    budget_min: Mapped[Decimal | None] = mapped_column(Money)
    budget_max: Mapped[Decimal | None] = mapped_column(Money)
    coop_modes: Mapped[list] = mapped_column(JSON, default=list)
    wanted_maturity: Mapped[str | None] = mapped_column(String(12))
    deadline: Mapped[date | None] = mapped_column(Date)

    @property
    def public_text(self) -> str:
        return self.statement

    @property
    def is_challenge(self) -> bool:
        return self.challenge_reward is not None
