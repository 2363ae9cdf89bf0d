import json

import numpy as np
import pytest

from matching.docs import Doc
from matching.engine import MatchEngine, shingle_overlap
from matching.features import FEATURES, structured
from matching.ranking import Weights, fit
from tests.matching.fakes import FakeEmbedder


def ach(i, title, text, **kw):
    return Doc(id=i, kind="achievement", title=title, text=text, **kw)


def need(i, title, text, **kw):
    return Doc(id=i, kind="need", title=title, text=text, **kw)


ACHS = [
    ach(
        1,
        "聚晶金刚石复合片",
        "高耐磨聚晶金刚石复合片，用于油气钻头，耐磨比30万",
        field="新材料及其应用",
        chain="超硬材料",
        chain_parent="新材料",
        stage=3,
        modes=("转让",),
        price_min=1e6,
        price_max=2e6,
        region="410172",
    ),
    ach(
        2,
        "盾构滚刀刀圈梯度硬质合金",
        "梯度硬质合金刀圈，提高盾构滚刀耐磨与抗崩刃",
        field="先进制造",
        chain="盾构及工程装备",
        chain_parent="高端装备",
        stage=2,
        modes=("许可", "合作开发"),
        region="410102",
    ),
    ach(
        3,
        "速冻水饺抗冻裂面粉改良",
        "冰结构蛋白与交联淀粉提高速冻面皮抗冻裂",
        field="农业",
        chain="现代食品",
        stage=4,
        modes=("转让",),
        price_min=3e5,
        region="410105",
    ),
]


@pytest.fixture
def engine(tmp_path):
    e = MatchEngine(FakeEmbedder(), tmp_path / "index")
    e.sync("achievement", ACHS)
    return e


def test_match_result_shape_and_order(engine):
    n = need(
        10,
        "盾构滚刀磨损快",
        "硬岩地层盾构滚刀刀圈磨损快、崩刃多",
        field="先进制造",
        chain="盾构及工程装备",
        chain_parent="高端装备",
        stage=2,
        modes=("合作开发",),
        price_max=3e6,
        region="410171",
    )
    results = engine.match(n, k=3)
    assert [r.id for r in results][0] == 2
    top = results[0]
    assert 0 < top.score < 1 and set(top.components) == set(FEATURES) and set(top.features) == set(FEATURES)
    assert "滚刀" in top.shared_terms or "刀圈" in top.shared_terms
    assert results[0].score >= results[-1].score
    assert set(top.as_dict()) == {
        "id",
        "score",
        "cosine",
        "components",
        "features",
        "shared_terms",
        "indicators",
        "reasons",
    }
    assert top.reasons and all(isinstance(r, str) for r in top.reasons)


def test_filters_apply_and_min_score(engine):
    n = need(10, "耐磨材料", "需要耐磨材料", field="先进制造")
    got = engine.match(n, k=5, where=lambda d: d.chain == "现代食品")
    assert [r.id for r in got] == [3]
    assert engine.match(n, k=5, min_score=0.9999) == []


def test_sync_repairs_drift(tmp_path):
    emb = FakeEmbedder()
    e = MatchEngine(emb, tmp_path)
    report = e.sync("achievement", ACHS)
    assert report.rebuilt and report.added == 3 and report.total == 3
    # the database changed while the engine was down: one edited, one removed, one added
    edited = ach(1, "聚晶金刚石复合片（新版）", ACHS[0].text)
    new = ach(4, "钠离子电池正极", "层状氧化物正极材料")
    e2 = MatchEngine(emb, tmp_path)
    before = emb.texts
    report = e2.sync("achievement", [edited, ACHS[2], new])
    assert report.loaded and (report.added, report.updated, report.removed) == (1, 1, 1)
    assert emb.texts - before == 2  # only what changed is embedded
    check = e2.check("achievement", [edited, ACHS[2], new])
    assert check["ok"], check
    assert not e2.check("achievement", ACHS)["ok"]
    e3 = MatchEngine(emb, tmp_path)
    assert e3.sync("achievement", [edited, ACHS[2], new]).loaded and emb.texts - before == 2


def test_sync_rebuilds_a_torn_index(tmp_path):
    e = MatchEngine(FakeEmbedder(), tmp_path)
    e.sync("achievement", ACHS)
    (tmp_path / "achievement.faiss").write_bytes(b"garbage")
    report = MatchEngine(FakeEmbedder(), tmp_path).sync("achievement", ACHS)
    assert report.rebuilt and "torn" in report.reason and report.total == 3


