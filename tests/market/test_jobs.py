"""The job queue (issue 14): slow work runs after the commit that asked for it, never inside its
transaction and never after a rollback; workers claim each job once, take over a dead worker's
job, retry with backoff and keep failures visible."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from market.extensions import db
from market.infra import jobs
from market.models import Job, Match, Organisation, Role, utcnow
from market.services import listings
from tests.conftest import ACHIEVEMENT, NEED

CALLS: list[tuple] = []
LOCK = threading.Lock()


@jobs.handler("test-record")
def _record(tag: str, org_id: int | None = None, pause: float = 0.0) -> None:
    """Records its call; with ``org_id``, whether that organisation is visible from the job's own
    session (it is only once the caller's transaction has committed)."""
    time.sleep(pause)
    seen = None if org_id is None else db.session.get(Organisation, org_id) is not None
    with LOCK:
        CALLS.append((tag, seen, threading.get_ident()))


@jobs.handler("test-fail")
def _fail(tag: str) -> None:
    db.session.add(Organisation(name=f"失败任务写的{tag}", kind="高校", region="410105"))
    db.session.flush()
    raise RuntimeError(f"任务 {tag} 出错")


@jobs.handler("test-write")
def _write(tag: str, pause: float = 0.0) -> None:
    time.sleep(pause)
    db.session.add(Organisation(name=f"任务{tag}写的单位", kind="高校", region="410105"))


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield
    CALLS.clear()


@pytest.fixture
def queued(app):
    """Jobs wait for a worker."""
    app.config["JOBS_EAGER"] = False
    return app


def count(model=Job, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_job_row_is_written_in_the_callers_transaction_and_only_committed_with_it(queued, make):
    other = create_engine(db.engine.url)  # another connection sees committed data only
    try:
        org = make.org()
        job = jobs.enqueue("test-record", tag="a", org_id=org.id)
        db.session.flush()
        assert db.session.get(Job, job.id).status == "queued"  # in this transaction
        with other.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM job")) == 0
        db.session.commit()
        with other.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM job")) == 1
        jobs.enqueue("test-record", tag="b")
        db.session.flush()
        db.session.rollback()
        assert count() == 1 and CALLS == []
    finally:
        other.dispose()


def test_eager_job_runs_after_commit_in_its_own_session_never_after_rollback(app, make):
    org = make.org()
    db.session.commit()
    rolled_back = Organisation(name="回滚的单位", kind="高校", region="410105")
    db.session.add(rolled_back)
    db.session.flush()
    jobs.enqueue("test-record", tag="rolled back", org_id=rolled_back.id)
    db.session.flush()
    db.session.rollback()
    assert CALLS == [] and count() == 0

    fresh = Organisation(name="新单位", kind="高校", region="410105")
    db.session.add(fresh)
    db.session.flush()
    jobs.enqueue("test-record", tag="committed", org_id=fresh.id)
    jobs.enqueue("test-record", tag="committed", org_id=fresh.id)  # asked twice: one job
    db.session.flush()
    assert CALLS == []  # not inside the transaction
    db.session.commit()
    # run after the commit, by a session that already sees the committed row
    assert [(tag, seen) for tag, seen, _ in CALLS] == [("committed", True)]
    assert db.session.scalars(select(Job.status)).all() == ["done"]
    assert org.id


def test_two_workers_never_run_the_same_job(queued):
    for i in range(24):
        jobs.enqueue("test-record", tag=str(i), pause=0.01)
    db.session.commit()
    errors = []

    def work(n):
        try:
            with queued.app_context():
                jobs.Worker(name=f"w{n}").run(burst=True)
        except Exception as e:  # pragma: no cover - shown by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    runs = Counter(tag for tag, _, _ in CALLS)
    assert sorted(runs, key=int) == [str(i) for i in range(24)]
    assert max(runs.values()) == 1, {tag: n for tag, n in runs.items() if n > 1}
    assert len({thread for _, _, thread in CALLS}) > 1  # the work was shared
    assert count(Job, Job.status == "done") == 24


def test_a_dead_workers_job_is_claimed_again_a_live_ones_is_not(queued):
    lease = queued.config["JOBS_LEASE_SECONDS"]
    dead = jobs.enqueue("test-record", tag="dead")
    alive = jobs.enqueue("test-record", tag="alive")
    db.session.flush()
    dead.status, dead.attempts, dead.locked_by = "running", 1, "worker:gone:1"
    dead.locked_at = utcnow() - timedelta(seconds=lease + 5)
    alive.status, alive.attempts, alive.locked_by, alive.locked_at = "running", 1, "worker:busy:2", utcnow()
    db.session.commit()

    assert jobs.Worker(name="rescuer").run(burst=True) == {"done": 1}
    assert [tag for tag, _, _ in CALLS] == ["dead"]
    db.session.expire_all()
    assert (dead.status, dead.attempts, dead.locked_by) == ("done", 2, None)
    assert (alive.status, alive.locked_by) == ("running", "worker:busy:2")


def test_a_job_whose_workers_keep_dying_ends_failed(queued):
    job = jobs.enqueue("test-record", tag="cursed")
    db.session.flush()
    job.status, job.attempts, job.locked_by = "running", job.max_attempts, "worker:gone:1"
    job.locked_at = utcnow() - timedelta(seconds=queued.config["JOBS_LEASE_SECONDS"] + 5)
    db.session.commit()
    assert jobs.Worker().run(burst=True) == {"failed": 1}
    db.session.expire_all()
    assert CALLS == [] and job.status == "failed" and "中断" in job.last_error


def test_failures_are_rolled_back_retried_with_backoff_then_failed_and_retried_by_hand(queued):
    queued.config.update(JOBS_MAX_ATTEMPTS=3, JOBS_BACKOFF_SECONDS=10)
    job = jobs.enqueue("test-fail", tag="x")
    db.session.commit()
    runner = queued.test_cli_runner()
    for attempt, wait in ((1, 10), (2, 20)):
        before = utcnow()
        assert jobs.Worker().run(burst=True) == {"queued": 1}
        db.session.expire_all()
        assert (job.status, job.attempts, job.locked_by) == ("queued", attempt, None)
        assert "任务 x 出错" in job.last_error
        assert timedelta(seconds=wait - 1) <= job.run_after - before <= timedelta(seconds=wait + 5)
        assert jobs.Worker().run(burst=True) == {}  # not due yet
        job.run_after = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert jobs.Worker().run(burst=True) == {"failed": 1}
    db.session.expire_all()
    assert job.status == "failed" and job.attempts == 3 and job.finished_at is not None
    assert count(Organisation, Organisation.name.like("失败任务写的%")) == 0  # each attempt rolled back

    listed = runner.invoke(args=["jobs", "list", "--status", "failed"])
    assert listed.exit_code == 0 and f"#{job.id} test-fail" in listed.output and "任务 x 出错" in listed.output
    assert "失败 1" in listed.output
    refused = runner.invoke(args=["jobs", "retry"])
    assert refused.exit_code != 0 and "二者选一" in refused.output
    assert runner.invoke(args=["jobs", "retry", "--failed"]).exit_code == 0
    db.session.expire_all()
    assert (job.status, job.attempts, job.finished_at) == ("queued", 0, None)
    assert "任务 x 出错" in job.last_error  # kept until it succeeds or fails again


def test_a_running_jobs_lock_is_refreshed_so_it_never_looks_abandoned(queued):
    queued.config["JOBS_LEASE_SECONDS"] = 0.3  # refreshed every 0.1 s
    seen = []

    @jobs.handler("test-slow")
    def _slow():
        with db.engine.connect() as conn:  # what another worker would see
            first = conn.scalar(text("SELECT locked_at FROM job"))
            time.sleep(0.6)
            seen.append((first, conn.scalar(text("SELECT locked_at FROM job"))))
            seen.append(jobs.claim_next("thief"))

    jobs.enqueue("test-slow")
    db.session.commit()
    assert jobs.Worker().run(burst=True) == {"done": 1}
    (first, later), stolen = seen
    assert later != first and stolen is None


def test_a_run_that_lost_its_lock_to_another_worker_is_rolled_back(queued):
    @jobs.handler("test-robbed")
    def _robbed():
        with db.engine.begin() as conn:  # another worker took the job over meanwhile
            conn.execute(text("UPDATE job SET locked_by = 'other', locked_at = :now"), {"now": utcnow()})
        db.session.add(Organisation(name="被接管的任务写的", kind="高校", region="410105"))

    job = jobs.enqueue("test-robbed")
    db.session.commit()
    assert jobs.Worker().run(burst=True) == {"running": 1}
    db.session.expire_all()
    assert (job.status, job.locked_by) == ("running", "other")
    assert count(Organisation, Organisation.name == "被接管的任务写的") == 0


def test_done_jobs_are_pruned_after_the_keeping_days_failed_ones_stay(queued):
    old, recent, failed = (jobs.enqueue("test-record", tag=t) for t in ("old", "recent", "failed"))
    db.session.flush()
    old.status, old.finished_at = "done", utcnow() - timedelta(days=8)
    recent.status, recent.finished_at = "done", utcnow() - timedelta(days=6)
    failed.status, failed.finished_at = "failed", utcnow() - timedelta(days=30)
    db.session.commit()
    assert jobs.Worker().run(burst=True) == {}  # a worker prunes when it starts (JOBS_KEEP_DAYS 7)
    assert sorted(db.session.scalars(select(Job.args["tag"].as_string()))) == ["failed", "recent"]
    result = queued.test_cli_runner().invoke(args=["jobs", "prune", "--days", "5"])
    assert result.exit_code == 0 and "deleted: 1" in result.output
    assert db.session.scalars(select(Job.status)).all() == ["failed"]


def test_stopping_a_worker_finishes_the_current_job_and_starts_no_other(queued):
    worker = jobs.Worker(name="stopper")

    @jobs.handler("test-stop")
    def _stop(tag):
        CALLS.append((tag, None, None))
        worker.stop()  # as SIGTERM does while a job runs

    jobs.enqueue("test-stop", tag="first")
    jobs.enqueue("test-stop", tag="second")
    db.session.commit()
    assert worker.run() == {"done": 1}
    assert [tag for tag, _, _ in CALLS] == ["first"]
    assert sorted(db.session.scalars(select(Job.status))) == ["done", "queued"]


def test_market_worker_process_runs_jobs_and_sigterm_lets_the_current_one_finish(queued, tmp_path):
    first = jobs.enqueue("test-write", tag="一", pause=2.0)
    jobs.enqueue("test-write", tag="二", pause=2.0)
    db.session.commit()
    env = {
        **os.environ,
        "DATABASE_URL": queued.config["SQLALCHEMY_DATABASE_URI"],
        "MARKET_DATA_DIR": str(tmp_path),
        "MARKET_MATCHING": "0",
        "JOBS_POLL_SECONDS": "0.1",
    }
    code = "import tests.market.test_jobs; from market.cli import main; main()"  # with this file's handlers
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "worker"], env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while db.session.scalar(select(Job.status).where(Job.id == first.id)) != "running":
            db.session.rollback()
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "jobs: done 1" in output
    db.session.rollback()
    statuses = dict(db.session.execute(select(Job.args["tag"].as_string(), Job.status)).all())
    assert statuses == {"一": "done", "二": "queued"}
    written = db.session.scalars(select(Organisation.name).where(Organisation.name.like("任务%"))).all()
    assert written == ["任务一写的单位"]


def test_publishing_with_eager_off_suggests_nothing_until_the_worker_runs(queued, make, fake_engine):
    fake_engine.weights.cutoff = 0.0
    ach = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, make.user(Role.researcher), publish=True)
    db.session.commit()
    need = listings.create(listings.NEED, NEED, make.user(Role.enterprise), publish=True)
    db.session.commit()
    assert count(Match) == 0
    assert db.session.execute(select(Job.name, Job.args, Job.status).order_by(Job.id)).all() == [
        ("suggest", {"kind": "achievement", "listing_id": ach.id}, "queued"),
        ("suggest", {"kind": "need", "listing_id": need.id}, "queued"),
    ]
    result = queued.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert "done 2" in result.output
    assert db.session.scalar(select(Match.need_id)) == need.id
    assert count(Job, Job.status == "done") == 2


