"""技术合同认定登记: applications and registered contracts, their history, 登记编号 counters, yearly targets.

A row is one version of a contract. A change (变更) is a new row that ``amends`` a registered one;
when it is registered the old row becomes ``superseded``. Cancellation (注销) is a status and an
event. Nothing is ever deleted.
"""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow
from .listing import Money
from .match import Match
from .org import Organisation, Station
from .user import User


class ContractStatus(str, enum.Enum):
    pending = "pending"
    registered = "registered"
    refused = "refused"
    withdrawn = "withdrawn"
    superseded = "superseded"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return CONTRACT_STATUS_LABELS[self]


CONTRACT_STATUS_LABELS = {
    ContractStatus.pending: "待登记",
    ContractStatus.registered: "已登记",
    ContractStatus.refused: "未予登记",
    ContractStatus.withdrawn: "已撤回",
    ContractStatus.superseded: "已变更",
    ContractStatus.cancelled: "已注销",
}


class Contract(TimestampMixin, Model):
    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    ext_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    number: Mapped[str | None] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=ContractStatus.pending.value, index=True)
    title: Mapped[str] = mapped_column(String(200))
    ctype: Mapped[str] = mapped_column(String(10), index=True)
    subtype: Mapped[str] = mapped_column(String(20))

    seller_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    seller_name: Mapped[str] = mapped_column(String(100))
    seller_kind: Mapped[str] = mapped_column(String(20))
    seller_credit_code: Mapped[str | None] = mapped_column(String(18))
    seller_region: Mapped[str | None] = mapped_column(String(6), index=True)
    seller_country: Mapped[str] = mapped_column(String(40), default="中国")
    buyer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    buyer_name: Mapped[str] = mapped_column(String(100))
    buyer_kind: Mapped[str] = mapped_column(String(20))
    buyer_credit_code: Mapped[str | None] = mapped_column(String(18))
    buyer_region: Mapped[str | None] = mapped_column(String(6), index=True)
    buyer_country: Mapped[str] = mapped_column(String(40), default="中国")

    amount: Mapped[Decimal] = mapped_column(Money)
    tech_amount: Mapped[Decimal] = mapped_column(Money)
    approved_tech_amount: Mapped[Decimal | None] = mapped_column(Money)  # 核定技术交易额 (the registrar's)
    approved_note: Mapped[str | None] = mapped_column(Text)
    signed_on: Mapped[date] = mapped_column(Date, index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    field: Mapped[str] = mapped_column(String(40), index=True)
    ip_type: Mapped[str | None] = mapped_column(String(20))
    goal: Mapped[str | None] = mapped_column(String(40))
    planned_investment: Mapped[Decimal | None] = mapped_column(Money)
    planned_output: Mapped[Decimal | None] = mapped_column(Money)

    match_id: Mapped[int | None] = mapped_column(ForeignKey("match.id"), index=True)
    broker_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"), index=True)

    file_key: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_mime: Mapped[str | None] = mapped_column(String(40))
    file_size: Mapped[int | None] = mapped_column(Integer)

    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    registered_on: Mapped[date | None] = mapped_column(Date)
    stat_date: Mapped[date | None] = mapped_column(Date, index=True)
    refusal_code: Mapped[str | None] = mapped_column(String(2))
    refusal_note: Mapped[str | None] = mapped_column(Text)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancel_request_note: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(default=1)

    seller_org: Mapped[Organisation | None] = relationship(foreign_keys=[seller_org_id])
    buyer_org: Mapped[Organisation | None] = relationship(foreign_keys=[buyer_org_id])
    match: Mapped[Match | None] = relationship()
    broker: Mapped[User | None] = relationship(foreign_keys=[broker_id])
    station: Mapped[Station | None] = relationship()
    applicant: Mapped[User] = relationship(foreign_keys=[applicant_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    amends: Mapped["Contract | None"] = relationship(remote_side=[id])
    events: Mapped[list["ContractEvent"]] = relationship(back_populates="contract", order_by="ContractEvent.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return ContractStatus(self.status).label

    @property
    def counted_tech_amount(self) -> Decimal:
        """The 技术交易额 the statistics count: the registrar's 核定 figure where one was set."""
        return self.tech_amount if self.approved_tech_amount is None else self.approved_tech_amount

    @property
    def type_label(self) -> str:
        return self.ctype if self.subtype in (self.ctype, "") else f"{self.ctype}（{self.subtype}）"


class ContractEvent(Model):
    """One step of a contract: submitted, registered, refused, withdrawn, changed, cancelled, …"""

    __tablename__ = "contract_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    contract: Mapped[Contract] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class ContractCounter(Model):
    """The last serial issued for a (registering region, year); its row lock makes numbers gapless."""

    __tablename__ = "contract_counter"

    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class StatTarget(Model):
    """The yearly 技术合同成交额 target (元); years without a row use the configured default."""

    __tablename__ = "stat_target"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    amount: Mapped[Decimal] = mapped_column(Money)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
