"""Issue 13 (part A): 申请对接 to the station serving a listing (validation, double submit, rate limit,
privacy, replies, the visitor's private link, reminders) and the hall's service desk."""

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.models import ContactRequest, DeskEvent, Notification, Role, ServiceRequest
from market.services import contact, desk, listings
from market.validation.fields import ValidationError
from tests.conftest import NEED, login, post_form, switch

VISITOR = {
    "name": "周明",
    "org_name": "郑州瑞光精密机械有限公司",
    "phone": "13938251174",
    "email": "zm@example.com",
    "message": "我们有成熟的刀圈方案，希望与需求方当面交流技术细节和试制计划。",
}


@pytest.fixture
def world(app, make):
    hall = make.station(districts=())
    hall.is_hall = True
    station = make.station(districts=("410105",))
    other = make.station(districts=("410171",))
    broker = make.user(Role.broker, station=station, username="station.broker")
    foreign = make.user(Role.broker, station=other, username="foreign.broker")
    hall_broker = make.user(Role.broker, station=hall, username="hall.broker")
    enterprise = make.user(Role.enterprise)
    member = make.user(Role.researcher, username="member")
    need = listings.create(listings.NEED, NEED, enterprise, publish=True, suggest=False)
    db.session.commit()
    return {
        "hall": hall,
        "station": station,
        "broker": broker,
        "foreign": foreign,
        "hall_broker": hall_broker,
        "enterprise": enterprise,
        "member": member,
        "need": need,
        "make": make,
    }


def send(client, need, data=VISITOR):
    return post_form(client, f"/desk/contact/need/{need.id}", data)


def only_request() -> ContactRequest:
    return db.session.scalars(select(ContactRequest)).one()


# ---- 申请对接 ------------------------------------------------------------------------------


def test_visitor_request_lands_in_the_serving_station_with_a_private_link(world, client):
    resp = send(client, world["need"])
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'data-testid="private-link"' in html
    req = only_request()
    assert req.station_id == world["station"].id and req.status == "pending" and req.user_id is None
    token = html.split("/desk/r/")[1].split('"')[0]
    assert req.token_hash and token not in req.token_hash  # only the hash is kept
    resp = client.get(f"/desk/r/{token}")
    page = resp.get_data(as_text=True)
    assert VISITOR["message"] in page and "尚未回复" in page
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert client.get("/desk/r/not-a-real-token").status_code == 404
    note = db.session.scalar(select(Notification).where(Notification.user_id == world["broker"].id))
    assert note is not None and note.link == f"/desk/requests/{req.id}"
    assert not db.session.scalar(select(Notification.id).where(Notification.user_id == world["foreign"].id))


def test_contact_form_validates_in_chinese_and_keeps_the_input(world, client):
    resp = send(client, world["need"], {**VISITOR, "phone": "", "email": "", "message": "太短"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "对接需求：至少 10 个字" in html and VISITOR["org_name"] in html
    resp = send(client, world["need"], {**VISITOR, "phone": "", "email": ""})
    assert resp.status_code == 400 and "请至少填写电话或电子邮箱" in resp.get_data(as_text=True)
    with pytest.raises(ValidationError) as e:
        contact.submit(world["need"], {**VISITOR, "phone": "123", "email": "x@", "name": ""})
    assert set(e.value.errors) == {"phone", "email", "name"} and "电话格式不对" in e.value.errors["phone"]
    assert db.session.scalar(select(func.count()).select_from(ContactRequest)) == 0


def test_double_submit_is_refused_while_the_first_waits(world, client):
    assert send(client, world["need"]).status_code == 200
    resp = send(client, world["need"], {**VISITOR, "email": VISITOR["email"].upper(), "phone": ""})
    assert resp.status_code == 400 and "请勿重复提交" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ContactRequest)) == 1
    contact.reply(only_request(), world["broker"], "您好，已转告需求方。")
    db.session.commit()
    assert send(client, world["need"]).status_code == 200  # answered: asking again is fine


