"""Issue 11 (security and bad input): each finding's regression test."""

import hashlib

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import Contract, Match, Role
from market.services import listings
from tests.conftest import ACHIEVEMENT, NEED, csrf_from, login, post_form


def text(resp):
    return resp.get_data(as_text=True)


def token_for(user, token=None):
    token = token or f"tok-{user.username}-0123456789"
    user.api_token_hash = hashlib.sha256(token.encode()).hexdigest()
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def application(seller, buyer, **change) -> dict:
    raw = {
        "title": "梯度硬质合金盾构滚刀刀圈合作开发",
        "ctype": "技术开发",
        "subtype": "合作开发",
        "seller_org_id": str(seller.id),
        "buyer_org_id": str(buyer.id),
        "amount": "120万",
        "tech_amount": "1000000",
        "signed_on": "2025-03-02",
        "valid_from": "2025-03-02",
        "valid_until": "2026-03-01",
        "field": "先进制造",
    }
    raw.update(change)
    return raw


# ---- medium 2: contracts link only matches, brokers and stations consistent with the actor ----


@pytest.fixture
def two_stations(make):
    seller = make.org("高校", name="郑州甲大学", region="410102")
    buyer = make.org("民营企业", name="郑州乙装备有限公司", region="410172")
    a, b = make.station(districts=("410102",)), make.station(districts=("410172",))
    broker_a, broker_b = make.user(Role.broker, station=a), make.user(Role.broker, station=b)
    researcher = make.user(Role.researcher, org=seller)
    ach = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, researcher, publish=True)
    need = listings.create(listings.NEED, NEED, make.user(Role.enterprise, org=buyer), publish=True)
    m = Match(need=need, achievement=ach, status="introduced", score=0.9, station=a, broker=broker_a)
    db.session.add(m)
    db.session.commit()
    return {
        "seller": seller,
        "buyer": buyer,
        "a": a,
        "b": b,
        "broker_a": broker_a,
        "broker_b": broker_b,
        "researcher": researcher,
        "match": m,
    }


def test_a_broker_cannot_take_another_stations_match(client, two_stations):
    w = two_stations
    resp = client.post(
        "/api/v1/contracts",
        headers=token_for(w["broker_b"]),
        json=application(w["seller"], w["buyer"], match_id=str(w["match"].id)),
    )
    assert resp.status_code == 422
    error = resp.get_json()["error"]["fields"]["match_id"]
    assert "郑州甲大学" not in error and "郑州乙装备" not in error and "对接中" not in error
    assert db.session.scalar(select(Contract)) is None and w["match"].status == "introduced"
    # a match that does not exist is answered alike
    resp = client.post(
        "/api/v1/contracts",
        headers=token_for(w["broker_b"]),
        json=application(w["seller"], w["buyer"], match_id="999999"),
    )
    assert resp.get_json()["error"]["fields"]["match_id"] == error
    resp = client.post(
        "/api/v1/contracts",
        headers=token_for(w["broker_a"]),
        json=application(w["seller"], w["buyer"], match_id=str(w["match"].id)),
    )
    assert resp.status_code == 201 and resp.get_json()["match_id"] == w["match"].id


