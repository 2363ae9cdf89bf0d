"""揭榜挂帅 from call to award.

A need with a reward and a deadline is a challenge. Teams apply (“我要揭榜”) until the deadline
with a summary, their solution, team, prior results and an attachment. The hall runs the stages:
形式审查 → 专家评审 (reviewers — brokers or experts assigned to the challenge — score each application
on the owner's weighted criteria, once each; the application's score is the mean) → 入围答辩 →
揭榜成功; an application can be dropped at any stage with a reason. The applicant is told at each
step. The award is published on a public 公示 page with an objection window; after it a broker
confirms the result and the pair becomes a match in 洽谈中 (source 揭榜挂帅).

Who sees what: the applicant, brokers, admins and the challenge's reviewers see everything. The
need's owner sees every application's team name and summary, and its confidential parts (solution,
team, prior results, attachment) only once it has passed 形式审查 — the hall screens first, so the
owner never reads the proposals it turns away.
"""

from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..infra import uploads
from ..infra.notify import notify
from ..models import (
    Achievement,
    Challenge,
    ChallengeApplication,
    ChallengeLog,
    ChallengeObjection,
    ChallengeScore,
    ListingStatus,
    Match,
    MatchEvent,
    MatchStatus,
    Need,
    Stage,
    User,
    utcnow,
)
from ..models.challenge import STAGE_LABELS
from ..validation import rules
from ..validation.fields import Field, ValidationError, Vocab, clean
from . import matches

DEFAULT_CRITERIA = [
    {"name": "技术先进性", "weight": 40},
    {"name": "方案可行性", "weight": 30},
    {"name": "团队实力与前期成果", "weight": 20},
    {"name": "经费与进度合理性", "weight": 10},
]
FIELDS = (
    Field("team_name", "团队名称", required=True, max_len=100, min_len=2),
    Field("summary", "方案摘要（需求方可见）", "longtext", required=True, max_len=1000, min_len=20),
    Field("solution", "技术方案", "longtext", required=True, max_len=20000, min_len=50, private=True),
    Field("team", "团队成员与分工", "longtext", required=True, max_len=5000, min_len=10, private=True),
    Field("prior_results", "前期成果", "longtext", max_len=5000, private=True),
)
# move → (from stages, to stage)
MOVES = {
    "pass": ((Stage.screening,), Stage.review),
    "shortlist": ((Stage.review,), Stage.defence),
    "award": ((Stage.defence,), Stage.awarded),
    "drop": ((Stage.screening, Stage.review, Stage.defence), Stage.dropped),
}
MOVE_LABELS = {"pass": "通过形式审查", "shortlist": "入围答辩", "award": "揭榜成功", "drop": "未通过"}
OWNER_SEES_FROM = (Stage.review.value, Stage.defence.value, Stage.awarded.value)
FILE_AREA = "challenges"


class ChallengeError(Exception):
    """A step the rules refuse; the message says why."""


class ConcurrentChange(ChallengeError):
    def __init__(self):
        super().__init__("该申请刚被其他人处理过，请刷新后查看最新状态")


def _today() -> date:
    return utcnow().date()


def is_challenge(need: Need | None) -> bool:
    return need is not None and need.is_challenge


def get(need: Need) -> Challenge:
    """The call's settings; created (with the default criteria) the first time they are needed."""
    ch = db.session.get(Challenge, need.id)
    if ch is None:
        ch = Challenge(need_id=need.id, criteria=[dict(c) for c in DEFAULT_CRITERIA], expert_ids=[])
        db.session.add(ch)
        db.session.flush()
    return ch


def peek(need: Need) -> Challenge | None:
    return db.session.get(Challenge, need.id)


def criteria_of(need: Need) -> list[dict]:
    ch = peek(need)
    return ch.criteria if ch is not None else DEFAULT_CRITERIA


