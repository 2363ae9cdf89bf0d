"""The matching service (matching.service) and the web app as its client: changes reach it through
the change log, pages work when it is down or loading, and a killed service resumes from the log."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from market.extensions import db
from market.infra import index_log, match_engine
from market.infra.match_client import RemoteBackend
from market.models import IndexChange, Role
from market.services import listings
from matching.changelog import ChangeLog
from matching.engine import MatchEngine
from matching.host import EngineHost
from matching.service import serve
from tests.conftest import ACHIEVEMENT, NEED, login, post_form
from tests.market.test_matching_web import FROZEN_FOOD, publish
from tests.matching.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(url: str) -> dict:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as r:
            return json.loads(r.read())
    except OSError as e:
        code = getattr(e, "code", None)
        return json.loads(e.read()) if code == 503 else {"state": "down"}


def wait_ready(url: str, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        h = health(url)
        if h.get("state") == "ready":
            return h
        time.sleep(0.05)
    raise AssertionError(f"service at {url} not ready: {health(url)}")


def use_service(app, url: str) -> None:
    app.config.update(MATCHING_ENABLED=True, MATCHING_SERVICE_URL=url)
    app.extensions.pop("match_backend", None)


@pytest.fixture
def service(app, tmp_path):
    """The matching service on a thread (fake embedder) and the app as its client."""
    port = free_port()
    eng = MatchEngine(FakeEmbedder(), tmp_path / "service-index")
    host = EngineHost(eng, ChangeLog(db.engine), save_every=0.0)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(host, "127.0.0.1", port, stop), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_ready(url)
    use_service(app, url)
    yield SimpleNamespace(host=host, engine=eng, url=url)
    stop.set()
    thread.join(10)


def test_changes_reach_the_service_through_the_log(app, make, service):
    ach = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    seq = index_log.head()
    assert service.host.wait_for(seq, 2.0), "the commit's change was not applied within 2 s"
    assert ach.id in service.engine.libraries["achievement"].index
    listings.update(ach, {"title": "梯度硬质合金滚刀刀圈（第二代）"}, ach.owner)
    db.session.commit()
    assert service.host.wait_for(index_log.head(), 2.0)
    assert service.engine.libraries["achievement"].docs[ach.id].title == "梯度硬质合金滚刀刀圈（第二代）"
    listings.archive_listing(ach, ach.owner, "solved")
    db.session.commit()
    assert service.host.wait_for(index_log.head(), 2.0)
    assert ach.id not in service.engine.libraries["achievement"].index
    ok, lines = match_engine.check()
    assert ok, lines
    # every change is one row, written with the listing; a draft edited writes none
    rows = db.session.scalars(db.select(IndexChange).order_by(IndexChange.seq)).all()
    assert [(r.op, r.listing_id) for r in rows] == [("upsert", ach.id), ("upsert", ach.id), ("remove", ach.id)]
    draft = listings.create(listings.ACHIEVEMENT, {**ACHIEVEMENT, "title": "盾构刀圈草稿"}, ach.owner)
    db.session.commit()
    listings.update(draft, {"title": "盾构刀圈草稿（改）"}, ach.owner)
    db.session.commit()
    assert index_log.head() == rows[-1].seq


def test_pages_and_api_answer_from_the_service(client, app, make, service):
    app.config["SEARCH_MIN_SCORE"] = 0.0  # the fake embedder's scores are not calibrated
    ach = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    food = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT, **FROZEN_FOOD)
    need = publish(make, listings.NEED, NEED)
    service.host.wait_for(index_log.head(), 2.0)
    service.engine.weights.cutoff = 0.0
    html = client.get(f"/needs/{need.id}").get_data(as_text=True)
    first = html.index('data-testid="suggestion"')
    assert f'href="/achievements/{ach.id}"' in html[first : first + 1000] and "为什么推荐" in html
    api = client.get("/api/v1/search?kind=achievements&q=速冻面皮&field=农业").json
    assert [i["id"] for i in api["items"]] == [food.id]
    assert client.get(f"/api/v1/needs/{need.id}/matches").json["items"][0]["id"] == ach.id
    assert client.get("/matching/gaps").status_code == 200


def test_a_new_listing_is_found_by_its_author_at_once(client, app, make, service, monkeypatch):
    """Read-your-writes: the author's next search waits for the author's own change."""
    app.config["SEARCH_MIN_SCORE"] = 0.0
    service.host.poll = 60  # the service looks at the log only when asked to
    monkeypatch.setattr(RemoteBackend, "wake", lambda self: None)  # and nobody tells it after the commit
    time.sleep(0.3)
    user = make.user(Role.researcher)
    login(client, user)
    r = post_form(client, "/achievements/new", {**ACHIEVEMENT, **FROZEN_FOOD, "action": "publish"})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:500]
    with client.session_transaction() as s:
        assert s[index_log.SEQ_KEY] == index_log.head()
    html = client.get("/achievements/?q=速冻面皮开裂&mode=semantic").get_data(as_text=True)
    assert f'href="{r.headers["Location"]}"' in html and "找到 1 条成果" in html


def test_pages_work_when_the_service_is_down(client, app, make):
    ach = publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    need = publish(make, listings.NEED, NEED)  # publishing works without the service
    use_service(app, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    html = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert 'data-testid="matching-down"' in html and "匹配服务未运行" in html and NEED["title"] in html
    r = client.get("/achievements/?q=盾构&mode=semantic")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="matching-down"' in html and f"/achievements/{ach.id}" in html
    assert client.get(f"/api/v1/needs/{need.id}/matches").json["error"]["code"] == "matching_unavailable"
    r = client.get("/api/v1/search?kind=needs&q=滚刀")
    assert r.status_code == 503 and r.json["error"]["code"] == "matching_unavailable"
    assert client.get("/matching/gaps").status_code == 200


def test_a_loading_service_answers_503_and_the_page_says_so(client, app, make, tmp_path):
    need = publish(make, listings.NEED, NEED)
    host = EngineHost(MatchEngine(FakeEmbedder(), tmp_path / "idx"), ChangeLog(db.engine))
    host.start = lambda: time.sleep(30)  # still loading
    port, stop = free_port(), threading.Event()
    threading.Thread(target=serve, args=(host, "127.0.0.1", port, stop), daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        if health(url).get("state") == "starting":
            break
        time.sleep(0.05)
    use_service(app, url)
    html = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert 'data-testid="matching-down"' in html and "正在加载索引" in html
    stop.set()


@pytest.mark.slow
def test_a_killed_service_resumes_from_the_log(app, make, tmp_path):
    """kill -9 in the middle of applying a batch: on restart nothing is missing."""
    url_db = app.config["SQLALCHEMY_DATABASE_URI"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start(slow: str):
        cmd = [sys.executable, "-m", "tests.market.fake_service", url_db, str(tmp_path / "idx"), str(port), slow]
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    first = publish(make, listings.NEED, NEED)
    proc = start("0.2")  # 0.2 s a text: 30 listings take 6 s to apply
    try:
        wait_ready(url)
        user = make.user(Role.researcher)
        made = [
            listings.create(
                listings.ACHIEVEMENT, {**ACHIEVEMENT, "title": f"梯度硬质合金刀圈第{n}型"}, user, publish=True
            )
            for n in range(30)
        ]
        db.session.commit()
        time.sleep(1.0)  # applying has begun
        assert health(url)["applied"] < index_log.head()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    proc = start("0")
    try:
        wait_ready(url)
        use_service(app, url)
        ok, lines = match_engine.check()
        assert ok, lines
        assert health(url)["applied"] == index_log.head()
        assert {x.id for x in made} | {first.id} >= set(match_engine.backend().hashes("achievement"))
        assert len(match_engine.backend().hashes("achievement")) == 30
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_suggest_job_is_retried_while_the_service_is_down(app, make):
    from market.infra import jobs
    from market.models import Job

    app.config["JOBS_EAGER"] = False
    use_service(app, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    publish(make, listings.ACHIEVEMENT, ACHIEVEMENT)
    publish(make, listings.NEED, NEED)
    jobs.Worker(name="t").run(burst=True)
    db.session.rollback()
    pending = db.session.scalars(db.select(Job).where(Job.name == "suggest")).all()
    assert pending and all(j.status == "queued" and j.attempts == 1 for j in pending)
    assert all("匹配服务未运行" in (j.last_error or "") for j in pending)
