"""The steps of a contract's life — apply, register (登记编号), refuse, withdraw, change (变更),
cancel (注销) — and the registrar's deadlines.

Every step is a ContractEvent; nothing is deleted. A change is a new application that amends a
registered contract: registering it issues a new number and marks the old version superseded, so
the current version is the only one counted. ``TRANSITIONS`` says who may take which step from
which status; the use cases and the contract page (which buttons show) both read it.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from ...extensions import db
from ...infra import uploads
from ...infra.notify import notify as send_notice
from ...models import Contract, ContractEvent, ContractStatus, MatchStatus, User, utcnow
from ...validation import rules, workdays
from ...validation.fields import ValidationError
from .. import matches
from .access import Conflict, NotAllowed, can_act_for, can_apply, is_registrar
from .numbering import allocate_number
from .validation import REFUSAL_REASONS, check_approval, locality, validate

ACTION_LABELS = {
    "submit": "提交登记申请",
    "change": "提交变更申请",
    "register": "登记",
    "refuse": "未予登记",
    "withdraw": "撤回申请",
    "supersede": "被变更登记取代",
    "cancel_request": "申请注销",
    "cancel": "注销登记",
    "cancel_declined": "驳回注销申请",
}


@dataclass(frozen=True)
class Move:
    """One step: the statuses it starts from, the status it leaves (None: unchanged), who takes it
    ("registrar": registrars and admins; "applicant": whoever may act for the applicant; "system":
    a consequence of another step), what is said when the status does not allow it (``{status}``
    is the current one), and conditions that block it while they hold, each with its message."""

    sources: tuple[ContractStatus, ...]
    to: ContractStatus | None
    who: str
    wrong_status: str
    unless: tuple[tuple[str, str], ...] = ()


_APPLICANT_SIDE = "只有申请方、该驿站的技术经纪人或管理员可以"
TRANSITIONS = {
    # a change is a new pending application; the registered original stays until the change is registered
    "change": Move(
        (ContractStatus.registered,),
        None,
        "applicant",
        "该合同当前为“{status}”，只有已登记的合同可以申请变更",
        (
            ("cancel_requested", "该合同正在申请注销，不能同时申请变更"),
            ("pending_change", "该合同已有一份待登记的变更申请"),
        ),
    ),
    "register": Move(
        (ContractStatus.pending,), ContractStatus.registered, "registrar", "该申请当前为“{status}”，不能登记"
    ),
    "supersede": Move(
        (ContractStatus.registered,),
        ContractStatus.superseded,
        "system",
        "被变更的合同当前为“{status}”，不能登记这份变更",
    ),
    "refuse": Move(
        (ContractStatus.pending,), ContractStatus.refused, "registrar", "该申请当前为“{status}”，不能作出未予登记决定"
    ),
    "withdraw": Move(
        (ContractStatus.pending,), ContractStatus.withdrawn, "applicant", "该申请当前为“{status}”，不能撤回"
    ),
    "cancel_request": Move(
        (ContractStatus.registered,),
        None,
        "applicant",
        "该合同当前为“{status}”，只有已登记的合同可以申请注销",
        (
            ("cancel_requested", "已经提交过注销申请，请等待登记员处理"),
            ("pending_change", "该合同有待登记的变更申请，请先撤回变更申请"),
        ),
    ),
    "cancel": Move(
        (ContractStatus.registered,),
        ContractStatus.cancelled,
        "registrar",
        "该合同当前为“{status}”，只有已登记的合同可以注销",
        (("pending_change", "该合同有待登记的变更申请，请先对变更申请作出决定"),),
    ),
    "cancel_declined": Move(
        (ContractStatus.registered,),
        None,
        "registrar",
        "该合同没有待处理的注销申请",
        (("no_cancel_request", "该合同没有待处理的注销申请"),),
    ),
}
DENIED = {
    "registrar": "只有登记员或管理员可以审核技术合同",
    "change": _APPLICANT_SIDE + "申请变更",
    "withdraw": _APPLICANT_SIDE + "撤回申请",
    "cancel_request": _APPLICANT_SIDE + "申请注销",
}


def pending_change(contract: Contract) -> Contract | None:
    return db.session.scalar(
        select(Contract).where(Contract.amends_id == contract.id, Contract.status == ContractStatus.pending.value)
    )


_CONDITIONS = {
    "cancel_requested": lambda c: c.cancel_requested_at is not None,
    "no_cancel_request": lambda c: c.cancel_requested_at is None,
    "pending_change": lambda c: pending_change(c) is not None,
}


def _may(who: str, user: User | None, contract: Contract) -> bool:
    if who == "registrar":
        return is_registrar(user)
    return who == "system" or can_act_for(user, contract)


def check_status(action: str, contract: Contract) -> Move:
    """NotAllowed unless the contract's status allows the step."""
    move = TRANSITIONS[action]
    if ContractStatus(contract.status) not in move.sources:
        raise NotAllowed(move.wrong_status.format(status=contract.status_label))
    return move


