"""The match lifecycle: suggested → accepted | rejected → introduced → negotiating → contracted | closed.

Accepting asks the two parties first (``accepted`` = 待双方同意): each sees the other's public summary
and answers 同意对接 / 暂不考虑 by a deadline in working days; only when both agree is the match
introduced and the confidential detail and contacts released. A listing that is archived or expires
withdraws its open suggestions and requests. The parties see a match from the moment they are asked
(``offered_at``), never a suggestion a broker turned down before that.

Every transition names who may make it, records an event (who, when, from, to, note), and is
refused with a message when it is not allowed. Concurrent changes to one match are caught by its
version column: the second writer is told someone else was faster.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from .. import signals
from ..extensions import db
from ..infra import jobs, match_engine
from ..infra.notify import notify
from ..models import Achievement, ListingStatus, Match, MatchEvent, MatchStatus, Need, Notification, Role, User, utcnow
from ..validation import reference
from ..validation.fields import ValidationError
from ..validation.workdays import add_working_days

REJECT_REASONS = {
    "field_mismatch": "技术方向不对口",
    "maturity_gap": "成熟度达不到需求",
    "indicators_unmet": "技术指标达不到要求",
    "price_budget": "价格与预算差距过大",
    "mode_mismatch": "合作方式不匹配",
    "already_solved": "需求已解决或已有合作方",
    "listing_stale": "信息已过期或失效",
    "duplicate": "重复推荐",
    "other": "其他",
}
CLOSE_REASONS = {
    "party_declined": "一方不感兴趣",
    "terms_failed": "商务条件未谈拢",
    "technical_fit": "技术验证未通过",
    "no_response": "长期无回应",
    "abandoned": "长期停滞，自动关闭",
    "listing_withdrawn": "信息已归档或过期，推荐撤回",
    "other": "其他",
}
# 暂不考虑: the reasons a party gives when asked for consent
DECLINE_REASONS = {
    "not_relevant": "方向或内容不符合我方需要",
    "terms": "价格、预算或合作方式不合适",
    "already_solved": "已有解决方案或合作方",
    "timing": "时机不合适，以后再说",
    "other": "其他",
}
CLOSE_REASONS.update({k: v for k, v in DECLINE_REASONS.items() if k not in CLOSE_REASONS})
ANSWER_LABELS = {"agreed": "同意对接", "interested": "同意对接", "declined": "暂不考虑"}

# transition → (allowed from, to, who may: "broker" | "party" | "system")
TRANSITIONS = {
    "accept": ((MatchStatus.suggested,), MatchStatus.accepted, "broker"),  # and ask both parties for consent
    "reject": ((MatchStatus.suggested,), MatchStatus.rejected, "broker"),
    "introduce": ((MatchStatus.accepted,), MatchStatus.introduced, "system"),  # when both parties have agreed
    "negotiate": ((MatchStatus.introduced,), MatchStatus.negotiating, "party"),
    "contract": ((MatchStatus.introduced, MatchStatus.negotiating), MatchStatus.contracted, "system"),
    "close": ((MatchStatus.accepted, MatchStatus.introduced, MatchStatus.negotiating), MatchStatus.closed, "party"),
    "withdraw": (
        (MatchStatus.suggested, MatchStatus.accepted),
        MatchStatus.closed,
        "system",
    ),  # a listing was archived or expired
}
ACTION_LABELS = {
    "suggest": "系统推荐",
    "accept": "经纪人采纳，征求双方意见",
    "reject": "经纪人未采纳",
    "introduce": "双方同意，促成对接",
    "negotiate": "进入洽谈",
    "contract": "签订合同",
    "close": "关闭",
    "withdraw": "撤回",
    "respond": "答复",
    "contract_applied": "申请技术合同登记",
    "claim": "认领",
    "note": "备注",
    "remind": "提醒",
}


class TransitionError(Exception):
    """A move the lifecycle does not allow, or a person who may not make it."""


class ConcurrentChange(Exception):
    """Someone else changed the match first."""

    def __init__(self):
        super().__init__("该匹配刚被其他人处理过，请刷新后查看最新状态")


def is_broker_for(user: User, match: Match) -> bool:
    """Admins, the hall's brokers, and brokers of the station whose queue holds the match."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_admin:
        return True
    if not user.has_role(Role.broker):
        return False
    return (
        match.station_id is None
        or user.station_id == match.station_id
        or (user.station is not None and user.station.is_hall)
    )


