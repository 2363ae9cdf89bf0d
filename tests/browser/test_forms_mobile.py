"""In headless Chromium: the 所在区县 type-ahead on the registration form, and the main pages on a
390 px wide phone — nothing wider than the screen, search buttons on one line, filters collapsed."""

import re

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import Organisation, Role, User
from market.services import listings
from tests.browser.conftest import SHOTS, login
from tests.conftest import ACHIEVEMENT, NEED

pytestmark = pytest.mark.browser
PHONE = dict(
    locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True
)


def test_region_type_ahead_stores_the_code(browser, live_server):
    base = live_server
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base}/auth/register")
    assert page.locator("#region").bounding_box()["width"] <= 1 and page.locator("#region-search").is_visible()
    page.click("label[for=region-search]")  # the label now points at the text box
    assert page.evaluate("document.activeElement.id") == "region-search"
    page.fill("#region-search", "洛阳")
    page.keyboard.press("Enter")  # the first match, by keyboard
    assert page.input_value("#region") == "410300" and page.input_value("#region-search") == "洛阳市"
    page.fill("#region-search", "金水")
    options = page.locator("#region-options li[role=option]")
    assert options.count() == 1 and options.first.inner_text().startswith("金水区")
    page.screenshot(path=str(SHOTS / "region-type-ahead.png"))
    options.first.click()
    assert page.input_value("#region") == "410105" and page.locator("#region-options").is_hidden()
    page.fill("#region-search", "不存在的地方")
    assert "没有名称含" in page.inner_text("#region-options")
    page.locator("#region-search").blur()  # an unknown name keeps the choice
    assert page.input_value("#region") == "410105" and page.input_value("#region-search") == "金水区"

    page.check("input[name=role][value=enterprise]")
    page.fill("#username", "founder.e2e")
    page.fill("#display_name", "王创始")
    page.fill("#password", "Lantern-Kite-42")
    page.fill("#password2", "Lantern-Kite-42")
    page.select_option("#org_id", value="new")
    page.fill("#org_name", "郑州新创智能装备有限公司")
    page.select_option("#org_kind", "民营企业")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/me/$"))
    db.session.rollback()
    org = db.session.scalar(select(Organisation).where(Organisation.name == "郑州新创智能装备有限公司"))
    assert org.region == "410105"


def overflow(page) -> list[str]:
    """The elements sticking out on the right, when the page scrolls sideways."""
    if page.evaluate("document.documentElement.scrollWidth") <= 390:
        return []
    return page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > 391).slice(0, 5)
        .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")


def test_main_pages_fit_a_390px_phone(browser, live_server, make, data):  # noqa: F811
    base = live_server
    owner = make.user(Role.researcher)
    listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, owner, publish=True)
    listings.create(listings.NEED, NEED, make.user(Role.enterprise), publish=True)
    broker = make.user(Role.broker, username="broker.long")
    broker.display_name = "河南工业大学科技成果转化驿站经纪人"
    db.session.commit()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(**PHONE).new_page()
    for url, name in (
        ("/", "home"),
        ("/achievements/", "achievements"),
        ("/needs/?q=滚刀", "needs"),
        ("/stats/", "stats"),
        ("/stats/?year=2025", "stats-2025"),
        ("/auth/register", "register"),
    ):
        page.goto(base + url)
        page.screenshot(path=str(SHOTS / f"phone-{name}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (url, overflow(page))
    for url, button in (("/", ".hero-search .btn"), ("/achievements/", ".search-row .btn")):
        page.goto(base + url)
        for box in (page.locator(button).nth(i).bounding_box() for i in range(page.locator(button).count())):
            assert box["width"] > box["height"] and box["height"] < 48, (url, box)  # one line, not 搜/成/果
    page.goto(f"{base}/achievements/")
    assert page.locator("details.filter-more").evaluate("d => d.open") is False
    assert page.locator("select[name=field]").is_hidden()
    page.click("details.filter-more > summary")
    assert page.locator("select[name=field]").is_visible()
    wide = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    wide.goto(f"{base}/achievements/")
    assert wide.locator("select[name=field]").is_visible()  # open on a wide screen
    login(page, base, "broker.long")
    for url in ("/", "/broker/", "/needs/"):
        page.goto(base + url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (url, overflow(page))
    name = page.locator(".usernav a[href='/me/']")
    assert "河南工业大学科技成果转化驿站经纪人" in name.inner_text()
    assert name.evaluate("e => e.scrollWidth <= e.clientWidth")  # the whole name shows
    page.screenshot(path=str(SHOTS / "phone-broker-needs.png"))
    admin = db.session.scalar(select(User).where(User.role == Role.admin.value))  # the contracts' applicant
    staff = browser.new_context(**PHONE).new_page()
    login(staff, base, admin.username)
    for url in ("/contracts/", "/contracts/queue", "/admin/users", "/admin/imports", "/stats/admin?year=2025"):
        staff.goto(base + url)
        assert staff.evaluate("document.documentElement.scrollWidth") <= 390, (url, overflow(staff))