def check(action: str, contract: Contract, actor: User | None = None) -> Move:
    """PermissionError when the actor may not take the step, NotAllowed when the contract's status
    or one of the step's conditions stops it; checked in that order."""
    move = TRANSITIONS[action]
    if not _may(move.who, actor, contract):
        raise PermissionError(DENIED.get(action) or DENIED[move.who])
    check_status(action, contract)
    for condition, message in move.unless:
        if _CONDITIONS[condition](contract):
            raise NotAllowed(message)
    return move


def moves(user: User | None, contract: Contract) -> dict[str, bool]:
    """The steps the user may take on the contract in its status, each with whether its conditions
    let it go ahead now: what the contract page offers."""
    out = {}
    for action, move in TRANSITIONS.items():
        if move.who == "system" or not _may(move.who, user, contract):
            continue
        if ContractStatus(contract.status) in move.sources:
            out[action] = not any(_CONDITIONS[name](contract) for name, _ in move.unless)
    return out


LONG_REVIEW_AMOUNT = Decimal("5000000")
REVIEW_DAYS, LONG_REVIEW_DAYS = 15, 30


def review_days(tech_amount: Decimal) -> int:
    return LONG_REVIEW_DAYS if tech_amount >= LONG_REVIEW_AMOUNT else REVIEW_DAYS


def deadline(submitted: date, tech_amount: Decimal) -> date:
    """Registrars decide within 15 working days of the application (30 when 技术交易额 ≥ 500万元)."""
    return workdays.add_working_days(submitted, review_days(tech_amount))


def days_left(due_on: date, today: date | None = None) -> int:
    """Working days left until the deadline; negative once it has passed (at least -1, even when
    only a weekend lies between)."""
    today = today or date.today()
    if today > due_on:
        return -max(1, workdays.working_days_between(due_on, today))
    return workdays.working_days_between(today, due_on)


def working_days_left(contract: Contract, today: date | None = None) -> int:
    return days_left(contract.due_on, today)


def _record(
    contract: Contract,
    actor: User | None,
    action: str,
    note: str = "",
    before: str | None = None,
    at: datetime | None = None,
) -> None:
    db.session.add(
        ContractEvent(
            contract=contract,
            actor=actor,
            action=action,
            from_status=before,
            to_status=contract.status,
            note=note or "",
            at=at or utcnow(),
        )
    )


def _tell(user: User | None, key: str, title: str, body: str, contract: Contract) -> None:
    send_notice(user, title, body, link=f"/contracts/{contract.id}", key=key)  # in-app, and mail when SMTP is set


def _flush() -> None:
    matches.flush_or_conflict(Conflict)


