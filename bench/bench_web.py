"""A load run of the web tier as deployed: the matching service plus gunicorn with 1 and then 4
workers (same run, same database), clients requesting the home page, 成果库 browse, detail pages and
semantic search; prints requests/s, p50/p95 per page, errors, and the web workers' memory.

    make setup && python bench/bench_web.py [--seconds 20] [--clients 16]

Uses the demo database of the data folder (`make run` / `market setup --demo`); rate limits are
switched off for the clients (they all come from 127.0.0.1). Also measured: how long the first
semantic search takes once the service says ready (the model is loaded before that), and the
resident memory of the service and of each web worker (the workers never load the model).
"""

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUERIES = [
    "盾构刀具磨损",
    "锂电池隔膜",
    "速冻食品开裂",
    "红外传感器",
    "超硬材料切削",
    "污水处理膜",
    "农药残留检测",
    "新能源汽车电机",
    "工业机器人视觉",
    "氢燃料电池",
    "金刚石线锯",
    "铝箔针孔",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def get(url: str, timeout: float = 60) -> tuple[int, float]:
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            code = r.status
    except urllib.error.HTTPError as e:
        code = e.code
    except OSError:
        code = 0
    return code, time.perf_counter() - t


def wait(url: str, seconds: float = 300, ready_key: bool = False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if not ready_key or json.loads(r.read()).get("state") == "ready":
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def ids(kind: str) -> list[int]:
    from sqlalchemy import select

    from market import create_app
    from market.extensions import db
    from market.models import Achievement, Need

    model = Achievement if kind == "achievement" else Need
    with create_app().app_context():
        return list(db.session.scalars(select(model.id).where(model.status == "published")))


def load(web: str, seconds: float, clients: int, ach: list[int], needs: list[int]) -> dict:
    pages = {
        "home": lambda r: "/",
        "browse": lambda r: f"/achievements/?page={r.randint(1, 5)}",
        "detail": lambda r: f"/achievements/{r.choice(ach)}" if r.random() < 0.5 else f"/needs/{r.choice(needs)}",
        "semantic": lambda r: "/achievements/?" + urllib.parse.urlencode({"q": r.choice(QUERIES), "mode": "semantic"}),
    }
    results: dict[str, list] = {k: [] for k in pages}
    errors: list = []
    stop = time.monotonic() + seconds

    def client(n: int):
        r = random.Random(n)
        names = list(pages)
        while time.monotonic() < stop:
            name = names[r.randrange(len(names))]
            path = pages[name](r)
            code, took = get(web + path)
            results[name].append(took)
            if code != 200:
                errors.append((code, path))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    total = sum(len(v) for v in results.values())
    return {"rps": total / wall, "n": total, "errors": errors, "pages": results}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    args = ap.parse_args()
    env = {**os.environ, "RATELIMIT_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    from market.config import Config

    db_url = os.environ.get("DATABASE_URL") or Config().SQLALCHEMY_DATABASE_URI
    ach, needs = ids("achievement"), ids("need")
    sport = free_port()
    service_url = f"http://127.0.0.1:{sport}"
    env["MATCHING_SERVICE_URL"] = service_url
    service = subprocess.Popen(
        [str(BIN / "matching"), "serve", "--database", db_url, "--port", str(sport)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        t = time.perf_counter()
        wait(service_url + "/health", ready_key=True)
        ready = time.perf_counter() - t
        body = json.dumps({"kind": "achievement", "text": "从未查询过的检索词：陶瓷轴承保持架", "k": 20}).encode()
        req = urllib.request.Request(service_url + "/search", data=body, method="POST")
        t = time.perf_counter()
        urllib.request.urlopen(req, timeout=120).read()
        first = time.perf_counter() - t
        print(f"service ready in {ready:.1f}s; first new semantic query after ready {first * 1000:.0f} ms")
        for workers in args.workers:
            port = free_port()
            web = subprocess.Popen(
                [str(BIN / "gunicorn"), "-w", str(workers), "-k", "gthread", "--threads", "4"]
                + ["-b", f"127.0.0.1:{port}", "market.wsgi:app"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                wait(url + "/api/v1/taxonomies")
                load(url, 3, args.clients, ach, needs)  # warm every worker
                r = load(url, args.seconds, args.clients, ach, needs)
                r["workers"] = workers
                r["rss"] = [rss_mb(p) for p in children(web.pid)]
                r["service_rss"] = rss_mb(service.pid)
                rows.append(r)
            finally:
                web.terminate()
                web.wait(30)
    finally:
        service.terminate()
        service.wait(30)
    print(f"\nload run: {args.clients} clients × {args.seconds:.0f} s, cpus {len(os.sched_getaffinity(0))}")
    print(
        f"{'workers':>7} {'req/s':>7} {'errors':>6} "
        + " ".join(f"{p + ' p50/p95 ms':>22}" for p in rows[0]["pages"])
        + f" {'worker RSS MB':>16} {'service RSS MB':>15}"
    )
    for r in rows:
        cells = [
            f"{np.percentile(v, 50) * 1000:>10.0f}/{np.percentile(v, 95) * 1000:<11.0f}" if v else f"{'–':>22}"
            for v in r["pages"].values()
        ]
        print(
            f"{r['workers']:>7} {r['rps']:>7.1f} {len(r['errors']):>6} "
            + " ".join(cells)
            + f" {max(r['rss']):>9.0f} (max) {r['service_rss']:>15.0f}"
        )
    if len(rows) > 1:
        print(
            f"\nthroughput {rows[-1]['workers']} vs {rows[0]['workers']} workers: {rows[-1]['rps'] / rows[0]['rps']:.2f}×"
        )
    for r in rows:
        for code, path in r["errors"][:5]:
            print(f"error {code} {path}")


if __name__ == "__main__":
    main()