def party_side(user: User, match: Match) -> str | None:
    """'need' or 'achievement' if the user owns that side's listing (the party of the match)."""
    if user is None or not user.is_authenticated:
        return None
    for side, listing in (("need", match.need), ("achievement", match.achievement)):
        if listing.owner_id == user.id:
            return side
    return None


def _record(
    match: Match, actor: User | None, action: str, note: str = "", before: str | None = None, internal: bool = False
):
    """One timeline entry; a step that does not move the match is recorded as from = to."""
    db.session.add(
        MatchEvent(
            match=match,
            actor=actor,
            action=action,
            from_status=before or match.status,
            to_status=match.status,
            note=note or "",
            internal=internal,
        )
    )
    match.last_activity_at = utcnow()


def _links(match: Match) -> tuple[str, str]:
    return _link(match), f"/me/matches/{match.id}"


def _clear_stale(match: Match) -> None:
    """The match moved on: its unread notices describe a step that is over."""
    for n in db.session.scalars(
        db.select(Notification).where(Notification.link.in_(_links(match)), Notification.read_at.is_(None))
    ):
        n.read_at = utcnow()


def _require_live(match: Match) -> None:
    """No introduction, and no consent, for a listing that was archived or expired."""
    for listing in (match.need, match.achievement):
        if not listing.is_published:
            raise TransitionError(f"{listing.kind_label}“{listing.title}”{listing.status_label}，不能促成对接")


def transition(
    match: Match,
    action: str,
    actor: User | None,
    note: str = "",
    reason_code: str | None = None,
    reasons: dict | None = None,
) -> Match:
    allowed_from, to, who = TRANSITIONS[action]
    if MatchStatus(match.status) not in allowed_from:
        raise TransitionError(
            f"当前状态为“{match.status_label}”，不能{ACTION_LABELS[action]}"
            f"（只能从{'、'.join(s.label for s in allowed_from)}进行）"
        )
    if who == "broker" and not is_broker_for(actor, match):
        raise TransitionError("只有该驿站的技术经纪人或管理员可以这样做")
    if who == "party" and not (party_side(actor, match) or is_broker_for(actor, match)):
        raise TransitionError("只有对接双方或经纪人可以这样做")
    if reasons is not None:
        if reason_code not in reasons:
            raise ValidationError({"reason_code": "请选择原因"})
        if reason_code == "other" and not note.strip():
            raise ValidationError({"note": "选择“其他”时请写明原因"})
        match.reason_code, match.reason_text = reason_code, note.strip() or None
    before = match.status
    _clear_stale(match)
    match.status = to.value
    _record(match, actor, action, note, before)
    return match


