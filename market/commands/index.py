"""`market index rebuild|check|stats|compact`: the change log and the FAISS/keyword indexes."""

import click
from flask.cli import with_appcontext

index = click.Group("index", help="The change log and the FAISS/keyword indexes of 成果库 and 问题库.")


@index.command("rebuild")
@with_appcontext
def rebuild():
    """Bring the change log up to the database; without a matching service, rebuild the index files
    from it (embeddings come from the cache when known). With a service, it follows the log."""
    from ..infra import match_engine

    for line in match_engine.prepare(rebuild=True):
        click.echo(line)


@index.command("check")
@with_appcontext
def check():
    """Compare the change log and the indexes with the database; exit status 1 on drift."""
    from ..infra import match_engine

    ok, lines = match_engine.check()
    for line in lines:
        click.echo(line)
    raise SystemExit(0 if ok else 1)


@index.command("stats")
@with_appcontext
def stats():
    """The matching engine's state: applied change, sizes, model, cut-off."""
    from ..infra import match_engine

    b = match_engine.backend()
    if b is None:
        raise click.ClickException("matching is switched off (MARKET_MATCHING=0)")
    try:
        status = b.status()
    except match_engine.Unavailable as e:
        raise click.ClickException(str(e)) from None
    for key, value in status.items():
        click.echo(f"{key}: {value}")


@index.command("compact")
@with_appcontext
def compact():
    """Delete change-log rows superseded by a newer row of the same listing."""
    from matching.changelog import ChangeLog

    from ..extensions import db

    click.echo(f"{ChangeLog(db.engine).compact()} superseded rows deleted")