def test_visitors_are_rate_limited(world, client, app):
    app.config["CONTACT_LIMIT"] = "2 per hour"
    for i in range(2):
        assert send(client, world["need"], {**VISITOR, "phone": f"1393825117{i}", "email": ""}).status_code == 200
    resp = send(client, world["need"], {**VISITOR, "phone": "13938251179", "email": ""})
    assert resp.status_code == 429 and "过于频繁" in resp.get_data(as_text=True)


def test_unpublished_or_own_listing_cannot_be_asked_about(world, client):
    listings.archive_listing(world["need"], world["enterprise"], "not_needed")
    db.session.commit()
    assert client.get(f"/desk/contact/need/{world['need'].id}").status_code == 404
    with pytest.raises(ValidationError) as e:
        contact.submit(world["need"], VISITOR)
    assert "未公开发布" in e.value.errors[""]


def test_member_request_prefilled_and_seen_in_their_account(world, client):
    login(client, world["member"])
    form = client.get(f"/desk/contact/need/{world['need'].id}").get_data(as_text=True)
    assert world["member"].display_name in form and world["member"].org.name in form
    resp = send(
        client,
        world["need"],
        {
            "name": "张研究",
            "org_name": world["member"].org.name,
            "phone": "",
            "email": "",
            "message": "课题组有相关成果，希望了解需求方的试用条件。",
        },
    )
    req = only_request()
    assert resp.status_code == 302 and resp.location.endswith(f"/desk/requests/{req.id}")
    assert req.user_id == world["member"].id and req.token_hash is None
    assert f"/desk/requests/{req.id}" in client.get("/desk/mine").get_data(as_text=True)
    with pytest.raises(ValidationError) as e:
        contact.submit(world["need"], {**VISITOR}, world["enterprise"])
    assert "您自己发布" in e.value.errors[""]


@pytest.mark.parametrize(
    "who, sees",
    [
        ("broker", True),
        ("admin", True),
        ("foreign", False),
        ("hall_broker", False),
        ("member", False),
        ("visitor", False),
    ],
)
def test_contact_details_only_for_the_station_brokers_and_admins(world, client, who, sees):
    contact.submit(world["need"], VISITOR)
    db.session.commit()
    req = only_request()
    user = world["make"].user(Role.admin) if who == "admin" else world.get(who)
    if user is not None:
        login(client, user)
    resp = client.get(f"/desk/requests/{req.id}")
    assert resp.status_code == (200 if sees else (404 if user else 302))
    assert (VISITOR["phone"] in resp.get_data(as_text=True)) is sees
    if user is not None and user.has_role(Role.broker, Role.admin):
        queue = client.get("/desk/requests").get_data(as_text=True)
        assert (VISITOR["name"] in queue) is sees
    assert contact.can_handle(user, req) is sees


def test_broker_replies_the_visitor_sees_it_and_is_mailed(world, client, monkeypatch):
    mails = []
    monkeypatch.setattr("market.infra.notify.send_mail", lambda *a: mails.append(a))
    html = send(client, world["need"]).get_data(as_text=True)
    token = html.split("/desk/r/")[1].split('"')[0]
    assert mails and mails[0][0] == VISITOR["email"] and f"/desk/r/{token}" == mails[0][3]
    req = only_request()
    switch(client, world["broker"])
    page = client.get(f"/desk/requests/{req.id}").get_data(as_text=True)
    resp = post_form(
        client,
        f"/desk/requests/{req.id}/reply",
        {"reply": "好", "version": req.version},
        token_page=f"/desk/requests/{req.id}",
    )
    assert "回复内容为 5–2000 个字" in client.get(resp.location).get_data(as_text=True)
    version = req.version
    post_form(
        client,
        f"/desk/requests/{req.id}/reply",
        {"reply": "您好，需求方同意下周二面谈。", "version": version},
        token_page=f"/desk/requests/{req.id}",
    )
    db.session.expire_all()
    assert req.status == "replied" and req.replied_by_id == world["broker"].id
    resp = post_form(
        client,
        f"/desk/requests/{req.id}/reply",
        {"reply": "重复提交的同一表单", "version": version},
        token_page=f"/desk/requests/{req.id}",
    )  # the same form sent twice
    assert "刚被其他人处理过" in client.get(resp.location).get_data(as_text=True)
    db.session.expire_all()
    assert req.reply == "您好，需求方同意下周二面谈。"
    assert any(m[0] == VISITOR["email"] and "下周二面谈" in m[2] for m in mails)
    switch(client, None)
    assert "下周二面谈" in client.get(f"/desk/r/{token}").get_data(as_text=True)
    assert page.count(VISITOR["phone"]) >= 1