def flush_or_conflict(conflict: type[Exception] = ConcurrentChange) -> None:
    """Flush, turning a lost optimistic-lock race into ``conflict`` (a message-carrying exception)."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise conflict() from None


@dataclass
class Reason:
    code: str
    label: str
    text: str | None

    @classmethod
    def of(cls, match: Match) -> "Reason | None":
        if not match.reason_code:
            return None
        table = REJECT_REASONS if match.status == MatchStatus.rejected.value else CLOSE_REASONS
        return cls(match.reason_code, table.get(match.reason_code, match.reason_code), match.reason_text)


def record_contract_applied(match: Match, actor: User, contract) -> None:
    _record(match, actor, "contract_applied", f"合同“{contract.title}”已提交登记申请")


def mark_contracted(match: Match, actor: User | None, note: str = "") -> Match:
    """Called by contract registration when a registered contract names this match."""
    transition(match, "contract", actor, note)
    flush_or_conflict()
    return match


# ---- suggestions ----------------------------------------------------------------------------


def suggest_for(listing, actor: User | None = None) -> list[Match]:
    """Turn the engine's best candidates for a just published or edited listing into suggested
    matches (above the calibrated cut-off, at most SUGGESTIONS_PER_LISTING, never twice for one
    pair), routed to the queue of the station that took the listing in, else the station of its
    organisation's district, else the hall."""
    from . import stations  # not at the top: stations → stats → contracts → matches

    if not listing.is_published:
        return []
    found = match_engine.best_matches(listing, k=current_app.config["SUGGESTIONS_PER_LISTING"])
    if not found:
        return []
    station = stations.route_for(listing.org, listing.station)
    created = []
    for s in found:
        need, ach = (listing, s.listing) if listing.kind == "need" else (s.listing, listing)
        existing = db.session.scalar(db.select(Match).where(Match.need_id == need.id, Match.achievement_id == ach.id))
        if existing is not None:
            if existing.status == MatchStatus.suggested.value:
                existing.score, existing.explanation = s.match.score, s.match.as_dict()
            continue
        m = Match(
            need=need,
            achievement=ach,
            score=s.match.score,
            explanation=s.match.as_dict(),
            station=station,
            status=MatchStatus.suggested.value,
        )
        db.session.add(m)
        _record(m, None, "suggest", f"匹配度 {round(s.match.score * 100)}%，由“{listing.title}”发布或修改触发")
        m.events[-1].from_status = None
        created.append(m)
    db.session.flush()
    if created and station is not None:
        for broker in station.brokers:
            if broker.active:
                notify(
                    broker,
                    f"新推荐：“{listing.title}”有 {len(created)} 条匹配待审核",
                    f"{station.name}审核队列",
                    "/broker/?status=suggested",
                )
    return created


def suggest_all() -> int:
    """Suggestions for every published need (and so for the 成果 they reach); returns how many new."""
    needs = db.session.scalars(
        db.select(Need).where(Need.status == ListingStatus.published.value).order_by(Need.id)
    ).all()
    return sum(len(suggest_for(n)) for n in needs)


# ---- the broker's actions -------------------------------------------------------------------


def _link(match: Match) -> str:
    return f"/broker/matches/{match.id}"


def claim(match: Match, broker: User) -> Match:
    if not is_broker_for(broker, match):
        raise TransitionError("只有该驿站的技术经纪人可以认领")
    if match.broker_id and match.broker_id != broker.id:
        raise TransitionError(f"已由{match.broker.display_name}认领")
    if match.broker_id == broker.id:
        return match
    match.broker = broker
    _record(match, broker, "claim")
    flush_or_conflict()
    return match


def _decide(match: Match, broker: User) -> None:
    """The broker deciding a suggestion: of its station, and its claimant if someone claimed it."""
    if not is_broker_for(broker, match):
        raise TransitionError("只有该驿站的技术经纪人或管理员可以这样做")
    if match.broker_id and match.broker_id != broker.id and not broker.is_admin:
        raise TransitionError(f"该匹配已由{match.broker.display_name}认领，只有认领人可以处理")


def accept(match: Match, broker: User, note: str = "", today=None) -> Match:
    """Accepting asks both parties: each sees the other's public summary and answers by a deadline."""
    _decide(match, broker)
    _require_live(match)
    transition(match, "accept", broker, note)
    match.broker = match.broker or broker
    match.offered_at = utcnow()
    match.consent_due = add_working_days(today or match.offered_at.date(), current_app.config["CONSENT_DAYS"])
    match.need_response = match.achievement_response = None
    flush_or_conflict()
    for side, listing, other in (
        ("need", match.need, match.achievement),
        ("achievement", match.achievement, match.need),
    ):
        notify_party(
            match,
            listing,
            f"对接邀请：“{other.title}”可能与您的{_side_label(side)}“{listing.title}”相关",
            f"技术经纪人建议双方对接，请在 {match.consent_due:%Y-%m-%d} 前查看对方的公开信息，"
            "并答复“同意对接”或“暂不考虑”。双方都同意后，才会向对方开放保密细节与联系方式。"
            + (f"\n经纪人留言：{note}" if note else ""),
        )
    return match


