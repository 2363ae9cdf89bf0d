"""The demo marketplace: organisations, stations, one account per role and per organisation, listings.

Loading is idempotent: what is already there (by name, username or ext_id) is left alone.
"""

import json
import random
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from ..config import DEMO_DIR
from ..extensions import db
from ..infra import match_engine
from ..models import Organisation, OrgState, Role, Station, User, utcnow
from ..services import listings, matches
from ..validation import reference

DEMO_PASSWORD = "demo1234"
DEMO_LOGINS = {
    Role.researcher: "researcher",
    Role.enterprise: "enterprise",
    Role.broker: "broker",
    Role.registrar: "registrar",
    Role.admin: "admin",
}


def _read_jsonl(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def _user(username: str, display: str, role: Role, org: Organisation | None, station: Station | None = None):
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, display_name=display, role=role.value, org=org, station=station)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
    if org is not None and user.org_state is None:
        # demo accounts are confirmed members; researchers and enterprise users administer their
        # organisation's membership
        user.org_state = OrgState.confirmed.value
        user.org_admin = role in (Role.researcher, Role.enterprise)
    return user


def _orgs_and_stations(folder: Path) -> tuple[dict, dict]:
    orgs = {o.name: o for o in db.session.scalars(select(Organisation))}
    for row in json.loads((folder / "organisations.json").read_text(encoding="utf-8")):
        if row["name"] not in orgs:
            org = Organisation(
                name=row["name"],
                kind=row["kind"],
                region=row["region"],
                credit_code=row.get("credit_code"),
                verified_at=utcnow(),
            )
            db.session.add(org)
            orgs[org.name] = org
    stations = {s.code: s for s in db.session.scalars(select(Station))}
    for row in json.loads((folder / "stations.json").read_text(encoding="utf-8")):
        if row["code"] not in stations:
            st = Station(
                code=row["code"],
                name=row["name"],
                host=orgs[row["host"]],
                region=row["region"],
                is_hall=row.get("is_hall", False),
                districts=row.get("districts", []),
            )
            db.session.add(st)
            stations[st.code] = st
    db.session.flush()
    return orgs, stations


def _people(orgs: dict, stations: dict) -> dict:
    """The demo logins, a broker per station and a contact person per organisation; owners by organisation."""
    market_org = orgs["郑州技术交易市场有限公司"]
    _user("admin", "系统管理员", Role.admin, market_org)
    _user("registrar", "王登记", Role.registrar, market_org)
    for code, st in sorted(stations.items()):
        _user(f"broker.{code.lower()}", f"{st.name}经纪人", Role.broker, st.host, st)
    _user("broker", "李经纪", Role.broker, stations["GXQ"].host, stations["GXQ"])
    owners = {}
    for i, org in enumerate(sorted(orgs.values(), key=lambda o: o.name)):
        if org.is_research or org.is_enterprise:
            role = Role.researcher if org.is_research else Role.enterprise
            owners[org.name] = _user(f"{role.value}{i:02d}", f"{org.name[:8]}联系人", role, org)
    owners["郑州大学"] = _user("researcher", "张研究", Role.researcher, orgs["郑州大学"])
    owners["郑州中原盾构装备有限公司"] = _user(
        "enterprise", "赵企业", Role.enterprise, orgs["郑州中原盾构装备有限公司"]
    )
    db.session.flush()
    return owners


def _listings(folder: Path, owners: dict, stations: dict) -> dict[str, int]:
    rng = random.Random(2026)
    counts = {}
    for kind, sub in ((listings.ACHIEVEMENT, "achievements"), (listings.NEED, "needs")):
        existing = set(db.session.scalars(select(kind.model.ext_id)))
        added = 0
        for row in _read_jsonl(folder / sub):
            if row["ext_id"] in existing:
                continue
            listing = listings.create(
                kind,
                _listing_values(kind, row),
                owners[row["org"]],
                publish=True,
                ext_id=row["ext_id"],
                suggest=False,
                station_id=stations[row["station"]].id if row.get("station") else None,
            )
            listing.published_at = utcnow() - timedelta(days=rng.randint(1, 300), minutes=rng.randint(0, 1440))
            added += 1
        counts[kind.name] = added
    return counts


def load(folder: Path = DEMO_DIR, log=print) -> dict[str, int]:
    reference.seed_taxonomies()
    orgs, stations = _orgs_and_stations(folder)
    owners = _people(orgs, stations)
    counts = _listings(folder, owners, stations)
    db.session.flush()
    log(f"demo: {counts['achievement']} 成果, {counts['need']} 需求 added")
    if match_engine.enabled() and (counts["achievement"] or counts["need"]):
        db.session.commit()  # the index follows committed listings
        counts["suggestions"] = matches.suggest_all()
        counts["reviewed"] = apply_reviews(folder / "broker_reviews.json")
        log(f"demo: {counts['suggestions']} match suggestions, {counts['reviewed']} reviewed by hand")
    from . import desk as desk_demo  # station pages, 申请对接 and service-desk requests

    desk_demo.load(folder, log=log)
    from . import contracts as contract_demo  # last: it links contracts to the demo matches, when there are any

    contract_demo.load(log=log)
    from . import hall as hall_demo  # events and 揭榜挂帅 under way

    hall_demo.load(log=log)
    return counts


def apply_reviews(path: Path) -> int:
    """The hand review of demo suggestions, replayed by the broker of each match's station."""
    from ..models import Achievement, Match, Need

    if not path.exists():
        return 0
    done = 0
    for r in json.loads(path.read_text(encoding="utf-8"))["reviews"]:
        m = db.session.scalar(
            select(Match)
            .join(Need, Match.need_id == Need.id)
            .join(Achievement, Match.achievement_id == Achievement.id)
            .where(Need.ext_id == r["need"], Achievement.ext_id == r["achievement"])
        )
        if m is None or m.status != "suggested":
            continue
        broker = db.session.scalar(
            select(User).where(User.station_id == m.station_id, User.role == Role.broker.value).order_by(User.id)
        )
        if r["decision"] == "accept":
            matches.accept(m, broker, r.get("note", ""))
            if r.get("then") != "asked":  # 'asked': the parties have yet to answer
                matches.respond(m, m.achievement.owner, True)
                matches.respond(m, m.need.owner, True, note="有兴趣，约时间面谈")
            if r.get("then") == "negotiating":
                matches.negotiate(m, m.need.owner, "双方已约定到驿站面谈")
        else:
            matches.reject(m, broker, r["reason"], r.get("note", ""))
        done += 1
    db.session.flush()
    return done


def _listing_values(kind: listings.ListingKind, row: dict) -> dict:
    values = {f.name: row.get(f.name) for f in kind.fields if f.name in row}
    contact = row.get("contact") or {}
    values.update(
        contact_name=contact.get("name"), contact_phone=contact.get("phone"), contact_email=contact.get("email")
    )
    if kind is listings.NEED:
        challenge = row.get("challenge") or {}
        values.update(challenge_reward=challenge.get("reward"), challenge_deadline=challenge.get("deadline"))
    return values


def logins() -> list[tuple[str, str, str]]:
    return [(role.label, username, DEMO_PASSWORD) for role, username in DEMO_LOGINS.items()]
