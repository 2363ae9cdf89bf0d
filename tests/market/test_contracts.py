"""技术合同认定登记: applications, bad input, numbers, deadlines, refusals, changes, cancellations,
links to matches, uploads and who may see what."""

import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.models import Contract, ContractEvent, Match, Notification, Role
from market.services import contracts, listings, stats
from market.validation import workdays
from market.validation.fields import ValidationError
from tests.conftest import ACHIEVEMENT, NEED, credit_code, csrf_from, login, post_form
from tests.market.conftest import application

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def text(resp):
    return resp.get_data(as_text=True)


def logout(client):
    client.post("/auth/logout", data={"csrf_token": csrf_from(text(client.get("/")))})


def switch(client, user):
    logout(client)
    login(client, user)


def count(model=Contract) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_submit_then_register_issues_gapless_numbers(people):
    first = contracts.submit(application(people["buyer"]), people["researcher"], now=datetime(2026, 3, 2, 10))
    second = contracts.submit(
        application(people["buyer"], title="另一项合作开发合同"), people["researcher"], now=datetime(2026, 3, 2, 11)
    )
    db.session.commit()
    assert first.status == "pending" and first.number is None
    assert first.amount == Decimal("1200000.00") and first.tech_amount == Decimal("1000000.00")
    assert (first.seller_name, first.seller_region, first.buyer_name) == (
        "郑州测试大学",
        "410102",
        "郑州测试装备有限公司",
    )
    assert first.due_on == date(2026, 3, 23)  # 15 working days after Monday 2 March
    contracts.register(second, people["registrar"], now=datetime(2026, 3, 5, 9))
    contracts.register(first, people["registrar"], now=datetime(2026, 3, 5, 10))
    db.session.commit()
    assert (second.number, first.number) == ("2026410102000001", "2026410102000002")
    assert len(first.number) == 16 and first.status == "registered" and first.stat_date == date(2026, 3, 5)
    assert [e.action for e in first.events] == ["submit", "register"]
    with pytest.raises(contracts.NotAllowed):
        contracts.register(first, people["registrar"])
    notes = db.session.scalars(select(Notification).where(Notification.user_id == people["researcher"].id)).all()
    assert any("已登记" in n.title and first.number in n.body for n in notes)


def test_only_registrars_and_admins_decide(people, make):
    c = contracts.submit(application(people["buyer"]), people["researcher"])
    for user in (people["researcher"], make.user(Role.broker), make.user(Role.enterprise)):
        with pytest.raises(PermissionError):
            contracts.register(c, user)
    contracts.register(c, people["admin"])
    assert c.number.startswith(f"{date.today().year}410102")


def test_deadline_is_thirty_working_days_from_five_million(people):
    small = contracts.submit(
        application(people["buyer"], tech_amount="4999999.99", amount="600万"),
        people["researcher"],
        now=datetime(2026, 9, 28, 9),
    )
    large = contracts.submit(
        application(people["buyer"], title="大额合作开发合同", tech_amount="500万", amount="600万"),
        people["researcher"],
        now=datetime(2026, 9, 28, 9),
    )
    assert small.due_on == workdays.add_working_days(date(2026, 9, 28), 15)
    assert large.due_on == workdays.add_working_days(date(2026, 9, 28), 30)
    # National Day: 1–7 October off, Saturday 10 October a make-up working day
    assert workdays.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert workdays.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert small.due_on == date(2026, 10, 23)
    assert workdays.working_days_between(date(2026, 10, 23), date(2026, 10, 21)) == -2