# ---- RQ with a real redis-server ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing (.ci/run installs it)")
        pytest.skip("redis-server is not installed (apt-get install redis-server); CI runs this test")
    port = _free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp_path],
        stdout=subprocess.DEVNULL,
    )
    from redis import Redis

    url = f"redis://127.0.0.1:{port}/0"
    client = Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except Exception:
            time.sleep(0.05)
    yield url
    client.close()
    proc.terminate()
    proc.wait(10)


def test_rq_backend_pushes_after_commit_and_the_worker_runs_it(queued, redis_url, make, fake_engine):
    queued.config["REDIS_URL"] = redis_url
    fake_engine.weights.cutoff = 0.0
    listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, make.user(Role.researcher), publish=True)
    db.session.commit()
    queue = jobs._queue(queued)
    assert queue.count == 1
    need = listings.create(listings.NEED, NEED, make.user(Role.enterprise), publish=True)
    db.session.flush()
    assert queue.count == 1  # nothing pushed before the commit
    db.session.commit()
    assert queue.count == 2 and count(Match) == 0

    result = queued.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert "rq backend" in result.output and "done 2" in result.output
    assert queue.count == 0 and db.session.scalar(select(Match.need_id)) == need.id
    assert count(Job, Job.status == "done") == 2


def test_rq_sweep_runs_a_committed_job_whose_push_was_lost(queued, redis_url):
    queued.config["REDIS_URL"] = ""
    jobs.enqueue("test-record", tag="never pushed")  # as if the process died between commit and push
    db.session.commit()
    queued.config["REDIS_URL"] = redis_url
    queue = jobs._queue(queued)
    assert queue.count == 0
    jobs.enqueue("test-record", tag="pushed")
    db.session.commit()
    assert queue.count == 1
    assert jobs.sweep(queued, older_than=0) == 1  # the pushed one is already held by RQ
    assert queue.count == 2
    assert jobs.Worker().run(burst=True) == {"done": 2}
    assert sorted(tag for tag, _, _ in CALLS) == ["never pushed", "pushed"]
