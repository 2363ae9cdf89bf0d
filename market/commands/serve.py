"""`market serve`: refuse a database behind the migrations, start the matching service, serve the web tier."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from ..infra import match_engine


def schema_behind() -> str | None:
    """None when the database is at the newest migration, else what it is at."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask_migrate import Config

    cfg = Config(str(Path(current_app.extensions["migrate"].directory) / "alembic.ini"))
    cfg.set_main_option("script_location", current_app.extensions["migrate"].directory)
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return (
        None if current == heads else f"at {', '.join(sorted(current)) or 'nothing'}, newest {', '.join(sorted(heads))}"
    )


def demo_logins() -> list[tuple[str, str]]:
    """(label, username) of the demo accounts in this database that still have the demo password."""
    from sqlalchemy import select

    from ..demo.seed import DEMO_LOGINS, DEMO_PASSWORD
    from ..models import User

    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(DEMO_LOGINS.values())))}
    return [
        (role.label, name)
        for role, name in DEMO_LOGINS.items()
        if name in users and users[name].role == role.value and users[name].check_password(DEMO_PASSWORD)
    ]


def echo_demo_logins() -> None:
    if logins := demo_logins():
        from ..demo.seed import DEMO_PASSWORD

        click.echo(f"demo logins (password for all: {DEMO_PASSWORD}):")
        for label, username in logins:
            click.echo(f"  {label:<6} {username}")


class Children:
    """The processes `market serve` starts beside the web tier, stopped with it."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, cmd: list[str], env: dict) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)
        self.procs.append(proc)
        click.echo(f"started {name} (pid {proc.pid}): {' '.join(cmd[1:4])} …")
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _die_with_parent() -> None:
    """In the child: Linux sends it SIGTERM when `market serve` dies, even by kill -9."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop_on_sigterm() -> None:
    def _raise(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def wait_for_service(url: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    """Until the service has loaded its indexes (pages work before: they say matching is loading)."""
    import json
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if json.loads(r.read()).get("state") == "ready":
                    click.echo(f"matching service ready at {url}")
                    return
        except OSError:
            pass
        time.sleep(0.5)
    click.echo("the matching service is not ready yet; pages work meanwhile (智能匹配 says it is loading)")


def run_gunicorn(host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Web(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "timeout": 120,
                "accesslog": None,
            }.items():
                self.cfg.set(key, value)

        def load(self):
            from market import create_app

            return create_app()

    Web().run()


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--workers", default=1, type=int, help="web processes: above 1, gunicorn runs them")
@click.option("--threads", default=8, type=int, help="threads per web process")
@click.option(
    "--service/--no-service",
    default=True,
    help="start the matching service beside the web tier (unless MATCHING_SERVICE_URL names a running one)",
)
@click.option("--service-port", default=5055, type=int, show_default=True)
@click.option("--jobs/--no-jobs", default=True, help="start a job worker (`market worker`) beside the web tier")
@with_appcontext
def serve(host, port, workers, threads, service, service_port, jobs):
    """Serve the marketplace: the matching service, a job worker, the web tier (waitress, or gunicorn)."""
    behind = schema_behind()
    if behind:
        raise click.ClickException(
            f"the database is not at the current schema ({behind}); run `market setup` (or `make run`) first"
        )
    cfg = current_app.config
    env = dict(os.environ)
    children = Children()
    _stop_on_sigterm()  # so that the children are stopped below
    try:
        if cfg["MATCHING_ENABLED"] and not cfg.get("MATCHING_SERVICE_URL") and service:
            url = f"http://127.0.0.1:{service_port}"
            cmd = [sys.executable, "-m", "matching", "serve", "--database", cfg["SQLALCHEMY_DATABASE_URI"]]
            cmd += ["--port", str(service_port), "--data-dir", cfg["DATA_DIR"], "--index-dir", cfg["INDEX_DIR"]]
            proc = children.start("matching service", cmd, env)
            env["MATCHING_SERVICE_URL"] = os.environ["MATCHING_SERVICE_URL"] = cfg["MATCHING_SERVICE_URL"] = url
            current_app.extensions.pop("match_backend", None)
            for line in match_engine.prepare():  # the change log up to the database; the service follows it
                click.echo(line)
            wait_for_service(url, proc)
        if jobs and not cfg.get("JOBS_EAGER"):
            children.start("job worker", [sys.executable, "-m", "market", "worker"], env)
        click.echo(f"郑州技术交易市场 running at http://{host}:{port}")
        echo_demo_logins()
        if workers > 1:
            run_gunicorn(host, port, workers, threads)
        else:
            from waitress import serve as waitress_serve

            waitress_serve(current_app._get_current_object(), host=host, port=port, threads=threads)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        children.stop()