NEW_BUYER = {
    "buyer_org_id": "",
    "buyer_name": "上海某某精密机械有限公司",
    "buyer_kind": "民营企业",
    "buyer_region": "310115",
    "buyer_credit_code": credit_code("310115"),
}


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"tech_amount": "130万"}, "tech_amount", "不能大于合同成交额"),
        ({"amount": "-5"}, "amount", "不能为负数"),
        ({"amount": "0", "tech_amount": "0"}, "amount", "应大于 0"),
        ({"amount": "2000亿"}, "amount", "超过 1000 亿元"),
        ({"amount": "200亿", "tech_amount": "1万"}, "amount", "超过 100 亿元"),
        ({"amount": "12.345"}, "amount", "两位小数"),
        ({"amount": "一百万"}, "amount", "不是有效金额"),
        ({"valid_until": "2025-01-01"}, "valid_until", "不能早于有效期起"),
        ({"valid_from": "2024-01-01", "valid_until": "2024-06-01"}, "valid_until", "不能早于签订日期"),
        (
            {"signed_on": "2099-01-01", "valid_from": "2099-01-01", "valid_until": "2099-12-31"},
            "signed_on",
            "不能晚于今天",
        ),
        ({"signed_on": "2025-02-30"}, "signed_on", "不是有效日期"),
        ({**NEW_BUYER, "buyer_credit_code": "91410105MA44X7Y0L0"}, "buyer_credit_code", "校验位"),
        ({**NEW_BUYER, "buyer_credit_code": "91410105MA44X7Y0"}, "buyer_credit_code", "18 位"),
        ({**NEW_BUYER, "buyer_region": "410199"}, "buyer_region", "郑州市没有代码为 410199"),
        ({**NEW_BUYER, "buyer_region": "990101"}, "buyer_region", "省级代码"),
        ({**NEW_BUYER, "buyer_region": ""}, "buyer_region", "境内当事人必填"),
        ({**NEW_BUYER, "buyer_country": "德国"}, "buyer_credit_code", "境外当事人"),
        ({**NEW_BUYER, "buyer_kind": "外星机构"}, "buyer_kind", "请选择买方性质"),
        ({"buyer_org_id": "", "buyer_name": ""}, "buyer_name", "请选择买方单位"),
        ({"subtype": "专利实施许可"}, "ctype", "子类"),
        ({"ctype": "技术买卖"}, "ctype", "请选择合同类型"),
        ({"planned_investment": "100万"}, "planned_investment", "技术转让"),
        ({"field": "炼金术"}, "field", "不是可选的值"),
        ({"title": ""}, "title", "请填写“项目名称”"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_is_stored(people, change, field, message):
    with pytest.raises(ValidationError) as e:
        contracts.submit(application(people["buyer"], **change), people["researcher"])
    assert message in e.value.errors.get(field, ""), e.value.errors
    db.session.rollback()
    assert count() == 0 and count(ContractEvent) == 0


def test_duplicate_contract_is_refused(people):
    contracts.submit(application(people["buyer"]), people["researcher"])
    db.session.commit()
    with pytest.raises(ValidationError) as e:
        contracts.submit(application(people["buyer"], amount="130万"), people["researcher"])
    assert "重复申请" in e.value.errors[""]
    db.session.rollback()
    assert count() == 1


def test_a_refused_application_may_be_filed_again(people):
    c = contracts.submit(application(people["buyer"]), people["researcher"])
    contracts.refuse(c, people["registrar"], "7", "缺少专利证书")
    again = contracts.submit(application(people["buyer"]), people["researcher"])
    assert again.status == "pending" and count() == 2


def test_foreign_buyer_needs_no_region_and_the_seller_registers_locally(people):
    c = contracts.submit(
        application(
            people["buyer"],
            buyer_org_id="",
            buyer_name="Rheinland Werkzeuge GmbH",
            buyer_kind="外资企业",
            buyer_country="德国",
            buyer_region="410105",
        ),
        people["researcher"],
    )
    assert (c.buyer_country, c.buyer_region, c.buyer_org_id) == ("德国", None, None)
    contracts.register(c, people["registrar"], now=datetime(2026, 5, 6, 9))
    assert c.number == "2026410102000001"


def test_brokers_apply_for_a_client_seller(people, make):
    broker = make.user(Role.broker)
    c = contracts.submit(application(people["buyer"], seller_org_id=str(people["seller"].id)), broker)
    assert (c.seller_org_id, c.broker_id, c.station_id) == (people["seller"].id, broker.id, broker.station_id)
    with pytest.raises(ValidationError) as e:
        contracts.submit(application(people["buyer"], title="无卖方的合同"), broker)
    assert "seller_name" in e.value.errors


def test_researchers_always_apply_as_their_own_organisation(people, make):
    other = make.org("高校", name="别的大学", region="410105")
    c = contracts.submit(application(people["buyer"], seller_org_id=str(other.id)), people["researcher"])
    assert c.seller_org_id == people["seller"].id


def test_change_supersedes_and_statistics_count_the_current_version_once(people):
    c = contracts.submit(application(people["buyer"]), people["researcher"], now=datetime(2026, 2, 2, 9))
    contracts.register(c, people["registrar"], now=datetime(2026, 2, 4, 9))
    raw = {**contracts.values_of(c), "amount": "150万", "tech_amount": "140万"}
    change = contracts.submit_change(c, raw, people["researcher"], now=datetime(2026, 6, 1, 9))
    with pytest.raises(contracts.NotAllowed):
        contracts.submit_change(c, raw, people["researcher"])
    year = stats.Period.year(2026)
    assert stats.totals(year).amount == Decimal("1200000.00")
    contracts.register(change, people["registrar"], now=datetime(2026, 6, 3, 9))
    db.session.commit()
    assert c.status == "superseded" and change.status == "registered" and change.amends_id == c.id
    assert change.number == "2026410102000002" and change.stat_date == date(2026, 2, 4)
    assert (stats.totals(year).count, stats.totals(year).amount) == (1, Decimal("1500000.00"))
    assert [v.id for v in contracts.versions(change)] == [c.id, change.id]
    assert [e.action for e in c.events] == ["submit", "register", "supersede"]


def test_cancellation_is_an_event_and_a_status_never_a_delete(people, make):
    c = contracts.submit(application(people["buyer"]), people["researcher"])
    contracts.register(c, people["registrar"])
    with pytest.raises(ValidationError):
        contracts.request_cancel(c, people["researcher"], "")
    with pytest.raises(PermissionError):
        contracts.request_cancel(c, make.user(Role.enterprise), "不是我的合同")
    contracts.request_cancel(c, people["researcher"], "双方协商解除")
    assert contracts.queue()["cancels"] == [c]
    contracts.cancel(c, people["registrar"], "经核实同意注销")
    db.session.commit()
    assert c.status == "cancelled" and c.number and c.cancelled_at
    assert [e.action for e in c.events] == ["submit", "register", "cancel_request", "cancel"]
    assert stats.totals().count == 0 and count() == 1


def test_no_cancellation_while_a_change_is_pending(people):
    c = contracts.submit(application(people["buyer"]), people["researcher"])
    contracts.register(c, people["registrar"])
    change = contracts.submit_change(c, {**contracts.values_of(c), "amount": "130万"}, people["researcher"])
    with pytest.raises(contracts.NotAllowed):
        contracts.request_cancel(c, people["researcher"], "不做了")
    with pytest.raises(contracts.NotAllowed):
        contracts.cancel(c, people["registrar"], "不做了")
    contracts.withdraw(change, people["researcher"])
    contracts.cancel(c, people["registrar"], "双方协商解除")
    assert (c.status, change.status) == ("cancelled", "withdrawn")


def test_withdraw_only_while_pending(people):
    c = contracts.submit(application(people["buyer"]), people["researcher"])
    contracts.withdraw(c, people["researcher"])
    assert c.status == "withdrawn"
    with pytest.raises(contracts.NotAllowed):
        contracts.register(c, people["registrar"])


# The steps each side is offered on a contract in each state, and whether each may go ahead now —
# written out here, not derived from contracts.TRANSITIONS. (registrar's, applicant side's)
OFFERED = {
    "pending": ({"register": True, "refuse": True}, {"withdraw": True}),
    "registered": ({"cancel": True, "cancel_declined": False}, {"change": True, "cancel_request": True}),
    "cancel requested": ({"cancel": True, "cancel_declined": True}, {"change": False, "cancel_request": False}),
    "change pending": ({"cancel": False, "cancel_declined": False}, {"change": False, "cancel_request": False}),
    "refused": ({}, {}),
    "withdrawn": ({}, {}),
    "cancelled": ({}, {}),
    "superseded": ({}, {}),
}
REGISTRAR_STEPS = {"register", "refuse", "cancel", "cancel_declined"}
APPLICANT_STEPS = {"change", "withdraw", "cancel_request"}


def in_state(people, state: str):
    registrar, researcher = people["registrar"], people["researcher"]
    c = contracts.submit(application(people["buyer"]), researcher)
    if state == "refused":
        contracts.refuse(c, registrar, "2")
    elif state == "withdrawn":
        contracts.withdraw(c, researcher)
    elif state != "pending":
        contracts.register(c, registrar)
    if state == "cancel requested":
        contracts.request_cancel(c, researcher, "双方协商解除")
    elif state == "cancelled":
        contracts.cancel(c, registrar, "双方协商解除")
    elif state in ("change pending", "superseded"):
        change = contracts.submit_change(c, {**contracts.values_of(c), "amount": "130万"}, researcher)
        if state == "superseded":
            contracts.register(change, registrar)
    return c


@pytest.mark.parametrize("state", OFFERED)
def test_each_side_is_offered_and_allowed_the_steps_its_state_allows(people, state):
    c = in_state(people, state)
    offered_registrar, offered_applicant = OFFERED[state]
    assert contracts.moves(people["registrar"], c) == offered_registrar
    assert contracts.moves(people["researcher"], c) == offered_applicant
    assert contracts.moves(people["admin"], c) == {**offered_registrar, **offered_applicant}
    for user, offered, own in (
        (people["registrar"], offered_registrar, REGISTRAR_STEPS),
        (people["researcher"], offered_applicant, APPLICANT_STEPS),
    ):
        for step in sorted(REGISTRAR_STEPS | APPLICANT_STEPS):
            if offered.get(step):
                contracts.check(step, c, user)
            else:
                with pytest.raises(contracts.NotAllowed if step in own else PermissionError):
                    contracts.check(step, c, user)


def test_the_contract_page_shows_the_buttons_of_the_allowed_steps(client, people):
    c = in_state(people, "registered")
    db.session.commit()
    login(client, people["researcher"])
    page = text(client.get(f"/contracts/{c.id}"))
    assert "申请变更登记" in page and "申请注销（写明原因）" in page and "撤回申请" not in page
    contracts.request_cancel(c, people["researcher"], "双方协商解除")
    db.session.commit()
    page = text(client.get(f"/contracts/{c.id}"))
    assert "申请变更登记" not in page and "申请注销（写明原因）" not in page and "确认登记并发放登记编号" not in page
    switch(client, people["registrar"])
    page = text(client.get(f"/contracts/{c.id}"))
    assert "驳回注销申请" in page and "注销理由" in page and "确认登记并发放登记编号" not in page


@pytest.fixture
def match(people, make):
    need_owner = make.user(Role.enterprise, org=people["buyer"])
    need = listings.create(listings.NEED, NEED, need_owner, publish=True)
    achievement = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, people["researcher"], publish=True)
    m = Match(need=need, achievement=achievement, status="negotiating", score=0.9)
    db.session.add(m)
    db.session.commit()
    return m


