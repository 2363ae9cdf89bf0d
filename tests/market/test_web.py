import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.models import Achievement, LoginAttempt, Organisation, Role, User
from market.services import listings
from tests.conftest import ACHIEVEMENT, NEED, credit_code, csrf_from, login, post_form


def text(resp):
    return resp.get_data(as_text=True)


def test_public_pages(client):
    for url in ["/", "/achievements/", "/needs/", "/stations", "/about", "/auth/login", "/auth/register"]:
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert "郑州技术交易市场" in text(resp)


@pytest.mark.parametrize(
    "role, kind, allowed",
    [
        (Role.researcher, "achievements", True),
        (Role.researcher, "needs", False),
        (Role.enterprise, "needs", True),
        (Role.enterprise, "achievements", False),
        (Role.broker, "achievements", True),
        (Role.broker, "needs", True),
        (Role.registrar, "achievements", False),
        (Role.admin, "needs", True),
    ],
)
def test_post_page_role_access(client, make, role, kind, allowed):
    login(client, make.user(role))
    resp = client.get(f"/{kind}/new")
    assert resp.status_code == (200 if allowed else 403)
    if not allowed:
        assert "只有" in text(resp)


def test_post_requires_login(client):
    resp = client.get("/needs/new")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]


def test_admin_pages_only_for_admins(client, make):
    for url in ["/admin/users", "/admin/orgs", "/admin/stations", "/admin/taxonomies"]:
        assert client.get(url).status_code == 302
    login(client, make.user(Role.broker))
    assert client.get("/admin/users").status_code == 403
    client.post("/auth/logout", data={"csrf_token": csrf_from(text(client.get("/")))})
    login(client, make.user(Role.admin))
    for url in ["/admin/users", "/admin/orgs", "/admin/stations", "/admin/taxonomies"]:
        assert client.get(url).status_code == 200, url


def test_post_edit_publish_archive_through_forms(client, make):
    user = make.user(Role.researcher)
    login(client, user)
    resp = post_form(client, "/achievements/new", {**ACHIEVEMENT, "action": "draft"})
    assert resp.status_code == 302
    item = db.session.scalar(select(Achievement))
    assert item.status == "draft"
    resp = post_form(
        client, f"/achievements/{item.id}/edit", {**ACHIEVEMENT, "title": "改过的成果名称", "action": "publish"}
    )
    assert resp.status_code == 302
    db.session.refresh(item)
    assert item.title == "改过的成果名称" and item.is_published
    resp = post_form(
        client,
        f"/achievements/{item.id}/archive",
        {"close_reason": "not_needed", "confirm": "1"},
        token_page=f"/achievements/{item.id}",
    )
    assert resp.status_code == 302
    db.session.refresh(item)
    assert item.status == "archived"


def test_form_errors_shown_next_to_fields_and_nothing_saved(client, make):
    login(client, make.user(Role.enterprise))
    resp = post_form(client, "/needs/new", {**NEED, "title": "", "budget_min": "abc", "field": "炼金术"})
    assert resp.status_code == 400
    html = text(resp)
    assert "请填写“需求名称”" in html and "不是有效金额" in html and "不是可选的值" in html
    assert 'class="field has-error' in html
    assert NEED["statement"] in html  # what the user typed is kept
    assert db.session.scalar(select(func.count()).select_from(listings.NEED.model)) == 0


def test_csrf_enforced(client, make):
    user = make.user(Role.researcher)
    resp = client.post("/auth/login", data={"username": user.username, "password": "secret-pass-1"})
    assert resp.status_code == 400 and "安全令牌" in text(resp)
    login(client, user)
    resp = client.post("/achievements/new", data={**ACHIEVEMENT, "action": "publish"})
    assert resp.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Achievement)) == 0
    resp = client.post("/achievements/new", data={**ACHIEVEMENT, "csrf_token": "forged"})
    assert resp.status_code == 400


def test_detail_page_privacy(client, make):
    owner = make.user(Role.enterprise)
    item = listings.create(listings.NEED, NEED, owner, publish=True)
    db.session.commit()
    url = f"/needs/{item.id}"
    secret, phone = NEED["detail"], NEED["contact_phone"]
    anonymous = text(client.get(url))
    assert NEED["statement"] in anonymous and secret not in anonymous and phone not in anonymous
    login(client, make.user(Role.researcher))
    html = text(client.get(url))
    assert secret not in html and phone not in html
    client.post("/auth/logout", data={"csrf_token": csrf_from(html)})
    login(client, make.user(Role.broker))
    html = text(client.get(url))
    assert secret in html and phone in html
    client.post("/auth/logout", data={"csrf_token": csrf_from(html)})
    login(client, owner)
    assert secret in text(client.get(url))


def test_draft_is_404_for_others(client, make):
    item = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, make.user(Role.researcher))
    db.session.commit()
    assert client.get(f"/achievements/{item.id}").status_code == 404


