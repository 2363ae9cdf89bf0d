"""How fast a listing change reaches search through the change log, at 20k and 200k 成果, with no
full reload: the matching service's EngineHost applies one log row at a time while a searcher keeps
asking.

    python bench/bench_changes.py --csl ../shared/eval/csl [--sizes 20000 200000] [--changes 30]

The library is synthetic (CSL abstracts' term lists, clustered unit vectors, as bench_match.py);
the log lives in a SQLite database under /tmp. Every change is committed to the log the way the web
app writes it (one row, in its own transaction), then the host is woken as the app wakes the
service. Printed per size: start-up (the one full load), memory, and per change (publish, edit,
archive) the seconds until the host has applied it and until a search returns the new text; plus
the p95 of the searches running meanwhile (a full reload would stall them). The synthetic embedder
costs nothing: a real service adds one encode per changed text (bench_encode.py: ~40 ms).
"""

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_match import corpus, rss_mb  # noqa: E402
from market.models import IndexChange  # noqa: E402
from matching.changelog import ChangeLog, take_write_lock  # noqa: E402
from matching.datasets import load_csl  # noqa: E402
from matching.docs import Doc  # noqa: E402
from matching.engine import Background, MatchEngine  # noqa: E402
from matching.host import EngineHost  # noqa: E402
from matching.index import IndexParams  # noqa: E402
from matching.text import default_tokenizer  # noqa: E402


class HashEmbedder:
    """A text's vector from its hash (near one of the corpus' cluster centres): deterministic and
    free, so the figures are the log and the indexes, not the model."""

    model_id, dim = "bench-hash", 384

    def __init__(self, centers):
        self.centers = centers

    def encode(self, texts, prompt="query"):
        out = np.empty((len(texts), self.dim), np.float32)
        for n, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            rng = np.random.default_rng(seed)
            v = self.centers[seed % len(self.centers)] + 0.6 * rng.normal(size=self.dim).astype(np.float32)
            out[n] = v / np.linalg.norm(v)
        return out


def row(doc: Doc | None, kind: str = "achievement", ident: int = 0) -> dict:
    if doc is None:
        return {"kind": kind, "listing_id": ident, "op": "remove", "content_hash": None, "doc": None}
    return {
        "kind": doc.kind,
        "listing_id": doc.id,
        "op": "upsert",
        "content_hash": doc.content_hash(),
        "doc": doc.as_dict(),
    }


def commit(engine, rows: list[dict]) -> int:
    with engine.begin() as conn:
        take_write_lock(conn)
        seq = 0
        for r in rows:
            seq = conn.execute(sa.insert(IndexChange).values(**r).returning(IndexChange.seq)).scalar_one()
    return int(seq)


def pct(xs, p):
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


def run_size(n, token_lists, centers, changes, folder: Path) -> dict:
    rng = np.random.default_rng(n)
    docs, _ = corpus(n, token_lists, rng, centers)
    for d in docs:
        d.title = f"成果{d.id}"
        d.text = "".join(d.tokens[:60])
    db = sa.create_engine(f"sqlite:///{folder / f'log{n}.db'}")
    IndexChange.__table__.create(db)
    t = time.perf_counter()
    for s in range(0, n, 5000):
        with db.begin() as conn:
            conn.execute(sa.insert(IndexChange), [row(d) for d in docs[s : s + 5000]])
    t_log = time.perf_counter() - t

    embedder = HashEmbedder(centers)
    engine = MatchEngine(
        embedder, folder / f"index{n}", params=IndexParams(hnsw_threshold=50_000), background=Background(embedder)
    )
    host = EngineHost(engine, ChangeLog(db), save_every=3600)
    base = rss_mb()
    t = time.perf_counter()
    host.start()
    t_start = time.perf_counter() - t
    mem = rss_mb() - base
    stop = threading.Event()
    runner = threading.Thread(target=host.run, args=(stop,), daemon=True)
    runner.start()

    searches: list[float] = []
    searching = threading.Event()

    def searcher():
        q = 0
        while not searching.is_set():
            text = docs[(q * 7919) % n].text[:40]
            t0 = time.perf_counter()
            engine.search("achievement", text, k=20)
            searches.append(time.perf_counter() - t0)
            q += 1

    s_thread = threading.Thread(target=searcher, daemon=True)
    s_thread.start()
    applied, visible = {"publish": [], "edit": [], "archive": []}, {"publish": [], "edit": [], "archive": []}
    for c in range(changes):
        what = ("publish", "edit", "archive")[c % 3]
        if what == "publish":
            doc = Doc(id=n + 1 + c, kind="achievement", title=f"新成果{c}", text=f"新成果{c}的简介：" + docs[c].text)
        elif what == "edit":
            doc = docs[c * 13 % n]
            doc = Doc(**{**doc.__dict__, "text": f"修改{c}：" + doc.text})
        else:
            doc = None
        target = doc.id if doc is not None else docs[c * 17 % n].id
        t0 = time.perf_counter()
        seq = commit(db, [row(doc, ident=target)])
        host.wake()  # the web app wakes the service after its commit
        host.wait_for(seq, timeout=30)
        applied[what].append(time.perf_counter() - t0)
        if doc is not None:
            found = engine.search("achievement", doc.embed_text(), k=5)
            ok = any(m.id == target for m in found)
        else:
            ok = target not in engine.libraries["achievement"].docs
        visible[what].append(time.perf_counter() - t0 if ok else float("inf"))
        time.sleep(0.05)
    searching.set()
    s_thread.join()
    stop.set()
    runner.join(60)
    return {
        "n": n,
        "log_write": t_log,
        "start": t_start,
        "mem": mem,
        "applied": applied,
        "visible": visible,
        "search_p95": pct(searches, 95) * 1000,
        "search_max": max(searches) * 1000 if searches else float("nan"),
        "searches": len(searches),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csl", required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 200000])
    ap.add_argument("--changes", type=int, default=30)
    args = ap.parse_args()
    papers = load_csl(Path(args.csl))
    tok = default_tokenizer()
    token_lists = [tok.tokens(p.title + p.abstract) for p in papers]
    centers = np.random.default_rng(0).normal(size=(300, 384)).astype(np.float32)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            results.append(run_size(n, token_lists, centers, args.changes, Path(tmp)))
            r = results[-1]
            print(f"{n}: start {r['start']:.1f}s, memory +{r['mem']:.0f} MB", flush=True)
    print(f"\nchange → searchable through the log (cpus: {len(os.sched_getaffinity(0))})")
    print(
        f"{'成果':>8} {'start-up s':>10} {'MB':>6} {'change':>8} {'applied p50/max s':>18} "
        f"{'searchable p50/max s':>21} {'searches meanwhile p95/max ms':>30}"
    )
    for r in results:
        for what in ("publish", "edit", "archive"):
            a, v = r["applied"][what], r["visible"][what]
            print(
                f"{r['n']:>8} {r['start']:>10.1f} {r['mem']:>6.0f} {what:>8} "
                f"{pct(a, 50):>8.3f}/{max(a):<8.3f} {pct(v, 50):>10.3f}/{max(v):<9.3f} "
                f"{r['search_p95']:>15.1f}/{r['search_max']:<10.1f}"
            )


if __name__ == "__main__":
    main()
