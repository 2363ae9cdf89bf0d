"""kill -9 in the middle of an import, then the same command again: it finishes the job, with no
duplicate, no lost row, the report and rejects written once, and the index agreeing with the database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest import kinds
from market.config import ROOT
from market.extensions import db
from market.infra import index_log
from market.models import Achievement, ImportJob, Role
from matching.engine import MatchEngine
from tests.ingest.helpers import ORG, achievement_row, read_csv, write
from tests.matching.fakes import FakeEmbedder

INVALID_ROWS = (10, 230, 380)  # data rows (0-based) with a bad 技术领域


def _file(tmp_path: Path, n: int) -> Path:
    rows = [achievement_row(i + 1) for i in range(n)]
    for i in INVALID_ROWS:
        if i < n:
            rows[i]["field"] = "炼金术"
    return write(tmp_path / "big.csv", kinds.ACHIEVEMENTS, rows)


def _env(app, tmp_path: Path, **extra) -> dict:
    env = {
        **os.environ,
        "MARKET_DATA_DIR": str(tmp_path / "var"),
        "MARKET_MATCHING": "1",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    env.pop("MARKET_INDEX_DIR", None)
    return env


def _jobs_rows_done() -> int:
    db.session.rollback()  # see what the other process committed
    return db.session.scalar(select(func.max(ImportJob.rows_done))) or 0


def _kill_after(cmd, env, rows: int, timeout: float) -> int:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while _jobs_rows_done() < rows:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode


def _check_resumed(app, tmp_path, path, n, env, cmd, index_engine):
    db.session.rollback()
    job = db.session.scalar(select(ImportJob))
    stored = db.session.scalar(select(func.count()).select_from(Achievement))
    assert job.status == "importing" and 0 < job.rows_done < n
    invalid = [i for i in INVALID_ROWS if i < n]
    skipped = sum(1 for i in invalid if i < job.rows_done) + job.counts.get("skipped", 0)
    assert stored == job.rows_done - skipped  # each batch committed with its job row

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"从第 {job.rows_done} 行后继续" in done.stdout, done.stdout

    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 1
    job = db.session.scalar(select(ImportJob))
    assert job.status == "done" and job.rows_done == n
    ext_ids = db.session.scalars(select(Achievement.ext_id)).all()
    assert len(ext_ids) == len(set(ext_ids)) == n - len(invalid)  # no duplicate, none lost
    titles = set(db.session.scalars(select(Achievement.title)))
    assert titles == {achievement_row(i + 1)["title"] for i in range(n) if i not in invalid}
    assert len(read_csv(path.with_suffix(".rejects.csv"))) == 1 + len(invalid)
    report = read_csv(path.with_suffix(".errors.csv"))
    assert sorted(int(r[0]) for r in report[1:] if "疑似重复" not in r[3]) == [i + 2 for i in invalid]
    check = index_engine.check("achievement", index_log.published_docs("achievement"))
    assert check["ok"] and check["indexed"] == n - len(invalid), check


def test_kill_9_mid_import_then_rerun_finishes(app, make, tmp_path):
    make.org("高校", name=ORG, region="410102")
    make.user(Role.admin)
    db.session.commit()
    n = 400
    path = _file(tmp_path, n)
    cmd = [
        sys.executable,
        "-m",
        "tests.ingest.run_ingest",
        "achievements",
        str(path),
        "--skip-invalid",
        "--batch",
        "20",
        "-q",
    ]
    _kill_after(cmd, _env(app, tmp_path, FAKE_ENCODE_DELAY="0.15"), rows=60, timeout=60)
    index = MatchEngine(FakeEmbedder(), tmp_path / "var" / "index")
    _check_resumed(app, tmp_path, path, n, _env(app, tmp_path), cmd, index)


@pytest.mark.model
def test_kill_9_with_the_real_model(app, make, tmp_path):
    from matching.embedder import Embedder

    make.org("高校", name=ORG, region="410102")
    make.user(Role.admin)
    db.session.commit()
    n = 120
    path = _file(tmp_path, n)
    env = _env(app, tmp_path, FAKE_ENCODER="0", MARKET_MODEL_DIR=app.config["MODEL_DIR"])
    cmd = [
        sys.executable,
        "-m",
        "tests.ingest.run_ingest",
        "achievements",
        str(path),
        "--skip-invalid",
        "--duplicates",
        "keep",
        "--batch",
        "20",
        "-q",
    ]
    _kill_after(cmd, env, rows=40, timeout=120)
    embedder = Embedder(Path(app.config["MODEL_DIR"]), cache_path=tmp_path / "var" / "cache" / "embeddings.sqlite")
    _check_resumed(app, tmp_path, path, n, env, cmd, MatchEngine(embedder, tmp_path / "var" / "index"))
