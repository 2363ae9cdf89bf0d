"""End to end in headless Chromium: a researcher asks to join 郑州大学 at registration and sees
only its own records → the platform admin's queue lists the request (and a new, unverified
organisation) → the university's administrator-member confirms → the researcher is a member."""

import re

import pytest

from market.extensions import db
from market.models import Role
from tests.browser.conftest import SHOTS, login

pytestmark = pytest.mark.browser


def test_request_queue_and_confirmation(browser, live_server, make):
    base = live_server
    zzu = make.org("高校", name="郑州大学", region="410102")
    boss = make.user(Role.researcher, org=zzu, username="zzu.admin")
    boss.display_name, boss.org_admin = "郑大成果转化办", True
    make.user(Role.admin, username="admin.e2e")
    founder = make.user(
        Role.enterprise,
        org=make.org("民营企业", name="郑州新创智能装备有限公司", region="410173"),
        username="founder.e2e",
    )
    founder.org_admin, founder.org.verified_at = True, None
    db.session.commit()
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = dict(locale="zh-CN", viewport={"width": 1280, "height": 860})

    page = browser.new_context(**ctx).new_page()
    page.goto(f"{base}/auth/register")
    page.check("input[name=role][value=researcher]")
    page.fill("#username", "li.newcomer")
    page.fill("#display_name", "李新来")
    page.fill("#password", "Lantern-Kite-42")
    page.fill("#password2", "Lantern-Kite-42")
    page.fill("#email", "li@example.cn")
    page.select_option("#org_id", label="郑州大学（高校）")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/me/$"))
    assert "待确认" in page.inner_text("[data-testid=membership-pending]")
    page.goto(f"{base}/me/org")
    assert page.inner_text("[data-testid=org-state]") == "待确认"
    page.screenshot(path=str(SHOTS / "membership-1-request.png"), full_page=True)
    assert page.goto(f"{base}/contracts/new").status == 403

    admin = browser.new_context(**ctx).new_page()
    login(admin, base, "admin.e2e")
    admin.goto(f"{base}/admin/memberships")
    assert "李新来" in admin.inner_text("[data-testid=pending-members]")
    assert "郑州新创智能装备有限公司" in admin.inner_text("[data-testid=unverified-orgs]")
    admin.screenshot(path=str(SHOTS / "membership-2-admin-queue.png"), full_page=True)

    org_admin = browser.new_context(**ctx).new_page()
    login(org_admin, base, "zzu.admin")
    org_admin.goto(f"{base}/me/org")
    assert "李新来" in org_admin.inner_text("[data-testid=pending-members]")
    org_admin.screenshot(path=str(SHOTS / "membership-3-org-admin-confirms.png"), full_page=True)
    org_admin.click("[data-testid=pending-members] button:has-text('确认为本单位成员')")
    org_admin.wait_for_url(re.compile(r".*/me/org$"))
    assert "已确认李新来的加入申请" in org_admin.inner_text(".flash")
    assert "李新来" in org_admin.inner_text("main")
    org_admin.screenshot(path=str(SHOTS / "membership-4-confirmed.png"), full_page=True)

    page.goto(f"{base}/me/org")
    assert page.inner_text("[data-testid=org-state]") == "已确认"
    assert page.goto(f"{base}/contracts/new").status == 200
    page.goto(f"{base}/me/org")
    page.screenshot(path=str(SHOTS / "membership-5-member-view.png"), full_page=True)