def _side_label(side: str) -> str:
    return "需求" if side == "need" else "成果"


def waiting_on(match: Match) -> list[str]:
    """The sides ('need', 'achievement') that have not yet answered a consent request."""
    if match.status != MatchStatus.accepted.value:
        return []
    return [side for side in ("need", "achievement") if getattr(match, f"{side}_response") is None]


def answer_label(match: Match, side: str) -> str:
    answer = getattr(match, f"{side}_response")
    if answer:
        return ANSWER_LABELS.get(answer, answer)
    return "未答复" if match.status == MatchStatus.accepted.value else "—"


def reject(match: Match, broker: User, reason_code: str, note: str = "") -> Match:
    _decide(match, broker)
    transition(match, "reject", broker, note, reason_code, REJECT_REASONS)
    match.broker = match.broker or broker
    flush_or_conflict()  # the parties never saw the suggestion: nobody is told
    return match


def bulk_reject(matches: list[Match], broker: User, reason_code: str, note: str = "") -> tuple[int, list[str]]:
    """Reject many; returns how many and the messages for the ones that could not be."""
    done, problems = 0, []
    for m in matches:
        try:
            with db.session.begin_nested():
                reject(m, broker, reason_code, note)
            done += 1
        except (TransitionError, ConcurrentChange) as e:
            problems.append(f"#{m.id}：{e}")
    return done, problems


def respond(match: Match, user: User, agree: bool, reason_code: str | None = None, note: str = "") -> Match:
    """A party's answer to a consent request: 同意对接, or 暂不考虑 with a reason (which closes it).
    The second 同意对接 introduces the match and releases each side's confidential detail to the other."""
    side = party_side(user, match)
    if side is None:
        raise TransitionError("只有对接双方可以答复")
    if match.status != MatchStatus.accepted.value:
        raise TransitionError(f"当前状态为“{match.status_label}”，无需答复")
    if getattr(match, f"{side}_response") is not None:
        raise TransitionError("您已经答复过了")
    other_side = "achievement" if side == "need" else "need"
    mine, other = getattr(match, side), getattr(match, other_side)
    if not agree:
        transition(match, "close", user, note, reason_code, DECLINE_REASONS)
        setattr(match, f"{side}_response", "declined")
        flush_or_conflict()
        reason = DECLINE_REASONS[match.reason_code] + (f"：{note}" if note else "")
        notify_party(match, other, f"对方暂不考虑对接：“{other.title}”", f"原因：{reason}")
        _notify_broker(match, f"#{match.id} {_side_label(side)}方暂不考虑对接", reason)
        return match
    _require_live(match)
    setattr(match, f"{side}_response", "agreed")
    _record(match, user, "respond", "同意对接" + (f"：{note}" if note else ""))
    if getattr(match, f"{other_side}_response") != "agreed":
        flush_or_conflict()
        _notify_broker(match, f"#{match.id} {_side_label(side)}方同意对接，等待{_side_label(other_side)}方答复", note)
        notify_party(
            match,
            other,
            f"对方已同意对接：“{other.title}”",
            f"请在 {match.consent_due:%Y-%m-%d} 前答复。双方都同意后，才会开放各自的保密细节与联系方式。",
        )
        return match
    transition(match, "introduce", user, "双方均已同意对接，保密细节与联系方式已向对方开放")
    match.introduced_at = utcnow()
    flush_or_conflict()
    for listing, partner in ((mine, other), (other, mine)):
        notify_party(
            match,
            listing,
            f"对接成功：“{listing.title}”与“{partner.title}”",
            f"双方均已同意对接。现在可以查看{partner.org.name}的技术详情与联系方式。",
        )
    _notify_broker(match, f"#{match.id} 双方均已同意，已促成对接")
    return match


