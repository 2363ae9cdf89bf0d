"""Configuration from the environment.

Everything the app writes (database, secret key, model, indexes, uploads) lives under one data
folder, ``MARKET_DATA_DIR`` (default ``data/var`` in the checkout); `matching.folders` decides where
it and the files shipped with the code are, for the app, the commands and the benchmarks alike.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from matching import folders
from matching.folders import data_dir

ROOT = folders.CHECKOUT
REFERENCE_DIR = folders.shipped("reference")
DEMO_DIR = folders.shipped("demo")


def _secret_key(folder: Path) -> str:
    """The key from the environment, else one generated on first run and kept in the data folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


class Config:
    def __init__(self, folder: Path | None = None):
        folder = folder or data_dir()
        self.DATA_DIR = str(folder)
        self.SECRET_KEY = _secret_key(folder)
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'market.db'}"
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.MODEL_DIR = str(folders.model_dir(folder))
        self.INDEX_DIR = os.environ.get("MARKET_INDEX_DIR") or str(folder / "index")
        self.UPLOAD_DIR = str(folder / "uploads")
        self.EMBED_CACHE = str(folders.embed_cache(folder))
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_MB", "20")) * 1024 * 1024
        # cookies: Secure for HTTPS deployments (COOKIE_SECURE=1); the remember-me cookie lasts REMEMBER_DAYS
        secure = os.environ.get("COOKIE_SECURE", "0") == "1"
        samesite = os.environ.get("COOKIE_SAMESITE", "Lax")
        self.SESSION_COOKIE_HTTPONLY = self.REMEMBER_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SECURE = self.REMEMBER_COOKIE_SECURE = secure
        self.SESSION_COOKIE_SAMESITE = self.REMEMBER_COOKIE_SAMESITE = samesite
        self.REMEMBER_COOKIE_DURATION = timedelta(days=int(os.environ.get("REMEMBER_DAYS", "14")))
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=int(os.environ.get("SESSION_HOURS", "12")))
        self.WTF_CSRF_TIME_LIMIT = None
        self.PAGE_SIZE = 20
        # rate limits (Flask-Limiter): counters shared by all server processes of the host
        self.RATELIMIT_STORAGE_URI = (
            os.environ.get("RATELIMIT_STORAGE_URI") or f"sqlitefile://{folder / 'ratelimit.sqlite'}"
        )
        self.RATELIMIT_ENABLED = os.environ.get("RATELIMIT_ENABLED", "1") != "0"
        self.LOGIN_LIMIT_ADDRESS = os.environ.get("LOGIN_LIMIT_ADDRESS", "30 per 10 minutes")
        self.LOGIN_LIMIT_ACCOUNT_ADDRESS = os.environ.get("LOGIN_LIMIT_ACCOUNT_ADDRESS", "5 per 15 minutes")
        self.LOGIN_LIMIT_ACCOUNT = os.environ.get("LOGIN_LIMIT_ACCOUNT", "100 per hour")
        self.SEARCH_LIMIT = os.environ.get("SEARCH_LIMIT", "30 per minute")
        self.SEARCH_MAX_CHARS = int(os.environ.get("SEARCH_MAX_CHARS", "100"))
        # semantic search shows the hits scoring at least min(SEARCH_MIN_SCORE, SEARCH_MIN_SHARE × the
        # best hit's score); measured in README "Semantic search: the relevance floor"
        self.SEARCH_MIN_SCORE = float(os.environ.get("SEARCH_MIN_SCORE", "0.02"))
        self.SEARCH_MIN_SHARE = float(os.environ.get("SEARCH_MIN_SHARE", "0.5"))
        self.EXPIRY_NOTICE_DAYS = 30
        self.ACHIEVEMENT_LIFETIME_DAYS = 365
        self.MATCHING_ENABLED = os.environ.get("MARKET_MATCHING", "1") != "0"
        # the matching service (`matching serve`); unset: an engine inside this process
        self.MATCHING_SERVICE_URL = os.environ.get("MATCHING_SERVICE_URL") or None
        self.MATCHING_TIMEOUT = float(os.environ.get("MATCHING_TIMEOUT", "30"))
        # PostgreSQL with pgvector holding the vectors (several hosts); unset: FAISS files in INDEX_DIR
        self.VECTOR_STORE_URL = os.environ.get("VECTOR_STORE_URL") or None
        # yearly 技术合同成交额 target (元 or 万/亿); unset: none, the screens compare with the year before
        self.STAT_YEAR_TARGET = os.environ.get("STAT_YEAR_TARGET", "")
        self.CONTRACT_FILE_MAX_MB = int(os.environ.get("CONTRACT_FILE_MAX_MB", "10"))
        self.MATCH_WEIGHTS = os.environ.get("MATCH_WEIGHTS") or str(folder / "matching" / "weights.json")
        self.SUGGESTIONS_PER_LISTING = int(os.environ.get("SUGGESTIONS_PER_LISTING", "5"))
        self.MATCH_STALL_DAYS = int(os.environ.get("MATCH_STALL_DAYS", "14"))
        self.CONSENT_DAYS = int(os.environ.get("CONSENT_DAYS", "5"))  # working days to answer an introduction
        self.CHALLENGE_OBJECTION_DAYS = int(os.environ.get("CHALLENGE_OBJECTION_DAYS", "7"))  # 揭榜公示期（天）
        self.MATCH_ABANDON_DAYS = int(os.environ.get("MATCH_ABANDON_DAYS", "90"))
        self.FEEDBACK_MIN_LABELS = int(os.environ.get("FEEDBACK_MIN_LABELS", "30"))
        # 申请对接: visitors' requests per address, and the reminder to the station when unanswered
        self.CONTACT_LIMIT = os.environ.get("CONTACT_LIMIT", "5 per hour")
        self.CONTACT_REMIND_WORKDAYS = int(os.environ.get("CONTACT_REMIND_WORKDAYS", "2"))
        self.PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000")
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER")
        self.MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
        self.MAIL_FROM = os.environ.get("MAIL_FROM", "noreply@zztm.local")
        # slow work as jobs after commit (market.infra.jobs): run by `market worker` from the job table,
        # pushed through RQ when REDIS_URL is set; JOBS_EAGER=1 runs them in-process right after commit
        self.REDIS_URL = os.environ.get("REDIS_URL", "")
        self.JOBS_QUEUE = os.environ.get("JOBS_QUEUE", "market")
        self.JOBS_EAGER = os.environ.get("JOBS_EAGER", "0") == "1"
        self.JOBS_MAX_ATTEMPTS = int(os.environ.get("JOBS_MAX_ATTEMPTS", "5"))
        self.JOBS_BACKOFF_SECONDS = float(os.environ.get("JOBS_BACKOFF_SECONDS", "10"))
        self.JOBS_LEASE_SECONDS = float(os.environ.get("JOBS_LEASE_SECONDS", "300"))
        self.JOBS_POLL_SECONDS = float(os.environ.get("JOBS_POLL_SECONDS", "1"))
        self.JOBS_SWEEP_SECONDS = float(os.environ.get("JOBS_SWEEP_SECONDS", "30"))
        self.JOBS_TIMEOUT_SECONDS = int(os.environ.get("JOBS_TIMEOUT_SECONDS", "3600"))
        self.JOBS_KEEP_DAYS = float(os.environ.get("JOBS_KEEP_DAYS", "7"))


class TestingConfig(Config):
    """Everything in a temporary folder; the model folder stays shared so it is converted once."""

    def __init__(self, tmp_dir: Path, database_url: str | None = None):
        super().__init__(tmp_dir)
        self.TESTING = True
        self.SQLALCHEMY_DATABASE_URI = database_url or f"sqlite:///{tmp_dir / 'test.db'}"
        self.MODEL_DIR = str(folders.model_dir())
        self.EMBED_CACHE = str(folders.embed_cache())  # content-addressed: safe to share
        self.MATCHING_ENABLED = False
        self.JOBS_EAGER = True  # suggestions right after the commit; tests of the worker switch it off
        self.REDIS_URL = ""
