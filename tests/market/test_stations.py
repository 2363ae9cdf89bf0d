"""Issue 13 (part A): station pages people can reach, the station serving a listing, station admins
editing their page with a history, the station-admin flag."""

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.models import Match, Role, StationEdit, utcnow
from market.services import listings, stations, stats
from market.validation.fields import ValidationError
from tests.conftest import ACHIEVEMENT, NEED, login, post_form, switch

PAGE = {
    "address": "郑州市金水区花园路 39 号",
    "phone": "0371-65512300",
    "hours": "周一至周五 9:00–17:30",
    "description": "测试驿站简介",
    "districts": ["410105", "410104"],
    "served_orgs": [],
}


@pytest.fixture
def world(app, make):
    hall = make.station(districts=())
    hall.is_hall = True
    jinshui = make.station(districts=("410105",))
    other = make.station(districts=("410171",))
    admin_broker = make.user(Role.broker, station=jinshui, username="sadmin")
    admin_broker.station_admin, admin_broker.expertise = True, "新材料、先进制造"
    plain_broker = make.user(Role.broker, station=jinshui, username="plain")
    foreign_admin = make.user(Role.broker, station=other, username="foreign")
    foreign_admin.station_admin = True
    enterprise = make.user(Role.enterprise)  # its organisation is in 410105 (金水)
    need = listings.create(listings.NEED, NEED, enterprise, publish=True, suggest=False)
    db.session.commit()
    return {
        "hall": hall,
        "station": jinshui,
        "other": other,
        "admin_broker": admin_broker,
        "plain": plain_broker,
        "foreign": foreign_admin,
        "enterprise": enterprise,
        "need": need,
        "make": make,
    }


def test_serving_station_intake_then_named_organisation_then_district_then_hall(world):
    w, make = world, world["make"]
    assert stations.serving(w["need"]) == w["station"]  # district rule
    w["other"].served_orgs = [w["need"].org_id]  # served by name wins over the district
    assert stations.serving(w["need"]) == w["other"]
    w["need"].station = w["hall"]  # the intake station holds it
    assert stations.serving(w["need"]) == w["hall"]
    w["hall"].active = False  # a closed intake station: the rule again
    assert stations.serving(w["need"]) == w["other"]
    far = make.org("民营企业", region="410300")
    w["hall"].active = True
    assert stations.route_for(far) == w["hall"]


def test_listing_page_names_its_station_and_offers_contact(world, client):
    html = client.get(f"/needs/{world['need'].id}").get_data(as_text=True)
    assert f'href="/stations/{world["station"].id}"' in html and world["station"].name in html
    assert f"/desk/contact/need/{world['need'].id}" in html and "申请对接" in html
    login(client, world["enterprise"])  # the owner is not offered to contact themselves
    html = client.get(f"/needs/{world['need'].id}").get_data(as_text=True)
    assert 'data-testid="contact-button"' not in html


def test_station_page_shows_contact_brokers_figures_and_empty_events_slot(world, client, make):
    st = world["station"]
    st.address, st.phone, st.hours = PAGE["address"], PAGE["phone"], PAGE["hours"]
    researcher = make.user(Role.researcher)
    ach = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, researcher, publish=True, suggest=False, station_id=st.id)
    db.session.add(
        Match(need=world["need"], achievement=ach, station_id=st.id, status="introduced", introduced_at=utcnow())
    )
    db.session.commit()
    resp = client.get(f"/stations/{st.id}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for text in (
        PAGE["address"],
        PAGE["phone"],
        PAGE["hours"],
        "金水区",
        world["admin_broker"].display_name,
        "新材料、先进制造",
        "驿站管理员",
    ):
        assert text in html, text
    figures = stats.station_figures(st)
    assert figures["listings"] == 1 and figures["introductions"] == 1 and figures["contracts"] == 0
    assert 'data-testid="station-events"' not in html  # the slot stays empty until events exist
    assert world["foreign"].display_name not in html


def test_closed_station_is_not_found_for_visitors(world, client):
    world["other"].active = False
    db.session.commit()
    assert client.get(f"/stations/{world['other'].id}").status_code == 404
    assert world["other"].name not in client.get("/stations").get_data(as_text=True)


def test_update_page_validates_everything_in_chinese_and_changes_nothing(world):
    st = world["station"]
    with pytest.raises(ValidationError) as e:
        stations.update_page(
            st,
            {"address": "郑州", "phone": "12345", "hours": "", "districts": ["410300"], "served_orgs": ["999999"]},
            world["admin_broker"],
        )
    errors = e.value.errors
    assert set(errors) == {"address", "phone", "hours", "districts", "served_orgs"}
    assert "至少 5 个字" in errors["address"] and "电话格式不对" in errors["phone"] and "请填写" in errors["hours"]
    assert "郑州市的区县" in errors["districts"]
    assert st.address is None and db.session.scalar(select(StationEdit.id)) is None