def test_upsert_and_remove_keep_index_in_step(engine):
    assert engine.upsert([ach(5, "新型显示OLED蒸镀掩膜", "精细金属掩膜版")]) == 1
    assert engine.upsert([ach(5, "新型显示OLED蒸镀掩膜", "精细金属掩膜版")]) == 0  # unchanged: no embedding
    assert 5 in engine.libraries["achievement"].index
    engine.remove("achievement", [5])
    assert 5 not in engine.libraries["achievement"].index and 5 not in engine.libraries["achievement"].docs
    assert engine.check("achievement", ACHS)["ok"]


def _centred(w: Weights, feats: np.ndarray) -> Weights:
    """``w`` with its bias moved so that the first row scores 0.5: the fake embedder's cosines lie far
    below the real model's, and a test comparing scores of 1e-30 could not fail."""
    z = w.bias + w.contributions(feats[:1]).sum()
    w.bias = round(float(w.bias - z), 6)
    return w


def test_weights_come_from_config(tmp_path, engine):
    from matching.ranking import logit

    n = need(10, "速冻食品", "速冻水饺冻裂", field="农业", chain="现代食品")
    w = _centred(Weights(), engine.pair_features(n, "achievement", [3]))
    w.save(tmp_path / "w.json")
    engine.weights = Weights.load(tmp_path / "w.json")
    base = engine.match(n, k=1)[0]
    assert base.id == 3 and abs(base.score - 0.5) < 1e-3
    w.bias -= 2.0
    w.save(tmp_path / "w.json")
    engine.weights = Weights.load(tmp_path / "w.json")
    assert abs(logit(engine.match(n, k=1)[0].score) - (logit(base.score) - 2.0)) < 1e-6
    assert json.loads((tmp_path / "w.json").read_text())["bias"] == w.bias


def test_word_overlap_never_outvotes_meaning():
    """Keyword overlap is frozen at zero weight: even where it alone predicts the grades, fit()
    leaves it out, and a pair sharing every word but little meaning ranks below a close one."""
    rng = np.random.default_rng(1)
    k, d = FEATURES.index("keyword"), FEATURES.index("dense")
    queries = []
    for _ in range(30):
        x = np.full((20, len(FEATURES)), 0.5)
        x[:, d] = rng.normal(0, 0.02, 20)
        x[:, k] = rng.uniform(size=20)
        grades = (x[:, d] > 0.02).astype(float) * 2 + (x[:, k] > 0.5).astype(float)
        queries.append((x, grades, np.ones(20, dtype=bool)))
    w = fit(queries, Weights())
    assert w.coef["keyword"] == 0 and w.coef["dense"] > 0
    far_with_words, close_without = np.full((1, len(FEATURES)), 0.5), np.full((1, len(FEATURES)), 0.5)
    far_with_words[0, [d, k]] = -0.02, 1.0
    close_without[0, [d, k]] = 0.04, 0.0
    far_with_words[0, FEATURES.index("indicators")] = close_without[0, FEATURES.index("indicators")] = 0
    assert w.scores(close_without)[0] > w.scores(far_with_words)[0]


def test_structured_features():
    n = need(1, "t", "x", field="农业", chain="现代食品", stage=2, modes=("合作开发",), price_max=1e6, region="410105")
    good = ach(
        2, "t", "x", field="农业", chain="现代食品", stage=3, modes=("合作开发",), price_min=5e5, region="410102"
    )
    bad = ach(
        3,
        "t",
        "x",
        field="核应用",
        chain="量子信息",
        chain_parent="未来产业",
        stage=0,
        modes=("转让",),
        price_min=3e6,
        region="110000",
    )
    s_good, s_bad = structured(n, good), structured(good, n)
    assert s_good == s_bad  # order does not matter
    assert s_good == {"field": 1, "chain": 1, "stage": 1, "modes": 1, "price": 1, "region": 1}
    assert structured(n, bad) == {"field": 0, "chain": 0, "stage": 0, "modes": 0, "price": 0, "region": 0.5}
    unknown = ach(4, "t", "x")
    assert set(structured(n, unknown).values()) == {0.5}


