"""`market serve`: refuse a database behind the migrations, bring the indexes up to date, serve."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from .setup import prepare_matching


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


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--threads", default=8, type=int)
@with_appcontext
def serve(host, port, threads):
    """Serve the marketplace with waitress."""
    from waitress import serve as waitress_serve

    behind = schema_behind()
    if behind:
        raise click.ClickException(
            f"the database is not at the current schema ({behind}); run `market setup` (or `make run`) first"
        )
    if current_app.config["MATCHING_ENABLED"]:
        prepare_matching()
    click.echo(f"郑州技术交易市场 running at http://{host}:{port}")
    echo_demo_logins()
    waitress_serve(current_app._get_current_object(), host=host, port=port, threads=threads)