def test_member_is_notified_of_the_reply_and_may_close(world):
    req, _ = contact.submit(world["need"], {**VISITOR, "phone": "", "email": ""}, world["member"])
    with pytest.raises(contact.TransitionError):
        contact.reply(req, world["foreign"], "另一驿站的经纪人不能回复")
    contact.reply(req, world["broker"], "您好，已把您的意向转给需求方。")
    db.session.commit()
    assert (
        db.session.scalar(select(Notification).where(Notification.user_id == world["member"].id)).link
        == f"/desk/requests/{req.id}"
    )
    contact.close(req, world["member"], "已与需求方联系上")
    with pytest.raises(contact.TransitionError):
        contact.reply(req, world["broker"], "关闭后不能再回复")
    assert [e.action for e in req.events] == ["submit", "reply", "close"]


def test_closing_unanswered_needs_a_reason(world):
    req, _ = contact.submit(world["need"], VISITOR)
    with pytest.raises(ValidationError) as e:
        contact.close(req, world["broker"], "")
    assert "请写明原因" in e.value.errors["note"]
    contact.close(req, world["broker"], "需求方已找到合作单位")
    assert req.status == "closed"


def test_reminder_after_n_working_days_once(world, app):
    req, _ = contact.submit(world["need"], VISITOR)
    req.created_at = datetime(2026, 11, 27, 10, 0)  # a Friday
    db.session.commit()
    assert contact.remind_unanswered(date(2026, 11, 30), days=2) == 0  # Monday: one working day
    assert contact.remind_unanswered(date(2026, 12, 1), days=2) == 1  # Tuesday: two
    db.session.commit()
    assert contact.remind_unanswered(date(2026, 12, 8), days=2) == 0  # once only
    notes = db.session.scalars(select(Notification).where(Notification.key.like(f"contact:{req.id}:remind:%"))).all()
    assert [n.user_id for n in notes] == [world["broker"].id]
    result = app.test_cli_runner().invoke(args=["remind-requests", "--days", "0"])
    assert result.exit_code == 0 and "reminded: 0" in result.output


# ---- the hall's service desk -----------------------------------------------------------------


def test_service_request_validation_and_double_submit(world, client):
    login(client, world["member"])
    resp = post_form(client, "/desk/services/new", {"service": "tea", "description": "短"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "需求描述：至少 10 个字" in html
    resp = post_form(
        client, "/desk/services/new", {"service": "tea", "description": "请评估我们的一项专利技术的价值。"}
    )
    assert resp.status_code == 400 and "请从 技术评估" in resp.get_data(as_text=True)
    data = {"service": "assessment", "description": "请评估我们的一项专利技术的价值。"}
    assert post_form(client, "/desk/services/new", data).status_code == 302
    resp = post_form(client, "/desk/services/new", data)
    assert resp.status_code == 400 and "请勿重复提交" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ServiceRequest)) == 1
    switch(client, world["broker"])
    assert client.get("/desk/services/new").status_code == 403  # brokers work the desk


