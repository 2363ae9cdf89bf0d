"""An import from start to end: read → validate → embed → store → index, batch by batch.

Pass 1 reads and checks every row and writes nothing (a dry run stops here, and so does the
default all-or-nothing policy when a row is invalid). Pass 2 reads the file again and, per batch,
plans the rows, has a worker thread embed the texts the index will need (while the main thread
stores the batch before), reports near-duplicates, stores the rows and commits them together
with the job row; the session hook writes the batch's index change-log rows in the same commit,
and the matching engine follows the log.

A job killed at any point resumes from its last committed batch when the same file is imported
again: rows before it are only read, not stored again; external ids make a repeated row an
update, never a duplicate; and what is committed is in the change log.
"""

import contextlib
import logging
import os
import socket
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from pathlib import Path

import numpy as np
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from market.extensions import db
from market.infra import match_engine
from market.models import ImportJob, ImportStatus, Station, User, utcnow
from market.models.import_job import UNFINISHED
from market.validation.fields import ValidationError
from matching.engine import near_duplicate_pairs

from . import kinds as kinds_
from .kinds import Item, Problem
from .progress import Progress
from .readers import ByteCounter, ReadError, Row, Source, header, open_source, rows
from .report import Reports

log = logging.getLogger(__name__)
KEEP_PROBLEMS = 200  # problems kept in the result for printing; every one goes to the report
ACTION_LABELS = {
    "create": "新增",
    "update": "更新",
    "unchanged": "未变",
    "invalid": "无效",
    "duplicate": "疑似重复",
    "skipped": "因疑似重复跳过",
}
_ACTIVE: set[int] = set()  # jobs running in this process


class ImportFailed(Exception):
    """The import cannot start or go on; the message is in Chinese."""


@dataclass
class Options:
    dry_run: bool = False
    skip_invalid: bool = False
    duplicates: str = "skip"  # near-duplicates: "skip" or "keep"
    batch: int = 500
    station: str | None = None

    def __post_init__(self):
        if self.duplicates not in ("skip", "keep"):
            raise ValueError(f"duplicates must be 'skip' or 'keep', not {self.duplicates!r}")
        if self.batch < 1:
            raise ValueError("batch must be >= 1")

    def stored(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "skip_invalid": self.skip_invalid,
            "duplicates": self.duplicates,
            "batch": self.batch,
            "station": self.station,
        }


@dataclass
class Result:
    kind: str
    status: str
    job_id: int | None = None
    rows: int = 0
    counts: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    report_path: Path | None = None
    rejects_path: Path | None = None
    resumed_from: int = 0
    matching: bool = False
    seconds: dict = field(default_factory=dict)  # time by phase, "encode" (model), "wait", "wall"
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (ImportStatus.done.value, ImportStatus.checked.value) and not self.counts["invalid"]


# ---- timing the index apart from the database commit ----------------------------------------


@event.listens_for(Session, "after_commit", insert=True)
def _mark_commit(session):
    """Runs before the matching hook applies the batch to the index: the database part is over."""
    session.info["committed_at"] = time.perf_counter()


# ---- jobs -----------------------------------------------------------------------------------


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_live(job: ImportJob) -> bool:
    """Whether some process is still working on the job (a killed one's job is not)."""
    if job.status not in (ImportStatus.validating.value, ImportStatus.importing.value):
        return False
    if job.host != socket.gethostname():
        return utcnow() - job.updated_at < timedelta(minutes=10)
    if job.pid == os.getpid():
        return job.id in _ACTIVE
    return _pid_alive(job.pid)


