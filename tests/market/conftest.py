"""Fixtures shared by the market tests: the broker and deal-workflow world (a published 成果 and a
fitting need, their suggestion, stations) and the parties of a technology contract and an application."""

import pytest
from sqlalchemy import select

from market.extensions import db
from market.models import Match, Role
from market.services import listings, matches
from tests.conftest import ACHIEVEMENT, NEED


@pytest.fixture
def world(app, make, fake_engine):
    """A 成果 and a fitting need, published; stations for two districts and the hall."""
    fake_engine.weights.cutoff = 0.0
    hall = make.station(districts=())
    hall.is_hall = True
    jinshui = make.station(districts=("410105",))
    researcher = make.user(Role.researcher)
    enterprise = make.user(Role.enterprise)
    ach = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, researcher, publish=True)
    db.session.commit()
    need = listings.create(listings.NEED, NEED, enterprise, publish=True)
    db.session.commit()
    broker = make.user(Role.broker, station=jinshui)
    return {
        "hall": hall,
        "station": jinshui,
        "researcher": researcher,
        "enterprise": enterprise,
        "ach": ach,
        "need": need,
        "broker": broker,
        "make": make,
    }


def the_match(w) -> Match:
    return db.session.scalar(select(Match).where(Match.need_id == w["need"].id, Match.achievement_id == w["ach"].id))


def introduce(w, m: Match) -> Match:
    """The broker accepts and both parties agree."""
    matches.accept(m, w["broker"])
    matches.respond(m, w["researcher"], True)
    matches.respond(m, w["enterprise"], True)
    return m


def application(buyer, **change) -> dict:
    """A valid contract application form for ``buyer``, with ``change`` applied."""
    raw = {
        "title": "梯度硬质合金盾构滚刀刀圈合作开发",
        "ctype": "技术开发",
        "subtype": "合作开发",
        "buyer_org_id": str(buyer.id),
        "amount": "120万",
        "tech_amount": "1000000",
        "signed_on": "2025-03-02",
        "valid_from": "2025-03-02",
        "valid_until": "2026-03-01",
        "field": "先进制造",
        "ip_type": "发明专利",
        "goal": "促进工业发展",
    }
    raw.update(change)
    return raw


@pytest.fixture
def people(make):
    seller = make.org("高校", name="郑州测试大学", region="410102")
    buyer = make.org("民营企业", name="郑州测试装备有限公司", region="410172")
    return {
        "seller": seller,
        "buyer": buyer,
        "researcher": make.user(Role.researcher, org=seller),
        "registrar": make.user(Role.registrar),
        "admin": make.user(Role.admin),
    }
