"""Migrations apply cleanly to an empty database and describe exactly the models."""
import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from market.extensions import db
from tests.conftest import drop_everything


def test_upgrade_from_empty_matches_models(app):
    drop_everything()
    upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert {"achievement", "need", "organisation", "station", "user_account", "term"} <= tables
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()


def test_sqlite_pragmas(app):
    if os.environ.get("TEST_DATABASE_URL"):
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_serve_refuses_a_database_behind_the_migrations(app):
    result = app.test_cli_runner().invoke(args=["serve"])
    assert result.exit_code != 0 and "market setup" in result.output