def negotiate(match: Match, user: User, note: str = "") -> Match:
    transition(match, "negotiate", user, note)
    flush_or_conflict()
    _notify_broker(match, f"#{match.id} 已进入洽谈", note)
    for listing in (match.need, match.achievement):
        notify_party(match, listing, f"已进入洽谈：“{listing.title}”", note)
    return match


def close(match: Match, user: User, reason_code: str, note: str = "") -> Match:
    transition(match, "close", user, note, reason_code, CLOSE_REASONS)
    flush_or_conflict()
    reason = CLOSE_REASONS[reason_code] + (f"：{note}" if note else "")
    for listing in (match.need, match.achievement):
        notify_party(match, listing, f"对接已关闭：“{listing.title}”", f"原因：{reason}")
    return match


def add_note(match: Match, user: User, note: str, shared: bool = False) -> Match:
    """A note on the timeline. A broker's is internal (brokers and staff only) unless ``shared``;
    a party's is always seen by the other party and the broker."""
    broker = is_broker_for(user, match)
    side = party_side(user, match)
    if not broker and not (side and match.offered_at is not None):
        raise TransitionError("只有对接双方或经纪人可以备注")
    if not note.strip():
        raise ValidationError({"note": "请填写备注内容"})
    if len(note) > 2000:
        raise ValidationError({"note": "备注最多 2000 字"})
    internal = broker and not side and not shared
    _record(match, user, "note", note.strip(), internal=internal)
    flush_or_conflict()
    if side and not broker:
        _notify_broker(match, f"#{match.id} {_side_label(side)}方留言", note.strip()[:200])
        if match.status in RELEASED:
            other = match.achievement if side == "need" else match.need
            notify_party(match, other, f"对方留言：“{other.title}”", note.strip()[:200])
    elif not internal:
        for listing in (match.need, match.achievement):
            notify_party(match, listing, f"经纪人留言：“{listing.title}”", note.strip()[:200])
    return match


def visible_events(match: Match, user: User) -> list[MatchEvent]:
    """The timeline as ``user`` may see it: internal notes only for brokers and staff."""
    if is_broker_for(user, match):
        return list(match.events)
    return [e for e in match.events if not e.internal]


def withdraw_for(listing, why: str, actor: User | None = None) -> int:
    """A listing went down (archived or expired): its open suggestions and consent requests are
    withdrawn with the reason; the parties already asked, and the broker, are told."""
    column = Match.need_id if listing.kind == "need" else Match.achievement_id
    rows = db.session.scalars(
        db.select(Match).where(
            column == listing.id, Match.status.in_((MatchStatus.suggested.value, MatchStatus.accepted.value))
        )
    ).all()
    for m in rows:
        offered = m.status == MatchStatus.accepted.value
        transition(m, "withdraw", actor, why, "listing_withdrawn", CLOSE_REASONS)
        if offered:
            other = m.achievement if listing.kind == "need" else m.need
            notify_party(m, other, f"对接邀请已撤回：“{other.title}”", f"原因：{why}")
            _notify_broker(m, f"#{m.id} 已撤回", why)
    db.session.flush()
    return len(rows)


def notify_party(match: Match, listing, title: str, body: str = "") -> None:
    recipients = {listing.owner} if listing.owner else set()
    for user in recipients:
        notify(user, title, body, f"/me/matches/{match.id}")


def _notify_broker(match: Match, title: str, body: str = "") -> None:
    if match.broker:
        notify(match.broker, title, body, _link(match))


# ---- who sees what ----------------------------------------------------------------------------

RELEASED = (MatchStatus.introduced.value, MatchStatus.negotiating.value, MatchStatus.contracted.value)


def introduced_to(user: User, listing) -> bool:
    """Whether ``user`` owns the other side of an introduction of ``listing`` (both parties agreed):
    then it sees the listing's contacts and confidential detail (listings.can_see_private)."""
    if listing.kind == "need":
        mine = db.select(Match.id).where(Match.need_id == listing.id, Match.status.in_(RELEASED))
        other_side = Match.achievement_id
        Other = Achievement
    else:
        mine = db.select(Match.id).where(Match.achievement_id == listing.id, Match.status.in_(RELEASED))
        other_side = Match.need_id
        Other = Need
    owned = db.select(Other.id).where(Other.owner_id == user.id)
    return db.session.scalar(mine.where(other_side.in_(owned)).limit(1)) is not None


