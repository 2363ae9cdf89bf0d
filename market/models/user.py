import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .base import Model, TimestampMixin, utcnow
from .org import Organisation, Station


class Role(str, enum.Enum):
    researcher = "researcher"
    enterprise = "enterprise"
    broker = "broker"
    registrar = "registrar"
    admin = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.researcher: "科研人员",
    Role.enterprise: "企业用户",
    Role.broker: "技术经纪人",
    Role.registrar: "登记员",
    Role.admin: "管理员",
}
SELF_SERVICE_ROLES = (Role.researcher, Role.enterprise)


class OrgState(str, enum.Enum):
    """An account's membership of its organisation."""

    pending = "pending"
    confirmed = "confirmed"
    refused = "refused"

    @property
    def label(self) -> str:
        return {"pending": "待确认", "confirmed": "已确认", "refused": "未获确认"}[self.value]


PASSWORD_METHOD = "scrypt"  # tests lower the cost; production keeps werkzeug's default


class User(UserMixin, TimestampMixin, Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20), default=Role.researcher.value)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"))
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    org_state: Mapped[str | None] = mapped_column(String(12), index=True)
    org_admin: Mapped[bool] = mapped_column(default=False)
    org_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    org_decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    session_token: Mapped[str | None] = mapped_column(String(32))  # rotated at logout: ends every session
    station_admin: Mapped[bool] = mapped_column(default=False)  # a broker who edits the station's page
    expertise: Mapped[str | None] = mapped_column(String(100))  # a broker's 领域, shown on the station page
    email_notices: Mapped[bool] = mapped_column(default=True, server_default=sa_true())  # notices by e-mail too

    org: Mapped[Organisation | None] = relationship()
    station: Mapped[Station | None] = relationship(back_populates="brokers")

    def get_id(self) -> str:
        """What the session and the remember cookie carry: the id and the current session token, so
        rotating the token (logout) invalidates every cookie issued before."""
        if not self.session_token:
            self.new_session_token()
        return f"{self.id}.{self.session_token}"

    def new_session_token(self) -> None:
        self.session_token = secrets.token_hex(16)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def org_confirmed(self) -> bool:
        return self.org_id is not None and self.org_state == OrgState.confirmed.value

    @property
    def member_org_id(self) -> int | None:
        """The organisation the account may see and act for: a confirmed membership of an
        organisation a platform admin has verified; None otherwise (then only its own records)."""
        if self.org_confirmed and self.org is not None and self.org.verified:
            return self.org_id
        return None

    @property
    def org_state_label(self) -> str:
        return OrgState(self.org_state).label if self.org_state else ""

    @property
    def is_active(self) -> bool:
        return self.active

    def has_role(self, *roles: Role | str) -> bool:
        return self.role in {Role(r).value for r in roles}

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin.value

    @property
    def is_staff(self) -> bool:
        """Brokers and admins see every listing's private fields."""
        return self.role in (Role.broker.value, Role.admin.value)

    @property
    def role_label(self) -> str:
        return Role(self.role).label


class LoginAttempt(Model):
    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), index=True)
    ip: Mapped[str] = mapped_column(String(45))
    ok: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
