"""Getting a database and the matching files ready: `init-db`, `seed-demo`, `setup`."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from ..extensions import db


def init_db() -> None:
    """Apply every migration and seed the reference taxonomies (safe to repeat)."""
    upgrade()
    from ..validation import reference

    reference.seed_taxonomies()
    db.session.commit()


def prepare_matching() -> None:
    """Convert the model if needed, then check the indexes against the database and repair drift."""
    from matching.e5convert import ensure_model

    from ..infra import match_engine

    ensure_model(Path(current_app.config["MODEL_DIR"]))
    for line in match_engine.prepare():
        click.echo(line)


def safe_url() -> str:
    return db.engine.url.render_as_string(hide_password=True)


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the database schema and seed the taxonomies."""
    init_db()
    click.echo(f"database ready: {safe_url()}")


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Load the demo organisations, stations, accounts and listings (idempotent)."""
    from ..demo import seed as demo

    demo.load(log=click.echo)
    db.session.commit()


@click.command("setup")
@click.option("--demo/--no-demo", default=False, help="also load the demo data")
@with_appcontext
def setup(demo):
    """Everything a fresh checkout needs before serving: schema, taxonomies, demo data,
    the converted model and the indexes. Safe to repeat; fast when nothing changed."""
    init_db()
    click.echo(f"database ready: {safe_url()}")
    if current_app.config["MATCHING_ENABLED"]:
        from matching.e5convert import ensure_model

        ensure_model(Path(current_app.config["MODEL_DIR"]))
    if demo:
        from ..demo import seed as demo_data

        demo_data.load(log=click.echo)
        db.session.commit()
    if current_app.config["MATCHING_ENABLED"]:
        prepare_matching()