def _log(
    need: Need,
    actor: User | None,
    action: str,
    note: str = "",
    app: ChallengeApplication | None = None,
    before: str | None = None,
    after: str | None = None,
):
    db.session.add(
        ChallengeLog(
            need_id=need.id,
            application_id=app.id if app else None,
            actor_id=actor.id if actor else None,
            action=action,
            from_stage=before,
            to_stage=after,
            note=note,
        )
    )


# ---- roles ------------------------------------------------------------------------------------


def is_owner(user: User | None, need: Need) -> bool:
    return user is not None and user.is_authenticated and need.owner_id == user.id


def is_reviewer(user: User | None, need: Need) -> bool:
    """Brokers and admins, and the experts assigned to this challenge."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    ch = peek(need)
    return ch is not None and user.id in (ch.expert_ids or [])


def may_view(user: User | None, app: ChallengeApplication) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return app.applicant_id == user.id or is_owner(user, app.need) or is_reviewer(user, app.need)


def may_see_confidential(user: User | None, app: ChallengeApplication) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if app.applicant_id == user.id or is_reviewer(user, app.need):
        return True
    if is_owner(user, app.need):
        return app.stage in OWNER_SEES_FROM or app.dropped_at_stage in OWNER_SEES_FROM
    return False


def _require_staff(user: User) -> None:
    if user is None or not user.is_authenticated or not user.is_staff:
        raise ChallengeError("只有技术经纪人或管理员可以推进揭榜流程")


# ---- the owner's criteria and the reviewers ---------------------------------------------------


def parse_criteria(text: str) -> list[dict]:
    """“名称:权重” per line (weights are whole numbers adding up to 100)."""
    out, errors = [], []
    for n, line in enumerate((text or "").splitlines(), start=1):
        line = rules.strip_invisible(line).strip()
        if not line:
            continue
        name, sep, weight = line.replace("：", ":").rpartition(":")
        name = name.strip()
        if not sep or not name or not rules.is_ascii_int(weight.strip()):
            errors.append(f"第 {n} 行应写成“名称:权重”，如“技术先进性:40”")
            continue
        if len(name) > 30:
            errors.append(f"第 {n} 行：名称最多 30 个字")
        out.append({"name": name, "weight": int(weight.strip())})
    if not errors:
        if not 1 <= len(out) <= 8:
            errors.append("请设 1 到 8 项评审标准")
        elif len({c["name"] for c in out}) != len(out):
            errors.append("评审标准的名称不能重复")
        elif any(c["weight"] <= 0 for c in out) or sum(c["weight"] for c in out) != 100:
            errors.append(f"各项权重应为正整数，合计 100（现为 {sum(c['weight'] for c in out)}）")
    if errors:
        raise ValidationError({"criteria": "；".join(errors)})
    return out


def set_criteria(need: Need, text: str, actor: User) -> Challenge:
    if not (is_owner(actor, need) or (actor.is_authenticated and actor.is_staff)):
        raise ChallengeError("只有需求方或技术经纪人可以设定评审标准")
    criteria = parse_criteria(text)
    if db.session.scalar(
        select(func.count())
        .select_from(ChallengeScore)
        .join(ChallengeApplication)
        .where(ChallengeApplication.need_id == need.id)
    ):
        raise ChallengeError("已有评审打分，评审标准不能再修改")
    ch = get(need)
    before = "、".join(f"{c['name']}{c['weight']}" for c in ch.criteria)
    ch.criteria = criteria
    _log(need, actor, "criteria", f"{before} → {'、'.join(c['name'] + str(c['weight']) for c in criteria)}")
    db.session.flush()
    return ch


def assign_expert(need: Need, username: str, actor: User) -> User:
    _require_staff(actor)
    expert = db.session.scalar(select(User).where(User.username == (username or "").strip(), User.active.is_(True)))
    if expert is None:
        raise ValidationError({"username": "没有这个用户名的账号"})
    if expert.id == need.owner_id:
        raise ValidationError({"username": "需求方不能担任评审专家"})
    ch = get(need)
    if expert.id in ch.expert_ids:
        raise ValidationError({"username": f"{expert.display_name} 已是评审专家"})
    ch.expert_ids = [*ch.expert_ids, expert.id]
    _log(need, actor, "expert", f"指定评审专家：{expert.display_name}")
    notify(
        expert,
        f"评审邀请：揭榜挂帅“{need.title}”",
        "请在截止后对进入专家评审的申请打分。",
        f"/challenges/{need.id}/review",
    )
    db.session.flush()
    return expert


def experts(need: Need) -> list[User]:
    ch = peek(need)
    return db.session.scalars(select(User).where(User.id.in_(ch.expert_ids or [-1]))).all() if ch else []


# ---- applying ---------------------------------------------------------------------------------


def open_for_applications(need: Need, today: date | None = None) -> str | None:
    """None, or why no application is taken."""
    if not is_challenge(need):
        return "该需求不是揭榜挂帅项目"
    if not need.is_published:
        return "该榜单未发布或已下架"
    ch = peek(need)
    if ch is not None and ch.awarded_id:
        return "本榜已有团队揭榜成功"
    if need.challenge_deadline and need.challenge_deadline < (today or _today()):
        return f"揭榜截止日期（{need.challenge_deadline:%Y-%m-%d}）已过，不能再提交申请"
    return None


def apply(
    need: Need, actor: User, raw: dict, file=None, achievement_id=None, today: date | None = None
) -> ChallengeApplication:
    if why := open_for_applications(need, today):
        raise ChallengeError(why)
    if need.owner_id == actor.id:
        raise ChallengeError("不能揭自己发布的榜")
    if actor.org_id is None:
        raise ChallengeError("请先在账户中填写所在单位，再提交揭榜申请")
    if db.session.scalar(
        select(ChallengeApplication.id).where(
            ChallengeApplication.need_id == need.id, ChallengeApplication.applicant_id == actor.id
        )
    ):
        raise ChallengeError("您已提交过该榜的揭榜申请，每个账号只能申请一次")
    errors, values = {}, {}
    try:
        values = clean(FIELDS, raw, Vocab(names={}))
    except ValidationError as e:
        errors.update(e.errors)
    ach = None
    if achievement_id not in (None, ""):
        ach = db.session.get(Achievement, int(achievement_id)) if rules.is_ascii_int(str(achievement_id)) else None
        if ach is None or ach.owner_id != actor.id:
            errors["achievement_id"] = "只能关联您自己发布的成果"
    try:
        upload = uploads.check(file, "揭榜材料")
    except ValueError as e:
        errors["attachment"] = f"附件：{e}"
    if errors:
        raise ValidationError(errors)
    app = ChallengeApplication(
        need_id=need.id, applicant_id=actor.id, achievement=ach, **values, stage=Stage.screening.value
    )
    stored = uploads.save(upload, FILE_AREA) if upload else None
    if stored:
        app.file_key, app.file_name, app.file_mime = stored.key, stored.name, stored.mime
    db.session.add(app)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        if stored:
            uploads.discard(stored.key, FILE_AREA)
        raise ChallengeError("您已提交过该榜的揭榜申请，每个账号只能申请一次") from None
    _log(need, actor, "apply", app.team_name, app, None, app.stage)
    notify(actor, f"揭榜申请已提交：{need.title}", "申请进入形式审查，结果将通知您。", link_of(app))
    if need.owner:
        notify(need.owner, f"新的揭榜申请：{need.title}", f"团队：{app.team_name}", f"/challenges/{need.id}/review")
    db.session.flush()
    return app


def link_of(app: ChallengeApplication) -> str:
    return f"/challenges/applications/{app.id}"


def applications(need: Need) -> list[ChallengeApplication]:
    return db.session.scalars(
        select(ChallengeApplication).where(ChallengeApplication.need_id == need.id).order_by(ChallengeApplication.id)
    ).all()


def of_applicant(user: User) -> list[ChallengeApplication]:
    return db.session.scalars(
        select(ChallengeApplication)
        .where(ChallengeApplication.applicant_id == user.id)
        .order_by(ChallengeApplication.id.desc())
    ).all()


# ---- the stages -------------------------------------------------------------------------------


def _flush() -> None:
    from sqlalchemy.orm.exc import StaleDataError

    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise ConcurrentChange() from None


def move(app: ChallengeApplication, action: str, actor: User, reason: str = "", now: datetime | None = None):
    """Pass 形式审查, shortlist for 答辩, award, or drop (with a reason); the applicant is told."""
    _require_staff(actor)
    if action not in MOVES:
        raise ChallengeError("未知的操作")
    allowed, to = MOVES[action]
    if Stage(app.stage) not in allowed:
        raise ChallengeError(
            f"该申请当前为“{app.stage_label}”，不能{MOVE_LABELS[action]}"
            f"（只能从{'、'.join(s.label for s in allowed)}进行）"
        )
    reason = rules.strip_invisible(reason or "", keep_newlines=True).strip()
    need = app.need
    if action == "drop" and not reason:
        raise ValidationError({"reason": "请写明未通过的原因，申请人会看到"})
    if action == "shortlist" and not app.scores:
        raise ChallengeError("还没有评审打分，不能入围答辩")
    ch = get(need)
    if action == "award" and ch.awarded_id:
        raise ChallengeError("本榜已有团队揭榜成功")
    before = app.stage
    app.stage = to.value
    if action == "drop":
        app.dropped_at_stage, app.drop_reason = before, reason
    _log(need, actor, action, reason, app, before, to.value)
    _flush()
    body = {
        "pass": "您的申请已通过形式审查，进入专家评审。需求方现在可以查看您的方案。",
        "shortlist": f"您的申请入围答辩（评审均分 {app.average}）。驿站将与您约定答辩时间。",
        "award": "恭喜，您的团队揭榜成功！结果将公示，公示期满后进入洽谈。",
        "drop": f"很遗憾，您的申请在{STAGE_LABELS[Stage(before)]}阶段未通过。原因：{reason}",
    }[action]
    notify(app.applicant, f"揭榜进展：{need.title} — {to.label}", body, link_of(app))
    if action == "award":
        _publish_result(ch, app, actor, now or utcnow())
    return app


def _publish_result(ch: Challenge, app: ChallengeApplication, actor: User, now: datetime) -> None:
    need = app.need
    days = int(current_app.config.get("CHALLENGE_OBJECTION_DAYS", 7))
    ch.awarded_id, ch.publicity_from, ch.objection_until = app.id, now, now + timedelta(days=days)
    _log(need, actor, "publicity", f"公示至 {ch.objection_until:%Y-%m-%d %H:%M}", app)
    for other in applications(need):
        if other.id != app.id and other.stage in (Stage.screening.value, Stage.review.value, Stage.defence.value):
            move(other, "drop", actor, "本榜已由其他团队揭榜成功")
    if need.owner:
        notify(
            need.owner,
            f"揭榜结果公示：{need.title}",
            f"揭榜团队：{app.team_name}，公示期 {days} 天。",
            f"/challenges/{need.id}/result",
        )
    _flush()


def score(app: ChallengeApplication, reviewer: User, marks: dict, comment: str = "") -> ChallengeScore:
    """One reviewer's marks (0–100 per criterion) during 专家评审; a second score is refused."""
    need = app.need
    if not is_reviewer(reviewer, need) or reviewer.id in (need.owner_id, app.applicant_id):
        raise ChallengeError("只有该榜的评审（技术经纪人或指定专家）可以打分")
    if app.stage != Stage.review.value:
        raise ChallengeError(f"该申请当前为“{app.stage_label}”，只有专家评审阶段可以打分")
    if _scored(app, reviewer):
        raise ChallengeError("您已为该申请评过分，每位评审只能评一次")
    criteria = criteria_of(need)
    errors, clean_marks = {}, {}
    for i, c in enumerate(criteria):
        v = str(marks.get(c["name"], marks.get(f"mark_{i}", "")) or "").strip()
        if not rules.is_ascii_int(v) or not 0 <= int(v) <= 100:
            errors[f"mark_{i}"] = f"“{c['name']}”请打 0–100 的整数分"
        else:
            clean_marks[c["name"]] = int(v)
    comment = rules.strip_invisible(comment or "", keep_newlines=True).strip()
    if len(comment) > 2000:
        errors["comment"] = "评语最多 2000 字"
    if errors:
        raise ValidationError(errors)
    total = round(sum(clean_marks[c["name"]] * c["weight"] for c in criteria) / sum(c["weight"] for c in criteria), 2)
    get(need)  # the criteria are fixed from the first score on
    s = ChallengeScore(application_id=app.id, reviewer_id=reviewer.id, marks=clean_marks, total=total, comment=comment)
    try:
        with db.session.begin_nested():  # two submits at once: the unique pair keeps one
            db.session.add(s)
            db.session.flush()
    except IntegrityError:
        raise ChallengeError("您已为该申请评过分，每位评审只能评一次") from None
    db.session.expire(app, ["scores"])
    _log(need, reviewer, "score", f"{app.team_name}：{total}", app)
    db.session.flush()
    return s


