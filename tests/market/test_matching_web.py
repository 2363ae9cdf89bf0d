"""The web app's use of the matching engine (with the fake embedder: fast, deterministic)."""

from sqlalchemy import select

from market.extensions import db
from market.infra import index_log, match_engine
from market.models import Achievement, Role
from market.services import listings
from tests.conftest import ACHIEVEMENT, NEED, csrf_from, login, post_form

# a 成果 from another field (速冻食品) beside the 盾构 one, for ranking and search
FROZEN_FOOD = {
    "title": "速冻水饺面皮抗冻裂改良剂",
    "summary": "以冰结构蛋白与交联淀粉复配，提高速冻面皮在冷链温度波动下的抗裂性能。",
    "keywords": "速冻、面皮",
    "field": "农业",
    "chain": "现代食品",
    "maturity": "产业化",
    "trl": "9",
}


def publish(make, kind, data, user=None, **change):
    user = user or make.user(kind.author_role)
    item = listings.create(kind, {**data, **change}, user, publish=True)
    db.session.commit()
    return item


def test_index_follows_publish_edit_archive(app, make, fake_engine):
    item = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)

    def lib():
        match_engine.engine()  # catches up with the change log
        return fake_engine.libraries["achievement"]

    assert item.id in lib().index
    listings.update(item, {"title": "梯度硬质合金滚刀刀圈（第二代）"}, item.owner)
    db.session.commit()
    assert lib().docs[item.id].title == "梯度硬质合金滚刀刀圈（第二代）"
    listings.archive_listing(item, item.owner, "solved")
    db.session.commit()
    assert item.id not in lib().index and item.id not in lib().docs
    draft = listings.create(listings.ACHIEVEMENT, {**ACHIEVEMENT, "title": "还没发布的成果"}, item.owner)
    db.session.commit()
    assert draft.id not in lib().index


def test_rolled_back_changes_never_reach_the_index(app, make, fake_engine):
    match_engine.engine()
    user = make.user(Role.researcher)
    listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, user, publish=True)
    db.session.flush()
    db.session.rollback()
    match_engine.engine()  # catches up: the log never got the row
    assert len(fake_engine.libraries["achievement"].index) == 0 and index_log.head() == 0


def test_index_saved_with_its_seq_and_drift_repaired_through_the_log(app, make, fake_engine, tmp_path):
    from matching.index import VectorIndex

    item = publish(make, listings.NEED, NEED)
    match_engine.engine()
    ok, lines = match_engine.check()
    assert ok, lines
    saved = VectorIndex.load(tmp_path / "index", "need", fake_engine.embedder.model_id, fake_engine.embedder.dim)
    assert saved.extra["seq"] == index_log.head() > 0 and item.id in saved
    # a change made behind the app's back (plain SQL) is drift: the log lacks it until reconciled
    db.session.execute(db.update(listings.NEED.model).values(title="另一个进程改的标题"))
    db.session.commit()
    ok, lines = match_engine.check()
    assert not ok and any("change log stale: 1" in line for line in lines), lines
    assert any(line.startswith("change log: 0 added, 1 updated") for line in match_engine.prepare())
    assert fake_engine.libraries["need"].docs[item.id].title == "另一个进程改的标题"
    assert match_engine.check()[0]


def test_detail_page_shows_explained_matches(client, make, fake_engine):
    ach = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    publish(make, listings.ACHIEVEMENT, ACHIEVEMENT, **FROZEN_FOOD)
    need = publish(make, listings.NEED, NEED)
    fake_engine.weights.cutoff = 0.0
    html = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert "可能解决此需求的成果" in html and 'data-testid="suggestion"' in html
    first = html.index('data-testid="suggestion"')
    assert f'href="/achievements/{ach.id}"' in html[first : first + 1000]
    assert "为什么推荐" in html and "语义相似" in html and "<mark>" in html
    api = client.get(f"/api/v1/needs/{need.id}/matches").json
    assert api["items"][0]["id"] == ach.id and set(api["items"][0]["components"]) >= {"dense", "keyword", "field"}


def test_semantic_search_with_filters(client, app, make, fake_engine):
    app.config["SEARCH_MIN_SCORE"] = 0.0  # the fake embedder's scores are not calibrated
    publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    food = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT, **FROZEN_FOOD)
    html = client.get("/achievements/?q=速冻面皮开裂&mode=semantic").get_data(as_text=True)
    assert "按语义相关度排序" in html
    assert html.index(f'href="/achievements/{food.id}"') < html.index('href="/achievements/1"')
    html = client.get("/achievements/?q=速冻面皮开裂&mode=semantic&field=先进制造").get_data(as_text=True)
    assert "速冻水饺面皮" not in html and "找到 1 条成果" in html
    api = client.get("/api/v1/search?kind=achievements&q=速冻面皮").json
    assert api["items"][0]["id"] == food.id
    assert client.get("/api/v1/search?kind=achievements").json["error"]["code"] == "query_required"


