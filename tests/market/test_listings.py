from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from market.extensions import db
from market.models import Achievement, Need, Notification, Role
from market.services import listings
from market.services.listings import ACHIEVEMENT as A
from market.services.listings import NEED as N
from market.validation.fields import ValidationError
from tests.conftest import ACHIEVEMENT, NEED


def test_create_and_publish_achievement(app, make):
    user = make.user(Role.researcher)
    item = listings.create(A, ACHIEVEMENT, user, publish=True)
    db.session.commit()
    assert item.is_published and item.org == user.org
    assert item.price_min == 500000 and item.trl == 6
    assert item.ip == [{"type": "发明专利", "number": "ZL202110356789.4"}]
    assert item.keywords == ["盾构", "滚刀", "硬质合金"]
    assert item.expires_at == date.today() + timedelta(days=365)
    assert " 滚刀 " in item.search_text


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"title": ""}, "title", "请填写“成果名称”"),
        ({"title": "x" * 101}, "title", "最多 100 个字"),
        ({"summary": "太短"}, "summary", "至少 20 个字"),
        ({"field": "炼金术"}, "field", "不是可选的值"),
        ({"chain": "不存在的链"}, "chain", "不是可选的值"),
        ({"maturity": ""}, "maturity", "请填写“成熟度”"),
        ({"trl": "3"}, "trl", "与所选成熟度“中试”不符"),
        ({"trl": "12"}, "trl", "1 到 9"),
        ({"trl": "六"}, "trl", "不是整数"),
        ({"ip": "发明专利:ZL202110356789.9"}, "ip", "校验位"),
        ({"ip": "商标:123"}, "ip", "知识产权类型"),
        ({"transfer_modes": []}, "transfer_modes", "请填写“转化方式”"),
        ({"transfer_modes": ["转让", "白送"]}, "transfer_modes", "白送"),
        ({"price_min": "300万", "price_max": "100万"}, "price_max", "上限不能小于下限"),
        ({"price_min": "-1"}, "price_min", "负数"),
        ({"contact_phone": "123"}, "contact_phone", "电话格式"),
        ({"contact_email": "not-an-email"}, "contact_email", "邮箱格式"),
        ({"expires_at": "2001-01-01"}, "expires_at", "应晚于今天"),
        ({"keywords": ",".join(f"词{i}" for i in range(11))}, "keywords", "最多 10 个"),
    ],
)
def test_achievement_validation_messages(app, make, change, field, message):
    user = make.user(Role.researcher)
    with pytest.raises(ValidationError) as e:
        listings.create(A, {**ACHIEVEMENT, **change}, user)
    assert message in e.value.errors[field]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Achievement)) == 0


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"statement": ""}, "statement", "请填写“问题描述”"),
        ({"challenge_reward": "100万"}, "challenge_deadline", "同时填写"),
        ({"challenge_reward": "0", "challenge_deadline": "2099-01-01"}, "challenge_reward", "大于 0"),
        ({"budget_min": "500万", "budget_max": "100万"}, "budget_max", "上限不能小于下限"),
        ({"deadline": "2020-01-01"}, "deadline", "应晚于今天"),
        ({"coop_modes": []}, "coop_modes", "请填写“合作方式”"),
        ({"bottleneck": "也许"}, "bottleneck", "是 或 否"),
    ],
)
def test_need_validation_messages(app, make, change, field, message):
    user = make.user(Role.enterprise)
    with pytest.raises(ValidationError) as e:
        listings.create(N, {**NEED, **change}, user)
    assert message in e.value.errors[field]


def test_every_error_reported_at_once(app, make):
    user = make.user(Role.researcher)
    with pytest.raises(ValidationError) as e:
        listings.create(A, {}, user)
    assert {
        "title",
        "summary",
        "keywords",
        "field",
        "maturity",
        "transfer_modes",
        "contact_name",
        "contact_phone",
    } <= set(e.value.errors)


def test_org_kind_must_fit(app, make):
    broker = make.user(Role.broker)
    enterprise = make.org("民营企业")
    with pytest.raises(ValidationError, match="不能发布成果"):
        listings.create(A, ACHIEVEMENT, broker, org_id=str(enterprise.id))
    with pytest.raises(ValidationError, match="请选择成果所属单位"):
        listings.create(A, ACHIEVEMENT, broker)
    item = listings.create(N, NEED, broker, org_id=str(enterprise.id))
    assert item.org == enterprise and item.owner == broker and item.station == broker.station


def test_update_keeps_old_values_on_error(app, make):
    user = make.user(Role.researcher)
    item = listings.create(A, ACHIEVEMENT, user, publish=True)
    db.session.commit()
    with pytest.raises(ValidationError):
        listings.update(item, {"title": "", "summary": "新的摘要" * 10}, user)
    db.session.rollback()
    assert db.session.get(Achievement, item.id).title == ACHIEVEMENT["title"]
    listings.update(item, {"title": "新标题：梯度刀圈"}, user)
    db.session.commit()
    assert db.session.get(Achievement, item.id).title == "新标题：梯度刀圈"


def test_only_owner_or_admin_edits(app, make):
    owner, other = make.user(Role.researcher), make.user(Role.researcher)
    admin = make.user(Role.admin)
    item = listings.create(A, ACHIEVEMENT, owner, publish=True)
    with pytest.raises(PermissionError):
        listings.update(item, {"title": "别人的修改"}, other)
    with pytest.raises(PermissionError):
        listings.archive_listing(item, other)
    listings.update(item, {"title": "管理员修改的标题"}, admin)
    assert item.title == "管理员修改的标题"


