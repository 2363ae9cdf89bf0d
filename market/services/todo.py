"""待办: what each role should do next, newest need first; the counts feed the navigation."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import or_, select

from ..extensions import db
from ..models import Achievement, Contract, ContractStatus, Match, MatchStatus, Need, Notification, Role, User, utcnow
from . import accounts, contracts, matches

LIMIT = 50


@dataclass
class Item:
    title: str
    link: str
    meta: str = ""
    overdue: bool = False


@dataclass
class Section:
    key: str
    title: str
    items: list[Item] = field(default_factory=list)
    empty: str = "暂无"
    more_link: str | None = None
    counted: bool = True  # adds to the navigation's count


def _pair(m: Match) -> str:
    return f"{m.need.title} ↔ {m.achievement.title}"


def _broker_scope(user: User, stmt):
    if user.is_admin or (user.station is not None and user.station.is_hall):
        return stmt
    return stmt.where(Match.station_id == user.station_id)


def _broker_rows(user: User) -> dict[str, list]:
    """The broker's open work: new station suggestions, claimed ones, consent requests, unread
    messages, stalled deals, contract applications tied to its matches."""
    fresh = db.session.scalars(
        _broker_scope(user, select(Match).where(Match.status == MatchStatus.suggested.value, Match.broker_id.is_(None)))
        .order_by(Match.score.desc())
        .limit(LIMIT)
    ).all()
    mine = db.session.scalars(
        select(Match)
        .where(Match.status == MatchStatus.suggested.value, Match.broker_id == user.id)
        .order_by(Match.created_at)
        .limit(LIMIT)
    ).all()
    asked = db.session.scalars(
        select(Match)
        .where(Match.status == MatchStatus.accepted.value, Match.broker_id == user.id)
        .order_by(Match.consent_due)
        .limit(LIMIT)
    ).all()
    messages = db.session.scalars(
        select(Notification)
        .where(
            Notification.user_id == user.id, Notification.read_at.is_(None), Notification.link.like("/broker/matches/%")
        )
        .order_by(Notification.created_at.desc())
        .limit(LIMIT)
    ).all()
    stall = utcnow() - timedelta(days=current_app.config["MATCH_STALL_DAYS"])
    stalled = db.session.scalars(
        _broker_scope(
            user,
            select(Match).where(
                Match.status.in_(matches.OPEN),
                Match.last_activity_at < stall,
                or_(Match.broker_id == user.id, Match.broker_id.is_(None)),
            ),
        )
        .order_by(Match.last_activity_at)
        .limit(LIMIT)
    ).all()
    applied = db.session.scalars(
        select(Contract)
        .join(Match, Contract.match_id == Match.id)
        .where(
            Contract.status == ContractStatus.pending.value,
            or_(Match.broker_id == user.id, Contract.broker_id == user.id),
        )
        .order_by(Contract.due_on)
        .limit(LIMIT)
    ).all()
    return {"fresh": fresh, "mine": mine, "asked": asked, "messages": messages, "stalled": stalled, "applied": applied}


def _broker(user: User, today: date) -> list[Section]:
    link = lambda m: f"/broker/matches/{m.id}"  # noqa: E731
    rows = _broker_rows(user)

    def waiting(m: Match) -> str:
        who = "、".join("需求方" if s == "need" else "成果方" for s in matches.waiting_on(m))
        return f"{'未答复：' + who if who else '双方已答复'} · 期限 {m.consent_due}"

    return [
        Section(
            "fresh",
            "本驿站新推荐（未认领）",
            [Item(_pair(m), link(m), f"匹配度 {round(m.score * 100)}%") for m in rows["fresh"]],
            "没有新的推荐",
            "/broker/?status=suggested",
        ),
        Section(
            "decide",
            "待我决定（已认领的推荐）",
            [Item(_pair(m), link(m), f"认领于 {m.updated_at:%Y-%m-%d}") for m in rows["mine"]],
            "没有待决定的推荐",
            "/broker/?status=suggested&mine=1",
        ),
        Section(
            "consent",
            "征求意见中（等待双方答复）",
            [Item(_pair(m), link(m), waiting(m), bool(m.consent_due and m.consent_due < today)) for m in rows["asked"]],
            "没有等待答复的对接",
        ),
        Section(
            "messages",
            "双方的留言与答复",
            [
                Item(n.title, n.link, f"{n.created_at:%Y-%m-%d %H:%M}" + (f" · {n.body[:80]}" if n.body else ""))
                for n in rows["messages"]
            ],
            "没有未读的留言",
        ),
        Section(
            "stalled",
            "停滞的对接",
            [
                Item(_pair(m), link(m), f"{m.status_label} · {(utcnow() - m.last_activity_at).days} 天无进展", True)
                for m in rows["stalled"]
            ],
            "没有停滞的对接",
        ),
        Section(
            "contracts",
            "关联我的对接的合同登记申请",
            [
                Item(c.title, f"/contracts/{c.id}", f"待登记 · 期限 {c.due_on}", c.due_on < today)
                for c in rows["applied"]
            ],
            "没有待登记的申请",
        ),
    ]


def _registrar(today: date) -> list[Section]:
    work = contracts.queue()
    return [
        Section(
            "pending",
            "待登记申请（按期限，超期在前）",
            [
                Item(
                    c.title,
                    f"/contracts/{c.id}",
                    f"{c.applicant.display_name} · 期限 {c.due_on}"
                    + (
                        f" · 已超期 {-contracts.working_days_left(c, today)} 个工作日"
                        if c.due_on < today
                        else f" · 还剩 {contracts.working_days_left(c, today)} 个工作日"
                    ),
                    c.due_on < today,
                )
                for c in work["pending"][:LIMIT]
            ],
            "没有待登记的申请",
            "/contracts/queue",
        ),
        Section(
            "cancels",
            "注销申请",
            [Item(c.title, f"/contracts/{c.id}", c.cancel_request_note or "") for c in work["cancels"][:LIMIT]],
            "没有注销申请",
        ),
    ]


def _party(user: User, today: date) -> list[Section]:
    mine_n = select(Need.id).where(Need.owner_id == user.id)
    mine_a = select(Achievement.id).where(Achievement.owner_id == user.id)
    link = lambda m: f"/me/matches/{m.id}"  # noqa: E731
    asked = db.session.scalars(
        select(Match)
        .where(
            Match.status == MatchStatus.accepted.value,
            or_(
                Match.need_id.in_(mine_n) & Match.need_response.is_(None),
                Match.achievement_id.in_(mine_a) & Match.achievement_response.is_(None),
            ),
        )
        .order_by(Match.consent_due)
    ).all()
    deals = db.session.scalars(
        select(Match)
        .where(
            Match.status.in_((MatchStatus.introduced.value, MatchStatus.negotiating.value)),
            or_(Match.need_id.in_(mine_n), Match.achievement_id.in_(mine_a)),
        )
        .order_by(Match.last_activity_at.desc())
    ).all()
    pending = db.session.scalars(contracts.visible_query(user, ContractStatus.pending.value).limit(LIMIT)).all()
    return [
        Section(
            "consent",
            "待答复的对接邀请",
            [
                Item(
                    _pair(m),
                    link(m),
                    f"请在 {m.consent_due} 前答复“同意对接”或“暂不考虑”",
                    bool(m.consent_due and m.consent_due < today),
                )
                for m in asked
            ],
            "没有待答复的邀请",
        ),
        Section(
            "deals",
            "进行中的对接",
            [
                Item(
                    _pair(m),
                    link(m),
                    m.status_label + (" · 可申请技术合同登记" if contracts.may_apply_for(user, m) else ""),
                )
                for m in deals
            ],
            "没有进行中的对接",
            "/me/matches",
        ),
        Section(
            "contracts",
            "等待登记的合同",
            [Item(c.title, f"/contracts/{c.id}", f"登记期限 {c.due_on}") for c in pending],
            "没有等待登记的合同",
            "/contracts/?status=pending",
            counted=False,
        ),
    ]


def _admin(user: User) -> list[Section]:
    return [
        Section(
            "orgs",
            "待核验单位",
            [
                Item(o.name, "/admin/memberships", f"{o.kind} · 注册于 {o.created_at:%Y-%m-%d}")
                for o in accounts.unverified_orgs()[:LIMIT]
            ],
            "没有待核验的单位",
            "/admin/memberships",
        ),
        Section(
            "members",
            "待确认的成员申请",
            [
                Item(
                    f"{u.display_name}（{u.role_label}）→ {u.org.name if u.org else ''}",
                    "/admin/memberships",
                    f"申请于 {u.org_requested_at:%Y-%m-%d}" if u.org_requested_at else "",
                )
                for u in accounts.pending_members(user)[:LIMIT]
            ],
            "没有待确认的申请",
            "/admin/memberships",
        ),
    ]


def sections(user: User, today: date | None = None) -> list[Section]:
    today = today or date.today()
    if user.has_role(Role.admin):  # the admin also reaches every queue, but lands on its own work
        return _admin(user)
    if user.has_role(Role.broker):
        return _broker(user, today)
    if user.has_role(Role.registrar):
        return _registrar(today)
    return _party(user, today)


def count(user: User) -> int:
    """What the navigation shows next to 待办."""
    return sum(len(s.items) for s in sections(user) if s.counted)
