"""Property-based fuzzing of /api/v1 from its own OpenAPI description (Schemathesis on Hypothesis),
as each role, and a sweep of every URL rule with hostile values: no answer may be a server error,
and every API answer must match the description.

How many cases ran is printed (``-s``, or in the summary of ``-rP``); FUZZ_EXAMPLES sets the number of
generated requests per API operation and mode (default 25).
"""

import hashlib
import os
import re
from datetime import datetime

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from market.extensions import db
from market.models import Match, Role
from market.services import contracts, listings
from tests.conftest import ACHIEVEMENT, NEED, csrf_from, login

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ROLES = ("anonymous", "researcher", "enterprise", "broker", "registrar", "admin")


@pytest.fixture
def world(app, make, fake_engine):
    """One user of each role (with an API token), their organisations, listings, a match and contracts."""
    uni = make.org("高校", name="郑州模糊大学", region="410102")
    firm = make.org("民营企业", name="郑州模糊装备有限公司", region="410172")
    station = make.station(districts=("410102", "410172"))
    users = {
        "researcher": make.user(Role.researcher, org=uni),
        "enterprise": make.user(Role.enterprise, org=firm),
        "broker": make.user(Role.broker, station=station),
        "registrar": make.user(Role.registrar),
        "admin": make.user(Role.admin),
    }
    ach = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, users["researcher"], publish=True)
    need = listings.create(listings.NEED, NEED, users["enterprise"], publish=True)
    draft = listings.create(listings.ACHIEVEMENT, {**ACHIEVEMENT, "title": "未发布的成果草稿"}, users["researcher"])
    m = Match(need=need, achievement=ach, status="introduced", score=0.9, station=station, broker=users["broker"])
    db.session.add(m)
    raw = {
        "title": "模糊测试合作开发合同",
        "ctype": "技术开发",
        "subtype": "合作开发",
        "buyer_org_id": str(firm.id),
        "amount": "120万",
        "tech_amount": "100万",
        "signed_on": "2025-03-02",
        "valid_from": "2025-03-02",
        "valid_until": "2026-03-01",
        "field": "先进制造",
    }
    pending = contracts.submit(raw, users["researcher"], now=datetime(2026, 3, 2, 10))
    registered = contracts.submit(
        {**raw, "title": "已登记的模糊测试合同"}, users["researcher"], now=datetime(2026, 3, 2, 11)
    )
    contracts.register(registered, users["registrar"], notify=False)
    headers = {"anonymous": {}}
    for role, user in users.items():
        token = f"fuzz-{role}-0123456789abcdef"
        user.api_token_hash = hashlib.sha256(token.encode()).hexdigest()
        headers[role] = {"Authorization": f"Bearer {token}"}
    db.session.commit()
    ids = {
        "listing_id": [ach.id, need.id, draft.id],
        "contract_id": [pending.id, registered.id],
        "match_id": [m.id],
        "user_id": [u.id for u in users.values()],
        "org_id": [uni.id, firm.id],
        "job_id": [1],
    }
    return {"users": users, "headers": headers, "ids": ids}


def test_api_fuzz_conforms_and_never_fails(app, world, capsys):
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    calls = {"n": 0, "cases": 0}

    def exercise(case):
        calls["cases"] += 1
        for role in ROLES:
            if role != "anonymous":  # the generated ids once (hostile ones included), then real objects
                for name in case.path_parameters or {}:
                    if name in world["ids"]:
                        real = world["ids"][name]
                        case.path_parameters[name] = real[calls["n"] % len(real)]
            response = case.call(headers=world["headers"][role])
            calls["n"] += 1
            case.validate_response(response, checks=checks)

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for op in operations:
        strategy = st.one_of(
            op.as_strategy(schemathesis.GenerationMode.POSITIVE), op.as_strategy(schemathesis.GenerationMode.NEGATIVE)
        )

        @settings(
            max_examples=EXAMPLES * 2,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case):
            exercise(case)

        run()
    with capsys.disabled():
        print(
            f"\nSchemathesis: {len(operations)} operations, {calls['cases']} generated cases, "
            f"{calls['n']} requests as {len(ROLES)} roles, no server error, all conforming"
        )


HOSTILE = [
    "9223372036854775808",
    "18446744073709551616",
    "-1",
    "0",
    "²",
    "١٢",
    "¹²³",
    "1e9",
    "x" * 5000,
    "\u202e\u200b\ufeff",
    "a\u0000b",
    "%00",
    "../../etc/passwd",
    "' OR 1=1 --",
    "<script>",
    "NaN",
]
QUERY_KEYS = (
    "page",
    "per_page",
    "q",
    "month",
    "year",
    "quarter",
    "range",
    "status",
    "k",
    "match",
    "from",
    "station",
    "field",
    "kind",
    "mode",
    "role",
    "next",
)


def _urls(app) -> list[tuple[str, str]]:
    """(method, url) for every rule, each argument filled with each hostile value."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = sorted(m for m in rule.methods if m in ("GET", "POST", "PATCH"))
        for value in HOSTILE:
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m, value=value: value.replace("/", "%2F"), rule.rule)
            query = "&".join(f"{k}={value}" for k in QUERY_KEYS)
            for method in methods:
                out.append((method, f"{path}?{query}"))
    return out


def test_route_sweep_with_hostile_values(app, world, capsys):
    urls = _urls(app)
    assert len({u for _, u in urls}) > 500
    checked = 0
    for role in ROLES:
        client = app.test_client()
        with app.app_context():
            if role != "anonymous":
                login(client, world["users"][role])
            token = csrf_from(client.get("/auth/login" if role == "anonymous" else "/me/").get_data(as_text=True))
        for method, url in urls:
            if url.startswith("/auth/logout"):
                continue
            with app.app_context():
                data = (
                    {
                        "csrf_token": token,
                        **{
                            k: HOSTILE[checked % len(HOSTILE)]
                            for k in (
                                "note",
                                "reason_code",
                                "org_id",
                                "id",
                                "match_id",
                                "role",
                                "station_id",
                                "year",
                                "target",
                                "credit_code",
                                "version",
                                "kind",
                                "name",
                                "refusal_code",
                            )
                        },
                    }
                    if method != "GET"
                    else None
                )
                resp = client.open(url, method=method, data=data, headers=world["headers"][role])
            checked += 1
            assert resp.status_code < 500, (role, method, url[:200], resp.status_code)
    with capsys.disabled():
        print(f"\nroute sweep: {len(app.url_map._rules)} rules, {checked} requests as {len(ROLES)} roles, no 5xx")


def test_openapi_is_generated_from_the_validation_fields(client):
    from market.validation import reference

    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    for kind in listings.KINDS.values():
        body = doc["paths"][f"/{kind.name}s"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["required"] == [f.name for f in kind.fields if f.required]
        assert set(body["properties"]) >= {f.name for f in kind.fields}
        assert body["properties"]["field"]["enum"] == reference.vocab().names["field"]
    body = doc["paths"]["/contracts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {f.name for f in contracts.FIELDS if f.required} <= set(body["required"])