# ---- what follows from a listing's life (market.signals) -----------------------------------------


@signals.listing_published.connect
def _suggest_on_publish(listing, actor: User | None = None, **_) -> None:
    """A published or edited listing gets fresh suggestions (when matching is on), as a job that
    runs after the commit: the model and the ranking never hold the request's transaction open."""
    if match_engine.enabled():
        jobs.enqueue("suggest", kind=listing.kind, listing_id=listing.id)


@jobs.handler("suggest")
def _suggest_job(kind: str, listing_id: int) -> None:
    listing = db.session.get(match_engine.KIND_MODELS[kind], listing_id)
    if listing is not None:  # still published? suggest_for checks
        suggest_for(listing)
        if why := match_engine.unavailable():  # retried with backoff: never lost to a service restart
            raise match_engine.Unavailable(why)


@signals.listing_withdrawn.connect
def _withdraw_on_takedown(listing, why: str, actor: User | None = None, **_) -> None:
    withdraw_for(listing, why, actor)


# ---- queues and lists -------------------------------------------------------------------------


@dataclass
class QueueFilters:
    status: str = "suggested"
    field: str = ""
    chain: str = ""
    bottleneck_first: bool = False
    sort: str = "score"  # score | age
    mine: bool = False

    @classmethod
    def from_args(cls, args) -> "QueueFilters":
        status = args.get("status", "suggested")
        return cls(
            status=status if status in {s.value for s in MatchStatus} | {"open", "all"} else "suggested",
            field=args.get("field") or "",
            chain=args.get("chain") or "",
            bottleneck_first=args.get("bottleneck_first") in ("1", "on"),
            sort=args.get("sort") if args.get("sort") in ("score", "age") else "score",
            mine=args.get("mine") in ("1", "on"),
        )


OPEN = (MatchStatus.accepted.value, MatchStatus.introduced.value, MatchStatus.negotiating.value)


def queue_query(broker: User, f: QueueFilters):
    """The broker's station queue (admins and hall brokers see every station's)."""
    stmt = db.select(Match).join(Need, Match.need_id == Need.id)
    if not broker.is_admin and not (broker.station and broker.station.is_hall):
        stmt = stmt.where(Match.station_id == broker.station_id)
    if f.status == "open":
        stmt = stmt.where(Match.status.in_(OPEN))
    elif f.status != "all":
        stmt = stmt.where(Match.status == f.status)
    if f.field:
        stmt = stmt.where(Need.field == f.field)
    if f.chain:
        stmt = stmt.where(Need.chain.in_(reference.vocab().chain_with_children(f.chain)))
    if f.mine:
        stmt = stmt.where(Match.broker_id == broker.id)
    order = [Need.bottleneck.desc()] if f.bottleneck_first else []
    order += [Match.score.desc()] if f.sort == "score" else [Match.created_at.asc()]
    return stmt.order_by(*order, Match.id)


def queue_counts(broker: User) -> dict[str, int]:
    stmt = db.select(Match.status, db.func.count()).group_by(Match.status)
    if not broker.is_admin and not (broker.station and broker.station.is_hall):
        stmt = stmt.where(Match.station_id == broker.station_id)
    return dict(db.session.execute(stmt).all())


def of_party(user: User) -> list[Match]:
    """The matches a researcher's or enterprise's listings are part of, once a broker has acted.

    Suggestions stay internal to the brokers (rejected or withdrawn ones too); from the moment the
    parties are asked for consent, the match and everything after is shown to both.
    """
    mine_n = db.select(Need.id).where(Need.owner_id == user.id)
    mine_a = db.select(Achievement.id).where(Achievement.owner_id == user.id)
    stmt = (
        db.select(Match)
        .where(db.or_(Match.need_id.in_(mine_n), Match.achievement_id.in_(mine_a)), Match.offered_at.is_not(None))
        .order_by(Match.last_activity_at.desc())
    )
    return db.session.scalars(stmt).all()