def open_job(
    kind: kinds_.ImportKind, source: Source, actor_id: int, options: Options, resume: bool = True
) -> ImportJob:
    """The unfinished job of this file to resume (it keeps its options), or a new one. Commits.

    ``resume=False`` gives up the unfinished jobs of the file; a dry run never resumes one."""
    jobs = (
        []
        if options.dry_run
        else db.session.scalars(
            select(ImportJob)
            .where(
                ImportJob.file_sha256 == source.sha256, ImportJob.kind == kind.name, ImportJob.status.in_(UNFINISHED)
            )
            .order_by(ImportJob.id.desc())
        ).all()
    )
    jobs = [j for j in jobs if not j.options.get("dry_run")]
    for job in jobs:
        if is_live(job):
            raise ImportFailed(f"同一文件的导入任务 #{job.id} 正在进行（进程 {job.pid}），请等它结束")
    job = jobs[0] if jobs and resume else None
    for old in jobs:
        if old is not job:
            old.status = ImportStatus.superseded.value
    if job is None:
        job = ImportJob(
            kind=kind.name,
            file_name=source.path.name,
            file_sha256=source.sha256,
            options=options.stored(),
            user_id=actor_id,
            status=ImportStatus.validating.value,
            counts={},
            progress={},
        )
        db.session.add(job)
    job.file_path = str(source.path)
    job.host, job.pid = socket.gethostname(), os.getpid()
    db.session.commit()
    return job


def default_actor() -> User | None:
    """The first administrator: who imports when no one is named."""
    from market.models import Role

    return db.session.scalar(select(User).where(User.role == Role.admin.value, User.active.is_(True)).order_by(User.id))


# ---- the import -----------------------------------------------------------------------------


@dataclass
class _Batch:
    rows: list[Row]
    items: list[Item]
    work: list[Item]  # rows that create or change a record
    docs: list
    future: object = None


def _encode(embedder, texts: list[str]):
    t = time.perf_counter()
    vectors = embedder.encode(texts)
    return vectors, time.perf_counter() - t


def _batches(it, size: int):
    while chunk := list(islice(it, size)):
        yield chunk


