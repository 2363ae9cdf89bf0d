"""Migrations apply cleanly to an empty database and describe exactly the models."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

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


def test_foreign_keys_are_enforced(app):
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO station (code, name, host_org_id, region, is_hall, districts, active, "
            "created_at, updated_at) VALUES ('X', 'x', 999999, '410102', false, '[]', true, "
            "'2026-01-01', '2026-01-01')"
        )


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite's write-ahead log; not PostgreSQL")
def test_sqlite_runs_in_wal_mode(app):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_serve_refuses_a_database_behind_the_migrations(app):
    result = app.test_cli_runner().invoke(args=["serve"])
    assert result.exit_code != 0 and "market setup" in result.output


def test_stations_reachable_migration_keeps_existing_stations_and_brokers(app):
    """Issue 13: a station and a broker from before the migration survive it, the broker without
    the station-admin flag and the station with an empty page."""
    from sqlalchemy import text

    drop_everything()
    upgrade(revision="9e4b7c3a1f20")
    now = "2026-11-30 10:00:00"
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organisation (id, name, kind, region, created_at, updated_at) "
                "VALUES (1, '郑州大学', '高校', '410102', :t, :t)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO station (id, code, name, host_org_id, region, is_hall, districts, active, "
                "created_at, updated_at) VALUES (1, 'ZZU', '郑州大学驿站', 1, '410102', false, '[]', true, "
                ":t, :t)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO user_account (id, username, password_hash, display_name, role, active, "
                "org_admin, station_id, created_at, updated_at) VALUES (1, 'broker.zzu', 'x', '孙经纪', "
                "'broker', true, false, 1, :t, :t)"
            ),
            {"t": now},
        )
    upgrade()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT station_admin, expertise FROM user_account")).one() == (False, None)
        assert conn.execute(text("SELECT code, address FROM station")).one() == ("ZZU", None)
    downgrade(revision="9e4b7c3a1f20")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT username FROM user_account")).scalar() == "broker.zzu"
    upgrade()


def test_deal_workflow_upgrade_keeps_notes_internal_and_introduced_matches_released(app):
    """Issue 12's migration on existing data: notes written before notes had an audience become
    internal; matches the parties already knew of keep their offered_at (they stay visible and
    released), a suggestion the broker rejected stays unknown to the parties."""
    from sqlalchemy import text

    drop_everything()
    upgrade(revision="9e4b7c3a1f20")
    now = "2026-11-01 10:00:00"
    listing = (
        "title, detail, keywords, field, contact_name, contact_phone, status, search_text, org_id, "
        "created_at, updated_at"
    )
    values = f"'t', '', '[]', '先进制造', 'x', '1', 'published', '', 1, '{now}', '{now}'"
    with db.engine.begin() as conn:
        for sql in (
            f"INSERT INTO organisation (id, name, kind, region, created_at, updated_at) "
            f"VALUES (1, 'o', '高校', '410105', '{now}', '{now}')",
            f"INSERT INTO need (id, statement, indicators, bottleneck, coop_modes, {listing}) "
            f"VALUES (1, 's', '', false, '[]', {values})",
            f"INSERT INTO achievement (id, summary, maturity, ip, transfer_modes, {listing}) "
            f"VALUES (1, 's', '中试', '[]', '[]', {values})",
            f"INSERT INTO achievement (id, summary, maturity, ip, transfer_modes, {listing}) "
            f"VALUES (2, 's', '中试', '[]', '[]', {values})",
            "INSERT INTO match (id, need_id, achievement_id, status, score, last_activity_at, version, created_at, "
            f"updated_at, introduced_at) VALUES (1, 1, 1, 'negotiating', 0.5, '{now}', 1, '{now}', '{now}', '{now}')",
            "INSERT INTO match (id, need_id, achievement_id, status, score, last_activity_at, version, created_at, "
            f"updated_at) VALUES (2, 1, 2, 'rejected', 0.5, '{now}', 1, '{now}', '{now}')",
            f"INSERT INTO match_event (match_id, action, note, at) VALUES (1, 'note', '内部：价格敏感', '{now}')",
            f"INSERT INTO match_event (match_id, action, note, at) VALUES (1, 'negotiate', '约见', '{now}')",
        ):
            conn.execute(text(sql))
    upgrade()
    with db.engine.connect() as conn:
        assert dict(conn.execute(text("SELECT action, internal FROM match_event")).all()) == {
            "note": True,
            "negotiate": False,
        }
        offered = dict(conn.execute(text("SELECT id, offered_at FROM match")).all())
        assert offered[1] is not None and offered[2] is None