def test_near_duplicate_warning_on_posting(client, make, fake_engine):
    owner = make.user(Role.researcher)
    original = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT, user=owner)
    login(client, make.user(Role.researcher))
    resp = post_form(client, "/achievements/new", {**ACHIEVEMENT, "action": "publish"})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert 'data-testid="duplicates"' in html and f"/achievements/{original.id}" in html
    assert len(db.session.scalars(select(Achievement)).all()) == 1  # nothing saved yet
    resp = post_form(client, "/achievements/new", {**ACHIEVEMENT, "action": "publish", "confirm_duplicate": "1"})
    assert resp.status_code == 302
    assert len(db.session.scalars(select(Achievement)).all()) == 2


def test_gaps_page(client, make, fake_engine):
    publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    publish(make, listings.NEED, NEED)
    publish(
        make,
        listings.NEED,
        NEED,
        title="量子密钥分发城域网组网",
        statement="需要诱骗态量子密钥分发设备，城域网组网，成码率≥10 kbps@50 km。",
        keywords="量子、密钥",
        field="电子信息",
        chain="量子信息",
    )
    fake_engine.weights.cutoff = 0.99
    html = client.get("/matching/gaps").get_data(as_text=True)
    assert "寻求解决方案的需求（2）" in html and "量子密钥分发城域网组网" in html
    assert "卡脖子" in html.split("寻求解决方案的需求（")[1].split("</tr>")[1]  # 卡脖子 listed first


def test_matching_switched_off(client, app):
    assert client.get("/matching/gaps").status_code == 404
    assert client.get("/api/v1/search?kind=needs&q=x").json["error"]["code"] == "matching_disabled"


def test_semantic_search_shows_the_relevant_hits_and_says_how_many_were_left_out(client, app, make, fake_engine):
    other = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    food = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT, **FROZEN_FOOD)
    scores = {h.listing.id: h.match.score for h in match_engine.semantic_search("achievement", "速冻面皮开裂")}
    assert scores[food.id] > scores[other.id]
    app.config["SEARCH_MIN_SCORE"] = (scores[food.id] + scores[other.id]) / 2
    app.config["SEARCH_MIN_SHARE"] = 1.0
    html = client.get("/achievements/?q=速冻面皮开裂&mode=semantic").get_data(as_text=True)
    assert f'href="/achievements/{food.id}"' in html and f'href="/achievements/{other.id}"' not in html
    assert "找到 1 条相关的成果；另有 1 条相关度较低，未显示" in html
    show_all = html.split('data-testid="show-all"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    html = client.get(show_all).get_data(as_text=True)
    assert f'href="/achievements/{other.id}"' in html and "找到 2 条成果" in html and "相关度较低，未显示" not in html


def test_relevance_floor_keeps_the_ranked_prefix():
    from types import SimpleNamespace as NS

    def kept(scores, floor=0.02, share=0.5):
        shown, left_out = match_engine.relevance_floor([NS(match=NS(score=s)) for s in scores], floor, share)
        assert len(shown) + left_out == len(scores)
        return [h.match.score for h in shown]

    assert kept([0.9, 0.2, 0.02, 0.019, 0.001]) == [0.9, 0.2, 0.02]  # the floor
    assert kept([0.0006, 0.0006, 0.0002, 0.0001]) == [0.0006, 0.0006]  # all low: half the best
    assert kept([]) == []


def test_keyword_search_without_results_offers_the_semantic_search(client, make, fake_engine):
    publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    html = client.get("/achievements/?q=速冻面皮开裂&field=先进制造").get_data(as_text=True)
    assert "没有符合条件的成果" in html
    link = html.split('data-testid="try-semantic"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "mode=semantic" in link and "field=" in link and "q=" in link
    assert "按语义相关度排序" in client.get(link).get_data(as_text=True)


def test_gaps_lists_unasked_achievements_to_staff_only(client, make, fake_engine):
    lonely = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    need = publish(make, listings.NEED, NEED)
    fake_engine.weights.cutoff = 0.99
    html = client.get("/matching/gaps").get_data(as_text=True)
    assert "寻求解决方案的需求（1）" in html and f'href="/needs/{need.id}"' in html
    assert "尚无需求问津的成果" not in html and f'href="/achievements/{lonely.id}"' not in html
    login(client, make.user(Role.researcher))
    assert f'href="/achievements/{lonely.id}"' not in client.get("/matching/gaps").get_data(as_text=True)
    client.post("/auth/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, make.user(Role.broker))
    html = client.get("/matching/gaps").get_data(as_text=True)
    assert "尚无需求问津的成果（1）" in html and f'href="/achievements/{lonely.id}"' in html


def test_expiry_and_new_weights_flow_through_the_log(app, make, fake_engine):
    from datetime import date, timedelta

    from market.models import IndexChange
    from matching.ranking import Weights

    need = publish(make, listings.NEED, NEED)
    assert need.id in match_engine.engine().libraries["need"].docs
    need.expires_at = date.today() - timedelta(days=1)
    db.session.commit()  # nothing the matcher knows changed: no row
    rows = db.session.scalars(select(IndexChange)).all()
    assert [(r.op, r.listing_id) for r in rows] == [("upsert", need.id)]
    listings.expire_due()
    db.session.commit()
    assert need.id not in match_engine.engine().libraries["need"].docs
    assert db.session.scalars(select(IndexChange.op).order_by(IndexChange.seq.desc())).first() == "remove"
    weights = Weights.load(None)
    weights.cutoff = 0.77
    index_log.append_weights(weights)
    db.session.commit()
    assert match_engine.engine().weights.cutoff == 0.77
