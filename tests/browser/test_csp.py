"""The strict Content-Security-Policy in a real browser: the app's own scripts still run and nothing
on the main pages is blocked."""

import pytest

from market.extensions import db
from market.models import Role
from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def test_pages_work_under_the_csp(browser, live_server, make):
    base = live_server
    make.user(Role.broker, username="broker.csp")
    make.user(Role.admin, username="admin.csp")
    db.session.commit()
    page = browser.new_context(locale="zh-CN").new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    login(page, base, "broker.csp")
    page.goto(f"{base}/contracts/new")
    assert page.locator(".transfer-only").is_hidden()
    page.select_option("#f-ctype", "技术转让|专利权转让")
    assert page.locator(".transfer-only").is_visible()  # contract_form.js ran
    for url in ("/", "/achievements/", "/needs/", "/stats/", "/broker/", "/me/", "/me/org"):
        page.goto(base + url)
    page.goto(f"{base}/stats/screen")
    page.wait_for_function("document.getElementById('clock').textContent.length === 8")  # screen.js ticks
    admin = browser.new_context(locale="zh-CN").new_page()
    admin.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    login(admin, base, "admin.csp")
    for url in ("/admin/users", "/admin/memberships", "/admin/imports", "/stats/admin", "/contracts/queue"):
        admin.goto(base + url)
    assert violations == []
