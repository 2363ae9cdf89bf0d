"""揭榜挂帅: applying (deadline, once), who sees the confidential parts when, the stages with their
notices and reasons, weighted scores once per reviewer, 公示 with objections, the awarded match."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import ChallengeLog, Match, Notification, Role, utcnow
from market.services import challenges, listings
from market.validation.fields import ValidationError
from tests.conftest import APPLICATION, NEED, login, post_form


@pytest.fixture
def call(make):
    owner = make.user(Role.enterprise)
    raw = dict(NEED, challenge_reward="500万", challenge_deadline=(date.today() + timedelta(days=30)).isoformat())
    need = listings.create(listings.NEED, raw, owner, publish=True, suggest=False)
    station = make.station()
    people = {
        "owner": owner,
        "need": need,
        "team": make.user(Role.researcher),
        "rival": make.user(Role.researcher),
        "broker": make.user(Role.broker, station=station),
        "broker2": make.user(Role.broker, station=station),
        "expert": make.user(Role.researcher, username="expert.wang"),
    }
    db.session.commit()
    return people


def apply(call, who="team", **over):
    app = challenges.apply(call["need"], call[who], dict(APPLICATION, **over))
    db.session.commit()
    return app


def test_apply_once_before_the_deadline(call):
    app = apply(call)
    assert app.stage == "screening"
    with pytest.raises(challenges.ChallengeError, match="只能申请一次"):
        apply(call)
    db.session.rollback()
    with pytest.raises(challenges.ChallengeError, match="不能揭自己发布的榜"):
        apply(call, "owner")
    db.session.rollback()
    call["need"].challenge_deadline = date.today() - timedelta(days=1)
    with pytest.raises(challenges.ChallengeError, match=r"揭榜截止日期（.*）已过，不能再提交申请"):
        apply(call, "rival")


def test_application_is_validated_in_chinese(call):
    with pytest.raises(ValidationError) as e:
        challenges.apply(
            call["need"],
            call["team"],
            dict(APPLICATION, team_name="", solution="太短"),
            file=type("F", (), {"filename": "a.exe", "read": lambda self, n: b"MZ\x90"})(),
        )
    assert e.value.errors["team_name"] == "请填写“团队名称”"
    assert "至少 50 个字" in e.value.errors["solution"]
    assert "PDF、PNG 或 JPEG" in e.value.errors["attachment"]


def test_the_owner_sees_the_confidential_parts_only_after_screening(call, client):
    app = apply(call)
    assert challenges.may_see_confidential(call["team"], app)
    assert challenges.may_see_confidential(call["broker"], app)
    assert not challenges.may_see_confidential(call["owner"], app)
    assert not challenges.may_view(call["rival"], app)
    login(client, call["owner"])
    html = client.get(f"/challenges/applications/{app.id}").get_data(as_text=True)
    assert APPLICATION["summary"] in html and "WC-Co 梯度烧结" not in html and "申请通过形式审查后" in html
    challenges.move(app, "pass", call["broker"])
    db.session.commit()
    assert challenges.may_see_confidential(call["owner"], app)
    assert "WC-Co 梯度烧结" in client.get(f"/challenges/applications/{app.id}").get_data(as_text=True)


def test_rival_cannot_open_an_application(call, client):
    app = apply(call)
    login(client, call["rival"])
    assert client.get(f"/challenges/applications/{app.id}").status_code == 404


def test_stages_notify_the_applicant_and_a_drop_needs_a_reason(call):
    app, other = apply(call), apply(call, "rival", team_name="另一团队")
    with pytest.raises(challenges.ChallengeError, match="只有技术经纪人或管理员"):
        challenges.move(app, "pass", call["owner"])
    with pytest.raises(ValidationError, match="请写明未通过的原因"):
        challenges.move(other, "drop", call["broker"])
    challenges.move(other, "drop", call["broker"], "技术方案与榜单指标不对应")
    db.session.commit()
    assert (other.stage, other.dropped_at_stage) == ("dropped", "screening")
    notice = db.session.scalar(
        select(Notification).where(Notification.user_id == call["rival"].id, Notification.title.like("%未通过"))
    )
    assert "形式审查阶段未通过。原因：技术方案与榜单指标不对应" in notice.body
    with pytest.raises(challenges.ChallengeError, match="不能入围答辩"):
        challenges.move(app, "shortlist", call["broker"])


def test_weighted_scores_once_per_reviewer_averaged(call):
    app = apply(call)
    with pytest.raises(challenges.ChallengeError, match="只有专家评审阶段可以打分"):
        challenges.score(app, call["broker"], {"mark_0": "90"})
    challenges.move(app, "pass", call["broker"])
    with pytest.raises(challenges.ChallengeError, match="只有该榜的评审"):
        challenges.score(app, call["expert"], {})
    challenges.assign_expert(call["need"], "expert.wang", call["broker"])
    with pytest.raises(ValidationError) as e:
        challenges.score(app, call["expert"], {"mark_0": "101", "mark_1": "x"})
    assert e.value.errors["mark_0"] == "“技术先进性”请打 0–100 的整数分"
    s1 = challenges.score(app, call["expert"], {"mark_0": "90", "mark_1": "80", "mark_2": "70", "mark_3": "60"})
    s2 = challenges.score(app, call["broker"], {"mark_0": "80", "mark_1": "80", "mark_2": "80", "mark_3": "80"})
    db.session.commit()
    assert s1.total == 80.0 and s2.total == 80.0  # 90×.4 + 80×.3 + 70×.2 + 60×.1
    with pytest.raises(challenges.ChallengeError, match="每位评审只能评一次"):
        challenges.score(app, call["expert"], {"mark_0": "10", "mark_1": "10", "mark_2": "10", "mark_3": "10"})
    db.session.rollback()
    assert app.average == 80.0 and len(app.scores) == 2
    with pytest.raises(challenges.ChallengeError, match="评审标准不能再修改"):
        challenges.set_criteria(call["need"], "技术:100", call["owner"])


def test_owner_sets_weighted_criteria(call):
    with pytest.raises(ValidationError, match="合计 100"):
        challenges.set_criteria(call["need"], "技术先进性:50\n可行性:30", call["owner"])
    ch = challenges.set_criteria(call["need"], "技术先进性：60\n可行性:40", call["owner"])
    assert ch.criteria == [{"name": "技术先进性", "weight": 60}, {"name": "可行性", "weight": 40}]
    with pytest.raises(challenges.ChallengeError):
        challenges.set_criteria(call["need"], "技术先进性:100", call["team"])


def _to_award(call):
    app = apply(call)
    challenges.move(app, "pass", call["broker"])
    for reviewer in ("broker", "broker2"):
        challenges.score(app, call[reviewer], {f"mark_{i}": "85" for i in range(4)})
    challenges.move(app, "shortlist", call["broker"])
    challenges.move(app, "award", call["broker"])
    db.session.commit()
    return app


def test_award_publicity_objection_window_then_a_match_in_negotiation(call, client):
    late = apply(call, "rival", team_name="迟到团队")
    app = _to_award(call)
    assert late.stage == "dropped" and "其他团队揭榜成功" in late.drop_reason
    ch = challenges.peek(call["need"])
    assert ch.awarded_id == app.id and ch.objection_until - ch.publicity_from == timedelta(days=7)
    assert challenges.open_for_applications(call["need"]) == "本榜已有团队揭榜成功"
    html = client.get(f"/challenges/{call['need'].id}/result").get_data(as_text=True)
    assert "郑大超硬材料团队" in html and "提出异议" in html and "WC-Co" not in html
    r = post_form(
        client,
        f"/challenges/{call['need'].id}/result",
        {"name": "某公司", "contact": "13900001111", "text": "该团队的试用数据与公开报道不一致"},
    )
    assert r.status_code == 303
    with pytest.raises(challenges.ChallengeError, match="期满后才能确认结果"):
        challenges.finalise(call["need"], call["broker"])
    later = utcnow() + timedelta(days=8)
    with pytest.raises(challenges.ChallengeError, match="不再受理异议"):
        challenges.object_to(
            call["need"], {"name": "某人", "contact": "13900002222", "text": "晚到的异议内容"}, now=later
        )
    with pytest.raises(ValidationError, match="请写明处理意见"):
        challenges.finalise(call["need"], call["broker"], now=later)
    m = challenges.finalise(call["need"], call["broker"], "异议已核实，数据一致", now=later)
    db.session.commit()
    assert (m.status, m.source, m.need_id) == ("negotiating", "challenge", call["need"].id)
    assert m.achievement.owner_id == call["team"].id and m.achievement.status == "draft"
    assert db.session.get(Match, m.id).source_label == "揭榜挂帅"
    actions = [h.action for h in db.session.scalars(select(ChallengeLog).order_by(ChallengeLog.id))]
    assert actions[-2:] == ["objection", "finalise"]
    assert {"apply", "pass", "score", "shortlist", "award", "publicity", "drop", "objection", "finalise"} <= set(
        actions
    )


def test_attachment_is_stored_and_guarded(call, client):
    pdf = type("F", (), {"filename": "方案.pdf", "read": lambda self, n: b"%PDF-1.4\n%%EOF\n"})()
    a = challenges.apply(call["need"], call["team"], APPLICATION, file=pdf)
    db.session.commit()
    assert not challenges.may_see_confidential(call["owner"], a)
    login(client, call["team"])
    r = client.get(f"/challenges/applications/{a.id}/file")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")


def test_owner_cannot_download_before_screening(call, client):
    pdf = type("F", (), {"filename": "方案.pdf", "read": lambda self, n: b"%PDF-1.4\n%%EOF\n"})()
    a = challenges.apply(call["need"], call["team"], APPLICATION, file=pdf)
    db.session.commit()
    login(client, call["owner"])
    assert client.get(f"/challenges/applications/{a.id}/file").status_code == 403


def test_applicant_sees_their_applications_and_the_reason_they_dropped(call, client):
    app = apply(call)
    challenges.move(app, "drop", call["broker"], "材料不全：缺少团队成员的身份证明")
    db.session.commit()
    login(client, call["team"])
    html = client.get("/challenges/").get_data(as_text=True)
    assert "我的揭榜申请" in html and "材料不全：缺少团队成员的身份证明" in html