def test_fit_learns_non_negative_weights_and_calibrates():
    rng = np.random.default_rng(0)
    queries = []
    for _ in range(40):
        x = rng.uniform(size=(30, len(FEATURES)))
        x[:, 0] = -0.04 + 0.1 * x[:, 0]
        grades = np.digitize(x[:, 0] + 0.01 * rng.normal(size=30), [0.02, 0.04, 0.05]).astype(float)
        queries.append((x, grades, np.ones(30, dtype=bool)))
    w = fit(queries, Weights())
    assert w.coef["dense"] > 0 and all(v >= 0 for v in w.coef.values())
    x = np.concatenate([q[0] for q in queries])
    y = np.concatenate([q[1] for q in queries]) >= 2
    p = w.scores(x)
    assert p[y].mean() > p[~y].mean() + 0.3
    assert abs(p.mean() - y.mean()) < 0.05  # calibrated: mean probability ≈ base rate


def test_near_duplicates(engine):
    copy = ach(9, ACHS[0].title, ACHS[0].text + "。", field="新材料及其应用")
    dups = engine.near_duplicates(copy)
    assert dups and dups[0][0] == 1 and dups[0][2] > 0.8
    assert engine.near_duplicates(ach(9, "量子密钥分发", "诱骗态协议")) == []
    assert shingle_overlap("abc", "abc") == 1.0


def test_free_text_search(engine):
    got = engine.search("achievement", "金刚石 复合片", k=2)
    assert got[0].id == 1


def test_a_pairs_score_is_the_same_in_libraries_of_200_and_20000():
    """A pair's score depends on the two listings only: the cosines are taken relative to a fixed
    background, never to the library, so the cut-off means the same at any size."""
    n = need(10, "盾构滚刀磨损快", "硬岩地层盾构滚刀刀圈磨损快、崩刃多", field="先进制造", chain="盾构及工程装备")

    def library(size):
        filler = [
            ach(
                100 + i,
                f"无关成果{i}",
                f"第{i}号{'光伏电池封装胶膜'[i % 8 :]}及其{'制备方法与应用'[i % 5 :]}",
                field="电子信息",
            )
            for i in range(size - len(ACHS))
        ]
        eng = MatchEngine(FakeEmbedder(), weights=Weights.load())
        eng.upsert(ACHS + filler, save=False)
        return eng

    small, big = library(200), library(20_000)
    w = _centred(Weights.load(), small.pair_features(n, "achievement", [2]))
    before = w.scores(small.pair_features(n, "achievement", [1, 2, 3]))
    after = w.scores(big.pair_features(n, "achievement", [1, 2, 3]))
    assert 0.4 < before[1] < 0.6 and np.ptp(before) > 0.05, before  # scores in the working range
    assert np.abs(before - after).max() < 1e-9, (before, after)
    assert big.match(n, k=1)[0].id == small.match(n, k=1)[0].id == 2


def test_shared_terms_are_whole_telling_words():
    """No generic words (取得, 批次 …), no counted things (两个), no search-mode fragments (水性 of 憎水性)."""
    eng = MatchEngine(FakeEmbedder())
    eng.upsert(
        [ach(1, "憎水性氧化铝涂层", "两个批次取得憎水性涂层，盐雾试验保持1000小时，其中接触角大于150°")], save=False
    )
    n = need(2, "水性涂料涂层盐雾试验不合格", "两个批次取得的水性涂层盐雾试验其中不足", field="新材料及其应用")
    terms = eng.match(n, k=1)[0].shared_terms
    assert "盐雾" in " ".join(terms) and "涂层" in terms
    for word in ("水性", "取得", "批次", "两个", "其中", "保持"):
        assert word not in terms, terms


def test_suggestion_rule_of_the_weights():
    w = Weights(cutoff=0.3, suggest_max=3, suggest_relative=0.5)
    assert w.suggest(np.array([0.1, 0.25, 0.2])) == []  # nothing clearly good: no suggestion
    assert w.suggest(np.array([0.9, 0.2, 0.5, 0.44, 0.8])) == [0, 4, 2]  # best first, at most 3
    assert w.suggest(np.array([0.9, 0.35, 0.5])) == [0, 2]  # 0.35 ≥ cut-off but < half the best
    # a near miss whose figures miss the need's targets is never suggested, however close its words;
    # one that meets none of the stated targets needs the evidence cut-off
    w.evidence_cutoff = 0.85
    assert w.suggest(np.array([0.9, 0.2, 0.8]), ["unmet", "ok", "ok"]) == [2]
    assert w.suggest(np.array([0.9, 0.2, 0.8]), ["unproven", "ok", "unproven"]) == [0]
    w.veto_unmet = False
    assert w.suggest(np.array([0.9, 0.2, 0.8]), ["unmet", "ok", "ok"]) == [0, 2]


