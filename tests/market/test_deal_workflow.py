"""Issue 12: consent before disclosure, note audience, archived listings, to-do pages, notifications,
洽谈中 → registered contract with a 核定技术交易额, closing a listing with a reason."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from market.extensions import db
from market.infra import notify
from market.models import Contract, Notification, Role
from market.services import contracts, listings, matches, stats, todo
from market.validation.fields import ValidationError
from tests.conftest import NEED, csrf_from, login, post_form
from tests.market.conftest import application, introduce, the_match


def notices(user, text=""):
    return [
        n
        for n in db.session.scalars(select(Notification).where(Notification.user_id == user.id))
        if text in n.title + n.body
    ]


# ---- note audience ------------------------------------------------------------------------------


def test_broker_notes_are_internal_by_default_and_parties_never_see_them(world, client):
    m = the_match(world)
    matches.accept(m, world["broker"])
    matches.add_note(m, world["broker"], "内部：汉威对价格敏感")
    matches.add_note(m, world["broker"], "请双方下周三前答复", shared=True)
    matches.add_note(m, world["researcher"], "我们可以提供样品")
    db.session.commit()
    internal, shared, party = m.events[-3:]
    assert internal.internal and not shared.internal and not party.internal
    assert internal not in matches.visible_events(m, world["researcher"])
    assert shared in matches.visible_events(m, world["researcher"])
    assert internal in matches.visible_events(m, world["broker"])
    login(client, world["enterprise"])
    html = client.get(f"/me/matches/{m.id}").get_data(as_text=True)
    assert "汉威对价格敏感" not in html and "请双方下周三前答复" in html and "我们可以提供样品" in html
    assert not notices(world["enterprise"], "汉威")  # nor in a notice
    assert notices(world["broker"], "我们可以提供样品")  # a party's message reaches the broker


def test_the_broker_page_shows_the_audience_choice_and_saves_it(world, client):
    m = the_match(world)
    matches.accept(m, world["broker"])
    db.session.commit()
    login(client, world["broker"])
    page = f"/broker/matches/{m.id}"
    html = client.get(page).get_data(as_text=True)
    assert 'name="audience" value="internal" checked' in html and "对接双方可见" in html
    post_form(client, f"{page}/note", {"note": "只给同事看"}, token_page=page)
    post_form(client, f"{page}/note", {"note": "给双方看", "audience": "shared"}, token_page=page)
    assert [e.internal for e in m.events if e.action == "note"] == [True, False]


def test_party_notes_need_a_match_they_were_asked_about(world):
    m = the_match(world)
    with pytest.raises(matches.TransitionError):
        matches.add_note(m, world["researcher"], "我还没被征求意见")


# ---- archived / expired listings ----------------------------------------------------------------


def test_archiving_withdraws_open_suggestions_and_blocks_introductions(world, client):
    m = the_match(world)
    listings.archive_listing(world["need"], world["enterprise"], "partner_found")
    db.session.commit()
    assert m.status == "closed" and m.reason_code == "listing_withdrawn" and "已找到合作方" in m.reason_text
    assert m.events[-1].action == "withdraw" and m.events[-1].actor_id == world["enterprise"].id
    assert not notices(world["researcher"])  # never asked: never told
    with pytest.raises(matches.TransitionError, match="不能"):
        matches.accept(m, world["broker"])
    login(client, world["broker"])
    html = client.get(f"/broker/matches/{m.id}").get_data(as_text=True)
    assert 'data-testid="state-need"' in html and "已归档" in html and 'data-testid="accept"' not in html


def test_a_consent_request_cannot_be_agreed_once_a_listing_is_down(world):
    m = the_match(world)
    matches.accept(m, world["broker"])
    matches.respond(m, world["enterprise"], True)
    db.session.commit()
    world["ach"].status = "archived"  # taken down behind the service's back
    with pytest.raises(matches.TransitionError, match="已归档"):
        matches.respond(m, world["researcher"], True)
    assert not listings.can_see_private(world["researcher"], world["need"])


def test_expiry_withdraws_a_consent_request_and_tells_the_other_party(world):
    m = the_match(world)
    matches.accept(m, world["broker"])
    world["ach"].expires_at = date.today() - timedelta(days=1)
    db.session.commit()
    listings.expire_due()
    db.session.commit()
    assert m.status == "closed" and m.reason_code == "listing_withdrawn"
    assert notices(world["enterprise"], "对接邀请已撤回") and notices(world["broker"], "已撤回")


# ---- consent deadline and reminders -------------------------------------------------------------


def test_consent_deadline_is_in_working_days_and_reminders_are_sent_once(world, app):
    m = the_match(world)
    matches.accept(m, world["broker"], today=date(2026, 9, 30))  # 国庆 follows
    db.session.commit()
    assert m.consent_due == date(2026, 10, 13)  # 5 working days: 10-8, 10-9, Saturday 10-10 (调休), 10-12, 10-13
    matches.respond(m, world["enterprise"], True)
    db.session.commit()
    assert matches.remind_consent(today=date(2026, 10, 13)) == 0  # the last day to answer
    assert matches.remind_consent(today=date(2026, 10, 14)) == 2  # the researcher, and the broker
    assert matches.remind_consent(today=date(2026, 10, 16)) == 0  # idempotent
    assert notices(world["researcher"], "请答复对接邀请") and not notices(world["enterprise"], "请答复")
    late = notices(world["broker"], "逾期未答复")
    assert len(late) == 1 and "成果方" in late[0].body and "需求方" not in late[0].body
    result = app.test_cli_runner().invoke(args=["remind"])
    assert result.exit_code == 0 and "consent reminders: 0" in result.output


def test_the_broker_sees_who_has_not_answered(world, client):
    m = the_match(world)
    matches.accept(m, world["broker"])
    matches.respond(m, world["researcher"], True)
    db.session.commit()
    login(client, world["broker"])
    html = client.get(f"/broker/matches/{m.id}").get_data(as_text=True)
    assert 'data-testid="answer-achievement">同意对接' in html and 'data-testid="answer-need">未答复' in html
    assert "等待需求方答复" in html


# ---- notifications ------------------------------------------------------------------------------


def test_notices_are_read_when_the_match_is_opened_and_cleared_when_it_moves_on(world, client):
    m = the_match(world)
    matches.accept(m, world["broker"])
    db.session.commit()
    invite = notices(world["enterprise"], "对接邀请")[0]
    matches.respond(m, world["researcher"], True)
    matches.respond(m, world["enterprise"], True)  # introduced: the invitation is over
    db.session.commit()
    assert invite.read_at is not None
    fresh = notices(world["enterprise"], "对接成功")[0]
    assert fresh.read_at is None
    login(client, world["enterprise"])
    client.get(f"/me/matches/{m.id}")
    db.session.refresh(fresh)
    assert fresh.read_at is not None


def test_brokers_hear_of_new_suggestions_and_opening_the_queue_reads_it(world, client):
    assert not notices(world["broker"], "新推荐")
    listings.create(listings.NEED, {**NEED, "title": "盾构滚刀刀圈寿命短"}, world["enterprise"], publish=True)
    db.session.commit()
    got = notices(world["broker"], "新推荐")
    assert len(got) == 1 and "盾构滚刀刀圈寿命短" in got[0].title and got[0].read_at is None
    login(client, world["broker"])
    client.get("/broker/")
    assert got[0].read_at is None  # another page
    client.get(got[0].link)
    db.session.refresh(got[0])
    assert got[0].read_at is not None


def test_the_email_setting_stops_mail_but_not_the_notice(world, client):
    user = world["researcher"]
    user.email = "wang@example.cn"
    db.session.commit()
    notify.notify(user, "甲")
    assert len(db.session.info.get("outbox", [])) == 1
    db.session.commit()
    login(client, user)
    post_form(client, "/me/notifications/email", {"email_notices": "0"}, token_page="/me/notifications")
    db.session.refresh(user)
    assert user.email_notices is False
    notify.notify(user, "乙")
    assert db.session.info.get("outbox", []) == [] and notices(user, "乙")


# ---- the timeline -------------------------------------------------------------------------------


def test_the_timeline_shows_no_move_for_a_claim_and_no_unanswered_after_an_answer(world, client):
    m = the_match(world)
    matches.claim(m, world["broker"])
    introduce(world, m)
    db.session.commit()
    claim = next(e for e in m.events if e.action == "claim")
    assert claim.from_status == claim.to_status == "suggested"
    login(client, world["broker"])
    html = client.get(f"/broker/matches/{m.id}").get_data(as_text=True)
    assert "— → 待审核" not in html and "未答复" not in html and "同意对接" in html


# ---- 洽谈中 → contract --------------------------------------------------------------------------


@pytest.fixture
def deal(world, make):
    m = introduce(world, the_match(world))
    matches.negotiate(m, world["enterprise"])
    registrar = make.user(Role.registrar)
    db.session.commit()
    return {**world, "match": m, "registrar": registrar}


def test_the_match_page_offers_the_contract_and_the_contract_links_back(deal, client):
    m = deal["match"]
    login(client, deal["researcher"])
    html = client.get(f"/me/matches/{m.id}").get_data(as_text=True)
    assert f'href="/contracts/new?match={m.id}"' in html and "申请技术合同登记" in html
    form = client.get(f"/contracts/new?match={m.id}").get_data(as_text=True)
    assert f'value="{m.id}" selected' in form or f'value="{m.id}"' in form
    c = contracts.submit(application(deal["enterprise"].org, match_id=str(m.id)), deal["researcher"])
    db.session.commit()
    assert m.events[-1].action == "contract_applied" and m.events[-1].actor_id == deal["researcher"].id
    assert notices(deal["broker"], "已申请技术合同登记")
    html = client.get(f"/me/matches/{m.id}").get_data(as_text=True)
    assert f'href="/contracts/{c.id}"' in html and "申请技术合同登记</a>" not in html
    html = client.get(f"/contracts/{c.id}").get_data(as_text=True)
    assert f'href="/me/matches/{m.id}"' in html


def test_registering_with_a_lower_approved_amount_needs_a_reason_and_counts_it(deal):
    m = deal["match"]
    c = contracts.submit(application(deal["enterprise"].org, match_id=str(m.id)), deal["researcher"])
    db.session.commit()
    with pytest.raises(ValidationError) as e:
        contracts.register(c, deal["registrar"], approved="80万")
    assert "核减理由" in e.value.errors["approved_note"]
    with pytest.raises(ValidationError) as e:
        contracts.register(c, deal["registrar"], approved="200万", approved_note="x")
    assert "不能高于" in e.value.errors["approved_tech_amount"]
    with pytest.raises(ValidationError) as e:
        contracts.register(c, deal["registrar"], approved="80万", approved_note="含设备费", checked=["scan"])
    assert "checklist" in e.value.errors
    db.session.rollback()
    contracts.register(
        c,
        deal["registrar"],
        approved="80万",
        approved_note="20万元为设备采购，不计入技术交易额",
        checked=list(contracts.CHECKLIST),
    )
    db.session.commit()
    assert c.status == "registered" and c.approved_tech_amount == Decimal("800000.00")
    assert m.status == "contracted" and m.events[-1].actor_id == deal["registrar"].id
    total = stats.totals(stats.Period.year(date.today().year))
    assert total.tech_amount == Decimal("800000.00") and total.amount == Decimal("1200000.00")
    for party in (deal["researcher"], deal["enterprise"], deal["broker"]):
        got = notices(party, "已登记")
        assert got and "核定技术交易额80万元" in got[0].body


def test_the_api_registers_with_the_same_approved_amount_rule(deal, client):
    import hashlib

    c = contracts.submit(application(deal["enterprise"].org, match_id=str(deal["match"].id)), deal["researcher"])
    deal["registrar"].api_token_hash = hashlib.sha256(b"tok-registrar").hexdigest()
    db.session.commit()
    headers = {"Authorization": "Bearer tok-registrar"}
    resp = client.post(f"/api/v1/contracts/{c.id}/register", headers=headers, json={"approved_tech_amount": "80万"})
    assert resp.status_code == 422 and "approved_note" in resp.get_json()["error"]["fields"]
    resp = client.post(
        f"/api/v1/contracts/{c.id}/register",
        headers=headers,
        json={"approved_tech_amount": "80万", "note": "设备费不计入"},
    )
    assert resp.status_code == 200
    assert resp.get_json()["approved_tech_amount"] == "800000.00" and resp.get_json()["approved_note"] == "设备费不计入"


def test_the_buyer_party_may_open_the_contract_but_not_download_the_scan(deal, client):
    c = contracts.submit(application(deal["enterprise"].org, match_id=str(deal["match"].id)), deal["researcher"])
    db.session.commit()
    login(client, deal["enterprise"])
    assert client.get(f"/contracts/{c.id}").status_code == 200
    assert c in db.session.scalars(contracts.visible_query(deal["enterprise"])).all()
    assert not contracts.can_download(deal["enterprise"], c)


def test_the_scan_previews_inline_framed_by_the_app_only(client, deal):
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    form = application(deal["enterprise"].org)
    form["ctype_subtype"] = f"{form.pop('ctype')}|{form.pop('subtype')}"
    login(client, deal["researcher"])
    page = client.get("/contracts/new").get_data(as_text=True)
    client.post(
        "/contracts/new",
        data={**form, "csrf_token": csrf_from(page), "attachment": (io.BytesIO(pdf), "扫描件.pdf")},
        content_type="multipart/form-data",
    )
    c = db.session.scalar(select(Contract))
    client.post("/auth/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, deal["registrar"])
    html = client.get(f"/contracts/{c.id}").get_data(as_text=True)
    assert f'<iframe src="/contracts/{c.id}/file?inline=1"' in html
    assert "frame-ancestors 'none'" in client.get(f"/contracts/{c.id}").headers["Content-Security-Policy"]
    inline = client.get(f"/contracts/{c.id}/file?inline=1")
    assert inline.data == pdf and "attachment" not in inline.headers.get("Content-Disposition", "")
    assert inline.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert (
        inline.headers["Content-Security-Policy"] == "default-src 'none'; img-src 'self'; object-src 'self'; "
        "frame-ancestors 'self'"
    )
    download = client.get(f"/contracts/{c.id}/file")
    assert "attachment" in download.headers["Content-Disposition"] and download.headers["X-Frame-Options"] == "DENY"


# ---- closing a listing --------------------------------------------------------------------------


def test_closing_a_listing_asks_why_and_solved_needs_are_counted(world, client):
    need = world["need"]
    login(client, world["enterprise"])
    page = f"/needs/{need.id}"
    html = client.get(page).get_data(as_text=True)
    assert "已找到合作方" in html and 'name="confirm"' in html
    resp = post_form(client, f"{page}/archive", {"close_reason": "solved"}, token_page=page)
    assert need.status == "published"  # not confirmed
    resp = post_form(client, f"{page}/archive", {"close_reason": "", "confirm": "1"}, token_page=page)
    assert need.status == "published"
    resp = post_form(client, f"{page}/archive", {"close_reason": "other", "confirm": "1"}, token_page=page)
    assert "写明原因" in client.get(resp.headers["Location"]).get_data(as_text=True) and need.status == "published"
    post_form(client, f"{page}/archive", {"close_reason": "solved", "confirm": "1"}, token_page=page)
    db.session.refresh(need)
    assert need.status == "archived" and need.close_reason == "solved" and need.closed_at is not None
    year = stats.Period.year(date.today().year)
    assert stats.solved_needs(year) == 1
    assert 'data-testid="kpi-solved">1' in client.get("/stats/").get_data(as_text=True)
    other = listings.create(listings.NEED, {**NEED, "title": "另一条需求"}, world["enterprise"], publish=True)
    listings.archive_listing(other, world["enterprise"], "not_needed")
    assert stats.solved_needs(year) == 1  # 不再需要 is not solved


def test_the_api_archives_with_a_reason_only(world, client):
    import hashlib

    token = "t" * 40
    world["enterprise"].api_token_hash = hashlib.sha256(token.encode()).hexdigest()
    db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    resp = client.post(f"/api/v1/needs/{world['need'].id}/archive", headers=auth)
    assert resp.status_code == 422 and "close_reason" in resp.get_json()["error"]["fields"]
    resp = client.post(f"/api/v1/needs/{world['need'].id}/archive", headers=auth, json={"close_reason": "solved"})
    assert resp.status_code == 200 and world["need"].close_reason == "solved"


# ---- to-do pages --------------------------------------------------------------------------------


def by_key(user):
    return {s.key: s for s in todo.sections(user)}


def test_todo_of_broker_and_parties_follow_the_match(world, client):
    m = the_match(world)
    assert [i.link for i in by_key(world["broker"])["fresh"].items] == [f"/broker/matches/{m.id}"]
    matches.claim(m, world["broker"])
    assert by_key(world["broker"])["decide"].items and not by_key(world["broker"])["fresh"].items
    matches.accept(m, world["broker"])
    db.session.commit()
    assert by_key(world["broker"])["consent"].items[0].meta.startswith("未答复：需求方、成果方")
    for party in (world["researcher"], world["enterprise"]):
        assert [i.link for i in by_key(party)["consent"].items] == [f"/me/matches/{m.id}"]
    matches.respond(m, world["researcher"], True)
    assert not by_key(world["researcher"])["consent"].items and by_key(world["enterprise"])["consent"].items
    matches.respond(m, world["enterprise"], True)
    db.session.commit()
    assert by_key(world["enterprise"])["deals"].items
    login(client, world["enterprise"])
    html = client.get("/todo/").get_data(as_text=True)
    assert 'data-testid="todo-deals"' in html and 'data-testid="todo-count"' in html


def test_login_lands_on_the_todo_page(world, client):
    resp = login(client, world["broker"])
    assert resp.headers["Location"].endswith("/todo/")


def test_registrar_todo_lists_applications_overdue_first(world, make):
    registrar = make.user(Role.registrar)
    old = contracts.submit(application(world["enterprise"].org, title="较早的申请"), world["researcher"])
    new = contracts.submit(application(world["enterprise"].org, title="较新的申请"), world["researcher"])
    old.due_on = date.today() - timedelta(days=3)
    db.session.commit()
    items = by_key(registrar)["pending"].items
    assert [i.title for i in items] == ["较早的申请", "较新的申请"] and items[0].overdue and not items[1].overdue
    assert "已超期" in items[0].meta and todo.count(registrar) == 2
    assert new.id


def test_admin_todo_lists_unverified_orgs_and_membership_requests(world, make):
    from market.models import Organisation, OrgState

    admin = make.user(Role.admin)
    org = Organisation(name="待核验的新单位", kind="民营企业", region="410105")
    db.session.add(org)
    joiner = make.user(Role.enterprise, org=org)
    joiner.org_state = OrgState.pending.value
    db.session.commit()
    sections = by_key(admin)
    assert "待核验的新单位" in [i.title for i in sections["orgs"].items]
    assert any(joiner.display_name in i.title for i in sections["members"].items)
