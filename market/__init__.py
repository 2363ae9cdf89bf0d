"""郑州技术交易市场 — the web application."""

import logging
import os
from importlib import resources

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import Config


def create_app(config: Config | dict | None = None) -> Flask:
    # templates/ and static/ as package data: market/templates is a link to the checkout's templates/
    app = Flask(__name__, template_folder="templates", static_folder="static")
    cfg = config if isinstance(config, Config) else Config()
    app.config.from_object(cfg)
    if isinstance(config, dict):
        app.config.update(config)
    os.makedirs(app.config["DATA_DIR"], exist_ok=True)
    _configure_logging(app)

    from . import ratelimit  # noqa: F401  (registers the sqlitefile:// storage)
    from .extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    limiter.init_app(app)
    migrate.init_app(app, db, directory=str(resources.files(__name__) / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"

    from . import (
        commands,
        models,  # noqa: F401  (registers the tables)
    )
    from .blueprints import register_blueprints
    from .errors import register_error_handlers
    from .infra import index_log  # noqa: F401  (the change-log hooks on every session)
    from .infra.notify import register_read_on_open
    from .security import register_input_guard, register_security_headers
    from .templating import register_template_helpers
    from .web import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter
    register_blueprints(app)
    register_error_handlers(app)
    commands.init_app(app)
    register_template_helpers(app)
    register_security_headers(app)
    register_input_guard(app)
    register_read_on_open(app)
    return app


def _configure_logging(app: Flask) -> None:
    level = getattr(logging, str(app.config.get("LOG_LEVEL", "INFO")).upper(), logging.INFO)
    if not app.logger.handlers or app.debug:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        app.logger.handlers[:] = [handler]
    app.logger.setLevel(level)
    app.logger.propagate = False


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: write-ahead log, enforced foreign keys, wait instead of failing on a busy database."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()
