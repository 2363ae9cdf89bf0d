"""Contract statistics against figures computed by hand on a fixed dataset; the dashboards, the
exports, the big screen and the API show the same numbers."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from market.extensions import db
from market.models import Role, StatTarget
from market.services import stats
from tests.conftest import csrf_from, login, post_form

D = Decimal
Y2025 = stats.Period.year(2025)


def text(resp):
    return resp.get_data(as_text=True)


def rows(dimension, period=Y2025, **kw):
    return {r.label: (r.count, r.amount, r.tech_amount) for r in stats.breakdown(dimension, period, **kw) if r.count}


def test_totals_by_year_quarter_month(data):
    assert (stats.totals(Y2025).count, stats.totals(Y2025).amount, stats.totals(Y2025).tech_amount) == (
        5,
        D("4060000.93"),
        D("3900000.77"),
    )
    assert stats.totals(stats.Period.year(2026)).amount == D("5000000.00")
    quarters = {r.key: (r.count, r.amount) for r in stats.series(Y2025, "quarter")}
    assert quarters == {
        "2025-Q1": (2, D("3500000.10")),
        "2025-Q2": (2, D("110000.33")),
        "2025-Q3": (0, D("0")),
        "2025-Q4": (1, D("450000.50")),
    }
    months = {r.key: r.amount for r in stats.series(Y2025, "month") if r.count}
    assert months == {
        "2025-01": D("1000000.10"),
        "2025-02": D("2500000.00"),
        "2025-04": D("30000.33"),
        "2025-06": D("80000.00"),
        "2025-12": D("450000.50"),
    }
    assert len(stats.series(Y2025, "month")) == 12
    both = stats.Period(date(2025, 1, 1), date(2026, 12, 31), "两年")
    assert {r.key: r.amount for r in stats.series(both, "year")} == {"2025": D("4060000.93"), "2026": D("5000000.00")}
    q1 = stats.Period.quarter(2025, 1)
    assert (stats.totals(q1).count, stats.totals(q1).amount) == (2, D("3500000.10"))
    assert stats.totals(stats.Period.month(2025, 12)).tech_amount == D("400000.50")


def test_breakdowns(data):
    assert rows("type") == {
        "技术开发": (1, D("1000000.10"), D("900000.05")),
        "技术转让": (1, D("2500000.00"), D("2500000.00")),
        "技术许可": (1, D("450000.50"), D("400000.50")),
        "技术咨询": (1, D("80000.00"), D("80000.00")),
        "技术服务": (1, D("30000.33"), D("20000.22")),
    }
    assert [r.label for r in stats.breakdown("type", Y2025)] == [
        "技术开发",
        "技术转让",
        "技术许可",
        "技术咨询",
        "技术服务",
    ]
    assert rows("field") == {
        "先进制造": (2, D("1030000.43"), D("920000.27")),
        "新材料及其应用": (1, D("2500000.00"), D("2500000.00")),
        "农业": (1, D("80000.00"), D("80000.00")),
        "电子信息": (1, D("450000.50"), D("400000.50")),
    }
    assert rows("district") == {
        "中原区": (1, D("1000000.10"), D("900000.05")),
        "金水区": (2, D("2580000.00"), D("2580000.00")),
        "郑州高新技术产业开发区": (1, D("30000.33"), D("20000.22")),
        "郑州市外": (1, D("450000.50"), D("400000.50")),
    }
    a, b = data["a"].name, data["b"].name
    assert rows("station") == {
        a: (2, D("3500000.10"), D("3400000.05")),
        b: (2, D("480000.83"), D("420000.72")),
        "未经驿站": (1, D("80000.00"), D("80000.00")),
    }
    assert rows("seller_nature") == {
        "高等院校": (2, D("1080000.10"), D("980000.05")),
        "科研机构": (2, D("2950000.50"), D("2900000.50")),
        "企业": (1, D("30000.33"), D("20000.22")),
    }
    assert rows("buyer_nature") == {"企业": (5, D("4060000.93"), D("3900000.77"))}
    flow = {r.key: (r.count, r.amount) for r in stats.breakdown("flow", Y2025)}
    assert flow == {"output": (4, D("3610000.43")), "input": (3, D("1480000.93")), "internal": (2, D("1030000.43"))}
    share = stats.match_share(Y2025)
    assert (share.count, share.amount) == (1, D("450000.50"))
    assert share.share == D("450000.50") / D("4060000.93")
    assert rows("type", station_id=data["a"].id) == {
        "技术开发": (1, D("1000000.10"), D("900000.05")),
        "技术转让": (1, D("2500000.00"), D("2500000.00")),
    }
    assert sum(r.share for r in stats.breakdown("field", Y2025)) == 1


def test_progress_against_configured_and_set_targets(app, data, make):
    assert stats.target_for(2025) is None  # STAT_YEAR_TARGET unset: no target
    app.config["STAT_YEAR_TARGET"] = "500亿"
    assert stats.progress(2025, today=date(2026, 1, 1)).target == D("50000000000.00")
    stats.set_target(2026, "1亿", make.user(Role.admin))
    p = stats.progress(2026, today=date(2026, 7, 2))
    assert (p.target, p.total.amount, p.ratio) == (D("100000000.00"), D("5000000.00"), D("0.05"))
    assert p.elapsed == D(183) / D(365)
    with pytest.raises(PermissionError):
        stats.set_target(2026, "2亿", make.user(Role.registrar))


def test_progress_compares_with_the_same_days_of_the_year_before(app, data):
    p = stats.progress(2026, today=date(2026, 2, 20))  # 2025-01-01 … 2025-02-20: contracts 1 and 2
    assert (p.target, p.ratio) == (None, None)
    assert (p.previous.count, p.previous.amount) == (2, D("3500000.10"))
    assert p.change == D("5000000.00") / D("3500000.10") - 1
    p = stats.progress(2026, today=date(2026, 1, 14))  # nothing yet on 2025-01-14
    assert p.previous.count == 0 and p.change is None
    assert stats.progress(2025, today=date(2026, 3, 1)).previous.count == 0  # 2024 had none: no change
    assert stats.progress(2024, today=date(2026, 3, 1)).change is None


def test_public_screens_without_a_target_show_the_year_on_year_change(client, data, app):
    year = date.today().year
    for url in ("/stats/", "/stats/screen"):
        html = text(client.get(url))
        assert "1,000.00亿元" not in html and "年度目标" not in html and "年目标" not in html
        assert "同比" in html and f"{year - 1}年同期" in html
    html = text(client.get("/stats/?year=2026"))
    assert 'data-testid="kpi-yoy"' in html
    app.config["STAT_YEAR_TARGET"] = "2亿"
    for url in ("/stats/", "/stats/screen"):
        html = text(client.get(url))
        assert "2.00亿元" in html and "kpi-yoy" not in html and "screen-yoy" not in html
    body = client.get("/api/v1/stats/summary?year=2026").get_json()["progress"]
    assert body["target"] == "200000000.00"


def test_abbreviation_of_parties():
    assert stats.abbreviate("郑州轻工业大学") == "郑州**大学"
    assert stats.abbreviate("郑州中原盾构装备有限公司") == "郑州**有限公司"
    assert stats.abbreviate("河南省农业科学院") == "河南**科学院"
    assert stats.abbreviate("张三") == "张**"


def test_public_dashboard_shows_only_aggregates(client, data):
    html = text(client.get("/stats/?year=2025"))
    assert 'data-amount="4060000.93"' in html and 'data-testid="kpi-count">5<' in html
    assert "郑州轻工业大学" not in html and "上海买方" not in html and "2025410102" not in html
    assert "<svg" in html and "cdn" not in html.lower()


def _page_total(html: str, table: str) -> Decimal:
    block = html[html.index(f'data-table="{table}"') :]
    return D(re.search(r'<tr class="total"[^>]*data-amount="([\d.]+)"', block).group(1))


@pytest.mark.parametrize("table", ["type", "field", "district", "month"])
def test_exports_have_the_same_totals_as_the_page(client, data, table):
    page = _page_total(text(client.get("/stats/?year=2025")), table)
    assert page == D("4060000.93")
    resp = client.get(f"/stats/export/{table}.xlsx?year=2025")
    assert resp.status_code == 200 and "spreadsheetml" in resp.headers["Content-Type"]
    ws = load_workbook(io.BytesIO(resp.data)).active
    body = list(ws.iter_rows(min_row=2, values_only=True))
    assert body[-1][0] == "合计"
    amounts = [D(str(r[2])).quantize(D("0.01")) for r in body[:-1]]
    assert sum(amounts) == page == D(str(body[-1][2])).quantize(D("0.01"))
    assert sum(r[1] for r in body[:-1]) == 5
    resp = client.get(f"/stats/export/{table}.csv?year=2025")
    lines = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert sum(D(r[2]) for r in lines[1:-1]) == page and lines[-1][2] == "4060000.93"


def test_station_and_contract_exports_need_rights(client, data, make):
    assert client.get("/stats/export/contracts.xlsx?year=2025").status_code == 403
    assert client.get("/stats/export/station.csv?year=2025").status_code == 403
    assert client.get(f"/stats/export/type.csv?year=2025&station={data['a'].code}").status_code == 403
    broker = make.user(Role.broker, station=data["b"])
    login(client, broker)
    resp = client.get(f"/stats/export/contracts.xlsx?year=2025&station={data['b'].code}")
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert sorted(r[0] for r in ws.iter_rows(min_row=2, values_only=True)) == ["2025410102000003", "2025410102000005"]
    assert client.get(f"/stats/export/contracts.xlsx?year=2025&station={data['a'].code}").status_code == 403
    client.post("/auth/logout", data={"csrf_token": csrf_from(text(client.get("/")))})
    login(client, make.user(Role.admin))
    ws = load_workbook(io.BytesIO(client.get("/stats/export/contracts.xlsx?year=2025").data)).active
    body = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(body) == 5 and sum(D(str(r[11])) for r in body) == D("4060000.93")


def test_station_view_and_admin_view(client, data, make):
    broker = make.user(Role.broker, station=data["a"])
    login(client, broker)
    html = text(client.get("/stats/station?year=2025"))
    assert data["a"].name in html and 'data-amount="3500000.10"' in html and "2025410102000001" in html
    refused = client.get(f"/stats/station?station={data['b'].code}")
    assert refused.status_code == 403 and "只能查看本驿站的统计" in text(refused)
    assert client.get("/stats/admin").status_code == 403
    client.post("/auth/logout", data={"csrf_token": csrf_from(text(client.get("/")))})
    login(client, make.user(Role.admin))
    assert client.get("/stats/station?station=NO-SUCH-STATION").status_code == 404
    assert "只能查看本驿站的统计" not in text(client.get(f"/stats/station?station={data['b'].code}"))
    html = text(client.get("/stats/admin?year=2025"))
    assert 'data-amount="4060000.93"' in html and "2. 不属于技术合同" in html
    resp = post_form(client, "/stats/admin?year=2026", {"year": "2026", "target": "-3"})
    assert resp.status_code == 400 and "不能为负数" in text(resp)
    resp = post_form(client, "/stats/admin?year=2026", {"year": "2026", "target": "2亿"})
    assert resp.status_code == 302 and db.session.get(StatTarget, 2026).amount == D("200000000.00")


def test_who_sees_which_stations_figures(make):
    a, b, hall = make.station(), make.station(), make.station()
    hall.is_hall = True
    broker, hall_broker = make.user(Role.broker, station=a), make.user(Role.broker, station=hall)
    registrar, admin, researcher = make.user(Role.registrar), make.user(Role.admin), make.user(Role.researcher)
    # (user, station code asked for or "") → the station shown, or the refusal
    for user, asked, shown in (
        (broker, "", a),
        (broker, a.code, a),
        (hall_broker, "", hall),
        (hall_broker, b.code, b),
        (registrar, "", a),
        (registrar, b.code, b),
        (admin, hall.code, hall),
        (admin, "", a),
    ):
        assert stats.station_for(user, asked) == shown, (user.role, asked)
    for user, asked, message in (
        (broker, b.code, "只能查看本驿站的统计"),
        (broker, hall.code, "只能查看本驿站的统计"),
        (researcher, "", "驿站统计仅对技术经纪人、登记员和管理员开放"),
        (researcher, a.code, "只能查看本驿站的统计"),
    ):
        with pytest.raises(PermissionError, match=message):
            stats.station_for(user, asked)
    with pytest.raises(LookupError):
        stats.station_for(admin, "NO-SUCH-STATION")
    assert [stats.may_see_all_stations(u) for u in (broker, hall_broker, registrar, admin, researcher)] == [
        False,
        True,
        True,
        True,
        False,
    ]


def test_big_screen(client, data):
    html = text(client.get("/stats/screen"))
    assert 'http-equiv="refresh"' in html and "技术合同成交大屏" in html
    year = date.today().year
    total = stats.totals(stats.Period.year(year))
    assert f'data-amount="{total.amount}"' in html
    assert "郑州**大学" in html and "郑州轻工业大学" not in html


def test_stats_api(client, data):
    body = client.get("/api/v1/stats/summary?year=2025").get_json()
    assert body["total"]["count"] == 5 and body["total"]["amount"] == "4060000.93"
    assert body["match_share"]["amount"] == "450000.50" and len(body["by_month"]) == 12
    body = client.get("/api/v1/stats/district?year=2025").get_json()
    assert {i["label"]: i["amount"] for i in body["items"]}["金水区"] == "2580000.00"
    resp = client.get("/api/v1/stats/colour")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "unknown_dimension"


def test_period_from_arguments():
    today = date(2026, 11, 22)
    assert stats.Period.from_args({}, today) == stats.Period.year(2026)
    assert stats.Period.from_args({"year": "2025", "quarter": "4"}, today).start == date(2025, 10, 1)
    assert stats.Period.from_args({"year": "2024", "month": "2"}, today).end == date(2024, 2, 29)
    last = stats.Period.from_args({"range": "12m"}, today)
    assert (last.start, last.end) == (date(2025, 12, 1), today)
    assert stats.Period.from_args({"year": "abc"}, today).start.year == 2026


def test_stats_command(app, data):
    result = app.test_cli_runner().invoke(args=["stats", "--year", "2025"])
    assert result.exit_code == 0, result.output
    assert (
        "5 项" in result.output
        and "成交额 4,060,000.93 元" in result.output
        and "技术交易额 3,900,000.77 元" in result.output
    )
