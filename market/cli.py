"""Command line: `market setup`, `market serve`, `market expire`, … (also `flask --app market …`)."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade

from .extensions import db


def init_db() -> None:
    """Apply every migration and seed the reference taxonomies (safe to repeat)."""
    upgrade()
    from .validation import reference
    reference.seed_taxonomies()
    db.session.commit()


def register_commands(app):
    @app.cli.command("init-db")
    @with_appcontext
    def init_db_cmd():
        """Create or upgrade the database schema and seed the taxonomies."""
        init_db()
        click.echo(f"database ready: {_safe_url()}")

    @app.cli.command("seed-demo")
    @with_appcontext
    def seed_demo_cmd():
        """Load the demo organisations, stations, accounts and listings (idempotent)."""
        from .demo import seed as demo
        demo.load(log=click.echo)
        db.session.commit()

    @app.cli.command("setup")
    @click.option("--demo/--no-demo", default=False, help="also load the demo data")
    @with_appcontext
    def setup_cmd(demo):
        """Everything a fresh checkout needs before serving: schema, taxonomies, demo data,
        the converted model and the indexes. Safe to repeat; fast when nothing changed."""
        init_db()
        click.echo(f"database ready: {_safe_url()}")
        if current_app.config["MATCHING_ENABLED"]:
            from matching.e5convert import ensure_model
            ensure_model(Path(current_app.config["MODEL_DIR"]))
        if demo:
            from .demo import seed as demo_data
            demo_data.load(log=click.echo)
            db.session.commit()
        if current_app.config["MATCHING_ENABLED"]:
            prepare_matching()

    index = click.Group("index", help="The FAISS/keyword indexes of 成果库 and 问题库.")
    app.cli.add_command(index)

    @index.command("rebuild")
    @with_appcontext
    def index_rebuild():
        """Rebuild both indexes from the database (embeddings come from the cache when known)."""
        from .infra import match_engine
        for report in match_engine.sync_all(rebuild=True):
            click.echo(str(report))

    @index.command("check")
    @with_appcontext
    def index_check():
        """Compare the saved indexes with the database; exit status 1 on drift."""
        from .infra import match_engine
        eng = match_engine.engine(sync=False)
        ok = True
        for kind in match_engine.KIND_MODELS:
            result = eng.check(kind, match_engine.published_docs(kind))
            ok &= result["ok"]
            click.echo(f"{kind}: {'ok' if result['ok'] else 'DRIFT'} {result}")
        raise SystemExit(0 if ok else 1)

    @index.command("stats")
    @with_appcontext
    def index_stats():
        """Sizes of the indexes in this process after syncing them with the database."""
        from .infra import match_engine
        eng = match_engine.engine()
        for kind, stats in eng.stats().items():
            click.echo(f"{kind}: {stats}")
        click.echo(f"model: {eng.embedder.model_id}; cut-off {eng.weights.cutoff}")

    @app.cli.command("serve")
    @click.option("--host", default="127.0.0.1")
    @click.option("--port", default=5000, type=int)
    @click.option("--threads", default=8, type=int)
    def serve_cmd(host, port, threads):
        """Serve the marketplace with waitress."""
        from waitress import serve
        from .demo import seed as demo
        behind = schema_behind()
        if behind:
            raise click.ClickException(f"the database is not at the current schema ({behind}); "
                                       f"run `market setup` (or `make run`) first")
        if current_app.config["MATCHING_ENABLED"]:
            prepare_matching()
        click.echo(f"郑州技术交易市场 running at http://{host}:{port}")
        click.echo("demo logins (password for all: %s):" % demo.DEMO_PASSWORD)
        for label, username, _ in demo.logins():
            click.echo(f"  {label:<6} {username}")
        serve(current_app._get_current_object(), host=host, port=port, threads=threads)

    @app.cli.command("expire")
    @with_appcontext
    def expire_cmd():
        """Take expired listings down and tell owners whose listings expire soon (run daily)."""
        from .services import listings
        counts = listings.expire_due()
        sent = listings.notify_expiring()
        db.session.commit()
        click.echo(f"expired: {counts}; expiry notices sent: {sent}")

    @app.cli.command("suggest")
    @with_appcontext
    def suggest_cmd():
        """Create match suggestions for every published need (after a bulk import, say)."""
        from .services import matches
        created = matches.suggest_all()
        db.session.commit()
        click.echo(f"{created} new suggestions")

    @app.cli.command("remind")
    @click.option("--stall-days", type=int, default=None, help="days without a step before a reminder")
    @click.option("--abandon-days", type=int, default=None, help="days without a step before closing")
    @with_appcontext
    def remind_cmd(stall_days, abandon_days):
        """Remind brokers and parties of stalled matches and of unanswered consent requests; close abandoned ones (run daily)."""
        from .services import matches
        counts = matches.remind_stalled(stall_days=stall_days, abandon_days=abandon_days)
        consent = matches.remind_consent()
        db.session.commit()
        click.echo(f"reminded: {counts['reminded']}; closed as abandoned: {counts['abandoned']}; "
                   f"consent reminders: {consent}")

    @app.cli.command("remind-requests")
    @click.option("--days", type=int, default=None, help="working days without a reply (default CONTACT_REMIND_WORKDAYS)")
    @with_appcontext
    def remind_requests_cmd(days):
        """Remind stations of 申请对接 requests unanswered after N working days (run daily; once each)."""
        from .services import contact
        sent = contact.remind_unanswered(days=days)
        db.session.commit()
        click.echo(f"unanswered requests reminded: {sent}")

    events_group = click.Group("events", help="The hall's and stations' events.")   # issue 13
    app.cli.add_command(events_group)

    @events_group.command("remind")
    @click.option("--hours", type=int, default=24, help="remind of events starting within so many hours")
    @with_appcontext
    def events_remind(hours):
        """Remind everyone confirmed for an event starting soon (once each; run hourly or daily)."""
        from .services import events
        n = events.remind_upcoming(hours=hours)
        db.session.commit()
        click.echo(f"reminded: {n}")

    feedback_group = click.Group("feedback", help="Learning from brokers' decisions.")
    app.cli.add_command(feedback_group)

    @feedback_group.command("report")
    @with_appcontext
    def feedback_report():
        """Suggestion precision (accepted ÷ reviewed) per station and per 技术领域."""
        from .services import feedback
        rep = feedback.report()
        for title, key in (("station", "station"), ("技术领域", "field"), ("total", "total")):
            click.echo(f"-- by {title}")
            for r in rep[key]:
                p = f"{r.precision:.2f}" if r.precision is not None else "—"
                click.echo(f"  {r.group:<24} suggested {r.suggested:>4}  reviewed {r.reviewed:>4}  "
                           f"accepted {r.accepted:>4}  precision {p}")

    @feedback_group.command("refit")
    @click.option("--dry-run", is_flag=True, help="evaluate only, never replace the weights")
    @with_appcontext
    def feedback_refit(dry_run):
        """Refit ranking weights and cut-off on broker labels; replace only if better on held-out needs."""
        from .services import feedback
        r = feedback.refit(write=not dry_run)
        click.echo(f"{r.message}: {r.labels} labels, train {r.train_needs} needs, held out {r.test_needs}; "
                   f"current {r.current}, candidate {r.candidate}; {'written to ' + r.path if r.replaced else 'not written'}")

    @app.cli.command("stats")
    @click.option("--year", type=int, default=None, help="one calendar year (default: the last 12 months and every year)")
    @with_appcontext
    def stats_cmd(year):
        """技术合同成交: count, 成交额 and 技术交易额 of registered contracts, by 登记日期."""
        from datetime import date
        from .services import stats
        periods = [stats.Period.year(year)] if year else \
            [stats.Period.last_months(12, date.today()), *(stats.Period.year(y) for y in stats.years_with_data())]
        for p in periods:
            t = stats.totals(p)
            click.echo(f"{p.label}\t{t.count} 项\t成交额 {t.amount:,.2f} 元\t技术交易额 {t.tech_amount:,.2f} 元")

    @app.cli.command("create-admin")
    @click.argument("username")
    @click.password_option()
    @with_appcontext
    def create_admin_cmd(username, password):
        """Create an administrator account."""
        from .models import Role, User
        from .services.accounts import check_password
        if msg := check_password(password, username):
            raise click.ClickException(msg)
        user = User(username=username, display_name=username, role=Role.admin.value)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        click.echo(f"admin {username} created")


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
    return None if current == heads else f"at {', '.join(sorted(current)) or 'nothing'}, newest {', '.join(sorted(heads))}"


def prepare_matching() -> None:
    """Convert the model if needed, then check the indexes against the database and repair drift."""
    from matching.e5convert import ensure_model
    from .infra import match_engine
    ensure_model(Path(current_app.config["MODEL_DIR"]))
    for report in match_engine.sync_all():
        click.echo(f"index {report}")


def _safe_url() -> str:
    return db.engine.url.render_as_string(hide_password=True)


def main():
    from . import create_app
    cli = FlaskGroup(create_app=create_app, add_default_commands=True)
    cli(prog_name="market")
