"""A piece of slow work to run after the transaction that asked for it commits (``market.infra.jobs``).

The row is written in that same transaction (a transactional outbox): a job exists exactly when
the change that wanted it was committed, and survives the process dying right after the commit.
"""

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, utcnow


class JobStatus(str, enum.Enum):
    queued = "queued"  # waiting, to run at run_after or later (again, after a failed attempt)
    running = "running"  # claimed by locked_by at locked_at (refreshed while it runs)
    done = "done"
    failed = "failed"  # failed max_attempts times; `market jobs retry` queues it again

    @property
    def label(self) -> str:
        return JOB_STATUS_LABELS[self]


JOB_STATUS_LABELS = {
    JobStatus.queued: "排队中",
    JobStatus.running: "运行中",
    JobStatus.done: "已完成",
    JobStatus.failed: "失败",
}


class Job(Model):
    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_run_after", "status", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.queued.value)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    run_after: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def status_label(self) -> str:
        return JobStatus(self.status).label