def submit(
    raw: dict,
    actor: User,
    file=None,
    amends: Contract | None = None,
    now: datetime | None = None,
    ext_id: str | None = None,
) -> Contract:
    """A registration application (or, with ``amends``, a change application); nothing is stored
    when anything is wrong, the scanned contract included."""
    if not can_apply(actor):
        raise PermissionError("只有卖方单位的用户、技术经纪人或管理员可以申请技术合同登记")
    now = now or utcnow()
    errors = {}
    values = {}
    try:
        values = validate(raw, actor, amends, today=now.date())
    except ValidationError as e:
        errors.update(e.errors)
    try:
        upload = uploads.check(file)
    except ValueError as e:
        errors["attachment"] = f"合同扫描件：{e}"
    if errors:
        raise ValidationError(errors)
    contract = Contract(
        **values,
        applicant=actor,
        status=ContractStatus.pending.value,
        submitted_at=now,
        amends=amends,
        due_on=deadline(now.date(), values["tech_amount"]),
        ext_id=ext_id,
    )
    stored = uploads.save(upload) if upload else None
    if stored:
        contract.file_key, contract.file_name, contract.file_mime, contract.file_size = (
            stored.key,
            stored.name,
            stored.mime,
            stored.size,
        )
    elif amends is not None:
        contract.file_key, contract.file_name, contract.file_mime, contract.file_size = (
            amends.file_key,
            amends.file_name,
            amends.file_mime,
            amends.file_size,
        )
    db.session.add(contract)
    try:
        db.session.flush()
    except Exception:
        if stored:
            uploads.discard(stored.key)
        raise
    note = f"变更已登记的合同 {amends.number}" if amends is not None else ""
    _record(contract, actor, "change" if amends is not None else "submit", note, at=now)
    match = contract.match
    if match is not None and amends is None:
        matches.record_contract_applied(match, actor, contract)
        if match.broker is not None and match.broker_id != actor.id:
            _tell(
                match.broker,
                f"contract:{contract.id}:submitted",
                f"#{match.id} 已申请技术合同登记",
                f"“{contract.title}”已提交登记申请。",
                contract,
            )
    return contract


def submit_change(original: Contract, raw: dict, actor: User, file=None, now: datetime | None = None) -> Contract:
    check("change", original, actor)
    return submit(raw, actor, file, amends=original, now=now)


def register(
    contract: Contract,
    registrar: User,
    now: datetime | None = None,
    notify: bool = True,
    approved=None,
    approved_note: str = "",
    checked=None,
) -> Contract:
    """认定登记: issue the 登记编号; a change supersedes the version it amends; a named match is contracted.
    ``approved`` sets the 核定技术交易额 when lower than the applicant's figure; ``checked`` (the web
    form's ticked checklist items) must cover CHECKLIST when given."""
    move = check("register", contract, registrar)
    contract.approved_tech_amount, contract.approved_note = check_approval(contract, approved, approved_note, checked)
    original = contract.amends
    if original is not None:
        check("supersede", original)
    now = now or utcnow()
    today = now.date()
    before = contract.status
    contract.status = move.to.value
    contract.decided_at, contract.decided_by, contract.registered_on = now, registrar, today
    contract.stat_date = original.stat_date if original is not None and original.stat_date else today
    _flush()  # claims the application: a second registrar's flush fails here, before a number is drawn
    contract.number = allocate_number(locality(contract), today.year)
    _record(contract, registrar, "register", f"登记编号 {contract.number}", before, now)
    if original is not None:
        before = original.status
        original.status = TRANSITIONS["supersede"].to.value
        _record(original, registrar, "supersede", f"由变更登记 {contract.number} 取代", before, now)
        if original.cancel_requested_at is not None:
            original.cancel_requested_at = None
    match = contract.match
    if match is not None and match.status in (MatchStatus.introduced.value, MatchStatus.negotiating.value):
        matches.mark_contracted(match, registrar, f"技术合同已登记，登记编号 {contract.number}")
    _flush()
    if notify:
        body = f"登记编号 {contract.number}。"
        if contract.approved_tech_amount is not None:
            body += (
                f"核定技术交易额{rules.format_amount(contract.approved_tech_amount)}"
                f"（申报{rules.format_amount(contract.tech_amount)}）：{contract.approved_note}"
            )
        _tell_parties(contract, "registered", f"技术合同“{contract.title}”已登记", body)
    return contract


