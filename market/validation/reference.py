"""Reference data: taxonomies seeded from data/reference, read back as a Vocab."""

import json

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..config import REFERENCE_DIR
from ..extensions import db
from ..models import Term
from .fields import Vocab

TERM_KIND_LABELS = {
    "field": "技术领域",
    "chain": "产业链",
    "maturity": "成熟度",
    "ip_type": "知识产权类型",
    "transfer_mode": "转化方式",
    "coop_mode": "合作方式",
    "org_kind": "单位性质",
}


def load_taxonomy_file() -> dict:
    with open(REFERENCE_DIR / "taxonomy.json", encoding="utf-8") as f:
        return json.load(f)


def seed_taxonomies() -> int:
    """Insert the reference terms that are missing; returns how many were added. Safe to repeat."""
    tax = load_taxonomy_file()
    existing = {(t.kind, t.name): t for t in db.session.scalars(db.select(Term))}
    added = 0

    def ensure(kind, name, position, parent=None):
        nonlocal added
        term = existing.get((kind, name))
        if term is None:
            term = Term(kind=kind, name=name, position=position, parent=parent)
            db.session.add(term)
            existing[(kind, name)] = term
            added += 1
        return term

    for kind in ("field", "maturity", "ip_type", "transfer_mode", "coop_mode", "org_kind"):
        for i, name in enumerate(tax[kind]):
            ensure(kind, name, i)
    position = 0
    for parent_name, children in tax["chain"].items():
        parent = ensure("chain", parent_name, position)
        position += 1
        for child in children:
            ensure("chain", child, position, parent)
            position += 1
    db.session.flush()
    return added


_VOCAB = "reference.vocab"


def vocab() -> Vocab:
    """The taxonomies, read once per transaction (a bulk import checks thousands of rows in one)."""
    info = db.session().info
    if _VOCAB not in info:
        info[_VOCAB] = _read_vocab()
    return info[_VOCAB]


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_vocab(session):
    session.info.pop(_VOCAB, None)


@event.listens_for(Session, "after_flush")
def _forget_changed_vocab(session, flush_context):
    if any(isinstance(obj, Term) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info.pop(_VOCAB, None)


def _read_vocab() -> Vocab:
    terms = db.session.scalars(db.select(Term).order_by(Term.kind, Term.position)).all()
    names: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    by_id = {t.id: t for t in terms}
    for t in terms:
        names.setdefault(t.kind, []).append(t.name)
        if t.parent_id:
            children.setdefault(by_id[t.parent_id].name, []).append(t.name)
    trl = {int(k): v for k, v in load_taxonomy_file()["trl_stage"].items()}
    return Vocab(names=names, chain_children=children, trl_stage=trl)


def add_term(kind: str, name: str, parent: str | None = None) -> Term:
    """An admin's new taxonomy value; existing values are never renamed or removed (records use them)."""
    from .fields import ValidationError

    if kind not in TERM_KIND_LABELS:
        raise ValidationError({"kind": "未知的分类"})
    if not 1 <= len(name) <= 40:
        raise ValidationError({"name": "名称为 1–40 个字"})
    if db.session.scalar(db.select(Term.id).where(Term.kind == kind, Term.name == name)):
        raise ValidationError({"name": f"“{name}”已存在"})
    parent_term = None
    if parent:
        if kind != "chain":
            raise ValidationError({"parent": "只有产业链可以有上级"})
        parent_term = db.session.scalar(
            db.select(Term).where(Term.kind == "chain", Term.name == parent, Term.parent_id.is_(None))
        )
        if parent_term is None:
            raise ValidationError({"parent": f"上级产业链“{parent}”不存在"})
    position = (db.session.scalar(db.select(db.func.max(Term.position)).where(Term.kind == kind)) or 0) + 1
    term = Term(kind=kind, name=name, parent=parent_term, position=position)
    db.session.add(term)
    db.session.flush()
    return term