def test_service_desk_lifecycle_with_history_and_permissions(world):
    req = desk.submit(
        world["member"], {"service": "ip_advice", "description": "想咨询专利许可合同怎样约定改进成果归属。"}
    )
    db.session.commit()
    with pytest.raises(desk.TransitionError):
        desk.act(req, "accept", world["broker"])  # a station broker is not the hall
    desk.act(req, "accept", world["hall_broker"])
    with pytest.raises(ValidationError):
        desk.act(req, "assign", world["hall_broker"], broker_id="999999")
    with pytest.raises(desk.TransitionError):
        desk.act(req, "start", world["broker"])  # not assigned yet
    desk.act(req, "assign", world["hall_broker"], broker_id=str(world["broker"].id))
    with pytest.raises(desk.TransitionError):
        desk.act(req, "start", world["foreign"])  # not the assigned broker
    desk.act(req, "start", world["broker"], "已约面谈")
    desk.act(req, "finish", world["broker"], "已出具咨询意见")
    with pytest.raises(desk.TransitionError) as e:
        desk.act(req, "refuse", world["hall_broker"], "办结后不能拒绝")
    assert "已办结" in str(e.value)
    db.session.commit()
    assert [(e.action, e.to_status) for e in req.events] == [
        ("submit", "submitted"),
        ("accept", "accepted"),
        ("assign", "assigned"),
        ("start", "in_progress"),
        ("finish", "done"),
    ]
    told = db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == world["member"].id)
    )
    assert told == 4


def test_refusal_needs_a_reason_the_member_sees(world, client):
    req = desk.submit(world["member"], {"service": "assessment", "description": "请帮忙评估一下全部专利的价值。"})
    db.session.commit()
    with pytest.raises(ValidationError):
        desk.act(req, "refuse", world["hall_broker"], "")
    desk.act(req, "refuse", world["hall_broker"], "请按单项技术申请技术评估")
    db.session.commit()
    login(client, world["member"])
    html = client.get(f"/desk/services/{req.id}").get_data(as_text=True)
    assert "已拒绝" in html and "请按单项技术申请技术评估" in html


def test_service_pages_visible_to_member_hall_and_assignee_only(world, client):
    req = desk.submit(
        world["member"], {"service": "financing", "description": "项目需要两千万元中试资金，希望对接投资机构。"}
    )
    db.session.commit()
    other_member = world["make"].user(Role.enterprise)
    for user, code in (
        (world["member"], 200),
        (world["hall_broker"], 200),
        (world["broker"], 404),
        (other_member, 404),
    ):
        switch(client, user)
        assert client.get(f"/desk/services/{req.id}").status_code == code
    switch(client, world["hall_broker"])
    page, rendered = f"/desk/services/{req.id}", req.version
    resp = post_form(client, f"{page}/assign", {"broker_id": world["broker"].id, "version": rendered}, token_page=page)
    assert resp.status_code == 303
    stale = post_form(client, f"{page}/accept", {"version": rendered}, token_page=page)  # a form from before
    assert "刚被其他人处理过" in client.get(stale.location).get_data(as_text=True)
    db.session.expire_all()
    assert req.status == "assigned" and req.broker_id == world["broker"].id
    switch(client, world["broker"])
    assert client.get(page).status_code == 200
    assert f"/desk/services/{req.id}" in client.get("/desk/services").get_data(as_text=True)
    events = db.session.scalar(select(func.count()).select_from(DeskEvent).where(DeskEvent.service_id == req.id))
    assert events == 2


def test_a_station_without_brokers_has_its_requests_told_to_the_admins(world):
    empty = world["make"].station(districts=("410102",))
    owner = world["make"].user(Role.enterprise, org=world["make"].org("民营企业", region="410102"))
    need = listings.create(listings.NEED, {**NEED, "title": "中原区企业的需求"}, owner, publish=True, suggest=False)
    admin = world["make"].user(Role.admin)
    req, _ = contact.submit(need, VISITOR)
    db.session.commit()
    assert req.station_id == empty.id
    assert (
        db.session.scalar(select(Notification.link).where(Notification.user_id == admin.id))
        == f"/desk/requests/{req.id}"
    )
