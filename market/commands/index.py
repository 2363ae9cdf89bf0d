"""`market index rebuild|check|stats`: the FAISS/keyword indexes."""

import click
from flask.cli import with_appcontext

index = click.Group("index", help="The FAISS/keyword indexes of 成果库 and 问题库.")


@index.command("rebuild")
@with_appcontext
def rebuild():
    """Rebuild both indexes from the database (embeddings come from the cache when known)."""
    from ..infra import match_engine

    for report in match_engine.sync_all(rebuild=True):
        click.echo(str(report))


@index.command("check")
@with_appcontext
def check():
    """Compare the saved indexes with the database; exit status 1 on drift."""
    from ..infra import match_engine

    eng = match_engine.engine(sync=False)
    ok = True
    for kind in match_engine.KIND_MODELS:
        result = eng.check(kind, match_engine.published_docs(kind))
        ok &= result["ok"]
        click.echo(f"{kind}: {'ok' if result['ok'] else 'DRIFT'} {result}")
    raise SystemExit(0 if ok else 1)


@index.command("stats")
@with_appcontext
def stats():
    """Sizes of the indexes in this process after syncing them with the database."""
    from ..infra import match_engine

    eng = match_engine.engine()
    for kind, sizes in eng.stats().items():
        click.echo(f"{kind}: {sizes}")
    click.echo(f"model: {eng.embedder.model_id}; cut-off {eng.weights.cutoff}")
