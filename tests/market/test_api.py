import hashlib

from sqlalchemy import func, select

from market.extensions import db
from market.models import Need, Role
from market.services import listings
from tests.conftest import ACHIEVEMENT, NEED


def token_for(user, token="tok-" + "x" * 20):
    user.api_token_hash = hashlib.sha256(token.encode()).hexdigest()
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_list_and_get_hide_private_fields(client, make):
    item = listings.create(listings.NEED, NEED, make.user(Role.enterprise), publish=True)
    db.session.commit()
    resp = client.get("/api/v1/needs?bottleneck=1")
    assert resp.status_code == 200 and resp.json["total"] == 1
    row = resp.json["items"][0]
    assert row["title"] == NEED["title"] and row["bottleneck"] is True
    assert "detail" not in row and "contact_phone" not in row
    assert row["budget_min"] == "1000000.00"  # amounts are exact decimals, as strings
    broker_headers = token_for(make.user(Role.broker))
    full = client.get(f"/api/v1/needs/{item.id}", headers=broker_headers).json
    assert full["detail"] == NEED["detail"] and full["contact_phone"] == NEED["contact_phone"]


def test_create_requires_token_and_role(client, make):
    resp = client.post("/api/v1/needs", json=NEED)
    assert resp.status_code == 401 and resp.json["error"]["code"] == "token_required"
    resp = client.post("/api/v1/needs", json=NEED, headers={"Authorization": "Bearer nope"})
    assert resp.json["error"]["code"] == "invalid_token"
    researcher = token_for(make.user(Role.researcher), "researcher-token-123456")
    resp = client.post("/api/v1/needs", json=NEED, headers=researcher)
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"
    enterprise = token_for(make.user(Role.enterprise), "enterprise-token-123456")
    resp = client.post("/api/v1/needs", json={**NEED, "publish": True}, headers=enterprise)
    assert resp.status_code == 201 and resp.json["status"] == "published"


def test_validation_errors_have_codes_and_save_nothing(client, make):
    headers = token_for(make.user(Role.enterprise))
    resp = client.post("/api/v1/needs", json={**NEED, "budget_min": "很多", "field": "x"}, headers=headers)
    assert resp.status_code == 422
    err = resp.json["error"]
    assert err["code"] == "validation_failed"
    assert "不是有效金额" in err["fields"]["budget_min"] and "不是可选的值" in err["fields"]["field"]
    resp = client.post("/api/v1/needs", data="not json", headers={**headers, "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_json"
    assert db.session.scalar(select(func.count()).select_from(Need)) == 0


def test_update_and_actions(client, make):
    owner = make.user(Role.researcher)
    headers = token_for(owner)
    created = client.post("/api/v1/achievements", json=ACHIEVEMENT, headers=headers).json
    assert created["status"] == "draft"
    resp = client.patch(f"/api/v1/achievements/{created['id']}", json={"price_max": "300万"}, headers=headers)
    assert resp.status_code == 200 and resp.json["price_max"] == "3000000.00"
    assert client.post(f"/api/v1/achievements/{created['id']}/publish", headers=headers).json["status"] == "published"
    other = token_for(make.user(Role.researcher), "other-token-1234567890")
    resp = client.patch(f"/api/v1/achievements/{created['id']}", json={"title": "抢改标题"}, headers=other)
    assert resp.status_code == 403
    assert client.get("/api/v1/nothing").status_code == 404
    assert client.get("/api/v1/achievements/9999").json["error"]["code"] == "not_found"


def test_taxonomies(client):
    data = client.get("/api/v1/taxonomies").json
    assert "超硬材料" in data["chain_children"]["新材料"]
    assert len(data["names"]["field"]) == 11
