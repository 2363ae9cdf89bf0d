"""Fixtures shared by the market tests: the parties of a technology contract and an application."""
import pytest

from market.models import Role


def application(buyer, **change) -> dict:
    raw = {"title": "梯度硬质合金盾构滚刀刀圈合作开发", "ctype": "技术开发", "subtype": "合作开发",
           "buyer_org_id": str(buyer.id), "amount": "120万", "tech_amount": "1000000",
           "signed_on": "2025-03-02", "valid_from": "2025-03-02", "valid_until": "2026-03-01",
           "field": "先进制造", "ip_type": "发明专利", "goal": "促进工业发展"}
    raw.update(change)
    return raw


@pytest.fixture
def people(make):
    seller = make.org("高校", name="郑州测试大学", region="410102")
    buyer = make.org("民营企业", name="郑州测试装备有限公司", region="410172")
    return {"seller": seller, "buyer": buyer, "researcher": make.user(Role.researcher, org=seller),
            "registrar": make.user(Role.registrar), "admin": make.user(Role.admin)}
