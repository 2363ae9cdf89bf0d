"""The `market` commands: every one registered from market/commands, and `serve` naming the demo
password only when this database holds the demo accounts with that password."""

import pytest
import waitress

from market.commands import serve as serve_module
from market.demo.seed import DEMO_LOGINS, DEMO_PASSWORD
from market.extensions import db
from market.models import Role

COMMANDS = {
    "init-db",
    "seed-demo",
    "setup",
    "index",
    "serve",
    "expire",
    "suggest",
    "remind",
    "remind-requests",
    "feedback",
    "stats",
    "create-admin",
}


def test_every_command_is_registered_with_its_subcommands(app):
    assert set(app.cli.list_commands(None)) >= COMMANDS
    assert set(app.cli.commands["index"].commands) == {"rebuild", "check", "stats", "compact"}
    assert set(app.cli.commands["feedback"].commands) == {"report", "refit"}


@pytest.fixture
def serve_output(app, monkeypatch):
    """`market serve`'s output, with the schema check passed and waitress not started."""
    monkeypatch.setattr(serve_module, "schema_behind", lambda: None)
    served = []
    monkeypatch.setattr(waitress, "serve", lambda wsgi_app, **kw: served.append(kw))

    def run():
        result = app.test_cli_runner().invoke(args=["serve", "--port", "5261"])
        assert result.exit_code == 0, result.output
        assert served[-1]["port"] == 5261
        return result.output

    return run


def test_serve_without_demo_data_names_no_password(serve_output, make):
    make.user(Role.admin, username="admin")  # a real admin that happens to be called admin
    out = serve_output()
    assert "running at http://127.0.0.1:5261" in out
    assert DEMO_PASSWORD not in out and "demo logins" not in out


def test_serve_with_demo_accounts_names_the_password_and_the_accounts_still_using_it(serve_output, make):
    users = {role: make.user(role, username=name) for role, name in DEMO_LOGINS.items()}
    for user in users.values():
        user.set_password(DEMO_PASSWORD)
    users[Role.admin].set_password("changed-after-the-demo-1")
    db.session.commit()
    out = serve_output()
    assert f"password for all: {DEMO_PASSWORD}" in out
    listed = {line.split()[-1] for line in out.splitlines() if line.startswith("  ")}
    assert listed == set(DEMO_LOGINS.values()) - {"admin"}


def test_every_file_read_at_run_time_is_package_data():
    """The wheel carries what setup.cfg's package_data names: templates, static files, migrations
    and the shipped data/ (through the market/templates and matching/data links)."""
    import configparser

    from matching.folders import CHECKOUT

    cfg = configparser.ConfigParser()
    cfg.read(CHECKOUT / "setup.cfg", encoding="utf-8")
    packaged = set()
    for package, patterns in cfg["options.package_data"].items():
        for pattern in patterns.split():
            packaged |= {p.resolve() for p in (CHECKOUT / package).glob(pattern) if p.is_file()}
    read = [
        *(CHECKOUT / "templates").rglob("*.html"),
        *(CHECKOUT / "market" / "static").rglob("*.*"),
        *(CHECKOUT / "market" / "migrations").glob("*.*"),
        *(CHECKOUT / "market" / "migrations" / "versions").glob("*.py"),
        *(
            p
            for d in ("reference", "dict", "matching", "demo")
            for p in (CHECKOUT / "data" / d).rglob("*.*")
            if p.name != "README.md"
        ),
    ]
    assert {p.resolve() for p in read} - packaged == set()