def test_register_researcher_with_new_org(client):
    resp = post_form(
        client,
        "/auth/register",
        {
            "role": "researcher",
            "username": "li.research",
            "display_name": "李研究",
            "password": "Lantern-Kite-42",
            "password2": "Lantern-Kite-42",
            "org_id": "new",
            "org_name": "郑州某某研究院",
            "org_kind": "科研院所",
            "region": "410172",
            "credit_code": credit_code("410172"),
        },
    )
    assert resp.status_code == 302, text(resp)
    user = db.session.scalar(select(User).where(User.username == "li.research"))
    assert user.role == "researcher" and user.org.name == "郑州某某研究院" and user.org.credit_code
    assert not user.check_password("wrong") and user.password_hash != "Lantern-Kite-42"


def test_register_cannot_forge_role(client):
    for role in ("admin", "broker", "registrar"):
        resp = post_form(
            client,
            "/auth/register",
            {
                "role": role,
                "username": f"evil{role}",
                "display_name": "坏人",
                "password": "Lantern-Kite-42",
                "password2": "Lantern-Kite-42",
                "org_id": "new",
                "org_name": f"假单位{role}",
                "org_kind": "民营企业",
                "region": "410105",
            },
        )
        assert resp.status_code == 400 and "管理员授权" in text(resp)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"credit_code": "91410105MA44X7Y0L0"}, "校验位"),
        ({"region": "410199"}, "区县"),
        ({"org_kind": "民营企业"}, "科研人员的单位性质"),
        ({"password2": "different1"}, "不一致"),
        ({"password": "short", "password2": "short"}, "至少 10 位"),
        ({"username": "a"}, "用户名"),
        ({"org_id": ""}, "请选择所在单位"),
    ],
)
def test_register_validation(client, change, message):
    data = {
        "role": "researcher",
        "username": "someone",
        "display_name": "某人",
        "password": "Lantern-Kite-42",
        "password2": "Lantern-Kite-42",
        "org_id": "new",
        "org_name": "新单位",
        "org_kind": "高校",
        "region": "410105",
    }
    resp = post_form(client, "/auth/register", {**data, **change})
    assert resp.status_code == 400 and message in text(resp)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_admin_grants_roles(client, make):
    admin = make.user(Role.admin)
    target = make.user(Role.researcher)
    station = make.station()
    db.session.commit()
    login(client, admin)
    url = f"/admin/users/{target.id}"
    resp = post_form(client, url, {"role": "broker"})
    assert resp.status_code == 400 and "须归属一个驿站" in text(resp)
    resp = post_form(client, url, {"role": "broker", "station_id": str(station.id)})
    assert resp.status_code == 302
    db.session.refresh(target)
    assert target.role == "broker" and target.station == station
    resp = post_form(client, url, {"role": "superuser"})
    assert resp.status_code == 400 and "未知角色" in text(resp)


def test_login_throttled(client, make, app):
    user = make.user(Role.researcher)
    for _ in range(5):
        resp = post_form(client, "/auth/login", {"username": user.username, "password": "wrong"})
        assert resp.status_code == 401 and "不正确" in text(resp)
    resp = post_form(client, "/auth/login", {"username": user.username, "password": "secret-pass-1"})
    assert resp.status_code == 429 and "稍后再试" in text(resp)
    assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 5


def test_open_redirect_refused(client, make):
    user = make.user(Role.researcher)
    page = client.get("/auth/login")
    resp = client.post(
        "/auth/login?next=https://evil.example/",
        data={"username": user.username, "password": "secret-pass-1", "csrf_token": csrf_from(text(page))},
    )
    assert resp.headers["Location"] == "/"


def test_error_pages(client):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and "页面不存在" in text(resp)
    resp = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_500_page_rolls_back(app, client):
    @app.route("/boom")
    def boom():
        db.session.add(Organisation(name="出错前写入的单位", kind="高校", region="410105"))
        db.session.flush()
        raise RuntimeError("boom")

    def written() -> int:
        db.session.commit()  # what the next request's write would commit
        return db.session.scalar(select(func.count()).where(Organisation.name == "出错前写入的单位"))

    resp = client.get("/boom")
    assert resp.status_code == 500 and "服务器内部错误，我们已记录此问题，请稍后再试" in text(resp)
    assert written() == 0
    resp = client.get("/boom", headers={"Accept": "application/json"})
    assert resp.status_code == 500 and resp.json["error"]["code"] == "internal_error"
    assert written() == 0


def test_oversized_upload_refused(app, client, make):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    login(client, make.user(Role.researcher))
    page = client.get("/achievements/new")
    resp = client.post(
        "/achievements/new", data={**ACHIEVEMENT, "summary": "长" * 5000, "csrf_token": csrf_from(text(page))}
    )
    assert resp.status_code == 413 and "太大" in text(resp)


def test_browse_page_filters_and_highlight(client, make):
    listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, make.user(Role.researcher), publish=True)
    db.session.commit()
    html = text(client.get("/achievements/?q=滚刀&field=先进制造"))
    assert "<mark>滚刀</mark>" in html and "找到 1 条成果" in html
    html = text(client.get("/achievements/?q=量子"))
    assert "没有符合条件的成果" in html
    assert client.get("/achievements/?page=abc").status_code == 200
