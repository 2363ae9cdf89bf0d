"""The demo contracts: enough of every kind, deterministic, idempotent, with gapless numbers."""

import shutil
from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from market.config import DEMO_DIR
from market.demo import contracts as contract_demo
from market.demo import seed as demo
from market.extensions import db
from market.models import Contract, ContractCounter
from market.services import contracts, stats


@pytest.fixture
def demo_world(app, tmp_path):
    """The demo organisations, stations and accounts (listings left out: they are slow and optional)."""
    folder = tmp_path / "demo"
    (folder / "achievements").mkdir(parents=True)
    (folder / "needs").mkdir()
    for name in ("organisations.json", "stations.json"):
        shutil.copy(DEMO_DIR / name, folder / name)
    demo.load(folder, log=lambda *_: None)  # ends with contract_demo.load()
    db.session.commit()
    return folder


def test_demo_contracts_cover_every_case(demo_world):
    by_status = dict(db.session.execute(select(Contract.status, func.count()).group_by(Contract.status)).all())
    assert by_status["registered"] >= 200
    assert by_status["refused"] >= 9 and by_status["cancelled"] >= 5 and by_status["pending"] >= 5
    assert by_status["superseded"] >= 5 and by_status["withdrawn"] >= 1
    today = date.today()
    last24 = stats.Period(today - timedelta(days=731), today, "24个月")
    assert stats.totals(last24).count == by_status["registered"]
    assert {r.label for r in stats.breakdown("type", last24) if r.count} == set(contracts.TYPES)
    districts = {r.label for r in stats.breakdown("district", last24) if r.count}
    assert len(districts) >= 10 and stats.OUTSIDE in districts
    assert len([r for r in stats.breakdown("station", last24) if r.count]) >= 8
    flow = {r.key: r.count for r in stats.breakdown("flow", last24)}
    assert flow["output"] > flow["internal"] and flow["input"] > flow["internal"]
    refused = {
        c for (c,) in db.session.execute(select(Contract.refusal_code).where(Contract.refusal_code.is_not(None)))
    }
    assert refused == set(contracts.REFUSAL_REASONS)
    months = {r.key for r in stats.series(last24, "month") if r.count}
    assert len(months) >= 23
    biggest = db.session.scalar(select(func.max(Contract.amount)))
    assert biggest >= 10_000_000  # a few 千万级 contracts


def test_demo_numbers_are_gapless_and_loading_again_adds_nothing(demo_world):
    serials = defaultdict(list)
    for (number,) in db.session.execute(select(Contract.number).where(Contract.number.is_not(None))):
        serials[(number[4:10], int(number[:4]))].append(int(number[10:]))
    for key, got in serials.items():
        assert sorted(got) == list(range(1, len(got) + 1)), key
        assert db.session.get(ContractCounter, key).last == len(got)
    before = db.session.scalar(select(func.count()).select_from(Contract))
    assert contract_demo.load(log=lambda *_: None) == {}
    demo.load(demo_world, log=lambda *_: None)
    assert db.session.scalar(select(func.count()).select_from(Contract)) == before