def _tell_parties(contract: Contract, what: str, title: str, body: str) -> None:
    """A decision goes to the applicant and, for a contract from a platform match, to both parties
    of the match and its broker."""
    people = [contract.applicant]
    if contract.match is not None:
        people += [contract.match.need.owner, contract.match.achievement.owner, contract.match.broker]
    for user in {u.id: u for u in people if u is not None}.values():
        _tell(user, f"contract:{contract.id}:{what}:{user.id}", title, body, contract)


def refuse(
    contract: Contract, registrar: User, code, note: str = "", now: datetime | None = None, notify: bool = True
) -> Contract:
    """未予登记 with one of the nine standard reasons and a note the applicant sees."""
    move = check("refuse", contract, registrar)
    code, note = str(code or "").strip(), (note or "").strip()
    errors = {}
    if code not in REFUSAL_REASONS:
        errors["refusal_code"] = "请选择未予登记的理由"
    elif code == "9" and not note:
        errors["refusal_note"] = "选择“其他”时请写明理由"
    if len(note) > 1000:
        errors["refusal_note"] = "说明最多 1000 个字"
    if errors:
        raise ValidationError(errors)
    now = now or utcnow()
    before = contract.status
    contract.status = move.to.value
    contract.refusal_code, contract.refusal_note = code, note or None
    contract.decided_at, contract.decided_by = now, registrar
    _flush()
    _record(contract, registrar, "refuse", refusal_text(contract), before, now)
    if notify:
        _tell_parties(
            contract,
            "refused",
            f"技术合同“{contract.title}”未予登记",
            f"理由：{refusal_text(contract)}。可按说明修改后重新申请。",
        )
    return contract


def refusal_text(contract: Contract) -> str:
    if not contract.refusal_code:
        return ""
    label = REFUSAL_REASONS.get(contract.refusal_code, contract.refusal_code)
    return f"{contract.refusal_code}. {label}" + (f"——{contract.refusal_note}" if contract.refusal_note else "")


def withdraw(contract: Contract, actor: User, note: str = "", now: datetime | None = None) -> Contract:
    move = check("withdraw", contract, actor)
    before = contract.status
    contract.status = move.to.value
    _flush()
    _record(contract, actor, "withdraw", note.strip(), before, now)
    return contract


def _required_note(note: str, what: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": f"请写明{what}"})
    if len(note) > 1000:
        raise ValidationError({"note": "说明最多 1000 个字"})
    return note


def request_cancel(contract: Contract, actor: User, note: str, now: datetime | None = None) -> Contract:
    """The applicant side asks the registrar to cancel (注销) a registered contract."""
    check("cancel_request", contract, actor)
    note = _required_note(note, "注销原因")
    now = now or utcnow()
    contract.cancel_requested_at, contract.cancel_request_note = now, note
    _flush()
    _record(contract, actor, "cancel_request", note, contract.status, now)
    return contract


def cancel(
    contract: Contract, registrar: User, note: str, now: datetime | None = None, notify: bool = True
) -> Contract:
    """注销登记: the contract leaves the statistics; its record and number stay."""
    move = check("cancel", contract, registrar)
    note = _required_note(note, "注销理由")
    now = now or utcnow()
    before = contract.status
    contract.status = move.to.value
    contract.cancelled_at, contract.cancel_requested_at = now, None
    _flush()
    _record(contract, registrar, "cancel", note, before, now)
    if notify:
        _tell(
            contract.applicant,
            f"contract:{contract.id}:cancelled",
            f"技术合同“{contract.title}”已注销登记",
            f"登记编号 {contract.number}。说明：{note}",
            contract,
        )
    return contract


def decline_cancel(contract: Contract, registrar: User, note: str, now: datetime | None = None) -> Contract:
    check("cancel_declined", contract, registrar)
    note = _required_note(note, "驳回理由")
    now = now or utcnow()
    contract.cancel_requested_at = None
    _flush()
    _record(contract, registrar, "cancel_declined", note, contract.status, now)
    _tell(
        contract.applicant,
        f"contract:{contract.id}:cancel_declined:{now.isoformat()}",
        f"技术合同“{contract.title}”的注销申请未获同意",
        f"说明：{note}",
        contract,
    )
    return contract


# ---- reading ------------------------------------------------------------------------------