class Import:
    def __init__(
        self,
        kind_name: str,
        path,
        actor_id: int | None = None,
        options: Options | None = None,
        progress: Progress | None = None,
        job_id: int | None = None,
        report_dir: Path | None = None,
        resume: bool = True,
    ):
        try:
            self.kind = kinds_.get(kind_name)
        except KeyError as e:
            raise ImportFailed(e.args[0]) from None
        try:
            self.source = open_source(Path(path))
        except ReadError as e:
            raise ImportFailed(str(e)) from None
        self.options = options or Options()
        self.progress = progress or Progress(quiet=True)
        self.progress.title = f"导入{self.kind.label} {self.source.path.name}"
        self.job_id, self.resume, self.report_dir = job_id, resume, report_dir
        actor = db.session.get(User, actor_id) if actor_id else default_actor()
        if actor is None:
            raise ImportFailed("没有可用的导入人：请指定用户（--as 用户名），或先创建管理员账号")
        if not self.kind.may_import(actor):
            raise ImportFailed(f"用户 {actor.username}（{actor.role_label}）不能导入{self.kind.label}")
        self.actor_id = actor.id
        self.station_id = self._station()
        self.result = Result(self.kind.name, ImportStatus.validating.value)
        self.reports: Reports | None = None
        self.clock: Counter = Counter()
        self.started = time.perf_counter()

    # ---- entry --------------------------------------------------------------------------------
    def run(self) -> Result:
        job = None
        if self.job_id is not None:
            job = db.session.get(ImportJob, self.job_id)
        elif not self.options.dry_run:
            job = open_job(self.kind, self.source, self.actor_id, self.options, self.resume)
        if job is not None:
            self.job_id = job.id
            _ACTIVE.add(job.id)
            self.options = Options(**job.options)
        try:
            return self._run(job)
        except BaseException as e:
            db.session.rollback()
            if job is not None:
                job = db.session.get(ImportJob, self.job_id)
                job.status = ImportStatus.failed.value
                job.message = _failure(e, job.rows_done)
                db.session.commit()
            raise
        finally:
            if job is not None:
                _ACTIVE.discard(self.job_id)
            if self.reports is not None:
                self.reports.close()
            self.progress.close()

    def _run(self, job: ImportJob | None) -> Result:
        r = self.result
        r.job_id = self.job_id
        self.station_id = self._station()  # a resumed job's own option
        self.headers = header(self.source)
        self.header_map, header_problems, fatal = self._check_header()
        self.reports = Reports(self.source, self.headers, self.report_dir)
        if job is not None and job.validated:
            r.rows = job.rows_total or 0
            return self._import(job, header_problems)
        self.reports.start()
        if fatal:
            self._write(header_problems)
            return self._end(job, ImportStatus.invalid.value, "文件的列有问题，未导入")
        clean = self._validate(job, header_problems)
        if self.options.dry_run:
            return self._end(job, ImportStatus.checked.value)
        if not clean and not self.options.skip_invalid:
            return self._end(
                job,
                ImportStatus.invalid.value,
                f"有 {r.counts['invalid']} 行未通过校验，按“全部正确才导入”的规则未导入任何记录",
            )
        return self._import(job, header_problems)

    def _station(self) -> int | None:
        if not self.options.station:
            return None
        station = db.session.scalar(select(Station).where(Station.code == self.options.station.upper()))
        if station is None:
            raise ImportFailed(f"驿站代码“{self.options.station}”不存在")
        return station.id

    def _check_header(self) -> tuple[dict, list[Problem], bool]:
        if self.headers is None:
            return {}, [], False
        mapping, unknown, problems = self.kind.map_headers(self.headers)
        out = [Problem(1, "", "", msg) for msg in problems]
        present = set(mapping.values())
        missing = [
            c.label for c in self.kind.required_columns(db.session.get(User, self.actor_id)) if c.name not in present
        ]
        if missing:
            out.append(Problem(1, "", "", f"缺少必填列：{'、'.join(missing)}（可下载模板对照）"))
        out += [Problem(1, h, "", f"未识别的列“{h}”，已忽略", "warning") for h in unknown]
        if not self.headers:
            out.append(Problem(1, "", "", "文件是空的"))
        return mapping, out, any(p.is_error for p in out)

    def _loader(self) -> kinds_.Loader:
        loader = self.kind.loader(self.actor_id, self.station_id)
        for h in self.headers or ():
            loader.known_header(h, self.header_map.get(h))
        return loader

    def _rows(self, counter: ByteCounter | None = None):
        """The file's rows, timing the reading."""
        it = rows(self.source, counter)
        while True:
            t = time.perf_counter()
            row = next(it, None)
            self.clock["read"] += time.perf_counter() - t
            if row is None:
                return
            yield row

    def _write(self, problems: list[Problem]) -> None:
        self.reports.problems(problems)
        r = self.result
        r.problem_count += len(problems)
        room = KEEP_PROBLEMS - len(r.problems)
        if room > 0:
            r.problems += problems[:room]

    # ---- pass 1: read and check everything, write nothing -------------------------------------
    def _validate(self, job: ImportJob | None, header_problems: list[Problem]) -> bool:
        r, p = self.result, self.progress
        report = self.options.dry_run or not self.options.skip_invalid
        if report:
            self._write(header_problems)
        loader = self._loader()
        counter = ByteCounter(self.source.size)
        for batch in _batches(self._rows(counter), self.options.batch):
            t = time.perf_counter()
            items = loader.prepare(batch)
            dt = time.perf_counter() - t
            self.clock["validate"] += dt
            for item in items:
                r.counts[item.action] += 1
            if report:
                self._write([x for item in items for x in item.problems])
            r.rows += len(batch)
            p.phases["read"].fraction_hint = counter.fraction
            p.add("read", len(batch), 0.0)
            p.add("validate", len(batch), dt)
            if job is not None:
                job.rows_total, job.counts, job.progress = r.rows, dict(r.counts), p.snapshot()
                db.session.commit()
        p.finish("read")
        p.finish("validate")
        self.clock["read_pass1"] = self.clock["read"]
        return not r.counts["invalid"]

    # ---- pass 2: store, batch by batch ---------------------------------------------------------
    def _import(self, job: ImportJob, header_problems: list[Problem]) -> Result:
        r, p = self.result, self.progress
        job.status, job.validated, job.rows_total = ImportStatus.importing.value, True, r.rows
        db.session.commit()
        start = job.rows_done
        r.resumed_from = start
        r.counts = Counter({k: v for k, v in job.counts.items() if k != "problems"} if start else {})
        r.problems, r.problem_count = [], job.counts.get("problems", 0) if start else 0
        if start:
            self.reports.start(job.report_bytes, job.rejects_bytes)
        else:
            self.reports.start()
            self._write(header_problems)
        eng = match_engine.backend() if self.kind.indexed else None  # the service, or the engine here
        r.matching = eng is not None
        for phase in ("embed", "store", "index"):
            p.phases[phase].total = max(r.rows - start, 0)
        loader = self._loader()
        stream = self._rows()
        for row in islice(stream, start):
            loader.skip(row)
        executor = ThreadPoolExecutor(1, thread_name_prefix="ingest-embed") if eng is not None else None
        self.embedder = eng  # encodes: the matching service's model, with its embedding cache
        inflight: deque[_Batch] = deque()
        try:
            for batch in _batches(stream, self.options.batch):
                inflight.append(self._plan(loader, batch, eng, executor))
                if len(inflight) > 1:
                    self._finish(job, loader, inflight.popleft())
            while inflight:
                self._finish(job, loader, inflight.popleft())
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        if eng is not None:
            t = time.perf_counter()
            with contextlib.suppress(match_engine.Unavailable):
                eng.flush()  # the engine here saves its index now; the service saves its own
            self.clock["index"] += time.perf_counter() - t
        job = db.session.get(ImportJob, self.job_id)
        message = ""
        if r.counts["invalid"] and not self.options.skip_invalid:
            message = f"有 {r.counts['invalid']} 行在导入时未通过校验（校验后数据有变化），已跳过"
        return self._end(job, ImportStatus.done.value, message)

    def _plan(self, loader, batch: list[Row], eng, executor) -> _Batch:
        t = time.perf_counter()
        items = loader.prepare(batch)
        work = [i for i in items if i.ok and i.action != "unchanged"]
        docs = [loader.doc(i) for i in work] if eng is not None else []
        self.clock["validate"] += time.perf_counter() - t
        b = _Batch(batch, items, work, docs)
        if docs and all(d is not None for d in docs):
            b.future = executor.submit(_encode, self.embedder, [d.embed_text() for d in docs])
        return b

    def _finish(self, job: ImportJob, loader, b: _Batch) -> None:
        r, p = self.result, self.progress
        if b.future is not None:
            t = time.perf_counter()
            try:
                vectors, seconds = b.future.result()
            except match_engine.Unavailable as e:  # stored all the same; the service embeds them later
                log.warning("near-duplicate check skipped for a batch: %s", e)
                vectors, seconds = None, 0.0
            self.clock["wait"] += time.perf_counter() - t
            self.clock["encode"] += seconds
            t = time.perf_counter()
            if vectors is not None:
                self._near_duplicates(b, vectors)
            self.clock["duplicates"] += time.perf_counter() - t
            p.add("embed", len(b.rows), seconds)
        else:
            p.add("embed", len(b.rows))
        t = time.perf_counter()
        problems = []
        for item in b.items:
            if item.ok and not item.skip:
                try:
                    r.counts[loader.store(item)] += 1
                except (ValidationError, PermissionError) as e:
                    loader.fail(item, e.errors if isinstance(e, ValidationError) else {"": str(e)})
            elif item.ok:
                r.counts["skipped"] += 1
            if not item.ok:
                r.counts["invalid"] += 1
                self.reports.reject(item.row)
            problems += item.problems
        db.session.flush()
        self._write(problems)
        r.counts["duplicate"] += sum(1 for item in b.items if any(x.level == "duplicate" for x in item.problems))
        job = db.session.get(ImportJob, self.job_id)
        job.report_bytes, job.rejects_bytes = self.reports.sync()
        job.rows_done += len(b.rows)
        job.counts = {**r.counts, "problems": r.problem_count}
        stored = time.perf_counter() - t
        p.add("store", len(b.rows), stored)
        job.progress = p.snapshot()
        t = time.perf_counter()
        db.session.commit()
        done = time.perf_counter()
        committed = db.session.info.pop("committed_at", done)
        self.clock["store"] += stored + (committed - t)
        self.clock["index"] += done - committed
        p.add("index", len(b.rows), done - committed)

    def _near_duplicates(self, b: _Batch, vectors: np.ndarray) -> None:
        """Rows that nearly repeat a published listing or an earlier row of the batch (earlier
        batches are in the index already)."""
        new = [n for n, item in enumerate(b.work) if item.action == "create"]
        if not new:
            return
        docs = [b.docs[n] for n in new]
        vecs = vectors[new]
        label = self.kind.label
        keep = self.options.duplicates == "keep"
        found: dict[int, str] = {}
        for n, hits in zip(new, match_engine.near_duplicates_many(docs, vecs)):
            if hits:
                listing, cos, overlap = max(hits, key=lambda h: h[1])
                found[n] = (
                    f"与已有{label} #{listing.id}“{listing.title}”高度相似"
                    f"（语义相似度 {cos:.2f}，文字重合 {overlap:.0%}）"
                )
        for i, j, cos, overlap in near_duplicate_pairs([d.embed_text() for d in docs], vecs):
            n, m = new[i], new[j]
            if n not in found:
                found[n] = (
                    f"与本文件第 {b.work[m].row.number} 行“{b.work[m].title}”高度相似"
                    f"（语义相似度 {cos:.2f}，文字重合 {overlap:.0%}）"
                )
        for n, message in found.items():
            item = b.work[n]
            item.problems.append(
                Problem(
                    item.row.number,
                    item.headers.get("title", self.kind.column("title").label),
                    item.title,
                    message + ("；按设置仍导入" if keep else "；按设置已跳过"),
                    "duplicate",
                )
            )
            item.skip = not keep

    # ---- the end --------------------------------------------------------------------------------
    def _end(self, job: ImportJob | None, status: str, message: str = "") -> Result:
        r = self.result
        r.status, r.message = status, message
        r.report_path, r.rejects_path = self.reports.report_path, self.reports.rejects_path
        self.reports.close()
        self.clock["wall"] = time.perf_counter() - self.started
        r.seconds = {k: round(v, 3) for k, v in self.clock.items()}
        if job is not None:
            job = db.session.get(ImportJob, self.job_id)
            job.status, job.message = status, message
            job.counts = {**r.counts, "problems": r.problem_count}
            job.rows_total = r.rows
            job.report_path = str(r.report_path) if r.report_path else None
            job.rejects_path = str(r.rejects_path) if r.rejects_path else None
            job.progress = self.progress.snapshot()
            job.finished_at = utcnow()
            db.session.commit()
        return r


