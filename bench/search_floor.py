"""Where to put the relevance floor of the semantic search (the listings' 智能语义搜索).

Every need of the dev set and of the independent tuning sets is typed as a search — its title, and
its keywords as a user would type them — against that set's 成果 library, through
``MatchEngine.search`` with the shipped weights. For each rule (a hit is shown when its score is at
least ``floor``, or — the shipped rule, market.infra.match_engine.relevance_floor — at least
``min(floor, share × the query's best score)``, so that a short query whose scores are all low still
shows its best hits) it prints the share of true 成果 (grade 3) and
of good ones (grade >= 2) still shown, and how many results a query shows; the same for off-topic
queries (nothing in the library answers them). The lockbox is not read.

    python bench/search_floor.py
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OFF_TOPIC = [
    "红烧肉的做法",
    "周末去哪里旅游",
    "足球比赛直播",
    "儿童钢琴培训",
    "婚纱摄影套餐",
    "二手房出租",
    "考研英语复习资料",
    "宠物狗美容",
    "网络小说推荐",
    "中秋月饼礼盒",
]
RULES = [(f, None) for f in (0.0, 0.005, 0.01, 0.02, 0.05)] + [(f, r) for f in (0.01, 0.02) for r in (0.25, 0.5)]


def main(argv=None) -> int:
    from matching.cli import _embedder, _graded_sets
    from matching.engine import Background, MatchEngine
    from matching.ranking import DEFAULT_WEIGHTS, Weights

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model")
    args = ap.parse_args(argv)
    emb = _embedder(args)
    weights = Weights.load(DEFAULT_WEIGHTS)
    for gs, exclude in _graded_sets(include_lockbox=False):
        if gs.titles_only:
            continue
        eng = MatchEngine(emb, None, weights=weights, background=Background(emb, exclude=exclude))
        eng.sync("achievement", gs.achs)
        pos = {a.id: n for n, a in enumerate(gs.achs)}
        for form in ("title", "keywords"):
            true_hits, good_hits, counts = [], [], []
            for q, need in enumerate(gs.needs):
                text = need.title if form == "title" else " ".join(need.keywords) or need.title
                hits = eng.search("achievement", text, k=len(gs.achs))
                scores = np.array([h.score for h in hits])
                counts.append(scores)
                g = gs.grades[q]
                for h in hits:
                    grade = g[pos[h.id]]
                    if grade >= 3:
                        true_hits.append((h.score, scores[0]))
                    if grade >= 2:
                        good_hits.append((h.score, scores[0]))
            _report(
                f"{gs.name} [{form}] {len(gs.needs)} queries × {len(gs.achs)} 成果",
                np.array(true_hits),
                np.array(good_hits),
                counts,
            )
        off = [np.array([h.score for h in eng.search("achievement", t, k=len(gs.achs))]) for t in OFF_TOPIC]
        _report(f"{gs.name} [off-topic] {len(OFF_TOPIC)} queries", None, None, off)
    return 0


def _kept(pairs, floor, share) -> str:
    if pairs is None or not len(pairs):
        return "–"
    return f"{(pairs[:, 0] >= _threshold(floor, share, pairs[:, 1])).mean():.1%}"


def _threshold(floor, share, best):
    return floor if share is None else np.minimum(floor, share * best)


def _report(title, true_hits, good_hits, counts):
    print(title)
    print("  floor   share  true kept  good kept  shown/query (median, max)")
    for f, r in RULES:
        shown = [int((c >= _threshold(f, r, c[0])).sum()) for c in counts]
        print(
            f"  {f:6.4f}  {'' if r is None else format(r, '4.2f'):>4}  {_kept(true_hits, f, r):>9}  {_kept(good_hits, f, r):>9}"
            f"  {np.median(shown):6.1f} {max(shown):5d}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
