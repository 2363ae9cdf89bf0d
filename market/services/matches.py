"""The match lifecycle: suggested → accepted | rejected → introduced → negotiating → contracted | closed.

Every transition names who may make it, records an event (who, when, from, to, note), and is
refused with a message when it is not allowed. Concurrent changes to one match are caught by its
version column: the second writer is told someone else was faster.
"""
from dataclasses import dataclass

from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..models import Match, MatchEvent, MatchStatus, Role, User, utcnow
from .schema import ValidationError

S = MatchStatus

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
    "other": "其他",
}

# transition → (allowed from, to, who may: "broker" | "party" | "system")
TRANSITIONS = {
    "accept": ((S.suggested,), S.accepted, "broker"),
    "reject": ((S.suggested,), S.rejected, "broker"),
    "introduce": ((S.accepted,), S.introduced, "broker"),
    "negotiate": ((S.introduced,), S.negotiating, "party"),
    "contract": ((S.introduced, S.negotiating), S.contracted, "system"),
    "close": ((S.accepted, S.introduced, S.negotiating), S.closed, "party"),
}
ACTION_LABELS = {"suggest": "系统推荐", "accept": "经纪人采纳", "reject": "经纪人未采纳", "introduce": "促成对接",
                 "negotiate": "进入洽谈", "contract": "签订合同", "close": "关闭", "respond": "答复",
                 "claim": "认领", "note": "备注", "remind": "提醒"}


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
    return match.station_id is None or user.station_id == match.station_id or \
        (user.station is not None and user.station.is_hall)


def party_side(user: User, match: Match) -> str | None:
    """'need' or 'achievement' if the user owns (or belongs to the organisation of) that side."""
    if user is None or not user.is_authenticated:
        return None
    for side, listing in (("need", match.need), ("achievement", match.achievement)):
        if listing.owner_id == user.id or (user.org_id is not None and user.org_id == listing.org_id
                                           and user.has_role(Role.researcher, Role.enterprise)):
            return side
    return None


def _record(match: Match, actor: User | None, action: str, note: str = "", before: str | None = None):
    db.session.add(MatchEvent(match=match, actor=actor, action=action, from_status=before,
                              to_status=match.status, note=note or ""))
    match.last_activity_at = utcnow()


def transition(match: Match, action: str, actor: User | None, note: str = "", reason_code: str | None = None,
               reasons: dict | None = None) -> Match:
    allowed_from, to, who = TRANSITIONS[action]
    if MatchStatus(match.status) not in allowed_from:
        raise TransitionError(f"当前状态为“{match.status_label}”，不能{ACTION_LABELS[action]}"
                              f"（只能从{'、'.join(s.label for s in allowed_from)}进行）")
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
    match.status = to.value
    _record(match, actor, action, note, before)
    return match


def flush_or_conflict() -> None:
    """Flush, turning a lost optimistic-lock race into ConcurrentChange."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ConcurrentChange() from None


@dataclass
class Reason:
    code: str
    label: str
    text: str | None

    @classmethod
    def of(cls, match: Match) -> "Reason | None":
        if not match.reason_code:
            return None
        table = REJECT_REASONS if match.status == S.rejected.value else CLOSE_REASONS
        return cls(match.reason_code, table.get(match.reason_code, match.reason_code), match.reason_text)


def mark_contracted(match: Match, actor: User | None, note: str = "") -> Match:
    """Called by contract registration when a registered contract names this match."""
    transition(match, "contract", actor, note)
    flush_or_conflict()
    return match