def test_brokers_and_stations_must_fit_the_actor(client, two_stations):
    w = two_stations
    resp = client.post(
        "/api/v1/contracts",
        headers=token_for(w["broker_b"]),
        json=application(w["seller"], w["buyer"], broker_id=str(w["broker_a"].id), station_id=str(w["a"].id)),
    )
    assert resp.status_code == 422 and "broker_id" in resp.get_json()["error"]["fields"]
    resp = client.post(
        "/api/v1/contracts",
        headers=token_for(w["researcher"]),
        json=application(w["seller"], w["buyer"], broker_id=str(w["broker_b"].id), station_id=str(w["b"].id)),
    )
    assert resp.status_code == 422 and "station_id" in resp.get_json()["error"]["fields"]
    resp = client.post(
        "/api/v1/contracts",
        headers=token_for(w["researcher"]),
        json=application(w["seller"], w["buyer"], match_id=str(w["match"].id), broker_id=str(w["broker_b"].id)),
    )
    assert resp.status_code == 422
    resp = client.post(
        "/api/v1/contracts",
        headers=token_for(w["researcher"]),
        json=application(w["seller"], w["buyer"], match_id=str(w["match"].id)),
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["broker_id"] == w["broker_a"].id and body["station"] == w["a"].code


# ---- medium 3: no formula injection in what the app writes ------------------------------------

HOSTILE = [
    '=HYPERLINK("http://evil/","点我")',
    "+SUM(1,2)",
    "@SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "=cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_exports_neutralise_formulas():
    import csv
    import io

    from openpyxl import load_workbook

    from market.infra import exports

    columns = [exports.Column("项目名称"), exports.Column("金额", "money")]
    rows = [[h, 1] for h in HOSTILE] + [["-12.5", 2], ["普通名称", 3]]
    cells = [r[0] for r in csv.reader(io.StringIO(exports.csv_bytes(columns, rows).decode("utf-8-sig")))][1:]
    assert cells[: len(HOSTILE)] == ["'" + h for h in HOSTILE]
    assert cells[-2:] == ["-12.5", "普通名称"]
    ws = load_workbook(io.BytesIO(exports.xlsx_bytes("t", columns, rows, notes=["=1+1"]))).active
    for (cell,), h in zip(ws.iter_rows(min_row=2, max_col=1), HOSTILE):
        assert cell.value in (h, h.replace("\r", "\n")) and cell.data_type == "s" and cell.quotePrefix


def test_stats_contract_export_and_import_report_neutralise(client, make, tmp_path):
    import io
    from datetime import datetime

    from openpyxl import load_workbook

    from ingest import readers, report
    from market.services import contracts

    seller, buyer = make.org("高校"), make.org("民营企业", name='=HYPERLINK("http://evil")')
    researcher, registrar = make.user(Role.researcher, org=seller), make.user(Role.registrar)
    c = contracts.submit({**application(seller, buyer), "title": "=cmd|' /C calc'!A0"}, researcher, now=datetime.now())
    contracts.register(c, registrar, notify=False)
    db.session.commit()
    login(client, registrar)
    body = text(client.get("/stats/export/contracts.csv"))
    assert "'=cmd|" in body and "'=HYPERLINK" in body and ",=" not in body
    ws = load_workbook(io.BytesIO(client.get("/stats/export/contracts.xlsx").data)).active
    formulas = [cell for row in ws.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == []
    # the import error report and rejects file, and the round trip of a fixed rejects file
    src = tmp_path / "rows.csv"
    src.write_text("标题,摘要\n=1+2,@SUM(A1)\n", encoding="utf-8")
    source = readers.open_source(src)
    r = report.Reports(source, ["标题", "摘要"])
    row = next(readers.rows(source))
    from ingest.kinds import Problem

    r.problems([Problem(row.number, "标题", "=1+2", "不对")])
    r.reject(row)
    r.close()
    errors, rejects = report.paths(source)
    assert "'=1+2" in errors.read_text(encoding="utf-8-sig")
    assert "'=1+2,'@SUM(A1)" in rejects.read_text(encoding="utf-8-sig")
    again = next(readers.rows(readers.open_source(rejects)))
    assert again.cells == {"标题": "=1+2", "摘要": "@SUM(A1)"}


# ---- medium 4: blank optional long text on edit, and every optional field's column -------------


def test_every_optional_field_has_a_storable_blank(app):
    from market.models import Contract
    from market.services import contracts
    from market.validation import reference

    for kind in listings.KINDS.values():
        blank = {f.name: "" for f in kind.fields}
        from market.validation.fields import clean

        values = clean(tuple(f for f in kind.fields if not f.required), blank, reference.vocab())
        values = listings.validate(
            kind, {**values, **{f.name: ACHIEVEMENT.get(f.name, NEED.get(f.name)) for f in kind.fields if f.required}}
        )
        columns = kind.model.__table__.c
        for f in kind.fields:
            if not f.required and f.name in columns and not columns[f.name].nullable:
                assert values[f.name] is not None, f"{kind.name}.{f.name}"
    for f in contracts.FIELDS:
        if not f.required:
            assert Contract.__table__.c[f.name].nullable, f.name


def test_editing_a_listing_with_blank_optional_text(client, make):
    owner = make.user(Role.enterprise)
    need = listings.create(listings.NEED, {**NEED, "detail": "", "indicators": ""}, owner, publish=True)
    ach_owner = make.user(Role.researcher)
    ach = listings.create(listings.ACHIEVEMENT, {**ACHIEVEMENT, "detail": ""}, ach_owner, publish=True)
    db.session.commit()
    login(client, owner)
    page = text(client.get(f"/needs/{need.id}/edit"))
    form = {
        "csrf_token": csrf_from(page),
        **{k: v for k, v in NEED.items() if k != "bottleneck"},
        "detail": "",
        "indicators": "",
        "bottleneck": "1",
    }
    resp = client.post(f"/needs/{need.id}/edit", data=form)
    assert resp.status_code == 302, text(resp)[:2000]
    assert need.detail == "" and need.indicators == ""
    headers = token_for(ach_owner)
    assert client.patch(f"/api/v1/achievements/{ach.id}", json={}, headers=headers).status_code == 200
    resp = client.patch(f"/api/v1/achievements/{ach.id}", json={"detail": ""}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["detail"] == ""


def test_a_trade_secret_without_number_survives_its_edit_form(client, make):
    owner = make.user(Role.researcher)
    ach = listings.create(
        listings.ACHIEVEMENT, {**ACHIEVEMENT, "ip": [{"type": "技术秘密", "number": ""}]}, owner, publish=True
    )
    db.session.commit()
    login(client, owner)
    page = text(client.get(f"/achievements/{ach.id}/edit"))
    assert "技术秘密:" in page
    import re

    form = {
        "csrf_token": csrf_from(page),
        **dict(ACHIEVEMENT.items()),
        "ip": re.search(r'name="ip"[^>]*>([^<]*)</textarea>', page).group(1),
    }
    resp = client.post(f"/achievements/{ach.id}/edit", data=form)
    assert resp.status_code == 302, text(resp)[:3000]
    assert ach.ip == [{"type": "技术秘密", "number": ""}]


# ---- medium 5: security headers, and pages that work under the CSP ------------------------------


def test_pages_send_security_headers(client, make):
    for url in ("/", "/achievements/", "/auth/login", "/stats/screen", "/api/v1/taxonomies", "/nowhere"):
        resp = client.get(url)
        h = resp.headers
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], url
        assert (
            "script-src 'self'" in h["Content-Security-Policy"] and "unsafe-inline" not in h["Content-Security-Policy"]
        )
        assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"


def test_templates_have_no_inline_script_or_style():
    import re

    from market.config import ROOT

    for path in (ROOT / "templates").rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), path
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=|javascript:", source), path


# ---- medium 6: login throttling per address and account, shared and atomic; no enumeration -------


def _login(client, username, password, addr):
    page = client.get("/auth/login", environ_base={"REMOTE_ADDR": addr})
    return client.post(
        "/auth/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(text(page))},
        environ_base={"REMOTE_ADDR": addr},
    )


def test_bad_passwords_from_one_address_do_not_lock_the_owner_out(app, make):
    make.user(Role.admin, username="boss")
    attacker = owner = app.test_client()
    for _ in range(5):
        assert _login(attacker, "boss", "wrong", "203.0.113.9").status_code == 401
    assert _login(attacker, "boss", "secret-pass-1", "203.0.113.9").status_code == 429
    assert _login(owner, "boss", "secret-pass-1", "198.51.100.7").status_code == 302


def test_password_spraying_is_limited_per_address(app, make):
    app.config["LOGIN_LIMIT_ADDRESS"] = "10 per 10 minutes"
    users = [make.user(Role.researcher) for _ in range(12)]
    client = app.test_client()
    codes = [_login(client, u.username, "Summer2026!", "203.0.113.10").status_code for u in users]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


def test_the_limiter_counts_exactly_across_threads_and_processes(tmp_path):
    import multiprocessing
    import threading

    from limits import parse, strategies
    from limits.storage import storage_from_string

    import market.ratelimit  # noqa: F401  (registers sqlitefile://)

    uri = f"sqlitefile://{tmp_path / 'rl.sqlite'}"
    item = parse("1000 per hour")
    threads = [
        threading.Thread(
            target=lambda: [
                strategies.FixedWindowRateLimiter(storage_from_string(uri)).hit(item, "k") for _ in range(10)
            ]
        )
        for _ in range(10)
    ]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hit_many, args=(uri, 20)) for _ in range(3)]
    for t in threads + procs:
        t.start()
    for t in threads + procs:
        t.join()
    assert storage_from_string(uri).get(item.key_for("k")) == 100 + 60


