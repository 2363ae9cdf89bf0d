"""`events remind`: the hall's and stations' events."""

import click
from flask.cli import with_appcontext

from ..extensions import db

events = click.Group("events", help="The hall's and stations' events.")


@events.command("remind")
@click.option("--hours", type=int, default=24, help="remind of events starting within so many hours")
@with_appcontext
def remind(hours):
    """Remind everyone confirmed for an event starting soon (once each; run hourly or daily)."""
    from ..services import events as service

    n = service.remind_upcoming(hours=hours)
    db.session.commit()
    click.echo(f"reminded: {n}")