def test_evidence_of_the_indicator_table():
    from matching.features import evidence, indicator_alignment

    n = need(1, "刀圈寿命短", "盾构滚刀刀圈寿命短", extra="刀圈寿命≥2万次；硬度≥60 HRC")
    met = ach(2, "梯度硬质合金刀圈", "刀圈寿命2.6万次，硬度58 HRC")
    missed = ach(3, "刀圈堆焊修复", "修复后寿命8000次，硬度55 HRC")
    silent = ach(4, "刀圈材料", "新型刀圈材料，耐磨性好")
    title_only = ach(5, "刀圈材料", "")
    says = {d.id: evidence(n, d, indicator_alignment(n, d)) for d in (met, missed, silent, title_only)}
    assert says == {2: "ok", 3: "unmet", 4: "unproven", 5: "ok"}
    assert evidence(need(6, "刀圈", "寿命短"), silent, []) == "ok"


def test_matches_explain_themselves_in_plain_chinese_with_the_indicator_table(engine):
    n = need(
        10,
        "盾构滚刀刀圈磨损快",
        "硬岩地层盾构滚刀刀圈磨损快、崩刃多",
        extra="刀圈寿命≥2万次；硬度≥60 HRC",
        field="先进制造",
        chain="盾构及工程装备",
        chain_parent="高端装备",
        stage=2,
    )
    engine.upsert(
        [
            ach(
                2,
                "盾构滚刀刀圈梯度硬质合金",
                "梯度硬质合金刀圈，硬度62 HRC，寿命2.6万次，提高盾构滚刀耐磨与抗崩刃",
                field="先进制造",
                chain="盾构及工程装备",
                chain_parent="高端装备",
                stage=2,
            )
        ],
        save=False,
    )
    top = engine.match(n, k=1)[0]
    assert top.id == 2
    assert [(a["name"], a["verdict"]) for a in top.indicators] == [("刀圈寿命", "met"), ("硬度", "met")]
    text = "".join(top.reasons)
    assert "达到需求的 2 项指标" in text and "同属产业链「盾构及工程装备」" in text
    assert "对数几率" not in text and "概率" not in text
    assert top.as_dict()["indicators"] == top.indicators


def test_engine_suggestions_follow_the_rule(engine):
    n = need(10, "速冻水饺冻裂", "速冻面皮冻裂", field="农业", chain="现代食品")
    engine.weights = Weights(cutoff=0.0, suggest_max=2)
    assert 1 <= len(engine.suggestions(n)) <= 2
    engine.weights = Weights(cutoff=1.0)
    assert engine.suggestions(n) == []


def test_weights_that_lose_to_dense_on_any_set_are_refused():
    from matching.evaluate import RunResult, losses_to_dense

    nan = np.full(40, np.nan)
    good = RunResult("full", {"mrr": np.r_[np.ones(30), np.zeros(10)], "ndcg@10": nan})
    dense = RunResult("dense", {"mrr": np.r_[np.ones(25), np.zeros(15)], "ndcg@10": nan})
    csl_full = RunResult("full", {"mrr": nan, "ndcg@10": np.full(40, 0.40)})
    csl_dense = RunResult("dense", {"mrr": nan, "ndcg@10": np.full(40, 0.45)})
    assert losses_to_dense([("tuning", good, dense)]) == []
    assert losses_to_dense([("tuning", good, dense), ("CSL", csl_full, csl_dense)]) == ["CSL"]
    assert losses_to_dense([("dev", dense, good)]) == ["dev"]


