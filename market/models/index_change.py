"""The index change log: one row per change of a listing the matching indexes must follow, written
in the same transaction as the change itself. The matching service (or the in-process engine)
applies rows in ``seq`` order and records in every index state the last ``seq`` it includes, so a
change is never lost between processes or hosts. ``op`` is ``upsert`` (``doc`` holds what the
matcher needs of the listing), ``remove`` (archived, expired, deleted) or ``settings`` (new ranking
weights; ``kind`` is ``*``). Older rows of the same listing are superseded and may be compacted."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, utcnow


class IndexChange(Model):
    __tablename__ = "index_change"
    __table_args__ = (
        Index("ix_index_change_listing", "kind", "listing_id", "seq"),
        {"sqlite_autoincrement": True},  # a sequence never reused, even after compaction
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    listing_id: Mapped[int] = mapped_column(Integer, nullable=False)
    op: Mapped[str] = mapped_column(String(8), nullable=False)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    doc: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
