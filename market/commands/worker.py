"""`market worker` runs the jobs queued after commits (market.infra.jobs); `market jobs list|retry`."""

import signal

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..infra import jobs as jobs_
from ..models import Job, JobStatus


@click.command("worker")
@click.option("--burst", is_flag=True, help="run what is due now, then exit (tests, cron)")
@click.option("--poll", type=float, default=None, help="seconds between looks at the job table (JOBS_POLL_SECONDS)")
@click.option("--name", default=None, help="this worker's name in the job table (default host:pid)")
@with_appcontext
def worker(burst, poll, name):
    """Run queued jobs until stopped; SIGTERM or Ctrl-C lets the current job finish first."""
    from ..services import matches  # noqa: F401  (registers the job handlers it runs)

    w = jobs_.Worker(name=name, poll=poll)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, w.stop)
    click.echo(f"worker {w.name}: {jobs_.backend(current_app)} backend{' (burst)' if burst else ''}")
    ran = w.run(burst=burst)
    click.echo("jobs: " + (", ".join(f"{status} {n}" for status, n in sorted(ran.items())) or "none"))


jobs = click.Group("jobs", help="The job queue: what is queued, running, done or failed.")


@jobs.command("list")
@click.option("--status", type=click.Choice([s.value for s in JobStatus]), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@with_appcontext
def list_jobs(status, limit):
    """The latest jobs (failed ones with their last error), and how many there are of each status."""
    counts = dict(db.session.execute(select(Job.status, db.func.count()).group_by(Job.status)).all())
    click.echo("  ".join(f"{s.label} {counts.get(s.value, 0)}" for s in JobStatus))
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    for job in db.session.scalars(query):
        click.echo(
            f"#{job.id} {job.name} {job.args} {job.status_label} 尝试 {job.attempts}/{job.max_attempts}"
            f" 创建 {job.created_at:%Y-%m-%d %H:%M:%S}" + (f" 由 {job.locked_by}" if job.locked_by else "")
        )
        if job.status == JobStatus.failed.value and job.last_error:
            click.echo("    " + job.last_error.strip().splitlines()[-1])


@jobs.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="every failed job")
@with_appcontext
def retry(ids, all_failed):
    """Queue failed jobs again, from their first attempt."""
    if bool(ids) == all_failed:
        raise click.UsageError("请给出任务编号，或使用 --failed（二者选一）")
    query = select(Job).where(Job.status == JobStatus.failed.value)
    if ids:
        query = query.where(Job.id.in_(ids))
    found = db.session.scalars(query).all()
    missing = set(ids) - {j.id for j in found}
    if missing:
        raise click.ClickException(f"这些任务不存在或不是失败状态：{', '.join(map(str, sorted(missing)))}")
    for job in found:
        jobs_.requeue(job)
    db.session.commit()
    click.echo(f"queued again: {len(found)}")


@jobs.command("prune")
@click.option("--days", type=float, default=None, help="keep done jobs this many days (JOBS_KEEP_DAYS)")
@with_appcontext
def prune(days):
    """Delete done jobs finished more than N days ago (a worker does this when it starts)."""
    click.echo(f"deleted: {jobs_.prune(days)}")