def test_update_page_keeps_history_and_ignores_no_change(world, client):
    st, actor = world["station"], world["admin_broker"]
    edit = stations.update_page(st, PAGE, actor)
    db.session.commit()
    assert st.address == PAGE["address"] and st.districts == ["410104", "410105"]
    assert edit.changes["address"] == [None, PAGE["address"]] and edit.actor_id == actor.id
    assert edit.changes["districts"] == [["410105"], ["410104", "410105"]]
    assert stations.update_page(st, PAGE, actor) is None  # same values: no history row
    assert stations.update_page(st, {**PAGE, "districts": ["410105", "410104"]}, actor) is None  # nor reordered
    stations.update_page(st, {**PAGE, "hours": "周一至周六 9:00–17:00"}, actor)
    db.session.commit()
    history = stations.history(st)
    assert len(history) == 2 and set(history[0].changes) == {"hours"}
    login(client, actor)
    page = client.get(f"/stations/{st.id}/edit").get_data(as_text=True)
    assert "服务区县：金水区 → 管城回族区、金水区" in page


@pytest.mark.parametrize(
    "who, allowed", [("admin_broker", True), ("plain", False), ("foreign", False), ("enterprise", False)]
)
def test_who_may_edit_a_station_page(world, client, who, allowed):
    login(client, world[who])
    url = f"/stations/{world['station'].id}/edit"
    assert client.get(url).status_code == (200 if allowed else 403)
    resp = post_form(client, url, {**PAGE, "districts": "410105"}, token_page="/stations")
    assert resp.status_code == (302 if allowed else 403)
    db.session.expire_all()
    assert (world["station"].address == PAGE["address"]) is allowed


def test_edit_form_shows_errors_and_keeps_input(world, client):
    login(client, world["admin_broker"])
    resp = post_form(client, f"/stations/{world['station'].id}/edit", {**PAGE, "phone": "电话", "districts": "410105"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "电话格式不对" in html and PAGE["address"] in html


def test_only_platform_admins_set_the_station_admin_flag(world, client, make):
    plain, url = world["plain"], f"/stations/{world['station'].id}/brokers/{world['plain'].id}/admin"
    login(client, world["admin_broker"])
    assert post_form(client, url, {"flag": "1"}, token_page="/stations").status_code == 403
    admin = make.user(Role.admin)
    switch(client, admin)
    assert post_form(client, url, {"flag": "1"}, token_page="/stations").status_code == 302
    db.session.expire_all()
    assert plain.station_admin is True
    # a broker of another station cannot be flagged through this station's page
    wrong = f"/stations/{world['station'].id}/brokers/{world['foreign'].id}/admin"
    assert post_form(client, wrong, {"flag": "0"}, token_page="/stations").status_code == 404
    with pytest.raises(ValidationError):
        stations.set_station_admin(world["enterprise"], True, admin)
    with pytest.raises(PermissionError):  # the rule holds below the web layer too
        stations.set_station_admin(plain, False, world["admin_broker"])


def test_demo_fills_every_station_page_and_requests_in_several_states(app):
    from market.demo import seed as demo
    from market.models import ContactRequest, ServiceRequest, Station

    demo.load(log=lambda *_: None)
    db.session.commit()
    for st in db.session.scalars(select(Station)):
        assert st.address and st.phone and st.hours and st.description, st.code
        assert any(b.expertise for b in stations.brokers(st)) and any(b.station_admin for b in stations.brokers(st))
    assert {r.status for r in db.session.scalars(select(ContactRequest))} == {"pending", "replied", "closed"}
    assert len({r.status for r in db.session.scalars(select(ServiceRequest))}) >= 4
    demo.load(log=lambda *_: None)  # idempotent
    assert db.session.scalar(select(func.count()).select_from(ContactRequest)) == 6


def test_station_admin_sets_the_brokers_fields_of_expertise(world, client):
    st, plain = world["station"], world["plain"]
    with pytest.raises(ValidationError) as e:
        stations.update_page(
            st,
            {**PAGE, "expertise": {str(world["foreign"].id): "电子信息", str(plain.id): "很长" * 21}},
            world["admin_broker"],
        )
    assert "只能填写本驿站" in e.value.errors["expertise"] and "最多 40 个字" in e.value.errors[f"expertise-{plain.id}"]
    assert plain.expertise is None
    login(client, world["admin_broker"])
    resp = post_form(
        client, f"/stations/{st.id}/edit", {**PAGE, "districts": "410105", f"expertise-{plain.id}": "生物医药"}
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert plain.expertise == "生物医药"
    assert stations.history(st)[0].changes[f"领域·{plain.display_name}"] == [None, "生物医药"]
    assert "生物医药" in client.get(f"/stations/{st.id}").get_data(as_text=True)
