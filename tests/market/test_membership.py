"""Organisation membership (issue 11, high): joining an existing organisation is a request that its
administrator-member or a platform admin confirms; until then the account sees and acts on its own
records only. The first account of a new organisation administers it; a platform admin verifies it."""

from datetime import datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select
from sqlalchemy import text as sql

from market.extensions import db
from market.models import Match, Notification, Organisation, Role, User
from market.services import contracts, listings
from tests.conftest import ACHIEVEMENT, NEED, credit_code, csrf_from, drop_everything, login, post_form


def text(resp):
    return resp.get_data(as_text=True)


def logout(client):
    client.post("/auth/logout", data={"csrf_token": csrf_from(text(client.get("/")))})


def join(client, org, username="intruder", role="researcher"):
    resp = post_form(
        client,
        "/auth/register",
        {
            "role": role,
            "username": username,
            "display_name": "新来的",
            "password": "Zz-long-pass-42",
            "password2": "Zz-long-pass-42",
            "org_id": str(org.id),
        },
    )
    assert resp.status_code == 302, text(resp)
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def university(make):
    """郑州大学 with its administrator-member, a registered contract and an introduced match."""
    org = make.org("高校", name="郑州大学", region="410102")
    buyer = make.org("民营企业", name="郑州某装备有限公司", region="410172")
    boss = make.user(Role.researcher, org=org, username="zzu.admin")
    boss.org_admin = True
    registrar = make.user(Role.registrar)
    c = contracts.submit(
        {
            "title": "盾构滚刀刀圈合作开发",
            "ctype": "技术开发",
            "subtype": "合作开发",
            "buyer_org_id": str(buyer.id),
            "amount": "120万",
            "tech_amount": "100万",
            "signed_on": "2025-03-02",
            "valid_from": "2025-03-02",
            "valid_until": "2026-03-01",
            "field": "先进制造",
        },
        boss,
        now=datetime(2026, 3, 2, 10),
    )
    contracts.register(c, registrar, notify=False)
    achievement = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, boss, publish=True)
    need = listings.create(listings.NEED, NEED, make.user(Role.enterprise, org=buyer), publish=True)
    m = Match(need=need, achievement=achievement, status="introduced", score=0.9)
    db.session.add(m)
    db.session.commit()
    return {"org": org, "boss": boss, "contract": c, "match": m, "buyer": buyer}


def test_joining_an_existing_org_is_only_a_request(client, university):
    c = university["contract"]
    user = join(client, university["org"])
    assert user.org_state == "pending" and not user.org_admin and user.member_org_id is None
    assert not contracts.can_view(user, c) and not contracts.can_act_for(user, c) and not contracts.can_apply(user)
    html = text(client.get("/contracts/"))
    assert c.title not in html
    assert client.get(f"/contracts/{c.id}").status_code == 404
    resp = post_form(client, f"/contracts/{c.id}/cancel-request", {"note": "注销"}, token_page="/contracts/")
    assert resp.status_code == 404 and c.cancel_requested_at is None
    assert client.get(f"/contracts/{c.id}/change").status_code == 404
    assert client.get("/contracts/new").status_code == 403
    assert contracts.linkable_matches(user) == []
    assert client.get("/achievements/new").status_code == 403
    assert "待确认" in text(client.get("/me/"))
    # the organisation's administrator-member was told
    assert db.session.scalar(select(Notification).where(Notification.user_id == university["boss"].id))


def test_the_org_admin_confirms_and_then_the_member_acts_for_it(client, university):
    user = join(client, university["org"])
    logout(client)
    login(client, university["boss"])
    page = text(client.get("/me/org"))
    assert "intruder" in page and "确认为本单位成员" in page
    resp = post_form(client, f"/me/org/members/{user.id}/confirm", {}, token_page="/me/org")
    assert resp.status_code == 302
    db.session.refresh(user)
    assert user.org_state == "confirmed" and user.member_org_id == university["org"].id
    c = university["contract"]
    assert contracts.can_view(user, c) and contracts.can_act_for(user, c)
    assert [m.id for m in contracts.linkable_matches(user)] == [university["match"].id]


