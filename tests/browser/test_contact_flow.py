"""End to end in headless Chromium: a visitor finds the station serving a need and sends 申请对接 →
the station's broker sees it in the queue and answers → the visitor reads the answer through the
private link."""

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import ContactRequest, Role
from market.services import listings
from tests.browser.conftest import SHOTS, login
from tests.conftest import NEED

pytestmark = [pytest.mark.browser]


@pytest.fixture
def world(app, make):
    station = make.station(districts=("410171",))
    station.address, station.phone, station.hours = (
        "郑州经济技术开发区第八大街 167 号",
        "0371-66785210",
        "周一至周五 9:00–17:00",
    )
    enterprise = make.user(Role.enterprise, org=make.org("国有企业", "郑州某盾构装备公司", "410171"))
    broker = make.user(Role.broker, station=station, username="broker.jkq")
    broker.expertise = "装备制造"
    need = listings.create(listings.NEED, NEED, enterprise, publish=True, suggest=False)
    db.session.commit()
    SHOTS.mkdir(parents=True, exist_ok=True)
    return {"station": station, "need": need, "broker": broker}


def test_visitor_contacts_the_station_of_a_need_and_reads_the_reply(browser, live_server, world, app):
    base = live_server
    visitor = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    visitor.goto(f"{base}/needs/{world['need'].id}")
    card = visitor.locator("[data-testid=serving-station]")
    assert world["station"].name in card.inner_text()
    card.locator("a", has_text=world["station"].name).click()  # the station's page
    visitor.wait_for_selector("[data-testid=station-brokers]")
    assert "0371-66785210" in visitor.inner_text("[data-testid=station-info]")
    assert "装备制造" in visitor.inner_text("[data-testid=station-brokers]")
    visitor.screenshot(path=str(SHOTS / "13-station-page.png"), full_page=True)
    visitor.go_back()
    visitor.click("[data-testid=contact-button]")
    visitor.fill("#f-name", "周明")
    visitor.fill("#f-org_name", "郑州瑞光精密机械有限公司")
    visitor.fill("#f-message", "太短")
    visitor.click("[data-testid=contact-form] button")
    assert "对接需求：至少 10 个字" in visitor.content()
    visitor.fill("#f-phone", "13938251174")
    visitor.fill("#f-message", "我们有成熟的耐磨刀圈方案，希望与需求方当面交流技术细节和试制计划。")
    visitor.click("[data-testid=contact-form] button")
    link = visitor.locator("[data-testid=private-link]").get_attribute("href")
    assert "/desk/r/" in link
    visitor.screenshot(path=str(SHOTS / "13-contact-sent.png"), full_page=True)

    with app.app_context():
        req = db.session.scalars(select(ContactRequest)).one()
        assert req.station_id == world["station"].id and req.status == "pending"

    brk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    login(brk, base, "broker.jkq")
    brk.goto(f"{base}/desk/requests")
    item = brk.locator("[data-testid=request-item]", has_text=NEED["title"])
    assert item.count() == 1 and "周明" in item.inner_text()
    brk.screenshot(path=str(SHOTS / "13-broker-queue.png"), full_page=True)
    item.locator("a").first.click()
    assert "13938251174" in brk.inner_text("[data-testid=requester]")
    brk.fill("#f-reply", "您好，需求方同意下周二上午在驿站面谈，请携带刀圈检测报告。")
    brk.click("text=发送回复")
    brk.wait_for_selector("text=回复已发送")
    assert brk.inner_text("[data-testid=contact-status]") == "已回复"

    visitor.goto(link)
    assert "下周二上午在驿站面谈" in visitor.inner_text("[data-testid=contact-reply]")
    assert visitor.inner_text("[data-testid=contact-status]") == "已回复"
    visitor.screenshot(path=str(SHOTS / "13-visitor-reply.png"), full_page=True)