def can_view(user: User, match: Match) -> bool:
    if is_broker_for(user, match):
        return True
    return party_side(user, match) is not None and match.offered_at is not None


# ---- reminders ------------------------------------------------------------------------------


def remind_stalled(now=None, stall_days: int | None = None, abandon_days: int | None = None) -> dict[str, int]:
    """Remind broker and parties of matches with no step for ``stall_days`` (once per stall), and
    close as abandoned those with none for ``abandon_days``. Meant for a daily cron."""
    now = now or utcnow()
    stall_days = stall_days or current_app.config["MATCH_STALL_DAYS"]
    abandon_days = abandon_days or current_app.config["MATCH_ABANDON_DAYS"]
    counts = {"reminded": 0, "abandoned": 0}
    stalled = db.session.scalars(
        db.select(Match).where(
            Match.status.in_(OPEN + (MatchStatus.suggested.value,)),
            Match.last_activity_at < now - timedelta(days=stall_days),
        )
    ).all()
    for m in stalled:
        idle = (now - m.last_activity_at).days
        if idle >= abandon_days and m.status in OPEN:
            before = m.status
            m.status, m.reason_code = MatchStatus.closed.value, "abandoned"
            m.reason_text = f"{idle} 天无进展，系统自动关闭"
            db.session.add(
                MatchEvent(
                    match=m, actor=None, action="close", from_status=before, to_status=m.status, note=m.reason_text
                )
            )
            for listing in (m.need, m.achievement):
                notify_party(m, listing, f"对接已自动关闭：“{listing.title}”", m.reason_text)
            counts["abandoned"] += 1
            continue
        if m.reminded_at and m.reminded_at > m.last_activity_at:
            continue  # already reminded for this stall
        title = f"匹配 #{m.id} 已 {idle} 天没有进展（{m.status_label}）"
        targets = [m.broker] if m.broker else [u for u in (m.station.brokers if m.station else []) if u.active]
        if m.status in (MatchStatus.introduced.value, MatchStatus.negotiating.value):
            targets += [x.owner for x in (m.need, m.achievement) if x.owner]
        for user in {u.id: u for u in targets if u}.values():
            notify(
                user,
                title,
                f"“{m.need.title}” ↔ “{m.achievement.title}”，请跟进或关闭。",
                _link(m) if is_broker_for(user, m) else f"/me/matches/{m.id}",
            )
        m.reminded_at = now
        db.session.add(
            MatchEvent(
                match=m, actor=None, action="remind", from_status=m.status, to_status=m.status, note=title, at=now
            )
        )
        counts["reminded"] += 1
    db.session.flush()
    return counts


def remind_consent(today=None) -> int:
    """Remind the parties who have not answered a consent request by its deadline (the day after
    it), and tell the
    broker who has not answered. One notice per person, match and deadline: safe to run again."""
    today = today or date.today()
    due = db.session.scalars(
        db.select(Match)
        .where(Match.status == MatchStatus.accepted.value, Match.consent_due.is_not(None), Match.consent_due < today)
        .order_by(Match.id)
    ).all()
    sent = 0
    for m in due:
        late = waiting_on(m)
        for side in late:
            listing = getattr(m, side)
            sent += notify(
                listing.owner,
                f"请答复对接邀请：“{listing.title}”",
                f"答复期限为 {m.consent_due:%Y-%m-%d}。请选择“同意对接”或“暂不考虑”。",
                f"/me/matches/{m.id}",
                key=f"consent-remind:{m.id}:{side}:{m.consent_due}",
            )
        if late and m.broker:
            who = "、".join(f"{_side_label(side)}方（{getattr(m, side).org.name}）" for side in late)
            sent += notify(
                m.broker,
                f"#{m.id} 对接邀请逾期未答复",
                f"未答复：{who}；期限 {m.consent_due:%Y-%m-%d}。",
                _link(m),
                key=f"consent-late:{m.id}:{m.consent_due}",
            )
    db.session.flush()
    return sent
