"""Issue 4: suggestions, station queues, introductions, the lifecycle, privacy release, reminders,
feedback. The matching engine is the fast fake one; the browser test uses the real model."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.infra import match_engine
from market.models import Match, MatchEvent, MatchStatus, Notification, Role, User, utcnow
from market.services import feedback, listings, matches
from matching.ranking import Weights
from tests.conftest import NEED, csrf_from, login, post_form
from tests.market.conftest import introduce, the_match

S = MatchStatus


def test_publishing_creates_routed_deduplicated_suggestions(world):
    m = the_match(world)
    assert m is not None and m.status == "suggested" and 0 <= m.score <= 1
    assert m.station == world["station"]  # the enterprise's district (410105) → 金水 station
    assert m.explanation["shared_terms"] and "dense" in m.explanation["components"]
    listings.update(world["need"], {"title": "硬岩段盾构滚刀换刀太频繁"}, world["enterprise"])
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Match)) == 1  # no duplicate on edit
    assert [e.action for e in m.events] == ["suggest"]


def test_routing_prefers_intake_station_then_district_then_hall(world, fake_engine):
    make = world["make"]
    far = make.org("民营企业", region="410300")  # 洛阳: no station serves it
    intake = make.station(districts=())
    broker_far = make.user(Role.broker, station=intake)
    n1 = listings.create(
        listings.NEED, {**NEED, "title": "洛阳企业的滚刀需求"}, broker_far, org_id=str(far.id), publish=True
    )
    db.session.commit()
    assert {m.station_id for m in db.session.scalars(select(Match).where(Match.need_id == n1.id))} == {intake.id}
    owner = make.user(Role.enterprise, org=far)
    n2 = listings.create(listings.NEED, {**NEED, "title": "洛阳企业另一条滚刀需求"}, owner, publish=True)
    db.session.commit()
    assert {m.station_id for m in db.session.scalars(select(Match).where(Match.need_id == n2.id))} == {world["hall"].id}


def test_queue_shows_only_the_station_and_filters(world, client):
    make = world["make"]
    other_broker = make.user(Role.broker, station=make.station(districts=("410172",)))
    assert matches.queue_query(world["broker"], matches.QueueFilters()).whereclause is not None
    mine = db.session.scalars(matches.queue_query(world["broker"], matches.QueueFilters())).all()
    theirs = db.session.scalars(matches.queue_query(other_broker, matches.QueueFilters())).all()
    assert the_match(world) in mine and theirs == []
    login(client, world["broker"])
    html = client.get("/broker/?bottleneck_first=1").get_data(as_text=True)
    assert 'data-testid="queue-item"' in html and "卡脖子" in html
    assert "没有符合条件" in client.get("/broker/?field=核应用").get_data(as_text=True)
    login_other = make.user(Role.researcher)
    client.post("/auth/logout", data={"csrf_token": csrf_from(html)})
    login(client, login_other)
    assert client.get("/broker/").status_code == 403


def test_accept_asks_both_and_only_two_agreements_release_private_detail(world, client):
    m = the_match(world)
    stranger = world["make"].user(Role.researcher)
    colleague = world["make"].user(Role.researcher, org=world["researcher"].org)
    need, ach = world["need"], world["ach"]
    assert not listings.can_see_private(world["researcher"], need)  # not before the introduction
    matches.accept(m, world["broker"], "请尽快联系")
    db.session.commit()
    assert m.status == "accepted" and m.consent_due > m.offered_at.date()
    assert not listings.can_see_private(world["researcher"], need)  # asked, not yet released
    for party in (world["researcher"], world["enterprise"]):
        notes = db.session.scalars(select(Notification).where(Notification.user_id == party.id)).all()
        assert any("对接邀请" in n.title for n in notes)
    login(client, world["researcher"])
    html = client.get(f"/me/matches/{m.id}").get_data(as_text=True)
    assert 'data-testid="consent"' in html and "花岗岩地层" in html and NEED["detail"] not in html
    assert NEED["contact_phone"] not in html
    matches.respond(m, world["researcher"], True, note="愿意交流")
    db.session.commit()
    assert m.status == "accepted" and not listings.can_see_private(world["researcher"], need)
    assert matches.waiting_on(m) == ["need"]
    assert db.session.scalars(
        select(Notification).where(
            Notification.user_id == world["enterprise"].id, Notification.title.contains("对方已同意")
        )
    ).all()
    with pytest.raises(matches.TransitionError, match="已经答复"):
        matches.respond(m, world["researcher"], True)
    matches.respond(m, world["enterprise"], True)
    db.session.commit()
    assert m.status == "introduced"
    assert [e.action for e in m.events] == ["suggest", "accept", "respond", "respond", "introduce"]
    assert m.events[-1].actor_id == world["enterprise"].id  # who moved it
    assert listings.can_see_private(world["researcher"], need) and listings.can_see_private(world["enterprise"], ach)
    assert not listings.can_see_private(stranger, need) and not listings.can_see_private(colleague, need)
    html = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert NEED["detail"] in html and NEED["contact_phone"] in html
    html = client.get(f"/me/matches/{m.id}").get_data(as_text=True)
    assert 'data-testid="private-need"' in html and NEED["detail"] in html
    matches.close(m, world["enterprise"], "terms_failed", "价格谈不拢")
    db.session.commit()
    assert not listings.can_see_private(world["researcher"], need)  # closed: no longer released


# The lifecycle's legal moves, written out from the product rules (not read from matches.TRANSITIONS):
# (status, action) → the status it leads to; every other pair is refused.
LEGAL_MOVES = {
    ("suggested", "accept"): "accepted",  # the broker takes it up and asks both parties
    ("suggested", "reject"): "rejected",
    ("suggested", "withdraw"): "closed",  # the listing was archived or expired
    ("accepted", "introduce"): "introduced",  # both parties agreed
    ("accepted", "close"): "closed",
    ("accepted", "withdraw"): "closed",
    ("introduced", "negotiate"): "negotiating",
    ("introduced", "contract"): "contracted",
    ("introduced", "close"): "closed",
    ("negotiating", "contract"): "contracted",
    ("negotiating", "close"): "closed",
}
ALL_ACTIONS = ["accept", "reject", "introduce", "negotiate", "contract", "close", "withdraw"]
ALL_STATUSES = ["suggested", "accepted", "rejected", "introduced", "negotiating", "contracted", "closed"]


def test_the_lifecycle_has_exactly_the_actions_and_statuses_written_out_here():
    assert sorted(matches.TRANSITIONS) == sorted(ALL_ACTIONS)
    assert sorted(s.value for s in S) == sorted(ALL_STATUSES)


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_every_legal_move_is_made_and_every_other_refused(world, status):
    m = the_match(world)
    admin = world["make"].user(Role.admin)
    for action in ALL_ACTIONS:
        m.status = status
        db.session.flush()
        kw = {}
        if action == "reject":
            kw = {"reason_code": "other", "note": "测试", "reasons": matches.REJECT_REASONS}
        if action in ("close", "withdraw"):
            kw = {"reason_code": "other", "note": "测试", "reasons": matches.CLOSE_REASONS}
        if (status, action) in LEGAL_MOVES:
            matches.transition(m, action, admin, **kw)
            assert m.status == LEGAL_MOVES[status, action], action
        else:
            with pytest.raises(matches.TransitionError, match="不能"):
                matches.transition(m, action, admin, **kw)
            assert m.status == status, action
    db.session.rollback()


def test_who_may_do_what(world):
    m = the_match(world)
    with pytest.raises(matches.TransitionError, match="经纪人"):
        matches.accept(m, world["enterprise"])
    other_station_broker = world["make"].user(Role.broker, station=world["make"].station(districts=()))
    with pytest.raises(matches.TransitionError):
        matches.accept(m, other_station_broker)
    matches.accept(m, world["broker"])
    stranger = world["make"].user(Role.enterprise)
    with pytest.raises(matches.TransitionError, match="对接双方"):
        matches.respond(m, stranger, True)
    with pytest.raises(matches.TransitionError, match="待双方同意"):
        matches.negotiate(m, world["enterprise"])  # not before both agreed
    matches.respond(m, world["researcher"], True)
    matches.respond(m, world["enterprise"], True)
    with pytest.raises(matches.TransitionError, match="对接双方"):
        matches.negotiate(m, stranger)
    matches.negotiate(m, world["enterprise"], "已约见面")
    assert m.status == "negotiating"


def test_reject_needs_reason_and_parties_never_hear_of_it(world, client):
    m = the_match(world)
    with pytest.raises(Exception, match="请选择原因"):
        matches.reject(m, world["broker"], "", "")
    db.session.rollback()
    m = the_match(world)
    with pytest.raises(Exception, match="写明原因"):
        matches.reject(m, world["broker"], "other", "")
    db.session.rollback()
    m = the_match(world)
    matches.reject(m, world["broker"], "maturity_gap", "成果仍在中试，需求要求量产")
    db.session.commit()
    assert m.status == "rejected" and m.reason_code == "maturity_gap"
    # the parties never saw the suggestion: no "未被采纳" notice, no entry in 我的对接
    for party in (world["researcher"], world["enterprise"]):
        assert not db.session.scalars(
            select(Notification).where(Notification.user_id == party.id, Notification.title.contains("未被采纳"))
        ).all()
        assert m not in matches.of_party(party)
    login(client, world["enterprise"])
    assert "成熟度达不到需求" not in client.get("/me/matches").get_data(as_text=True)
    assert client.get(f"/me/matches/{m.id}").status_code == 404


def test_party_declines_with_reason_and_nothing_is_released(world):
    m = the_match(world)
    matches.accept(m, world["broker"])
    db.session.commit()
    with pytest.raises(Exception, match="请选择原因"):
        matches.respond(m, world["researcher"], False, "", "")
    db.session.rollback()
    m = the_match(world)
    matches.respond(m, world["researcher"], False, "terms", "对方预算不足")
    db.session.commit()
    assert m.status == "closed" and m.achievement_response == "declined" and m.reason_code == "terms"
    assert not listings.can_see_private(world["researcher"], world["need"])
    assert not listings.can_see_private(world["enterprise"], world["ach"])
    for user in (world["enterprise"], world["broker"]):
        bodies = [n.body for n in db.session.scalars(select(Notification).where(Notification.user_id == user.id))]
        assert any("价格、预算或合作方式不合适：对方预算不足" in t for t in bodies)
    with pytest.raises(matches.TransitionError, match="无需答复"):
        matches.respond(m, world["enterprise"], True)


def test_bulk_reject(world, client):
    m = the_match(world)
    login(client, world["broker"])
    resp = post_form(
        client, "/broker/bulk-reject", {"match_id": str(m.id), "reason_code": "duplicate"}, token_page="/broker/"
    )
    assert resp.status_code == 302
    db.session.refresh(m)
    assert m.status == "rejected" and m.reason_code == "duplicate"


def test_concurrent_claims_one_wins_other_is_told(app, world):
    make = world["make"]
    b1, b2 = world["broker"], make.user(Role.broker, station=world["station"])
    match_id, ids = the_match(world).id, (b1.id, b2.id)
    db.session.commit()
    db.session.remove()
    barrier = threading.Barrier(2)
    results = {}

    def claim(broker_id, key):
        with app.app_context():
            try:
                m = db.session.get(Match, match_id)
                broker = db.session.get(User, broker_id)
                _ = m.version  # loaded before the race
                barrier.wait()
                matches.claim(m, broker)
                db.session.commit()
                results[key] = "won"
            except (matches.ConcurrentChange, matches.TransitionError) as e:
                db.session.rollback()
                results[key] = str(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=claim, args=(i, k)) for i, k in zip(ids, "ab")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert list(results.values()).count("won") == 1, results
    loser = [v for v in results.values() if v != "won"][0]
    assert "其他人" in loser or "已由" in loser
    m = db.session.get(Match, match_id)
    assert m.broker_id in ids
    assert db.session.scalar(select(func.count()).select_from(MatchEvent).where(MatchEvent.action == "claim")) == 1


def test_stale_form_is_refused(world, client):
    m = the_match(world)
    login(client, world["broker"])
    page = client.get(f"/broker/matches/{m.id}")
    token = csrf_from(page.get_data(as_text=True))
    matches.add_note(m, world["broker"], "别人先动了")
    db.session.commit()  # version moves on
    resp = client.post(
        f"/broker/matches/{m.id}/accept", data={"csrf_token": token, "version": "1"}, follow_redirects=True
    )
    assert "刚被其他人处理过" in resp.get_data(as_text=True)
    db.session.refresh(m)
    assert m.status == "suggested"


def test_reminders_and_abandonment(world, app):
    m = introduce(world, the_match(world))
    db.session.commit()
    now = utcnow()
    m.last_activity_at = now - timedelta(days=20)
    db.session.commit()
    assert matches.remind_stalled(now=now) == {"reminded": 1, "abandoned": 0}
    assert matches.remind_stalled(now=now) == {"reminded": 0, "abandoned": 0}  # once per stall
    who = {n.user_id for n in db.session.scalars(select(Notification).where(Notification.title.contains("没有进展")))}
    assert who == {world["broker"].id, world["researcher"].id, world["enterprise"].id}
    m.last_activity_at = now - timedelta(days=100)
    db.session.commit()
    assert matches.remind_stalled(now=now)["abandoned"] == 1
    assert m.status == "closed" and m.reason_code == "abandoned"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["remind"])
    assert result.exit_code == 0 and "reminded" in result.output


def test_feedback_report_and_refit(world, app, fake_engine):
    make = world["make"]
    app.config["FEEDBACK_MIN_LABELS"] = 6
    # more suggestions: several needs against the 成果
    for i in range(8):
        listings.create(
            listings.NEED,
            {**NEED, "title": f"第{i}条滚刀需求：刀圈{i}号", "bottleneck": i % 2 == 0},
            make.user(Role.enterprise),
            publish=True,
        )
    db.session.commit()
    ms = db.session.scalars(select(Match).order_by(Match.id)).all()
    assert len(ms) >= 9
    for n, m in enumerate(ms):
        if n % 3 == 0:
            matches.reject(m, world["broker"], "indicators_unmet")
        else:
            matches.accept(m, world["broker"])
    db.session.commit()
    rep = feedback.report()
    total = rep["total"][0]
    assert total.reviewed == len(ms) and total.accepted == len(ms) - len(ms[::3])
    assert rep["station"][0].precision == pytest.approx(total.accepted / total.reviewed)
    weights_file, current = Path(app.config["MATCH_WEIGHTS"]), fake_engine.weights
    result = feedback.refit(write=False)
    assert result.labels == len(ms) and result.test_needs >= 1
    assert set(result.current) == set(result.candidate) == {"auc", "logloss"}
    assert result.candidate["logloss"] < result.current["logloss"]  # better: only write=False keeps it out
    assert not result.replaced and not weights_file.exists() and fake_engine.weights is current
    result = feedback.refit()
    db.session.commit()  # the new weights reach every engine through the change log
    assert result.replaced and weights_file.exists() and match_engine.engine().weights is not current
    applied, written = match_engine.engine().weights.as_dict(), Weights.load(weights_file).as_dict()
    assert applied == {**written, "meta": {}}  # the fit's report (with NaN AUCs here) stays in the file
    runner = app.test_cli_runner()
    out = runner.invoke(args=["feedback", "report"]).output
    assert "precision" in out and "合计" in out