def test_background_level_leaves_out_listings_that_are_in_the_library(tmp_path):
    """With the demo data loaded, a demo need's level must not count its own true 成果 (which is
    also a background listing): that would sink exactly the pairs that should be suggested."""
    from matching.engine import Background

    true = ach(1, "冰结构蛋白冷冻面团抗冻改良", "冰结构蛋白抑制冰晶重结晶，速冻面皮冻融后不开裂")
    other = ach(2, "盾构滚刀刀圈梯度硬质合金", "梯度硬质合金刀圈耐磨抗崩刃")
    bg = tmp_path / "bg.jsonl"
    bg.write_text(
        "\n".join(
            json.dumps({"kind": d.kind, "source": "demo", "text": d.embed_text()}, ensure_ascii=False)
            for d in (true, other)
        ),
        encoding="utf-8",
    )
    emb = FakeEmbedder()
    n = need(10, "速冻水饺面皮冻裂", "速冻水饺冻融后面皮开裂")
    lonely = MatchEngine(emb, background=Background(emb, bg))
    lonely.upsert([other], save=False)
    with_demo = MatchEngine(emb, background=Background(emb, bg))
    with_demo.upsert([true, other], save=False)
    # the pair (n, other) scores the same whether or not `true` is in the library and the background
    a = lonely.pair_features(n, "achievement", [2])[0, 0]
    b = with_demo.pair_features(n, "achievement", [2])[0, 0]
    assert (
        a < b
        and abs(
            b
            - (
                a
                + lonely.background.level(lonely.vector_of(n)[None, :], "achievement")[0]
                - with_demo.background.level(with_demo.vector_of(n)[None, :], "achievement")[0]
            )
        )
        < 1e-6
    )
    assert len(with_demo.background.vectors("achievement")[with_demo.background._active["achievement"]]) == 0


def test_a_pair_scores_the_same_from_either_side():
    eng = MatchEngine(FakeEmbedder(), weights=Weights.load())
    n = need(
        10,
        "盾构滚刀刀圈磨损快",
        "硬岩地层盾构滚刀刀圈磨损快、崩刃多",
        extra="刀圈寿命≥2万次",
        field="先进制造",
        chain="盾构及工程装备",
        chain_parent="高端装备",
        stage=2,
    )
    eng.upsert(ACHS + [n], save=False)
    forward = eng.pair_features(n, "achievement", [2])[0]
    backward = eng.pair_features(ACHS[1], "need", [10])[0]
    same = [i for i, f in enumerate(FEATURES) if f != "keyword"]  # BM25 is one-sided, and weighs nothing
    assert np.allclose(forward[same], backward[same], atol=1e-6), (forward, backward)
    assert eng.weights.coef["keyword"] == 0


class _ScoredSet:
    """Just enough of a SetEvaluation for choose_rule: stored grades, 'ok' evidence everywhere."""

    def __init__(self, grades):
        from types import SimpleNamespace

        from matching.evaluate import SetEvaluation

        self.name, self.set = "stub", SimpleNamespace(titles_only=False)
        self.grades = np.array(grades, dtype=float)
        self.needs, self.near = [None] * len(grades), [-1] * len(grades)
        self.suggestions = SetEvaluation.suggestions.__get__(self)
        self.top_candidates = SetEvaluation.top_candidates.__get__(self)

    def evidence(self, q, scores, top):
        return ["ok"] * len(scores)


def test_a_runner_up_is_suggested_only_when_it_scores_well_itself():
    w = Weights(cutoff=0.05, suggest_max=3)
    probs = np.array([0.6, 0.25, 0.5, 0.01])
    assert w.suggest(probs) == [0, 2, 1]
    w.suggest_second = 0.3
    assert w.suggest(probs) == [0, 2]  # the best needs only the cut-off, the others 0.3
    assert w.suggest(np.array([0.2, 0.1])) == [0]
    assert w.suggest(np.array([0.2, 0.1]), ["unmet", "ok"]) == []  # the runner-up of a vetoed best still needs 0.3


def test_the_suggestion_rule_caps_suggestions_a_need_without_a_true_match_gets():
    """Five needs with their true 成果 second among look-alikes as good; one of five needs without
    a true 成果 has three look-alikes as good as any match. Only a cap of two suggestions finds every
    true 成果 and keeps that need at or under 0.4 suggestions per no-match need; no cut-off, and no
    score for a runner-up, can tell them apart."""
    from matching.evaluate import choose_rule

    true_need = ([0, 3, 0, 0], [0.9, 0.9, 0.9, 0.01])
    blank_need = ([0, 0, 0, 0], [0.01, 0.01, 0.01, 0.01])
    look_alikes = ([0, 0, 0, 0], [0.9, 0.9, 0.9, 0.01])
    rows = [true_need] * 5 + [look_alikes] + [blank_need] * 4
    ev = _ScoredSet([g for g, _ in rows])
    rule = choose_rule([ev], [np.array([s for _, s in rows])], Weights(), max_none=0.4)
    assert rule["most"] == 2 and rule["true"] == 1.0
    assert rule["per_set"]["stub"]["suggest_none"] == 0.4
    assert choose_rule([ev], [np.array([s for _, s in rows])], Weights(), max_none=0.3)["true"] != 1.0