def test_privacy_rule(app, make):
    owner = make.user(Role.enterprise)
    item = listings.create(N, NEED, owner, publish=True)
    db.session.commit()
    assert listings.can_see_private(owner, item)
    assert listings.can_see_private(make.user(Role.broker), item)
    assert listings.can_see_private(make.user(Role.admin), item)
    assert not listings.can_see_private(None, item)
    assert not listings.can_see_private(make.user(Role.researcher), item)
    assert not listings.can_see_private(make.user(Role.enterprise, org=owner.org), item)
    assert not listings.can_see_private(make.user(Role.registrar), item)


def test_drafts_and_archived_are_hidden(app, make):
    owner = make.user(Role.researcher)
    item = listings.create(A, ACHIEVEMENT, owner)
    stranger = make.user(Role.enterprise)
    assert listings.can_view(owner, item) and not listings.can_view(stranger, item)
    assert listings.can_view(make.user(Role.broker), item)
    listings.publish_listing(item, owner)
    assert listings.can_view(stranger, item)
    listings.archive_listing(item, owner, "not_needed")
    assert not listings.can_view(stranger, item)


def _publish(make, user, kind, data, **change):
    return listings.create(kind, {**data, **change}, user, publish=True)


def test_browse_filters_and_search(app, make):
    r = make.user(Role.researcher)
    a1 = _publish(make, r, A, ACHIEVEMENT)
    a2 = _publish(
        make,
        r,
        A,
        ACHIEVEMENT,
        title="超细金刚石微粉分级工艺",
        field="新材料及其应用",
        chain="超硬材料",
        keywords="金刚石、微粉、分级",
        maturity="产业化",
        trl="9",
        summary="采用多级水力旋流分级，粒度分布D90/D10由2.8降至1.6，适用于晶圆研磨抛光。",
    )
    draft = listings.create(A, {**ACHIEVEMENT, "title": "未发布的草稿成果"}, r)
    db.session.commit()

    def ids(**kw):
        return [x.id for x in db.session.scalars(listings.browse_query(A, listings.Filters(**kw)))]

    assert set(ids()) == {a1.id, a2.id} and draft.id not in ids()
    assert ids(field="新材料及其应用") == [a2.id]
    assert ids(chain="新材料") == [a2.id]  # a parent chain includes its children
    assert ids(maturity="中试") == [a1.id]
    assert ids(q="金刚石 微粉") == [a2.id]
    assert ids(q="滚刀") == [a1.id]
    assert ids(q="量子计算") == []
    assert set(ids(region="410105")) == {a1.id, a2.id}
    assert ids(region="other") == []


def test_bottleneck_filter(app, make):
    e = make.user(Role.enterprise)
    n1 = _publish(make, e, N, NEED)
    n2 = _publish(make, e, N, NEED, title="普通需求：包装线自动化", bottleneck=False)
    got = [x.id for x in db.session.scalars(listings.browse_query(N, listings.Filters(bottleneck=True)))]
    assert got == [n1.id] and n2.id not in got


def test_expiry(app, make):
    owner = make.user(Role.researcher)
    soon = _publish(make, owner, A, ACHIEVEMENT)
    soon.expires_at = date.today() + timedelta(days=10)
    gone = _publish(make, owner, A, ACHIEVEMENT, title="已经到期的成果")
    gone.expires_at = date.today() - timedelta(days=1)
    db.session.commit()
    assert listings.expiring_soon(soon)
    assert listings.notify_expiring() == 1
    assert listings.notify_expiring() == 0  # one notice per listing and date
    assert listings.expire_due() == {"achievement": 1, "need": 0}
    db.session.commit()
    assert gone.status == "expired" and soon.status == "published"
    titles = set(db.session.scalars(select(Notification.title).where(Notification.user_id == owner.id)))
    assert any("将于" in t for t in titles) and any("已过期" in t for t in titles)
    # renewing: a new expiry date in the future and publishing again
    listings.update(gone, {"expires_at": (date.today() + timedelta(days=90)).isoformat()}, owner)
    listings.publish_listing(gone, owner)
    assert gone.is_published


def test_need_publish_uses_deadline_for_expiry(app, make):
    e = make.user(Role.enterprise)
    due = date.today() + timedelta(days=100)
    item = _publish(make, e, N, NEED, deadline=due.isoformat())
    assert item.expires_at == due
    assert db.session.scalar(select(func.count()).select_from(Need)) == 1


def test_a_listings_life_is_announced_through_signals(app, make):
    """Publishing, editing a live listing, archiving and expiry are sent as market.signals, which the
    match lifecycle listens to; listings never calls into matches for them."""
    from market import signals

    heard = []

    def published(listing, actor=None, **_):
        heard.append(("published", listing.title, actor))

    def withdrawn(listing, why, actor=None, **_):
        heard.append(("withdrawn", listing.title, why))

    owner = make.user(Role.researcher)
    with signals.listing_published.connected_to(published), signals.listing_withdrawn.connected_to(withdrawn):
        item = listings.create(A, ACHIEVEMENT, owner, publish=True)
        listings.update(item, {"title": "改名后的成果"}, owner)
        listings.archive_listing(item, owner, "solved")
        old = _publish(make, owner, A, ACHIEVEMENT, title="已经到期的成果")
        old.expires_at = date.today() - timedelta(days=1)
        listings.expire_due()
    assert heard == [
        ("published", ACHIEVEMENT["title"], owner),
        ("published", "改名后的成果", owner),
        ("withdrawn", "改名后的成果", "成果已下架（已解决）"),
        ("published", "已经到期的成果", owner),
        ("withdrawn", "已经到期的成果", f"成果已于 {old.expires_at} 过期下架"),
    ]
