"""Issue 12 end to end in headless Chromium (no model: the matches are laid down directly):
consent both ways, the audience of notes, an archived listing blocking an introduction, the
broker's, registrar's, parties' and admin's to-do pages, and 洽谈中 → 申请登记 → 予以登记 with a
核定技术交易额 → both parties notified."""

import re
from datetime import date, timedelta

import pytest

from market.extensions import db
from market.models import Contract, Match, Role
from market.services import contracts, listings, matches
from tests.browser.conftest import SHOTS, login
from tests.conftest import ACHIEVEMENT, NEED

pytestmark = pytest.mark.browser

SECRET = NEED["detail"]  # the need's confidential detail
CTX = dict(locale="zh-CN", viewport={"width": 1280, "height": 900})


@pytest.fixture
def deal_world(app, make):
    station = make.station(districts=("410105",))
    zzu = make.org("高校", name="郑州大学", region="410102")
    corp = make.org("国有企业", name="郑州中原盾构装备有限公司", region="410105")
    researcher = make.user(Role.researcher, org=zzu, username="prof.wang")
    researcher.display_name = "王教授"
    enterprise = make.user(Role.enterprise, org=corp, username="shield.corp")
    enterprise.display_name = "赵经理"
    broker = make.user(Role.broker, station=station, username="broker.jkq")
    broker.display_name = "金水区驿站经纪人"
    make.user(Role.registrar, username="registrar.e2e").display_name = "市登记员"
    make.user(Role.admin, username="admin.e2e")
    ach = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, researcher, publish=True)
    need = listings.create(listings.NEED, NEED, enterprise, publish=True)
    need2 = listings.create(
        listings.NEED, {**NEED, "title": "盾构主轴承滚道热处理变形大", "bottleneck": False}, enterprise, publish=True
    )
    found = []
    for n, score in ((need, 0.82), (need2, 0.61)):
        m = Match(
            need=n,
            achievement=ach,
            station=station,
            score=score,
            status="suggested",
            explanation={"shared_terms": ["盾构", "滚刀"]},
        )
        db.session.add(m)
        matches._record(m, None, "suggest", "匹配度测试")
        found.append(m)
    db.session.commit()
    SHOTS.mkdir(parents=True, exist_ok=True)
    return {"need": need, "need2": need2, "ach": ach, "m1": found[0].id, "m2": found[1].id}


def one_page_pdf(text: str) -> bytes:
    """A small valid PDF (Helvetica, one line), so the in-page preview has something to render."""
    stream = f"BT /F1 28 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def page_of(browser, base, username):
    page = browser.new_context(**CTX).new_page()
    login(page, base, username)
    return page


def test_consent_agree_and_decline(browser, live_server, deal_world, app):
    base, m1, m2 = live_server, deal_world["m1"], deal_world["m2"]
    brk = page_of(browser, base, "broker.jkq")
    for mid in (m1, m2):
        brk.goto(f"{base}/broker/matches/{mid}")
        brk.fill("#accept-note", "方向契合，请双方答复")
        brk.click("[data-testid=accept]")
        brk.wait_for_selector("text=已请双方")
        assert brk.inner_text("[data-testid=status]") == "待双方同意"
    assert "未答复" in brk.inner_text("[data-testid=answer-need]")
    brk.screenshot(path=str(SHOTS / "consent-1-broker-waiting.png"), full_page=True)

    res = page_of(browser, base, "prof.wang")
    assert res.locator("[data-testid=todo-consent] li").count() == 2  # two requests to answer
    res.screenshot(path=str(SHOTS / "todo-researcher.png"), full_page=True)
    res.click(f"[data-testid=todo-consent] a[href='/me/matches/{m1}']")
    assert "是否同意与对方对接" in res.inner_text("[data-testid=consent]")
    assert "花岗岩地层" in res.inner_text("[data-testid=pair-need]")  # the public summary
    assert SECRET not in res.content() and NEED["contact_phone"] not in res.content()
    res.screenshot(path=str(SHOTS / "consent-2-researcher-asked.png"), full_page=True)
    res.fill("#a-note", "可以提供样品")
    res.click("[data-testid=agree]")
    res.wait_for_selector("[data-testid=my-answer]")
    assert SECRET not in res.content()  # one agreement is not enough

    ent = page_of(browser, base, "shield.corp")
    ent.goto(f"{base}/me/matches/{m1}")
    ent.click("[data-testid=agree]")
    ent.wait_for_selector("text=已提交")
    assert ent.inner_text("[data-testid=status]") == "对接中"
    assert ACHIEVEMENT["detail"] in ent.inner_text("[data-testid=private-achievement]")
    res.reload()
    assert SECRET in res.inner_text("[data-testid=private-need]")
    res.screenshot(path=str(SHOTS / "consent-3-introduced.png"), full_page=True)

    # the other way: the enterprise declines the second request with a reason
    ent.goto(f"{base}/me/matches/{m2}")
    ent.click("[data-testid=decline]")  # no reason chosen: the browser asks
    assert ent.inner_text("[data-testid=status]") == "待双方同意"
    ent.select_option("#d-reason", "already_solved")
    ent.fill("#d-note", "已与其他单位合作")
    ent.screenshot(path=str(SHOTS / "consent-4-enterprise-declining.png"), full_page=True)
    ent.click("[data-testid=decline]")
    ent.wait_for_selector("text=已提交")
    assert ent.inner_text("[data-testid=status]") == "已关闭"
    res.goto(f"{base}/me/matches/{m2}")
    assert "已有解决方案或合作方" in res.inner_text("[data-testid=reason]")
    assert "主轴承" in res.content() and SECRET not in res.content()
    brk.goto(f"{base}/broker/matches/{m2}")
    assert "暂不考虑" in brk.inner_text("[data-testid=timeline]") or "已有解决方案" in brk.content()
    with app.app_context():
        assert db.session.get(Match, m1).status == "introduced"
        assert db.session.get(Match, m2).status == "closed"


def test_note_audience(browser, live_server, deal_world):
    base, m1 = live_server, deal_world["m1"]
    brk = page_of(browser, base, "broker.jkq")
    brk.goto(f"{base}/broker/matches/{m1}")
    brk.click("[data-testid=accept]")
    brk.wait_for_selector("text=已请双方")
    assert brk.is_checked("input[name=audience][value=internal]")  # internal is the default
    brk.fill("#note", "内部：汉威对价格敏感，报价别超过150万")
    brk.click("[data-testid=add-note]")
    brk.wait_for_selector("text=内部备注已保存")
    brk.fill("#note", "请双方在答复期限前回复，有问题可随时联系我")
    brk.check("input[name=audience][value=shared]")
    brk.click("[data-testid=add-note]")
    brk.wait_for_selector("text=留言已保存，双方可见")
    assert brk.locator("[data-testid=internal-note]").count() == 1
    brk.screenshot(path=str(SHOTS / "notes-broker.png"), full_page=True)

    res = page_of(browser, base, "prof.wang")
    res.goto(f"{base}/me/matches/{m1}")
    timeline = res.inner_text("[data-testid=timeline]")
    assert "请双方在答复期限前回复" in timeline and "汉威对价格敏感" not in res.content()
    res.goto(f"{base}/me/notifications")
    assert "汉威" not in res.content() and "请双方在答复期限前回复" in res.content()
    res.screenshot(path=str(SHOTS / "notes-researcher.png"), full_page=True)


