"""`market feedback report|refit`: learning from brokers' decisions."""

import click
from flask.cli import with_appcontext

feedback = click.Group("feedback", help="Learning from brokers' decisions.")


@feedback.command("report")
@with_appcontext
def report():
    """Suggestion precision (accepted ÷ reviewed) per station and per 技术领域."""
    from ..services import feedback as learning

    rep = learning.report()
    for title, key in (("station", "station"), ("技术领域", "field"), ("total", "total")):
        click.echo(f"-- by {title}")
        for r in rep[key]:
            p = f"{r.precision:.2f}" if r.precision is not None else "—"
            click.echo(
                f"  {r.group:<24} suggested {r.suggested:>4}  reviewed {r.reviewed:>4}  "
                f"accepted {r.accepted:>4}  precision {p}"
            )


@feedback.command("refit")
@click.option("--dry-run", is_flag=True, help="evaluate only, never replace the weights")
@with_appcontext
def refit(dry_run):
    """Refit ranking weights and cut-off on broker labels; replace only if better on held-out needs."""
    from ..extensions import db
    from ..services import feedback as learning

    r = learning.refit(write=not dry_run)
    db.session.commit()
    click.echo(
        f"{r.message}: {r.labels} labels, train {r.train_needs} needs, held out {r.test_needs}; "
        f"current {r.current}, candidate {r.candidate}; {'written to ' + r.path if r.replaced else 'not written'}"
    )