def _hit_many(uri, n):
    from limits import parse, strategies
    from limits.storage import storage_from_string

    import market.ratelimit  # noqa: F401  (registers sqlitefile://)

    limiter = strategies.FixedWindowRateLimiter(storage_from_string(uri))
    for _ in range(n):
        limiter.hit(parse("1000 per hour"), "k")


def test_unknown_users_cost_a_password_check(app, make, monkeypatch):
    from market.services import accounts

    make.user(Role.researcher, username="known")
    calls = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))
    with app.test_request_context():
        assert accounts.authenticate("nobody-here", "whatever", "1.2.3.4") is None
    assert len(calls) == 1


# ---- medium 7: logout ends the session everywhere; cookie flags ---------------------------------


def test_logout_invalidates_captured_cookies(app, make):
    user = make.user(Role.researcher)
    client = app.test_client()
    page = client.get("/auth/login")
    resp = client.post(
        "/auth/login",
        data={
            "username": user.username,
            "password": "secret-pass-1",
            "remember": "on",
            "csrf_token": csrf_from(text(page)),
        },
    )
    assert resp.status_code == 302
    cookies = {c.key: c.value for c in client._cookies.values()}
    assert {"session", "remember_token"} <= set(cookies)
    set_cookie = " ".join(resp.headers.getlist("Set-Cookie"))
    assert "remember_token=" in set_cookie and "SameSite=Lax" in set_cookie.split("remember_token=")[1]
    assert client.get("/me/").status_code == 200
    for name in ("session", "remember_token"):  # the captured cookie alone works before logout
        assert _replay(app, name, cookies[name]) == 200, name
    client.post("/auth/logout", data={"csrf_token": csrf_from(text(client.get("/me/")))})
    for name in ("session", "remember_token"):
        assert _replay(app, name, cookies[name]) == 302, name


