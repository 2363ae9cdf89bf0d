"""Matching speed at 1k / 20k / 200k 成果: index build time and memory, and the p50/p95 of a whole
match split into encode / vector search / keyword / re-rank.

    python bench/bench_match.py --csl ../shared/eval/csl [--sizes 1000 20000 200000] [--queries 200]

The corpus reuses the token lists of the CSL abstracts (realistic Chinese term statistics) and
clustered random unit vectors (the real model would need hours to embed 200k texts on 2 cores);
'fresh query' timings encode real ≤300-character texts with the real model, cache bypassed.
Goals (issue 3): a need already embedded p95 ≤ 15 ms at 20k and ≤ 30 ms at 200k; a fresh
query text ≤ 120 ms p95 including encoding.
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching.datasets import load_csl  # noqa: E402
from matching.docs import Doc  # noqa: E402
from matching.engine import Background, MatchEngine  # noqa: E402
from matching.index import IndexParams  # noqa: E402
from matching.text import default_tokenizer  # noqa: E402

FIELDS = ["电子信息", "先进制造", "新材料及其应用", "农业", "生物医药和医疗器械", "新能源与高效节能"]
CHAINS = ["超硬材料", "智能传感器", "盾构及工程装备", "现代食品", "生物医药", "氢能与储能", None]
MODES = ["转让", "许可", "作价入股", "合作开发", "技术服务"]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class VectorsOnly:
    """Stands in for the model while the synthetic corpus is indexed (vectors are given)."""

    model_id, dim = "bench", 384

    def encode(self, texts, prompt="query"):
        raise AssertionError("the corpus is indexed from given vectors")


def corpus(n, token_lists, rng, centers):
    labels = rng.integers(0, len(centers), n)
    vecs = centers[labels] + 0.6 * rng.normal(size=(n, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    docs = []
    for i in range(n):
        toks = token_lists[rng.integers(len(token_lists))]
        docs.append(
            Doc(
                id=i + 1,
                kind="achievement",
                title="",
                text="",
                field=FIELDS[i % len(FIELDS)],
                chain=CHAINS[i % len(CHAINS)],
                stage=int(rng.integers(0, 5)),
                modes=(MODES[i % 5], MODES[(i + 2) % 5]),
                price_min=float(rng.integers(1, 50)) * 1e5,
                region="410105",
                tokens=tuple(toks),
            )
        )
    return docs, vecs


def pct(xs, p):
    return float(np.percentile(np.asarray(xs) * 1000, p))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csl", required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000, 200000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--fresh", type=int, default=60, help="fresh query texts encoded by the real model")
    args = ap.parse_args()
    papers = load_csl(Path(args.csl))
    tok = default_tokenizer()
    token_lists = [tok.tokens(p.title + p.abstract) for p in papers]
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(300, 384)).astype(np.float32)

    from matching.e5convert import ensure_model
    from matching.embedder import Embedder
    from matching.folders import model_dir as default_model_dir

    real = Embedder(ensure_model(default_model_dir()), cache_path=None)
    real.encode([(p.title + p.abstract)[:300] for p in papers[-40:]])  # load and warm the model
    background = Background(real)  # embedded once, shared
    background.vectors("need")

    rows = []
    for size_no, n in enumerate(args.sizes):
        fresh_texts = [
            (p.title + "。" + p.abstract)[:300] for p in papers[size_no * args.fresh : (size_no + 1) * args.fresh]
        ]  # never seen
        base = rss_mb()
        docs, vecs = corpus(n, token_lists, rng, centers)
        eng = MatchEngine(VectorsOnly(), None, params=IndexParams(hnsw_threshold=50_000), background=background)
        lib = eng.libraries["achievement"]
        t = time.perf_counter()
        for s in range(0, n, 10_000):
            lib.index.add([d.id for d in docs[s : s + 10_000]], vecs[s : s + 10_000])
        t_vec = time.perf_counter() - t
        t = time.perf_counter()
        for d in docs:
            lib.docs[d.id] = d
            lib.bm25.add(d.id, list(d.tokens))
        t_kw = time.perf_counter() - t
        mem = rss_mb() - base

        # a need already embedded: its stored vector, its keyword terms, structured fields; the
        # first pass warms per-term caches as a running server's would be, the second is timed
        parts = {"search": [], "keyword": [], "rerank": [], "total": []}
        for q in list(range(args.queries)) * 2:
            if q == 0:
                parts = {key: [] for key in parts}
            src = (q * 7919) % n
            need = Doc(
                id=10**9 + q,
                kind="need",
                title="",
                text="",
                field=FIELDS[q % 6],
                chain=CHAINS[q % 7],
                stage=2,
                modes=("合作开发",),
                price_max=3e6,
                region="410171",
                tokens=tuple(token_lists[(q * 104729) % len(token_lists)]),
            )
            qvec = vecs[src] + 0.3 * np.random.default_rng(q).normal(size=384).astype(np.float32)
            qvec /= np.linalg.norm(qvec)
            t = time.perf_counter()
            eng.match(need, k=10, vector=qvec)
            parts["total"].append(time.perf_counter() - t)
            for key in ("search", "keyword", "rerank"):
                parts[key].append(eng.last_timings[key])
        # a fresh query text: encoded by the real model, then the same ranking
        eng.embedder = real
        enc, tot = [], []
        for text in fresh_texts:
            t = time.perf_counter()
            eng.search("achievement", text, k=10)
            tot.append(time.perf_counter() - t)
            enc.append(eng.last_timings["encode"])
        eng.embedder = VectorsOnly()
        rows.append((n, t_vec, t_kw, mem, lib.index.uses_hnsw, parts, enc, tot))
        print(f"done {n}", file=sys.stderr)
        del eng, lib, docs, vecs

    print(
        f"\n{'成果':>8} {'index':>6} {'build vec s':>11} {'build kw s':>10} {'mem MB':>7} | "
        f"{'embedded need p50/p95 ms':>25} {'(search/keyword/rerank p95)':>29} | {'fresh text p50/p95 ms':>22} {'(encode p95)':>12}"
    )
    for n, t_vec, t_kw, mem, hnsw, parts, enc, tot in rows:
        print(
            f"{n:>8} {'HNSW' if hnsw else 'flat':>6} {t_vec:>11.1f} {t_kw:>10.1f} {mem:>7.0f} | "
            f"{pct(parts['total'], 50):>11.1f} / {pct(parts['total'], 95):<11.1f} "
            f"{pct(parts['search'], 95):>9.1f}/{pct(parts['keyword'], 95):.1f}/{pct(parts['rerank'], 95):.1f}{'':>11} | "
            f"{pct(tot, 50):>9.1f} / {pct(tot, 95):<9.1f} {pct(enc, 95):>12.1f}"
        )
    print(
        f"\nmodel precision: {real.precision} ({real.precision_reason}); peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
