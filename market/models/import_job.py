"""A bulk import job: what file, how far it got, what it did. Committed with every batch, so a
killed import resumes where its last committed batch ended."""

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin


class ImportStatus(str, enum.Enum):
    validating = "validating"  # first pass: every row checked, nothing written
    importing = "importing"  # second pass: batches stored and committed
    done = "done"
    invalid = "invalid"  # all-or-nothing and some rows were invalid: nothing written
    checked = "checked"  # a dry run finished
    failed = "failed"  # stopped by an error; re-running the same file resumes it
    superseded = "superseded"  # an unfinished job the user chose not to resume

    @property
    def label(self) -> str:
        return IMPORT_STATUS_LABELS[self]


IMPORT_STATUS_LABELS = {
    ImportStatus.validating: "校验中",
    ImportStatus.importing: "导入中",
    ImportStatus.done: "已完成",
    ImportStatus.invalid: "有错误，未导入",
    ImportStatus.checked: "已校验（未导入）",
    ImportStatus.failed: "已中断",
    ImportStatus.superseded: "已放弃",
}
UNFINISHED = (ImportStatus.validating.value, ImportStatus.importing.value, ImportStatus.failed.value)


class ImportJob(TimestampMixin, Model):
    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(255))
    file_path: Mapped[str] = mapped_column(String(1000))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=ImportStatus.validating.value, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    validated: Mapped[bool] = mapped_column(default=False)  # the first pass is over: resume the second
    rows_total: Mapped[int | None]
    rows_done: Mapped[int] = mapped_column(default=0)  # data rows covered by committed batches
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    progress: Mapped[dict] = mapped_column(JSON, default=dict)
    report_path: Mapped[str | None] = mapped_column(String(1000))
    rejects_path: Mapped[str | None] = mapped_column(String(1000))
    report_bytes: Mapped[int] = mapped_column(default=0)  # report sizes at the last commit
    rejects_bytes: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    host: Mapped[str | None] = mapped_column(String(100))
    pid: Mapped[int | None]
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped["User | None"] = relationship()  # noqa: F821

    @property
    def status_label(self) -> str:
        return ImportStatus(self.status).label

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED
