"""Forms and pages (issue 12 B): the region picker, passwords kept after an error, no glyphs that
render as boxes, contact fields pre-filled from the profile, the navigation of 管理."""

import re
from pathlib import Path

from sqlalchemy import select

from market.extensions import db
from market.models import Organisation, Role
from market.validation import rules
from tests.conftest import csrf_from, login, post_form

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def text(resp):
    return resp.get_data(as_text=True)


def test_region_groups_cover_zhengzhou_henan_and_the_provinces():
    groups = dict(rules.region_groups())
    assert ("410105", "金水区") in groups["郑州市"] and ("410172", "郑州高新技术产业开发区") in groups["郑州市"]
    assert ("410300", "洛阳市") in groups["河南省其他地市"]
    assert ("320000", "江苏省") in groups["其他省（区、市）"] and ("410000", "河南省") in groups["其他省（区、市）"]
    assert all(rules.check_region_code(code) is None for items in groups.values() for code, _ in items)
    assert rules.region_groups("320505")[0] == ("当前", [("320505", "江苏省")])  # a stored county elsewhere is kept
    assert rules.region_groups("999999") == rules.region_groups()  # an invalid one is not offered


def test_registration_picks_the_region_by_name_and_keeps_the_passwords(client):
    html = text(client.get("/auth/register"))
    select_html = html.split('<select id="region" name="region" data-region-picker>')[1].split("</select>")[0]
    assert '<option value="410105" >金水区</option>' in select_html.replace("  ", " ")
    assert "行政区划代码" not in html and "如 410105" not in html
    assert "js/region_picker.js" in html
    resp = post_form(
        client,
        "/auth/register",
        {
            "role": "enterprise",
            "username": "founder",
            "display_name": "创始人",
            "password": "Zz-long-pass-42",
            "password2": "Zz-long-pass-42",
            "org_id": "new",
            "org_name": "",
            "org_kind": "民营企业",
            "region": "410105",
        },
    )
    assert resp.status_code == 400
    html = text(resp)
    assert 'name="password" autocomplete="new-password" value="Zz-long-pass-42"' in html
    assert 'name="password2" autocomplete="new-password" value="Zz-long-pass-42"' in html
    assert re.search(r'<option value="410105"\s+selected>金水区</option>', html)
    resp = post_form(
        client,
        "/auth/register",
        {
            "role": "enterprise",
            "username": "founder",
            "display_name": "创始人",
            "password": "Zz-long-pass-42",
            "password2": "Zz-long-pass-42",
            "org_id": "new",
            "org_name": "郑州新创科技有限公司",
            "org_kind": "民营企业",
            "region": "410105",
        },
    )
    assert resp.status_code == 302
    assert db.session.scalar(select(Organisation.region).where(Organisation.name == "郑州新创科技有限公司")) == "410105"


def test_admin_org_and_station_forms_offer_the_region_list(client, make):
    login(client, make.user(Role.admin))
    for url in ("/admin/orgs", "/admin/stations"):
        html = text(client.get(url))
        assert "data-region-picker" in html and "行政区划代码</label>" not in html and "所在地代码" not in html
    resp = post_form(client, "/admin/stations", {"code": "", "name": "", "region": "410105", "districts": "410172"})
    html = text(resp)
    assert resp.status_code == 400
    assert re.search(r'<option value="410105"\s+selected>金水区</option>', html)
    assert re.search(r'value="410172"\s+checked', html)


BOX_PRONE = re.compile("[\u2190-\u21ff\u2300-\u23ff\u2460-\u24ff\u2600-\u27bf\u2b00-\u2bff\ufe0f\U0001f000-\U0001faff]")
ALLOWED = set("→←↑↓")  # arrows: in the CJK fonts


def test_no_symbol_in_the_templates_that_renders_as_a_box():
    found = [
        (p.relative_to(TEMPLATES).as_posix(), ch)
        for p in TEMPLATES.rglob("*.html")
        for ch in BOX_PRONE.findall(p.read_text(encoding="utf-8"))
        if ch not in ALLOWED
    ]
    assert found == []


def test_new_listing_form_prefilled_with_the_posters_contact(client, make):
    user = make.user(Role.researcher)
    user.display_name, user.phone, user.email = "王研究员", "13903718888", "wang@example.edu.cn"
    db.session.commit()
    login(client, user)
    html = text(client.get("/achievements/new"))
    assert 'name="contact_name" value="王研究员"' in html
    assert 'name="contact_phone" value="13903718888"' in html and 'value="wang@example.edu.cn"' in html
    broker = make.user(Role.broker)
    broker.phone = "13700000000"
    db.session.commit()
    client.post("/auth/logout", data={"csrf_token": csrf_from(text(client.get("/")))})
    login(client, broker)
    assert "13700000000" not in text(client.get("/achievements/new"))  # a broker posts for a client


def test_admin_navigation_reaches_the_statistics_and_the_feedback_pages(client, make):
    login(client, make.user(Role.admin))
    html = text(client.get("/admin/users"))
    nav = html.split('<nav class="subnav">')[1].split("</nav>")[0]
    assert 'href="/stats/admin">管理统计</a>' in nav and 'href="/broker/feedback">推荐质量反馈</a>' in nav
    assert client.get("/stats/admin").status_code == 200 and client.get("/broker/feedback").status_code == 200


def test_demo_brokers_carry_their_whole_station_name(app, tmp_path):
    import shutil

    from market.config import DEMO_DIR
    from market.demo import seed as demo
    from market.models import User

    folder = tmp_path / "demo"
    (folder / "achievements").mkdir(parents=True)
    (folder / "needs").mkdir()
    for name in ("organisations.json", "stations.json"):
        shutil.copy(DEMO_DIR / name, folder / name)
    demo.load(folder, log=lambda *_: None)
    brokers = db.session.scalars(select(User).where(User.username.like("broker.%"))).all()
    assert brokers and all(u.display_name == f"{u.station.name}经纪人" for u in brokers)
    assert "高新区科技服务驿站经纪人" in {u.display_name for u in brokers}