def test_archived_listing_blocks_the_introduction(browser, live_server, deal_world, app):
    base, m1 = live_server, deal_world["m1"]
    ent = page_of(browser, base, "shield.corp")
    ent.goto(f"{base}/needs/{deal_world['need'].id}")
    ent.click("[data-testid=close-listing] summary")
    ent.select_option("#close-reason", "partner_found")
    ent.check("input[name=confirm]")
    ent.screenshot(path=str(SHOTS / "close-listing-asks-why.png"), full_page=True)
    ent.click("[data-testid=close-confirm]")
    ent.wait_for_selector("text=已下架（已找到合作方）")
    assert "已归档" in ent.inner_text("[data-testid=listing-state]")

    brk = page_of(browser, base, "broker.jkq")
    brk.goto(f"{base}/broker/matches/{m1}")
    assert "已归档" in brk.inner_text("[data-testid=state-need]")
    assert "不能再采纳" in brk.inner_text("[data-testid=listing-down]")
    assert brk.locator("[data-testid=accept]").count() == 0
    assert brk.inner_text("[data-testid=status]") == "已关闭"
    assert "信息已归档或过期" in brk.content()
    brk.screenshot(path=str(SHOTS / "archived-broker-match.png"), full_page=True)
    with app.app_context():
        m = db.session.get(Match, m1)
        assert m.reason_code == "listing_withdrawn" and not listings.can_see_private(m.achievement.owner, m.need)


def test_todo_pages_after_the_events_that_fill_them(browser, live_server, deal_world, app):
    base = live_server
    with app.app_context():
        from sqlalchemy import select

        from market.models import User

        who = {u.username: u for u in db.session.scalars(select(User))}
        m1, m2 = db.session.get(Match, deal_world["m1"]), db.session.get(Match, deal_world["m2"])
        matches.claim(m2, who["broker.jkq"])
        matches.accept(m1, who["broker.jkq"])
        matches.respond(m1, who["prof.wang"], True)
        matches.respond(m1, who["shield.corp"], True)
        matches.negotiate(m1, who["shield.corp"])
        matches.add_note(m1, who["shield.corp"], "下周二到驿站面谈合同条款")
        c = contracts.submit(
            {
                "title": "梯度硬质合金盾构滚刀刀圈合作开发",
                "ctype": "技术开发",
                "subtype": "合作开发",
                "buyer_org_id": str(m1.need.org_id),
                "amount": "120万",
                "tech_amount": "100万",
                "signed_on": "2026-11-02",
                "valid_from": "2026-11-02",
                "valid_until": "2027-11-01",
                "field": "先进制造",
                "match_id": str(m1.id),
            },
            who["prof.wang"],
        )
        late = contracts.submit(
            {
                "title": "超硬材料检测技术服务",
                "ctype": "技术服务",
                "subtype": "技术服务",
                "buyer_org_id": str(m1.need.org_id),
                "amount": "30万",
                "tech_amount": "30万",
                "signed_on": "2026-10-02",
                "valid_from": "2026-10-02",
                "valid_until": "2027-10-01",
                "field": "先进制造",
            },
            who["prof.wang"],
        )
        late.due_on = date.today() - timedelta(days=2)
        db.session.commit()
        contract_id = c.id

    brk = page_of(browser, base, "broker.jkq")
    assert brk.locator("[data-testid=todo-decide] li").count() == 1  # the claimed suggestion
    assert "下周二到驿站面谈" in brk.inner_text("[data-testid=todo-messages]")
    assert brk.locator(f"[data-testid=todo-contracts] a[href='/contracts/{contract_id}']").count() == 1
    assert int(brk.inner_text("[data-testid=todo-count]")) >= 3
    brk.screenshot(path=str(SHOTS / "todo-broker.png"), full_page=True)

    reg = page_of(browser, base, "registrar.e2e")
    items = reg.locator("[data-testid=todo-pending] li")
    assert items.count() == 2 and "超硬材料检测技术服务" in items.nth(0).inner_text()  # overdue first
    assert "超期" in items.nth(0).inner_text() and "超期" not in items.nth(1).inner_text()
    reg.screenshot(path=str(SHOTS / "todo-registrar.png"), full_page=True)

    ent = page_of(browser, base, "shield.corp")
    assert "洽谈中" in ent.inner_text("[data-testid=todo-deals]")
    assert "梯度硬质合金盾构滚刀刀圈合作开发" in ent.inner_text("[data-testid=todo-contracts]")
    ent.screenshot(path=str(SHOTS / "todo-enterprise.png"), full_page=True)

    adm = page_of(browser, base, "admin.e2e")
    assert adm.locator("[data-testid=todo-orgs]").count() == 1
    adm.screenshot(path=str(SHOTS / "todo-admin.png"), full_page=True)