def _failure(e: BaseException, rows_done: int) -> str:
    where = f"已完成 {rows_done} 行；" if rows_done else ""
    if isinstance(e, KeyboardInterrupt):
        return f"已中断。{where}再次导入同一文件即可从中断处继续"
    return f"出错：{e}。{where}再次导入同一文件即可从中断处继续"


def run(
    kind: str,
    path,
    actor_id: int | None = None,
    options: Options | None = None,
    progress: Progress | None = None,
    job_id: int | None = None,
    report_dir: Path | None = None,
    resume: bool = True,
) -> Result:
    """Import one file; see the module's docstring. Raises ImportFailed when it cannot start."""
    return Import(kind, path, actor_id, options, progress, job_id, report_dir, resume).run()


def start(kind: str, path, actor_id: int, options: Options, file_name: str | None = None) -> ImportJob:
    """The job of an import to run later (the admin page's background thread): the file, the
    user and the options are checked now. Commits."""
    imp = Import(kind, path, actor_id, options)
    job = open_job(imp.kind, imp.source, imp.actor_id, options)
    if file_name:
        job.file_name = file_name[:255]
    db.session.commit()
    return job


def run_in_background(app, job_id: int) -> threading.Thread:
    """Run a started job in a thread of this process; its progress is on the job row."""
    _ACTIVE.add(job_id)

    def work():
        with app.app_context():
            job = db.session.get(ImportJob, job_id)
            try:
                run(job.kind, job.file_path, job.user_id, Options(**job.options), job_id=job_id)
            except ImportFailed as e:
                job = db.session.get(ImportJob, job_id)
                job.status, job.message = ImportStatus.failed.value, str(e)
                db.session.commit()
            except Exception:
                log.exception("import job %s failed", job_id)
            finally:
                _ACTIVE.discard(job_id)
                db.session.remove()

    thread = threading.Thread(target=work, name=f"import-{job_id}", daemon=True)
    thread.start()
    return thread