def _scored(app: ChallengeApplication, reviewer: User) -> bool:
    return (
        db.session.scalar(
            select(ChallengeScore.id).where(
                ChallengeScore.application_id == app.id, ChallengeScore.reviewer_id == reviewer.id
            )
        )
        is not None
    )


def has_scored(app: ChallengeApplication, reviewer: User) -> bool:
    return reviewer.is_authenticated and _scored(app, reviewer)


# ---- 公示, objections, confirmation ----------------------------------------------------------


def in_objection_window(ch: Challenge | None, now: datetime | None = None) -> bool:
    return bool(ch and ch.objection_until and not ch.finalised_at and (now or utcnow()) < ch.objection_until)


def object_to(need: Need, raw: dict, user: User | None = None, now: datetime | None = None) -> ChallengeObjection:
    ch = peek(need)
    if ch is None or not ch.awarded_id:
        raise ChallengeError("该榜尚未公示结果")
    if not in_objection_window(ch, now):
        raise ChallengeError(f"公示期已于 {ch.objection_until:%Y-%m-%d %H:%M} 结束，不再受理异议")
    values = clean(
        (
            Field("name", "姓名或单位", required=True, max_len=40, min_len=2),
            Field("contact", "联系方式", required=True, max_len=120, min_len=5),
            Field("text", "异议内容与理由", "longtext", required=True, max_len=3000, min_len=10),
        ),
        raw,
        Vocab(names={}),
    )
    o = ChallengeObjection(need_id=need.id, user_id=user.id if user and user.is_authenticated else None, **values)
    db.session.add(o)
    _log(need, user if user and user.is_authenticated else None, "objection", values["name"])
    for broker in _brokers_of(need):
        notify(broker, f"公示异议：{need.title}", values["text"][:200], f"/challenges/{need.id}/review")
    db.session.flush()
    return o


