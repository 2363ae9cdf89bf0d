"""Slow work as jobs that run after the transaction that asked for them commits, never inside it.

``enqueue(name, **args)`` writes a ``job`` row in the caller's transaction (a transactional outbox):
a rolled-back change leaves no job, a committed one leaves its job even if the process dies right
after the commit. What happens after the commit depends on the configuration:

- ``JOBS_EAGER`` (the tests): the job runs in this process right after the commit, in an app
  context of its own with its own session — outside the caller's transaction.
- the database (default; SQLite or PostgreSQL): ``market worker`` polls the table and claims due
  jobs — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional ``UPDATE`` on SQLite — so that
  several workers never run one job twice.
- RQ (``REDIS_URL`` set): the job's id is also pushed to an RQ queue after the commit, so a worker
  starts it at once. The row stays the truth: the worker claims it exactly as above, and its sweep
  pushes again every row still queued ``JOBS_SWEEP_SECONDS`` after it was due (a push lost to a
  crash between commit and push, or to Redis being down, or a job whose retry came due).

A handler (``@handler("suggest")``) runs with its own session; its work and the job's ``done`` are
committed together. A failure is rolled back and retried with exponential backoff
(``JOBS_BACKOFF_SECONDS`` × 2^(attempt−1)); after ``JOBS_MAX_ATTEMPTS`` the job is ``failed`` with
its last error (``market jobs list`` / ``market jobs retry``). A running job's lock is refreshed
while it runs; one whose lock is older than ``JOBS_LEASE_SECONDS`` (its worker died) is claimed again.
"""

import json
import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, current_app, has_app_context
from sqlalchemy import and_, delete, event, or_, select, update
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Job, JobStatus, utcnow

log = logging.getLogger(__name__)
HANDLERS: dict[str, Callable[..., object]] = {}
RQ_FUNCTION = "market.infra.jobs.run_pushed"


def handler(name: str):
    """Register the function that runs the jobs called ``name`` (keyword arguments = the job's args)."""

    def register(fn):
        if HANDLERS.get(name, fn) is not fn:
            raise ValueError(f"a job handler named {name!r} is already registered")
        HANDLERS[name] = fn
        return fn

    return register


def enqueue(name: str, **args) -> Job:
    """A job to run once the current transaction commits (never if it rolls back). The same job
    asked for twice in one transaction is one job."""
    if name not in HANDLERS:
        raise ValueError(f"no job handler named {name!r}")
    try:
        key = (name, json.dumps(args, sort_keys=True))
    except TypeError as e:
        raise ValueError(f"the arguments of job {name!r} must be JSON: {e}") from None
    pending = db.session.info.setdefault("jobs_pending", {})
    if key in pending:
        return pending[key]
    cfg = current_app.config
    job = Job(
        name=name,
        args=args,
        status=JobStatus.queued.value,
        attempts=0,
        max_attempts=cfg.get("JOBS_MAX_ATTEMPTS", 5),
        run_after=utcnow(),
        last_error="",
    )
    db.session.add(job)
    pending[key] = job
    db.session.info.setdefault("jobs_unflushed", []).append(job)
    return job


def requeue(job: Job) -> None:
    """Queue a job again (a failed one, by hand): from its first attempt, now."""
    job.status, job.attempts, job.run_after = JobStatus.queued.value, 0, utcnow()
    job.locked_by = job.locked_at = job.finished_at = None
    db.session.info.setdefault("jobs_unflushed", []).append(job)


# ---- after commit ---------------------------------------------------------------------------


@event.listens_for(Session, "after_flush")
def _flushed(session, flush_context):
    unflushed = session.info.get("jobs_unflushed")
    if unflushed:
        session.info.setdefault("jobs_flushed", []).extend(j.id for j in unflushed if j.id is not None)
        session.info["jobs_unflushed"] = [j for j in unflushed if j.id is None]


@event.listens_for(Session, "after_commit")
def _committed(session):
    _forget(session)
    ids = session.info.pop("jobs_flushed", None)
    if not ids or not has_app_context():
        return
    app = current_app._get_current_object()
    if app.config.get("JOBS_EAGER"):
        for job_id in dict.fromkeys(ids):
            try:
                with app.app_context():  # a session of its own: the caller's transaction is over
                    run_one(job_id, worker_name("eager"))
            except Exception:  # the caller's change is committed: never fail it; a worker retries
                log.exception("job %s: could not run it after the commit", job_id)
    elif backend(app) == "rq":
        push(app, list(dict.fromkeys(ids)))


@event.listens_for(Session, "after_rollback")
def _rolled_back(session):
    _forget(session)
    session.info.pop("jobs_flushed", None)


def _forget(session) -> None:
    session.info.pop("jobs_pending", None)
    session.info.pop("jobs_unflushed", None)


# ---- claiming and running -------------------------------------------------------------------


def worker_name(prefix: str = "worker") -> str:
    return f"{prefix}:{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


def _config(name: str, default: float) -> float:
    return float(current_app.config.get(name, default))


