"""Matching quality with the real model on the sets the weights were fitted on (never the lockbox):
the full ranking never loses to its dense stage, scores do not depend on a need's length, and a
library known by titles only still fills the brokers' queues."""

import dataclasses

import numpy as np
import pytest

from matching import folders
from matching.datasets import INDEPENDENT_DIR, graded_devset, load_devset, load_graded, titles_only
from matching.engine import Background, MatchEngine
from matching.evaluate import SetEvaluation
from matching.ranking import Weights

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def embedder():
    from matching.e5convert import ensure_model
    from matching.embedder import Embedder

    model_dir = folders.model_dir()
    ensure_model(model_dir)
    return Embedder(model_dir, cache_path=folders.embed_cache())


@pytest.fixture(scope="module")
def tuning():
    return load_graded(INDEPENDENT_DIR / "tuning")


@pytest.mark.parametrize("which", ["dev", "tuning", "titles"])
def test_full_ranking_is_not_worse_than_its_dense_stage(embedder, tuning, which):
    gs, exclude = {
        "dev": (graded_devset(load_devset()), ("demo",)),
        "tuning": (tuning, ("tuning",)),
        "titles": (titles_only(tuning), ("tuning",)),
    }[which]
    w = Weights.load()
    ev = SetEvaluation(gs, embedder, background_exclude=exclude, weights=w)
    full, dense = ev.run(w, "full"), ev.dense_only()
    assert full.mean("mrr") >= dense.mean("mrr") + 0.02, (full.mean("mrr"), dense.mean("mrr"))
    assert full.mean("ndcg@10") >= dense.mean("ndcg@10")
    if which == "titles":  # a library known by titles only: the queues are not empty
        assert full.extra["suggested"] > 0 and full.extra["suggest_true"] >= 0.3, full.extra


def test_a_need_as_title_and_indicators_or_in_full_ranks_alike(embedder, tuning):
    """The same need without its statement (title + 技术指标) and in full: the same best 成果, and
    its score within 0.1, for at least 80 % of the tuning needs. Measured on the shipped weights: 94 %
    and 86 %. (Without its 技术指标 too, the score loses the 指标对照 evidence: 78 % and 40 %.)"""
    w = Weights.load()
    eng = MatchEngine(embedder, None, weights=w, background=Background(embedder, exclude=("tuning",)))
    eng.sync("achievement", tuning.achs)
    ids = [a.id for a in tuning.achs]
    same = close = n = 0
    for need in tuning.needs:
        if not need.text:
            continue
        short = dataclasses.replace(need, text="", keywords=())
        full_p = w.scores(eng.pair_features(need, "achievement", ids))
        short_p = w.scores(eng.pair_features(short, "achievement", ids))
        top = int(np.argmax(full_p))
        n += 1
        same += int(np.argmax(short_p)) == top
        close += abs(full_p[top] - short_p[top]) <= 0.1
    assert same / n >= 0.8, same / n
    assert close / n >= 0.8, close / n


def test_the_relative_cosine_hardly_moves_with_the_needs_length(embedder, tuning):
    """The dense feature (a cosine minus the need's background level) of a need's best 成果 moves far
    less between title-only and full text than the raw cosine does."""
    eng = MatchEngine(embedder, None, background=Background(embedder, exclude=("tuning",)))
    eng.sync("achievement", tuning.achs)
    ids = [a.id for a in tuning.achs]
    vectors = eng.libraries["achievement"].index.vectors(ids)
    raw, rel = [], []
    for need in tuning.needs:
        if not need.text:
            continue
        short = dataclasses.replace(need, text="", extra="", keywords=())
        f_full = eng.pair_features(need, "achievement", ids)[:, 0]
        f_short = eng.pair_features(short, "achievement", ids)[:, 0]
        top = int(np.argmax(f_full))
        rel.append(abs(f_full[top] - f_short[top]))
        raw.append(abs(vectors[top] @ eng.vector_of(need) - vectors[top] @ eng.vector_of(short)))
    assert np.median(rel) < 0.75 * np.median(raw), (np.median(rel), np.median(raw))


# the README's figures for the shipped weights (matching eval --no-lockbox), as floors: a change may
# move them by the margin below, not more (MRR, share of true 成果 suggested, suggestions per no-match need)
README_FIGURES = {
    "dev": (0.898, 0.72, None),
    "tuning": (0.961, 0.95, 0.25),
    "titles": (0.832, 0.68, 0.75),
    "tuning2": (0.910, 0.83, 0.30),
    "tuning3": (0.906, 0.86, 0.54),
    "tuning4": (0.894, 0.79, 0.42),
    "tuning5": (0.975, 0.92, 0.48),
}
MRR_MARGIN, SUGGEST_MARGIN = 0.02, 0.05


@pytest.mark.parametrize("which", sorted(README_FIGURES))
def test_quality_does_not_drop_below_the_readme_figures(embedder, tuning, which):
    sets = {
        "dev": lambda: (graded_devset(load_devset()), ("demo",)),
        "tuning": lambda: (tuning, ("tuning",)),
        "titles": lambda: (titles_only(tuning), ("tuning",)),
        **{
            name: (lambda name=name: (load_graded(INDEPENDENT_DIR / name), ()))
            for name in ("tuning2", "tuning3", "tuning4", "tuning5")
        },
    }
    gs, exclude = sets[which]()
    w = Weights.load()
    full = SetEvaluation(gs, embedder, background_exclude=exclude, weights=w).run(w, "full")
    mrr, true, none = README_FIGURES[which]
    assert full.mean("mrr") >= mrr - MRR_MARGIN, full.mean("mrr")
    assert full.extra["suggest_true"] >= true - SUGGEST_MARGIN, full.extra
    if none is not None:
        assert full.extra["suggest_none"] <= none + SUGGEST_MARGIN, full.extra