def _replay(app, name, value) -> int:
    """A request carrying only one captured cookie, in a fresh app context (no cached login in g)."""
    thief = app.test_client()
    thief.set_cookie(name, value)
    with app.app_context():
        return thief.get("/me/").status_code


def test_remember_lifetime_and_secure_flag(tmp_path, monkeypatch):
    from datetime import timedelta

    from market import create_app
    from market.config import TestingConfig

    monkeypatch.setenv("COOKIE_SECURE", "1")
    cfg = TestingConfig(tmp_path)
    assert timedelta(days=30) >= cfg.REMEMBER_COOKIE_DURATION
    assert cfg.SESSION_COOKIE_SECURE and cfg.REMEMBER_COOKIE_SECURE and cfg.REMEMBER_COOKIE_SAMESITE == "Lax"
    app = create_app(cfg)
    with app.test_request_context():
        resp = app.test_client().get("/auth/login", base_url="https://localhost")
    assert "Secure" in resp.headers["Set-Cookie"] and "Strict-Transport-Security" in resp.headers


# ---- low ---------------------------------------------------------------------------------------


def test_scan_downloads_are_named_by_type_and_stored_names_are_clean(app, client, make):
    import io

    seller, buyer = make.org("高校"), make.org("民营企业")
    researcher = make.user(Role.researcher, org=seller)
    login(client, researcher)
    page = text(client.get("/contracts/new"))
    form = {**application(seller, buyer), "csrf_token": csrf_from(page)}
    form["ctype_subtype"] = f"{form.pop('ctype')}|{form.pop('subtype')}"
    form["attachment"] = (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "合同\u202egpj.exe")
    resp = client.post("/contracts/new", data=form, content_type="multipart/form-data")
    assert resp.status_code == 302, text(resp)[:2000]
    c = db.session.scalar(select(Contract))
    assert c.file_name == "合同gpj.exe"
    disposition = client.get(f"/contracts/{c.id}/file").headers["Content-Disposition"]
    assert disposition.endswith(".pdf") and "exe" not in disposition and "%E2%80%AE" not in disposition


