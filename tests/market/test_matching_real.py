"""The whole chain with the real e5 model on the demo data: demo → index → explained suggestions."""

import pytest
from sqlalchemy import select

from market.demo import seed as demo
from market.extensions import db
from market.infra import match_engine
from market.models import Achievement, Need

pytestmark = pytest.mark.model


@pytest.fixture
def demo_app(app):
    from matching.e5convert import ensure_model

    ensure_model(__import__("pathlib").Path(app.config["MODEL_DIR"]))
    demo.load(log=lambda *_: None)
    db.session.commit()
    app.config["MATCHING_ENABLED"] = True
    yield app
    backend = app.extensions.get("match_backend")
    if backend is not None:
        backend.flush()


def by_ext(model, ext_id):
    return db.session.scalar(select(model).where(model.ext_id == ext_id))


@pytest.mark.parametrize(
    "need, achievement",
    [
        ("N-BA-001", "A-BA-001"),  # 速冻面皮开裂 ↔ 冰结构蛋白 + 交联淀粉
        ("N-EM-022", "A-EM-025"),  # 双零箔针孔 ↔ 熔体深度净化
        ("N-IE-001", "A-IE-001"),  # 国产红外敏感元件 ↔ MEMS 热电堆芯片
    ],
)
def test_true_match_worded_differently_is_suggested(demo_app, need, achievement):
    found = match_engine.best_matches(by_ext(Need, need), k=5, min_score=0.0)
    ids = [s.listing.ext_id for s in found]
    assert achievement in ids[:3], ids
    top = found[ids.index(achievement)]
    assert 0 < top.match.score <= 1 and top.match.components["dense"] != 0


def test_index_matches_database_after_setup(demo_app):
    eng = match_engine.engine()
    assert len(eng.libraries["achievement"].index) == db.session.query(Achievement).count()
    ok, lines = match_engine.check()
    assert ok, lines


def test_gaps_list_bottlenecks_first(demo_app):
    result = match_engine.gaps()
    flags = [n.bottleneck for n, _ in result["needs"]]
    assert flags == sorted(flags, reverse=True)
    assert result["needs"] and all(match_engine.best_matches(n) == [] for n, _ in result["needs"])
