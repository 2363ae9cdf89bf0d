import numpy as np

from matching.bm25 import BM25


def test_scores_and_updates():
    bm = BM25()
    bm.add(1, ["金刚石", "微粉", "分级"])
    bm.add(2, ["盾构", "滚刀", "刀圈"])
    bm.add(3, ["金刚石", "刀具", "刀具"])
    top = bm.top(["金刚石", "刀具"], 5)
    assert [i for i, _ in top] == [3, 1] and 0 < top[0][1] <= 1
    assert bm.scores(["盾构"], [1, 2, 99]).tolist()[0] == 0 and bm.scores(["盾构"], [2])[0] > 0
    bm.add(3, ["燃料电池"])  # replace
    assert [i for i, _ in bm.top(["刀具"], 5)] == []
    bm.remove(1)
    assert bm.top(["金刚石"], 5) == [] and len(bm) == 2 and "金刚石" not in bm.df


def test_normalised_score_does_not_depend_on_corpus_size():
    small, big = BM25(), BM25()
    for bm in (small, big):
        bm.add(1, ["氢燃料", "电堆", "铂载量", "膜电极"])
    for i in range(2, 3000):
        big.add(i, [f"词{i % 97}", f"其它{i % 31}"])
    q = ["铂载量", "膜电极", "低温"]
    a, b = small.scores(q, [1])[0], big.scores(q, [1])[0]
    assert abs(a - b) < 0.1, (a, b)


def test_compaction_keeps_results():
    bm = BM25()
    for i in range(2500):
        bm.add(i, ["公共", f"t{i}"])
    for i in range(2400):
        bm.remove(i)
    assert len(bm) == 100
    assert [i for i, _ in bm.top(["t2450"], 3)] == [2450]
    assert np.isclose(bm.avg_len, 2.0)