def _claimable(now, older_than: float = 0.0):
    """Due and queued (for at least ``older_than`` seconds), or running under a lock that ran out."""
    stale = now - timedelta(seconds=_config("JOBS_LEASE_SECONDS", 300))
    due = now - timedelta(seconds=older_than)
    return or_(
        and_(Job.status == JobStatus.queued.value, Job.run_after <= due),
        and_(Job.status == JobStatus.running.value, Job.locked_at < stale),
    )


def _take(job_id: int, worker: str, now, condition) -> bool:
    result = db.session.execute(
        update(Job)
        .where(Job.id == job_id, condition)
        .values(status=JobStatus.running.value, locked_by=worker, locked_at=now, attempts=Job.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def claim(job_id: int, worker: str) -> bool:
    """Claim one job by id (when it is due, or its worker died); False when another has it or it is over."""
    now = utcnow()
    taken = _take(job_id, worker, now, _claimable(now))
    db.session.commit()
    return taken


def claim_next(worker: str, older_than: float = 0.0) -> int | None:
    """Claim the job due first; None when nothing is due. Safe with many workers at once."""
    now = utcnow()
    condition = _claimable(now, older_than)
    first = select(Job.id).where(condition).order_by(Job.run_after, Job.id)
    if db.session.get_bind().dialect.name == "postgresql":
        job_id = db.session.scalar(first.limit(1).with_for_update(skip_locked=True))
        taken = job_id is not None and _take(job_id, worker, now, condition)
        db.session.commit()
        return job_id if taken else None
    candidates = db.session.scalars(first.limit(20)).all()
    db.session.rollback()  # no read snapshot held into the claims below
    for job_id in candidates:
        taken = _take(job_id, worker, now, condition)  # only one worker's UPDATE still matches
        db.session.commit()
        if taken:
            return job_id
    return None


def run_one(job_id: int, worker: str) -> str | None:
    """Claim and run one job; its status afterwards, or None when it was not ours to run."""
    if not claim(job_id, worker):
        return None
    return run_claimed(job_id, worker)


def run_claimed(job_id: int, worker: str) -> str:
    """Run a job this worker has claimed, in an app context (and so a session) of its own."""
    app = current_app._get_current_object()
    job = db.session.get(Job, job_id)
    name, args, attempts, max_attempts = job.name, dict(job.args or {}), job.attempts, job.max_attempts
    db.session.rollback()
    if attempts > max_attempts:  # claimed back from workers that died while running it
        return _failed(job_id, worker, f"工作进程在运行中中断了 {attempts - 1} 次，不再重试")
    beat = _Heartbeat(app, job_id, worker)
    beat.start()
    try:
        with app.app_context():
            try:
                fn = HANDLERS.get(name)
                if fn is None:
                    raise LookupError(f"没有名为“{name}”的任务处理程序")
                fn(**args)
                if _mark_done(job_id, worker):
                    db.session.commit()
                    return JobStatus.done.value
                db.session.rollback()  # the lock ran out and another worker has the job: its run counts
                log.warning("job %s: lock lost to another worker; this run's work was rolled back", job_id)
                return JobStatus.running.value
            except Exception:
                db.session.rollback()
                error = traceback.format_exc(limit=8)
                log.warning("job %s (%s) attempt %s failed:\n%s", job_id, name, attempts, error)
        return _failed(job_id, worker, error)
    finally:
        beat.stop()


def _mark_done(job_id: int, worker: str) -> bool:
    result = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker, Job.status == JobStatus.running.value)
        .values(status=JobStatus.done.value, finished_at=utcnow(), locked_by=None, locked_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def prune(days: float | None = None) -> int:
    """Delete done jobs finished more than ``days`` (JOBS_KEEP_DAYS) ago; failed ones stay visible."""
    days = days if days is not None else _config("JOBS_KEEP_DAYS", 7)
    result = db.session.execute(
        delete(Job).where(Job.status == JobStatus.done.value, Job.finished_at < utcnow() - timedelta(days=days))
    )
    db.session.commit()
    return result.rowcount


def backoff(attempts: int) -> timedelta:
    base = _config("JOBS_BACKOFF_SECONDS", 10)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


def _failed(job_id: int, worker: str, error: str) -> str:
    """After a failed attempt: queued again after the backoff, or failed for good after the last one."""
    job = db.session.get(Job, job_id)
    if job is None or job.locked_by != worker:
        db.session.rollback()
        return JobStatus.running.value
    job.last_error = error[-4000:]
    job.locked_by = job.locked_at = None
    if job.attempts >= job.max_attempts:
        job.status, job.finished_at = JobStatus.failed.value, utcnow()
    else:
        job.status, job.run_after = JobStatus.queued.value, utcnow() + backoff(job.attempts)
    status = job.status
    db.session.commit()
    return status


class _Heartbeat:
    """Refreshes the lock of a running job, so that only a job whose worker died looks abandoned."""

    def __init__(self, app: Flask, job_id: int, worker: str):
        self.engine, self.job_id, self.worker = db.engine, job_id, worker
        self.every = float(app.config.get("JOBS_LEASE_SECONDS", 300)) / 3
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopped.set()
        self.thread.join()

    def _beat(self):
        while not self.stopped.wait(self.every):
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        update(Job)
                        .where(Job.id == self.job_id, Job.locked_by == self.worker)
                        .values(locked_at=utcnow())
                    )
            except Exception:
                log.warning("job %s: could not refresh its lock", self.job_id, exc_info=True)


# ---- the worker -----------------------------------------------------------------------------


class Worker:
    """Runs jobs until stopped; ``stop()`` (SIGTERM) lets the current job finish first."""

    def __init__(self, name: str | None = None, poll: float | None = None):
        self.name = name or worker_name()
        self.poll = poll if poll is not None else _config("JOBS_POLL_SECONDS", 1.0)
        self.stopping = threading.Event()
        self.ran: dict[str, int] = {}

    def stop(self, *_):
        self.stopping.set()  # (with RQ, the RQ worker's own SIGTERM handler finishes the current job)

    def run(self, burst: bool = False) -> dict[str, int]:
        prune()
        if backend(current_app) == "rq":
            return self._run_rq(burst)
        while not self.stopping.is_set():
            job_id = claim_next(self.name)
            if job_id is None:
                if burst:
                    break
                self.stopping.wait(self.poll)
                continue
            self._count(run_claimed(job_id, self.name))
        return self.ran

    def _count(self, status: str | None) -> None:
        if status is not None:
            self.ran[status] = self.ran.get(status, 0) + 1

    # RQ: the RQ worker runs pushed jobs (in this process, so the app stays loaded); a thread sweeps
    def _run_rq(self, burst: bool) -> dict[str, int]:
        from rq import SimpleWorker

        app = current_app._get_current_object()
        queue = _queue(app)
        sweep(app, older_than=0 if burst else _config("JOBS_SWEEP_SECONDS", 30))
        sweeper = None
        if not burst:
            sweeper = threading.Thread(target=self._sweep_loop, args=(app,), name="jobs-sweep", daemon=True)
            sweeper.start()
        self.rq_worker = SimpleWorker([queue], connection=queue.connection, name=self.name.replace(":", "-"))
        app.extensions["jobs_counter"] = self._count
        try:
            self.rq_worker.work(burst=burst, logging_level="WARNING")
        finally:
            app.extensions.pop("jobs_counter", None)
            self.stopping.set()
            if sweeper is not None:
                sweeper.join()
        return self.ran

    def _sweep_loop(self, app: Flask) -> None:
        every = float(app.config.get("JOBS_SWEEP_SECONDS", 30))
        while not self.stopping.wait(every):
            try:
                with app.app_context():
                    sweep(app, older_than=every)
            except Exception:
                log.warning("jobs: the sweep failed; trying again in %s s", every, exc_info=True)


# ---- RQ -------------------------------------------------------------------------------------


def backend(app: Flask) -> str:
    return "rq" if app.config.get("REDIS_URL") else "database"


def _queue(app: Flask):
    queue = app.extensions.get("jobs_rq_queue")
    if queue is None:
        from redis import Redis
        from rq import Queue

        connection = Redis.from_url(app.config["REDIS_URL"])
        queue = app.extensions["jobs_rq_queue"] = Queue(app.config.get("JOBS_QUEUE", "market"), connection=connection)
    return queue


def _rq_id(job_id: int) -> str:
    return f"market-job-{job_id}"


def push(app: Flask, ids: list[int]) -> int:
    """Hand committed jobs to RQ; a push that fails is left to the sweep (the row is queued)."""
    from redis.exceptions import RedisError

    queue, pushed = _queue(app), 0
    for job_id in ids:
        try:
            queue.enqueue_call(
                RQ_FUNCTION,
                args=(job_id,),
                job_id=_rq_id(job_id),
                timeout=int(app.config.get("JOBS_TIMEOUT_SECONDS", 3600)),
                result_ttl=0,
                failure_ttl=86400,
            )
            pushed += 1
        except RedisError:
            log.warning("job %s: could not reach Redis; the worker's sweep will run it", job_id, exc_info=True)
    return pushed


def sweep(app: Flask, older_than: float) -> int:
    """Push again what RQ does not hold: rows queued ``older_than`` seconds after they were due, and
    running rows whose worker died."""
    from rq.job import JobStatus as RQStatus

    queue = _queue(app)
    rows = db.session.execute(select(Job.id, Job.status).where(_claimable(utcnow(), older_than)).order_by(Job.id)).all()
    db.session.rollback()
    waiting = []
    for job_id, status in rows:
        held = queue.fetch_job(_rq_id(job_id))
        dead = status == JobStatus.running.value  # its lock ran out: RQ may still think it started
        if dead or held is None or held.get_status() not in (RQStatus.QUEUED, RQStatus.STARTED):
            waiting.append(job_id)
    return push(app, waiting)


def run_pushed(job_id: int) -> str | None:
    """What RQ calls: run the job whose id was pushed (in `market worker`'s app context)."""
    status = run_one(job_id, worker_name())
    counter = current_app.extensions.get("jobs_counter")
    if counter is not None:
        counter(status)
    return status