def test_registering_a_contract_that_names_a_match_marks_it_contracted(people, match):
    c = contracts.submit(application(people["buyer"], match_id=str(match.id)), people["researcher"])
    assert c.match_id == match.id and match.status == "negotiating"
    with pytest.raises(ValidationError) as e:
        contracts.submit(
            application(people["buyer"], title="同一对接的第二份合同", match_id=str(match.id)), people["researcher"]
        )
    assert "已关联合同" in e.value.errors["match_id"]
    contracts.register(c, people["registrar"])
    db.session.commit()
    assert match.status == "contracted"
    assert match.events[-1].action == "contract" and c.number in match.events[-1].note
    assert stats.match_share(stats.Period.year(date.today().year)).count == 1


def test_a_match_between_other_parties_cannot_be_named(people, match, make):
    other_buyer = make.org("民营企业", name="别的企业", region="410105")
    with pytest.raises(ValidationError) as e:
        contracts.submit(application(other_buyer, match_id=str(match.id)), people["researcher"])
    assert "不一致" in e.value.errors["match_id"]


# ---- through the web ----------------------------------------------------------------------


def form(buyer, **change) -> dict:
    raw = application(buyer, **change)
    raw["ctype_subtype"] = f"{raw.pop('ctype')}|{raw.pop('subtype')}"
    return raw


