"""Lists, the registrar's queue, versions, and the form values an application starts from."""

from sqlalchemy import func, or_, select

from ...extensions import db
from ...models import Achievement, Contract, ContractStatus, Match, MatchStatus, Need, Role, User
from .access import can_apply, is_registrar
from .validation import FIELDS, OPEN, SIDES, _open_contract_for, may_link


def contract_of(match: Match) -> Contract | None:
    """The contract (pending or registered) that names this match."""
    return _open_contract_for(match, None)


def may_apply_for(actor: User, match: Match) -> bool:
    """The match page offers 申请技术合同登记: a deal in 对接中/洽谈中 with no contract yet, to someone
    who may apply for the seller and name the match."""
    return (
        match.status in (MatchStatus.introduced.value, MatchStatus.negotiating.value)
        and can_apply(actor)
        and may_link(actor, match)
        and _open_contract_for(match, None) is None
    )


def _matches_owned_by(user: User):
    return select(Match.id).where(
        or_(
            Match.need_id.in_(select(Need.id).where(Need.owner_id == user.id)),
            Match.achievement_id.in_(select(Achievement.id).where(Achievement.owner_id == user.id)),
        )
    )


def visible_query(user: User, status: str = "", q: str = ""):
    """Contracts whose full record the user may see, newest application first."""
    stmt = select(Contract)
    if not is_registrar(user):
        conds = [Contract.applicant_id == user.id, Contract.match_id.in_(_matches_owned_by(user))]
        if user.has_role(Role.researcher, Role.enterprise) and user.member_org_id is not None:
            conds.append(Contract.seller_org_id == user.member_org_id)
        if user.has_role(Role.broker):
            conds.append(Contract.broker_id == user.id)
            if user.station_id is not None:
                conds.append(Contract.station_id == user.station_id)
        stmt = stmt.where(or_(*conds))
    if status in {s.value for s in ContractStatus}:
        stmt = stmt.where(Contract.status == status)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            or_(
                Contract.title.like(like),
                Contract.number.like(like),
                Contract.seller_name.like(like),
                Contract.buyer_name.like(like),
            )
        )
    return stmt.order_by(Contract.submitted_at.desc(), Contract.id.desc())


def queue() -> dict[str, list[Contract]]:
    """The registrar's work: applications by deadline, then registered contracts asking to be cancelled."""
    pending = db.session.scalars(
        select(Contract)
        .where(Contract.status == ContractStatus.pending.value)
        .order_by(Contract.due_on, Contract.submitted_at, Contract.id)
    ).all()
    cancels = db.session.scalars(
        select(Contract)
        .where(Contract.status == ContractStatus.registered.value, Contract.cancel_requested_at.is_not(None))
        .order_by(Contract.cancel_requested_at)
    ).all()
    return {"pending": pending, "cancels": cancels}


def pending_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contract).where(Contract.status == ContractStatus.pending.value)
    )


def versions(contract: Contract) -> list[Contract]:
    """Every version of the contract, oldest first (the changes that amend one another)."""
    first = contract
    while first.amends is not None:
        first = first.amends
    chain, current = [first], first
    while nxt := db.session.scalar(
        select(Contract).where(Contract.amends_id == current.id).order_by(Contract.id.desc()).limit(1)
    ):
        chain.append(nxt)
        current = nxt
    return chain


def linkable_matches(actor: User) -> list[Match]:
    """Matches in 对接中/洽谈中 the actor may name on an application."""
    stmt = select(Match).where(Match.status.in_((MatchStatus.introduced.value, MatchStatus.negotiating.value)))
    if actor.has_role(Role.researcher, Role.enterprise):
        stmt = stmt.join(Achievement, Match.achievement_id == Achievement.id).where(
            Achievement.org_id == actor.member_org_id
        )
    elif actor.has_role(Role.broker) and not (actor.station is not None and actor.station.is_hall):
        stmt = stmt.where(or_(Match.station_id == actor.station_id, Match.broker_id == actor.id))
    linked = select(Contract.match_id).where(Contract.match_id.is_not(None), Contract.status.in_(OPEN))
    return db.session.scalars(stmt.where(Match.id.not_in(linked)).order_by(Match.id.desc()).limit(200)).all()


def values_from_match(match: Match) -> dict:
    """Form values an application starts from when it names a match."""
    return {
        "match_id": str(match.id),
        "seller_org_id": str(match.achievement.org_id),
        "buyer_org_id": str(match.need.org_id),
        "title": match.achievement.title[:100],
        "field": match.achievement.field,
        "station_id": str(match.station_id or ""),
        "broker_id": str(match.broker_id or ""),
    }


def values_of(contract: Contract) -> dict:
    """Form values of an existing contract (for a change, or a new application after a refusal)."""
    out = {f.name: getattr(contract, f.name) for f in FIELDS}
    out.update(
        ctype=contract.ctype,
        subtype=contract.subtype,
        match_id=str(contract.match_id or ""),
        station_id=str(contract.station_id or ""),
        broker_id=str(contract.broker_id or ""),
    )
    for side in SIDES:
        for key in ("org_id", "name", "kind", "credit_code", "region", "country"):
            value = getattr(contract, f"{side}_{key}")
            out[f"{side}_{key}"] = "" if value is None else str(value)
    return out
