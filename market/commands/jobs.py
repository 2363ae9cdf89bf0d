"""The daily jobs: `expire`, `suggest`, `remind`, `remind-requests`."""

import click
from flask.cli import with_appcontext

from ..extensions import db


@click.command("expire")
@with_appcontext
def expire():
    """Take expired listings down and tell owners whose listings expire soon (run daily)."""
    from ..services import listings

    counts = listings.expire_due()
    sent = listings.notify_expiring()
    db.session.commit()
    click.echo(f"expired: {counts}; expiry notices sent: {sent}")


@click.command("suggest")
@with_appcontext
def suggest():
    """Create match suggestions for every published need (after a bulk import, say)."""
    from ..services import matches

    created = matches.suggest_all()
    db.session.commit()
    click.echo(f"{created} new suggestions")


@click.command("remind")
@click.option("--stall-days", type=int, default=None, help="days without a step before a reminder")
@click.option("--abandon-days", type=int, default=None, help="days without a step before closing")
@with_appcontext
def remind(stall_days, abandon_days):
    """Remind brokers and parties of stalled matches and of unanswered consent requests; close abandoned ones (run daily)."""
    from ..services import matches

    counts = matches.remind_stalled(stall_days=stall_days, abandon_days=abandon_days)
    consent = matches.remind_consent()
    db.session.commit()
    click.echo(
        f"reminded: {counts['reminded']}; closed as abandoned: {counts['abandoned']}; consent reminders: {consent}"
    )


@click.command("remind-requests")
@click.option("--days", type=int, default=None, help="working days without a reply (default CONTACT_REMIND_WORKDAYS)")
@with_appcontext
def remind_requests(days):
    """Remind stations of 申请对接 requests unanswered after N working days (run daily; once each)."""
    from ..services import contact

    sent = contact.remind_unanswered(days=days)
    db.session.commit()
    click.echo(f"unanswered requests reminded: {sent}")