def test_xlsx_bombs_are_refused_before_parsing(tmp_path):
    import zipfile

    from ingest import readers

    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/sharedStrings.xml", "<sst>" + "a" * (60 * 1024 * 1024) + "</sst>")
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(readers.ReadError) as e:
        list(readers.rows(readers.open_source(path)))
    assert "解压" in str(e.value)


def test_station_statistics_are_one_rule_for_web_and_api(client, make):
    for dimension in ("station", "seller_nature", "buyer_nature", "subtype", "year", "quarter"):
        assert client.get(f"/api/v1/stats/{dimension}").status_code == 403, dimension
        assert client.get(f"/stats/export/{dimension}.csv").status_code == 403, dimension
    assert client.get("/api/v1/stats/field").status_code == 200
    headers = token_for(make.user(Role.registrar))
    assert client.get("/api/v1/stats/station", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "field, value",
    [
        ("title", ["列表", "标题"]),
        ("title", {"a": 1}),
        ("summary", True),
        ("contact_name", ["张"]),
        ("keywords", {"x": 1}),
        ("field", ["先进制造"]),
        ("trl", True),
        ("ip", [1, 2]),
    ],
)
def test_api_refuses_wrong_json_types(client, make, field, value):
    headers = token_for(make.user(Role.researcher))
    resp = client.post("/api/v1/achievements", json={**ACHIEVEMENT, field: value}, headers=headers)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["error"]["fields"]


def test_invisible_characters_are_stripped_or_refused(client, make):
    headers = token_for(make.user(Role.researcher))
    resp = client.post(
        "/api/v1/achievements", json={**ACHIEVEMENT, "title": "\u200b\u200b\ufeff\u202e"}, headers=headers
    )
    assert resp.status_code == 422 and "title" in resp.get_json()["error"]["fields"]
    resp = client.post("/api/v1/achievements", json={**ACHIEVEMENT, "title": "盾构\u0000滚刀刀圈"}, headers=headers)
    assert resp.status_code == 400
    assert client.get("/achievements/?field=a%00b").status_code == 400
    resp = client.post(
        "/api/v1/achievements", json={**ACHIEVEMENT, "title": "盾构\u202e滚刀\u200b刀圈技术"}, headers=headers
    )
    assert resp.status_code == 201 and resp.get_json()["title"] == "盾构滚刀刀圈技术"
    resp = client.post("/api/v1/contracts", headers=headers, json={"buyer_name": ["x"], "title": "x"})
    assert resp.status_code == 422 and "buyer_name" in resp.get_json()["error"]["fields"]