def upload_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"])
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_web_form_shows_errors_next_to_fields_and_stores_nothing(app, client, people):
    login(client, people["researcher"])
    resp = post_form(
        client,
        "/contracts/new",
        {
            **form(people["buyer"], tech_amount="200万", valid_until="2024-01-01"),
            "attachment": (io.BytesIO(PDF), "合同.pdf"),
        },
    )
    assert resp.status_code == 400
    html = text(resp)
    assert "不能大于合同成交额" in html and "不能早于" in html and 'class="field has-error' in html
    assert "梯度硬质合金盾构滚刀刀圈合作开发" in html  # what was typed is kept
    assert count() == 0 and upload_files(app) == []


def test_web_application_with_scan_registration_and_download_rights(app, client, people, make):
    login(client, people["researcher"])
    resp = client.get("/contracts/new")
    resp = client.post(
        "/contracts/new",
        data={
            **form(people["buyer"]),
            "csrf_token": csrf_from(text(resp)),
            "attachment": (io.BytesIO(PDF), "扫描件.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302, text(resp)[:2000]
    c = db.session.scalar(select(Contract))
    stored = upload_files(app)
    assert len(stored) == 1 and stored[0].read_bytes() == PDF and "static" not in str(stored[0])
    assert stored[0].name == c.file_key and c.file_name == "扫描件.pdf" and c.file_mime == "application/pdf"
    url = f"/contracts/{c.id}"
    html = text(client.get(url))
    assert "待登记" in html and "15 个工作日" in html
    assert client.get(f"{url}/file").data == PDF

    station_broker = make.user(Role.broker)
    c.station_id = station_broker.station_id
    db.session.commit()
    switch(client, station_broker)
    assert client.get(url).status_code == 200  # the station's broker sees the record
    assert client.get(f"{url}/file").status_code == 403  # but not the scan
    switch(client, make.user(Role.broker))
    assert client.get(url).status_code == 404  # another station's broker sees nothing
    switch(client, make.user(Role.researcher))
    assert client.get(url).status_code == 404
    logout(client)
    assert client.get(url).status_code == 302  # visitors are sent to log in

    login(client, people["registrar"])
    assert "梯度硬质合金" in text(client.get("/contracts/queue"))
    assert client.get(f"{url}/file").data == PDF
    resp = post_form(client, f"{url}/register", {}, token_page=url)
    assert resp.status_code == 400 and "请逐项核对审查要点" in text(resp)  # the checklist is not ticked
    resp = post_form(client, f"{url}/register", {"check": list(contracts.CHECKLIST)}, token_page=url)
    assert resp.status_code == 302
    db.session.refresh(c)
    assert c.status == "registered" and c.number in text(client.get(url))


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("合同.pdf", b"this is not a pdf", "只接受 PDF"),
        ("合同.exe", b"MZ\x90\x00", "只接受 PDF"),
        ("empty.pdf", b"", "空的"),
        ("big.pdf", b"%PDF-" + b"0" * (1024 * 1024), "超过 1 MB"),
    ],
)
def test_scans_are_type_checked_and_size_limited(app, client, people, name, data, message):
    app.config["CONTRACT_FILE_MAX_MB"] = 1
    login(client, people["researcher"])
    page = client.get("/contracts/new")
    resp = client.post(
        "/contracts/new",
        data={**form(people["buyer"]), "csrf_token": csrf_from(text(page)), "attachment": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400 and message in text(resp)
    assert count() == 0 and upload_files(app) == []


def test_png_scans_are_accepted(app, people):
    class File:
        filename = "../../etc/scan.png"

        def read(self, n):
            return PNG

    c = contracts.submit(application(people["buyer"]), people["researcher"], file=File())
    assert c.file_mime == "image/png" and c.file_name == "scan.png" and c.file_key.endswith(".png")


@pytest.mark.parametrize("code", list(contracts.REFUSAL_REASONS))
def test_each_refusal_reason_reaches_the_applicant(client, people, code):
    c = contracts.submit(application(people["buyer"]), people["researcher"])
    db.session.commit()
    url = f"/contracts/{c.id}"
    login(client, people["registrar"])
    note = f"第{code}项理由的具体说明"
    resp = post_form(client, f"{url}/refuse", {"refusal_code": code, "refusal_note": note}, token_page=url)
    assert resp.status_code == 302
    switch(client, people["researcher"])
    html = text(client.get(url))
    reason = contracts.REFUSAL_REASONS[code]
    assert "未予登记" in html and f"{code}. {reason}" in html and note in html
    api = client.get(f"/api/v1/contracts/{c.id}").get_json()
    assert api["status"] == "refused" and api["refusal"] == {"code": code, "reason": reason, "note": note}
    notice = db.session.scalar(select(Notification).where(Notification.user_id == people["researcher"].id))
    assert reason in notice.body and note in notice.body


def test_registration_and_refusal_are_mailed_to_the_applicant_after_commit(people, monkeypatch):
    from market.infra import notify as notify_service

    sent = []
    monkeypatch.setattr(notify_service, "send_mail", lambda to, subject, body, link: sent.append((to, subject, body)))
    applicant = people["researcher"]
    applicant.email = "applicant@example.cn"
    db.session.commit()
    refused = contracts.submit(application(people["buyer"]), applicant)
    kept = contracts.submit(application(people["buyer"], title="另一项合作开发合同"), applicant)
    db.session.commit()
    contracts.refuse(refused, people["registrar"], "3", "技术交易额计算依据不足")
    assert sent == []  # nothing leaves before the commit
    db.session.rollback()
    assert sent == []  # nor after a rollback
    contracts.refuse(refused, people["registrar"], "3", "技术交易额计算依据不足")
    contracts.register(kept, people["registrar"])
    db.session.commit()
    assert [to for to, *_ in sent] == ["applicant@example.cn"] * 2
    assert "技术交易额计算依据不足" in sent[0][2] and kept.number in sent[1][2]


def test_refusal_needs_a_reason_and_other_needs_a_note(client, people):
    c = contracts.submit(application(people["buyer"]), people["researcher"])
    db.session.commit()
    url = f"/contracts/{c.id}"
    login(client, people["registrar"])
    resp = post_form(client, f"{url}/refuse", {"refusal_code": ""}, token_page=url)
    assert resp.status_code == 400 and "请选择未予登记的理由" in text(resp)
    resp = post_form(client, f"{url}/refuse", {"refusal_code": "9", "refusal_note": ""}, token_page=url)
    assert resp.status_code == 400 and "写明理由" in text(resp)
    db.session.refresh(c)
    assert c.status == "pending" and c.refusal_code is None


def test_queue_is_for_registrars_and_shows_deadlines(client, people, make):
    contracts.submit(application(people["buyer"]), people["researcher"], now=datetime(2026, 1, 5, 9))
    db.session.commit()
    login(client, people["researcher"])
    assert client.get("/contracts/queue").status_code == 403
    switch(client, people["registrar"])
    html = text(client.get("/contracts/queue"))
    assert "2026-01-26" in html and "超期" in html


def test_api_application_and_errors(client, people):
    import hashlib

    people["researcher"].api_token_hash = hashlib.sha256(b"tok-researcher").hexdigest()
    db.session.commit()
    headers = {"Authorization": "Bearer tok-researcher"}
    body = application(people["buyer"])
    resp = client.post("/api/v1/contracts", json={**body, "tech_amount": "200万"}, headers=headers)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "validation_failed"
    assert "tech_amount" in resp.get_json()["error"]["fields"]
    resp = client.post("/api/v1/contracts", json=body, headers=headers)
    assert resp.status_code == 201 and resp.get_json()["status"] == "pending"
    cid = resp.get_json()["id"]
    resp = client.post(f"/api/v1/contracts/{cid}/register", headers=headers)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert client.get(f"/api/v1/contracts/{cid}").status_code == 401
    assert client.get(f"/api/v1/contracts/{cid}", headers=headers).get_json()["amount"] == "1200000.00"


def test_working_days_follow_the_state_council_notices():
    """The package's calendar against the notices of 2024–2026, checked day by day by hand
    (tests/market/data/state_council_holidays.json): every weekday off and every make-up Saturday or
    Sunday; a year no notice covers yet counts Monday–Friday."""
    import json
    from pathlib import Path

    notices = json.loads((Path(__file__).parent / "data" / "state_council_holidays.json").read_text("utf-8"))
    for year in ("2024", "2025", "2026"):
        for day in notices["holidays"][year]:
            assert not workdays.is_working_day(date.fromisoformat(day)), day
        for day in notices["workdays"][year]:
            assert workdays.is_working_day(date.fromisoformat(day)), day
    assert workdays.is_working_day(date(2026, 12, 1)) and not workdays.is_working_day(date(2026, 12, 5))
    assert workdays.add_working_days(date(2099, 1, 1), 1) == date(2099, 1, 2)  # Friday, no notice yet
