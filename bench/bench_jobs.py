"""Publishing needs from several writers at once, with the real model: match suggestions computed
inside the publishing transaction (as before issue 14) against suggestions as jobs after the commit.

    python bench/bench_jobs.py [--writers 4] [--per-writer 5]

A fresh data folder (SQLite) with the demo data; the engine is built and the model loaded before
the clock starts. Each mode publishes the same demo needs again under new titles (so every text is
encoded afresh), ``--writers`` threads at once, each like a web request: create + publish + commit.

- ``inside``: suggest_for() before the commit, holding SQLite's write lock while the model encodes
  and the ranking runs (what publishing did before the job queue);
- ``eager``: JOBS_EAGER — the suggestion job runs in the writer's thread right after its commit;
- ``queued``: the job waits in the job table; one worker thread (as `market worker`) runs them.

Prints, side by side: the time one publish takes (p50, p95, max; waiting for SQLite's write lock
included), errors (e.g. "database is locked"), the time until every need is published and until
every need has its suggestions computed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--per-writer", type=int, default=5)
    args = ap.parse_args(argv)

    from matching.folders import model_dir

    tmp = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    os.environ.update(
        MARKET_DATA_DIR=str(tmp), MARKET_MODEL_DIR=str(model_dir().resolve()), MARKET_MATCHING="1", LOG_LEVEL="ERROR"
    )
    for name in ("DATABASE_URL", "MARKET_INDEX_DIR", "REDIS_URL", "JOBS_EAGER"):
        os.environ.pop(name, None)

    from sqlalchemy import func, select

    from market import create_app
    from market.commands.setup import init_db
    from market.config import DEMO_DIR, Config
    from market.demo import seed
    from market.extensions import db
    from market.infra import jobs, match_engine
    from market.models import Job, Organisation, User
    from market.services import listings, matches

    app = create_app(Config(tmp))
    app.config["JOBS_POLL_SECONDS"] = 0.05
    with app.app_context():
        init_db()
        seed.load(log=lambda *_: None)
        db.session.commit()
        _ = match_engine.engine().embedder.model  # the model loaded and the indexes synced first
        rows = list(seed._read_jsonl(DEMO_DIR / "needs"))
        owners = {
            o.name: u.id
            for u, o in db.session.execute(
                select(User, Organisation).join(Organisation, User.org_id == Organisation.id)
            )
        }
    print(f"data folder {tmp}; {len(rows)} demo needs; {args.writers} writers × {args.per_writer} publishes per mode")

    def publish(mode: str, writer: int, i: int, times: list, errors: list):
        row = rows[(writer * args.per_writer + i) % len(rows)]
        values = seed._listing_values(listings.NEED, row)
        values["title"] = f"{values['title']}（{mode}{writer}-{i}）"
        with app.app_context():
            t = time.perf_counter()
            try:
                user = db.session.get(User, owners[row["org"]])
                need = listings.create(listings.NEED, values, user, publish=True)
                if mode == "inside":
                    matches.suggest_for(need)
                db.session.commit()
            except Exception as e:
                db.session.rollback()
                errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:80]}")
            times.append(time.perf_counter() - t)

    def run(mode: str) -> dict:
        app.config["JOBS_EAGER"] = mode == "eager"
        times, errors = [], []
        worker = jobs.Worker(name="bench-worker", poll=0.05)
        with app.app_context():
            before = db.session.scalar(select(func.max(Job.id))) or 0
        runner = None
        if mode == "queued":
            runner = threading.Thread(target=lambda: app.app_context().push() or worker.run())
            runner.start()
        start = time.perf_counter()

        def writer(n):
            for i in range(args.per_writer):
                publish(mode, n, i, times, errors)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(args.writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        published = time.perf_counter() - start
        with app.app_context():
            while mode == "queued":
                open_jobs = db.session.scalar(
                    select(func.count()).where(Job.id > before, Job.status.in_(("queued", "running")))
                )
                db.session.rollback()
                if not open_jobs:
                    break
                time.sleep(0.05)
            done = time.perf_counter() - start
            if mode == "inside":  # their jobs were written too; the suggestions are already there
                db.session.execute(Job.__table__.update().where(Job.id > before).values(status="done"))
                db.session.commit()
        worker.stop()
        if runner is not None:
            runner.join()
        q = statistics.quantiles(times, n=20) if len(times) > 1 else times * 19
        return {
            "publish p50 s": statistics.median(times),
            "publish p95 s": q[18],
            "publish max s": max(times),
            "errors": len(errors),
            "all published s": published,
            "all suggested s": done,
            "_errors": errors,
        }

    results = {mode: run(mode) for mode in ("inside", "eager", "queued")}
    keys = [k for k in results["inside"] if not k.startswith("_")]
    print(f"{'':18}" + "".join(f"{m:>10}" for m in results))
    for k in keys:
        print(f"{k:18}" + "".join(f"{results[m][k]:>10.2f}" for m in results))
    for m, r in results.items():
        for e in sorted(set(r["_errors"])):
            print(f"{m}: {e}")


if __name__ == "__main__":
    main()