def _brokers_of(need: Need) -> list[User]:
    from . import stations

    station = stations.route_for(need.org, need.station)
    return [u for u in (station.brokers if station else []) if u.active]


def objections(need: Need) -> list[ChallengeObjection]:
    return db.session.scalars(
        select(ChallengeObjection).where(ChallengeObjection.need_id == need.id).order_by(ChallengeObjection.id)
    ).all()


def finalise(need: Need, actor: User, note: str = "", now: datetime | None = None) -> Match:
    """After the objection window: the awarded pair becomes a match in 洽谈中 (source 揭榜挂帅)."""
    from . import stations

    _require_staff(actor)
    now = now or utcnow()
    ch = peek(need)
    if ch is None or not ch.awarded_id:
        raise ChallengeError("该榜尚无揭榜成功的团队")
    if ch.finalised_at:
        raise ChallengeError("结果已确认")
    if now < ch.objection_until:
        raise ChallengeError(f"公示期至 {ch.objection_until:%Y-%m-%d %H:%M}，期满后才能确认结果")
    n_obj = len(objections(need))
    note = rules.strip_invisible(note or "", keep_newlines=True).strip()
    if n_obj and not note:
        raise ValidationError({"note": f"公示期内收到 {n_obj} 条异议，请写明处理意见"})
    app = ch.awarded
    ach = app.achievement or _achievement_from(app)
    m = db.session.scalar(select(Match).where(Match.need_id == need.id, Match.achievement_id == ach.id))
    text = f"揭榜挂帅结果确认：{app.team_name} 揭榜成功" + (f"；{note}" if note else "")
    if m is None:
        m = Match(
            need=need,
            achievement=ach,
            score=(app.average or 0) / 100,
            source="challenge",
            station=stations.route_for(need.org, need.station),
            broker=actor,
            introduced_at=now,
            status=MatchStatus.introduced.value,
        )
        db.session.add(m)
        db.session.add(MatchEvent(match=m, actor=actor, action="introduce", to_status=m.status, note=text))
    elif m.status in (
        MatchStatus.suggested.value,
        MatchStatus.accepted.value,
        MatchStatus.rejected.value,
        MatchStatus.closed.value,
    ):
        m.source, m.introduced_at = "challenge", now
        db.session.add(
            MatchEvent(
                match=m,
                actor=actor,
                action="introduce",
                from_status=m.status,
                to_status=MatchStatus.introduced.value,
                note=text,
            )
        )
        m.status = MatchStatus.introduced.value
    db.session.flush()
    if m.status == MatchStatus.introduced.value:
        try:
            matches.negotiate(m, actor, "揭榜成功，进入洽谈")
        except matches.TransitionError as e:
            raise ChallengeError(str(e)) from None
    ch.finalised_at, ch.match_id = now, m.id
    _log(need, actor, "finalise", text + f" → 匹配 #{m.id}", app)
    notify(app.applicant, f"揭榜结果已确认：{need.title}", "公示期满，已进入洽谈。", f"/me/matches/{m.id}")
    _flush()
    return m


