"""End to end in headless Chromium: a broker files a contract with its scan → the registrar
registers it from the queue → the 登记编号 is shown → the big screen counts it and fits 1920×1080."""

import re

import pytest

from market.extensions import db
from market.models import Role
from tests.browser.conftest import SHOTS, login

pytestmark = pytest.mark.browser


def test_file_register_and_see_it_on_the_big_screen(browser, live_server, app, make, tmp_path):
    base = live_server
    station = make.station()
    make.org("高校", name="郑州轻工业大学", region="410102")
    make.org("民营企业", name="郑州某某装备有限公司", region="410172")
    make.user(Role.broker, station=station, username="broker.e2e")
    make.user(Role.registrar, username="registrar.e2e")
    db.session.commit()
    scan = tmp_path / "合同扫描件.pdf"
    scan.write_bytes(b"%PDF-1.4\n%%EOF\n")
    SHOTS.mkdir(parents=True, exist_ok=True)

    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    login(page, base, "broker.e2e")
    page.goto(f"{base}/contracts/new")
    assert page.locator(".transfer-only").is_hidden()
    page.fill("#f-title", "高效节能滚刀刀圈合作开发")
    page.select_option("#f-ctype", "技术开发|合作开发")
    page.select_option("#f-field", "先进制造")
    page.select_option("#f-seller_org_id", label="郑州轻工业大学")
    page.select_option("#f-buyer_org_id", label="郑州某某装备有限公司")
    assert page.locator("[data-side=buyer] .party-new").is_hidden()
    page.fill("#f-amount", "120万")
    page.fill("#f-tech_amount", "130万")  # more than the total: refused
    for name, value in (("signed_on", "2025-03-02"), ("valid_from", "2025-03-02"), ("valid_until", "2026-03-01")):
        page.fill(f"#f-{name}", value)
    page.set_input_files("#f-attachment", str(scan))
    page.click("button:has-text('提交登记申请')")
    assert "不能大于合同成交额" in page.locator(".has-error").first.inner_text()
    page.fill("#f-tech_amount", "100万")
    page.set_input_files("#f-attachment", str(scan))
    page.click("button:has-text('提交登记申请')")
    page.wait_for_url(re.compile(r".*/contracts/\d+$"))
    assert "待登记" in page.inner_text("[data-testid=deadline]")

    reg = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    login(reg, base, "registrar.e2e")
    reg.goto(f"{base}/contracts/queue")
    reg.click("text=高效节能滚刀刀圈合作开发")
    assert reg.locator("[data-testid=file]").inner_text() == "合同扫描件.pdf"
    reg.click("summary:has-text('予以登记')")
    for box in reg.locator("input[name=check]").all():
        box.check()
    reg.click("[data-testid=register]")
    number = reg.inner_text("[data-testid=number]")
    assert re.fullmatch(r"\d{4}410102000001", number)
    reg.screenshot(path=str(SHOTS / "contract-registered.png"), full_page=True)

    screen = browser.new_context(locale="zh-CN", viewport={"width": 1920, "height": 1080}).new_page()
    screen.goto(f"{base}/stats/screen")
    assert screen.inner_text("[data-testid=screen-count]").startswith("1")
    assert "郑州**大学" in screen.inner_text("[data-testid=latest]")
    width, height = screen.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert (width, height) == (1920, 1080)  # one screen, nothing to scroll
    screen.screenshot(path=str(SHOTS / "big-screen.png"))