def test_negotiation_to_registered_contract_with_approved_amount(browser, live_server, deal_world, app, tmp_path):
    base, m1 = live_server, deal_world["m1"]
    with app.app_context():
        from sqlalchemy import select

        from market.models import User

        who = {u.username: u for u in db.session.scalars(select(User))}
        m = db.session.get(Match, m1)
        matches.accept(m, who["broker.jkq"])
        matches.respond(m, who["prof.wang"], True)
        matches.respond(m, who["shield.corp"], True)
        matches.negotiate(m, who["shield.corp"], "双方已约定面谈")
        db.session.commit()
    scan = tmp_path / "合同扫描件.pdf"
    scan.write_bytes(one_page_pdf("TECHNOLOGY CONTRACT - signed 2026-11-02"))

    res = page_of(browser, base, "prof.wang")
    res.goto(f"{base}/me/matches/{m1}")
    assert res.inner_text("[data-testid=status]") == "洽谈中"
    res.click("[data-testid=apply-contract]")
    res.wait_for_url(re.compile(rf".*/contracts/new\?match={m1}$"))
    res.select_option("#f-ctype", "技术开发|合作开发")
    res.fill("#f-amount", "120万")
    res.fill("#f-tech_amount", "100万")
    for name, value in (("signed_on", "2026-11-02"), ("valid_from", "2026-11-02"), ("valid_until", "2027-11-01")):
        res.fill(f"#f-{name}", value)
    res.set_input_files("#f-attachment", str(scan))
    res.click("button:has-text('提交登记申请')")
    res.wait_for_url(re.compile(r".*/contracts/\d+$"))
    contract_url = res.url
    assert res.locator("[data-testid=match-link]").get_attribute("href") == f"/me/matches/{m1}"

    reg = page_of(browser, base, "registrar.e2e")
    reg.click("[data-testid=todo-pending] a")
    reg.wait_for_url(contract_url)
    assert reg.locator("[data-testid=scan-preview] iframe").count() == 1
    reg.click("summary:has-text('予以登记')")
    reg.fill("#approved_tech_amount", "80万")
    for box in reg.locator("input[name=check]").all():
        box.check()
    reg.click("[data-testid=register]")  # lower without a reason: refused
    assert "核减理由" in reg.inner_text(".has-error")
    reg.fill("#approved_note", "其中20万元为设备采购费，不计入技术交易额")
    for box in reg.locator("input[name=check]").all():
        box.check()
    reg.screenshot(path=str(SHOTS / "registrar-confirm-approved-amount.png"), full_page=True)
    reg.click("[data-testid=register]")
    number = reg.inner_text("[data-testid=number]")
    assert re.fullmatch(r"\d{4}410102\d{6}", number)
    assert "800,000.00" in reg.inner_text("[data-testid=approved]")
    reg.screenshot(path=str(SHOTS / "contract-registered-approved.png"), full_page=True)

    for page in (res, page_of(browser, base, "shield.corp")):
        page.goto(f"{base}/me/notifications")
        assert "核定技术交易额80万元" in page.content() and "已登记" in page.content()
        page.goto(f"{base}/me/matches/{m1}")
        assert page.inner_text("[data-testid=status]") == "已签约"
        assert number in page.inner_text("[data-testid=contract-link]")
    page.screenshot(path=str(SHOTS / "enterprise-contracted-match.png"), full_page=True)
    with app.app_context():
        c = db.session.get(Contract, int(contract_url.rsplit("/", 1)[1]))
        assert c.approved_tech_amount == 800000 and c.match.status == "contracted"
