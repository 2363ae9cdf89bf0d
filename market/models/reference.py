from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model


class Term(Model):
    """A value of a taxonomy (技术领域, 产业链, 成熟度, 知识产权类型, 转化方式, 合作方式, 单位性质)."""

    __tablename__ = "term"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("term.id"))
    position: Mapped[int] = mapped_column(default=0)

    parent: Mapped["Term | None"] = relationship(remote_side=[id])