def test_refused_and_foreign_deciders(client, university, make):
    user = join(client, university["org"])
    logout(client)
    other_admin = make.user(Role.researcher, username="other.admin")
    other_admin.org_admin = True
    db.session.commit()
    login(client, other_admin)
    resp = post_form(client, f"/me/org/members/{user.id}/confirm", {}, token_page="/me/org")
    assert resp.status_code == 404
    logout(client)
    login(client, university["boss"])
    post_form(client, f"/me/org/members/{user.id}/refuse", {}, token_page="/me/org")
    db.session.refresh(user)
    assert user.org_state == "refused" and user.member_org_id is None
    assert not contracts.can_view(user, university["contract"])


def test_a_pending_member_cannot_act_through_the_api(client, university):
    import hashlib

    user = join(client, university["org"])
    user.api_token_hash = hashlib.sha256(b"tok-pending-member").hexdigest()
    db.session.commit()
    headers = {"Authorization": "Bearer tok-pending-member"}
    c = university["contract"]
    assert client.get("/api/v1/contracts", headers=headers).get_json()["total"] == 0
    assert client.get(f"/api/v1/contracts/{c.id}", headers=headers).status_code == 404
    assert (
        client.post(f"/api/v1/contracts/{c.id}/cancel-request", json={"note": "x"}, headers=headers).status_code == 404
    )
    assert client.post("/api/v1/achievements", json=ACHIEVEMENT, headers=headers).status_code == 403


def test_seller_side_does_not_trust_org_id(university, make):
    stranger = make.user(Role.researcher, username="stranger")
    stranger.org, stranger.org_state = university["org"], "pending"
    db.session.commit()
    assert not contracts._seller_side(stranger, university["contract"])


def test_new_org_creator_administers_it_and_the_admin_verifies_it(client, make):
    admin = make.user(Role.admin)
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
    assert resp.status_code == 302, text(resp)
    founder = db.session.scalar(select(User).where(User.username == "founder"))
    org = founder.org
    assert founder.org_admin and founder.org_state == "confirmed" and not org.verified
    assert founder.member_org_id is None and client.get("/needs/new").status_code == 403
    logout(client)
    login(client, admin)
    page = text(client.get("/admin/memberships"))
    assert "郑州新创科技有限公司" in page
    resp = post_form(client, f"/admin/orgs/{org.id}/verify", {"credit_code": "123"}, token_page="/admin/memberships")
    assert resp.status_code == 400 and "18 位" in text(resp)
    code = credit_code("410105", "MA9ABCDE1")
    resp = post_form(client, f"/admin/orgs/{org.id}/verify", {"credit_code": code}, token_page="/admin/memberships")
    assert resp.status_code == 302
    db.session.refresh(org)
    assert org.verified and org.credit_code == code and founder.member_org_id == org.id
    assert 'data-testid="unverified-orgs"' not in text(client.get("/admin/memberships"))


def test_admin_queue_confirms_a_request(client, university, make):
    user = join(client, university["org"])
    logout(client)
    login(client, make.user(Role.admin))
    page = text(client.get("/admin/memberships"))
    assert "intruder" in page and "郑州大学" in page
    post_form(client, f"/admin/memberships/{user.id}/confirm", {}, token_page="/admin/memberships")
    db.session.refresh(user)
    assert user.org_state == "confirmed"
    assert 'data-testid="pending-members"' not in text(client.get("/admin/memberships"))


def test_migration_keeps_existing_members_confirmed(app):
    drop_everything()
    upgrade(revision="72d1946fca94")
    with db.engine.begin() as conn:
        conn.execute(
            sql(
                "INSERT INTO organisation (id, name, kind, region, created_at, updated_at) "
                "VALUES (1, '郑州大学', '高校', '410102', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            sql(
                "INSERT INTO user_account (id, username, password_hash, display_name, role, org_id, active, "
                "created_at, updated_at) VALUES (1, 'researcher', 'x', '张研究', 'researcher', 1, TRUE, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    upgrade()
    db.session.remove()
    user = db.session.get(User, 1)
    assert user.org_state == "confirmed" and user.member_org_id == 1
    assert db.session.get(Organisation, 1).verified
    db.session.remove()
    with db.engine.begin() as conn:
        conn.execute(sql("DELETE FROM user_account"))
        conn.execute(sql("DELETE FROM organisation"))
    downgrade(revision="base")
    drop_everything()
    db.create_all()
