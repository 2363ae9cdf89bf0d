"""揭榜挂帅: a challenge need's call (criteria, reviewers, result and 公示), the teams' applications,
the reviewers' scores, objections to the result, and the history of every step."""

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow
from .listing import Achievement, Need
from .user import User


class Stage(str, enum.Enum):
    screening = "screening"  # 形式审查
    review = "review"  # 专家评审
    defence = "defence"  # 入围答辩
    awarded = "awarded"  # 揭榜成功
    dropped = "dropped"  # 未通过（reason, at which stage）

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]


STAGE_LABELS = {
    Stage.screening: "形式审查",
    Stage.review: "专家评审",
    Stage.defence: "入围答辩",
    Stage.awarded: "揭榜成功",
    Stage.dropped: "未通过",
}


class Challenge(TimestampMixin, Model):
    """The call of one 揭榜挂帅 need: its weighted criteria, assigned experts and the result."""

    __tablename__ = "challenge"

    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"), primary_key=True)
    criteria: Mapped[list] = mapped_column(JSON, default=list)  # [{"name": …, "weight": int}, …]
    expert_ids: Mapped[list] = mapped_column(JSON, default=list)  # reviewers besides brokers
    awarded_id: Mapped[int | None] = mapped_column(ForeignKey("challenge_application.id", use_alter=True))
    publicity_from: Mapped[datetime | None] = mapped_column(DateTime)
    objection_until: Mapped[datetime | None] = mapped_column(DateTime)
    finalised_at: Mapped[datetime | None] = mapped_column(DateTime)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("match.id"))
    version: Mapped[int] = mapped_column(default=1)

    need: Mapped[Need] = relationship()
    awarded: Mapped["ChallengeApplication | None"] = relationship(foreign_keys=[awarded_id], post_update=True)

    __mapper_args__ = {"version_id_col": version}


class ChallengeApplication(TimestampMixin, Model):
    """A team's 揭榜 application. ``summary`` is what the owner sees from the start; solution,
    team, prior results and the attachment are confidential until the application passes 形式审查."""

    __tablename__ = "challenge_application"
    __table_args__ = (UniqueConstraint("need_id", "applicant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    team_name: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    solution: Mapped[str] = mapped_column(Text)
    team: Mapped[str] = mapped_column(Text)
    prior_results: Mapped[str] = mapped_column(Text, default="")
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievement.id"))
    file_key: Mapped[str | None] = mapped_column(String(40))
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_mime: Mapped[str | None] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(12), default=Stage.screening.value, index=True)
    dropped_at_stage: Mapped[str | None] = mapped_column(String(12))
    drop_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    need: Mapped[Need] = relationship()
    applicant: Mapped[User] = relationship()
    achievement: Mapped[Achievement | None] = relationship()
    scores: Mapped[list["ChallengeScore"]] = relationship(back_populates="application", order_by="ChallengeScore.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def stage_label(self) -> str:
        return Stage(self.stage).label

    @property
    def average(self) -> float | None:
        return round(sum(s.total for s in self.scores) / len(self.scores), 2) if self.scores else None


class ChallengeScore(Model):
    """One reviewer's score of one application (one per reviewer: a unique pair)."""

    __tablename__ = "challenge_score"
    __table_args__ = (UniqueConstraint("application_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("challenge_application.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    marks: Mapped[dict] = mapped_column(JSON)  # criterion name → 0–100
    total: Mapped[float] = mapped_column(Float)  # weighted by the criteria
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    application: Mapped[ChallengeApplication] = relationship(back_populates="scores")
    reviewer: Mapped[User] = relationship()


class ChallengeObjection(Model):
    """An objection to a 公示 result, made within the window; seen by staff."""

    __tablename__ = "challenge_objection"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    name: Mapped[str] = mapped_column(String(40))
    contact: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ChallengeLog(Model):
    """History of a challenge: applications, stage moves (from → to, reason), scores, 公示, objections."""

    __tablename__ = "challenge_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("challenge_application.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_stage: Mapped[str | None] = mapped_column(String(12))
    to_stage: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()
