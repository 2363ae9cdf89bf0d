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
    raw = {"title": "梯度硬质合金盾构滚刀刀圈合作开发", "ctype": "技术开发", "subtype": "合作开发",
           "seller_org_id": str(seller.id), "buyer_org_id": str(buyer.id), "amount": "120万",
           "tech_amount": "1000000", "signed_on": "2025-03-02", "valid_from": "2025-03-02",
           "valid_until": "2026-03-01", "field": "先进制造"}
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
    return {"seller": seller, "buyer": buyer, "a": a, "b": b, "broker_a": broker_a, "broker_b": broker_b,
            "researcher": researcher, "match": m}


def test_a_broker_cannot_take_another_stations_match(client, two_stations):
    w = two_stations
    resp = client.post("/api/v1/contracts", headers=token_for(w["broker_b"]),
                       json=application(w["seller"], w["buyer"], match_id=str(w["match"].id)))
    assert resp.status_code == 422
    error = resp.get_json()["error"]["fields"]["match_id"]
    assert "郑州甲大学" not in error and "郑州乙装备" not in error and "对接中" not in error
    assert db.session.scalar(select(Contract)) is None and w["match"].status == "introduced"
    # a match that does not exist is answered alike
    resp = client.post("/api/v1/contracts", headers=token_for(w["broker_b"]),
                       json=application(w["seller"], w["buyer"], match_id="999999"))
    assert resp.get_json()["error"]["fields"]["match_id"] == error
    resp = client.post("/api/v1/contracts", headers=token_for(w["broker_a"]),
                       json=application(w["seller"], w["buyer"], match_id=str(w["match"].id)))
    assert resp.status_code == 201 and resp.get_json()["match_id"] == w["match"].id


def test_brokers_and_stations_must_fit_the_actor(client, two_stations):
    w = two_stations
    resp = client.post("/api/v1/contracts", headers=token_for(w["broker_b"]),
                       json=application(w["seller"], w["buyer"], broker_id=str(w["broker_a"].id),
                                        station_id=str(w["a"].id)))
    assert resp.status_code == 422 and "broker_id" in resp.get_json()["error"]["fields"]
    resp = client.post("/api/v1/contracts", headers=token_for(w["researcher"]),
                       json=application(w["seller"], w["buyer"], broker_id=str(w["broker_b"].id),
                                        station_id=str(w["b"].id)))
    assert resp.status_code == 422 and "station_id" in resp.get_json()["error"]["fields"]
    resp = client.post("/api/v1/contracts", headers=token_for(w["researcher"]),
                       json=application(w["seller"], w["buyer"], match_id=str(w["match"].id),
                                        broker_id=str(w["broker_b"].id)))
    assert resp.status_code == 422
    resp = client.post("/api/v1/contracts", headers=token_for(w["researcher"]),
                       json=application(w["seller"], w["buyer"], match_id=str(w["match"].id)))
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["broker_id"] == w["broker_a"].id and body["station"] == w["a"].code