def _achievement_from(app: ChallengeApplication) -> Achievement:
    """The team's solution as a 成果 (a draft of the applicant's, never published by this)."""
    need = app.need
    ach = Achievement(
        title=f"{app.team_name}：{need.title}揭榜方案"[:200],
        summary=app.summary,
        detail=app.solution,
        keywords=list(need.keywords or []),
        field=need.field,
        chain=need.chain,
        maturity="中试",
        contact_name=app.applicant.display_name,
        contact_phone=app.applicant.phone or "",
        contact_email=app.applicant.email,
        status=ListingStatus.draft.value,
        org_id=app.applicant.org_id,
        owner_id=app.applicant_id,
        station_id=need.station_id,
    )
    db.session.add(ach)
    db.session.flush()
    app.achievement = ach
    return ach


def history(need: Need) -> list[ChallengeLog]:
    return db.session.scalars(
        select(ChallengeLog).where(ChallengeLog.need_id == need.id).order_by(ChallengeLog.id)
    ).all()


def open_challenges() -> list[Need]:
    return db.session.scalars(
        select(Need)
        .where(Need.challenge_reward.is_not(None), Need.status == ListingStatus.published.value)
        .order_by(Need.challenge_deadline.desc().nulls_last(), Need.id)
    ).all()


def result_of(need: Need) -> Challenge | None:
    ch = peek(need)
    return ch if ch is not None and ch.awarded_id else None