def test_api_token_is_not_kept_in_the_session_cookie(app, client, make):
    user = make.user(Role.researcher)
    login(client, user)
    resp = post_form(client, "/me/token", {}, token_page="/me/")
    assert resp.status_code == 200
    import re

    token = re.search(r'data-testid="api-token">([^<]+)<', text(resp)).group(1)
    cookie = next(c.value for c in client._cookies.values() if c.key == "session")
    session = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert token not in repr(session)
    assert client.get("/api/v1/contracts", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_semantic_search_is_capped_and_throttled(app, client):
    app.config["SEARCH_LIMIT"] = "3 per minute"
    resp = client.get("/api/v1/search", query_string={"q": "盾" * 101})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "query_too_long"
    codes = [client.get("/api/v1/search", query_string={"q": "盾构"}).status_code for _ in range(3)]
    assert 429 not in codes[:2] and codes[2] == 429
    codes = [client.get("/achievements/", query_string={"q": "盾构", "mode": "semantic"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/achievements/", query_string={"q": "盾构"}).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/achievements/9223372036854775808",
        "/needs/99999999999999999999999/edit",
        "/achievements/2147483648",
        "/api/v1/achievements/61583572725543/matches",
        "/contracts/2147483648",
        "/contracts/9223372036854775808",
        "/api/v1/achievements/9223372036854775808",
        "/broker/matches/18446744073709551616",
        "/achievements/?page=99999999999999999999999",
        "/api/v1/needs?page=9223372036854775808&per_page=²",
        "/stats/?month=²",
        "/stats/?month=¹²&year=²⁰²⁶",
        "/contracts/new?match=²",
        "/contracts/new?from=²",
        "/api/v1/contracts?page=99999999999999999999",
        "/admin/users?page=²",
    ],
)
def test_hostile_numbers_are_not_server_errors(client, make, url):
    login(client, make.user(Role.admin))
    assert client.get(url).status_code < 500


def test_contract_actions_with_bad_bodies(client, make):
    from datetime import datetime

    from market.services import contracts

    seller, buyer = make.org("高校"), make.org("民营企业")
    researcher = make.user(Role.researcher, org=seller)
    c = contracts.submit(application(seller, buyer), researcher, now=datetime.now())
    db.session.commit()
    headers = token_for(researcher)
    for body in ([1, 2], "text", 5):
        resp = client.post(f"/api/v1/contracts/{c.id}/withdraw", json=body, headers=headers)
        assert resp.status_code == 400, body
    resp = client.post(f"/api/v1/contracts/{c.id}/withdraw", json={"note": ["x"]}, headers=headers)
    assert resp.status_code == 422 and "note" in resp.get_json()["error"]["fields"]
    resp = client.post(f"/api/v1/contracts/{c.id}/cancel-request", json={"note": {"a": 1}}, headers=headers)
    assert resp.status_code == 422


@pytest.mark.parametrize(
    "change, message",
    [
        ({"password": "12345678", "password2": "12345678"}, "至少 10 位"),
        ({"password": "1234567890", "password2": "1234567890"}, "太常见"),
        ({"password": "someone.x-2026", "password2": "someone.x-2026", "username": "someone.x"}, "用户名"),
        ({"display_name": "系统管理员"}, "管理员"),
        ({"display_name": "平台客服小王"}, "平台"),
    ],
)
def test_weak_passwords_and_staff_names_are_refused(client, make, change, message):
    org = make.org("高校")
    data = {
        "role": "researcher",
        "username": "someone",
        "display_name": "某人",
        "password": "Lantern-Kite-42",
        "password2": "Lantern-Kite-42",
        "org_id": str(org.id),
    }
    resp = post_form(client, "/auth/register", {**data, **change})
    assert resp.status_code == 400 and message in text(resp)


def test_broker_pages_answer_404_for_another_stations_match(client, two_stations):
    w = two_stations
    login(client, w["broker_b"])
    assert client.get(f"/broker/matches/{w['match'].id}").status_code == 404
    assert client.get("/broker/matches/987654").status_code == 404


def test_api_refuses_wrong_types_of_create_options(client, make):
    headers = token_for(make.user(Role.broker))
    for body in ({"publish": [1]}, {"publish": "yes"}, {"org_id": [1]}, {"org_id": True}):
        resp = client.post("/api/v1/achievements", json={**ACHIEVEMENT, **body}, headers=headers)
        assert resp.status_code == 422 and set(body) <= set(resp.get_json()["error"]["fields"]), body
