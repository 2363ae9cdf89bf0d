"""管理 → 批量导入: upload a file, follow its import, download the report, rejects and templates.

The import is ingest's pipeline, run in a background thread; the page polls the job's status.
"""

import csv
import secrets
import shutil
from datetime import datetime
from io import BytesIO
from pathlib import Path

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from ingest import kinds, pipeline, templates
from ingest.readers import FORMATS

from ..extensions import db
from ..models import ImportJob, ImportStatus
from ..validation import reference, rules
from ..web import get_or_404
from . import bp


@bp.route("/imports", methods=["GET", "POST"])
def imports():
    errors, values = {}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        upload = request.files.get("file")
        kind = values.get("kind", "")
        suffix = Path(upload.filename or "").suffix.lower() if upload else ""
        if kind not in kinds.KINDS:
            errors["kind"] = "请选择导入类型"
        if not upload or not upload.filename:
            errors["file"] = "请选择要上传的文件"
        elif suffix not in FORMATS:
            errors["file"] = "请上传 CSV、XLSX 或 JSON Lines（.jsonl）文件"
        if not errors:
            path = _upload_path(suffix)
            upload.save(path)
            options = pipeline.Options(
                dry_run=bool(values.get("dry_run")),
                skip_invalid=bool(values.get("skip_invalid")),
                duplicates="keep" if values.get("duplicates") == "keep" else "skip",
            )
            try:
                job = _start(kind, path, options, rules.safe_file_name(upload.filename, path.name))
            except pipeline.ImportFailed as e:
                errors["file"] = str(e)
            else:
                return redirect(url_for(".import_job", job_id=job.id))
    jobs = db.session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(30)).all()
    return render_template(
        "admin/imports.html", jobs=jobs, kinds=kinds.KINDS, errors=errors, values=values, summary=counts_summary
    ), (400 if errors else 200)


def _upload_path(suffix: str) -> Path:
    folder = Path(current_app.config["UPLOAD_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}{suffix}"


def _start(kind: str, path: Path, options: pipeline.Options, file_name: str) -> ImportJob:
    """Start an import of ``path`` in the background (the file is removed when it cannot start)."""
    try:
        job = pipeline.start(kind, path, current_user.id, options, file_name=file_name)
    except pipeline.ImportFailed:
        path.unlink(missing_ok=True)
        raise
    pipeline.run_in_background(current_app._get_current_object(), job.id)
    flash(f"已开始导入：{job.file_name}", "success")
    return job


#: a job that ended before writing anything: its counts are what the check found, not what was done
NOTHING_WRITTEN = (ImportStatus.invalid.value, ImportStatus.checked.value)
PLANNED_LABELS = {
    "create": "可新增",
    "update": "可更新",
    "unchanged": "未变",
    "invalid": "无效",
    "duplicate": "疑似重复",
    "skipped": "将因疑似重复跳过",
}
SHOWN_PROBLEMS = 50


def counts_summary(job: ImportJob) -> str:
    """The job's counts in words: what was done, or — when nothing was written — what the check found."""
    counts = job.counts or {}
    planned = job.status in NOTHING_WRITTEN
    labels = PLANNED_LABELS if planned else pipeline.ACTION_LABELS
    parts = [f"{label} {counts[key]}" for key, label in labels.items() if counts.get(key)]
    if planned:
        return "未写入任何记录" + (f"（校验：{'，'.join(parts)}）" if parts else "")
    return "　".join(parts)


def valid_rows(job: ImportJob) -> int:
    return (job.rows_total or 0) - (job.counts or {}).get("invalid", 0)


def first_problems(job: ImportJob, n: int = SHOWN_PROBLEMS) -> list[list[str]]:
    """The first ``n`` lines of the job's problem report (行号, 列, 值, 问题)."""
    if not job.report_path or not Path(job.report_path).is_file():
        return []
    with open(job.report_path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        out = []
        for line in reader:
            out.append([c[1:] if c.startswith("'") else c for c in line])
            if len(out) == n:
                break
    return out


@bp.route("/imports/<int:job_id>")
def import_job(job_id):
    job = get_or_404(ImportJob, job_id)
    return render_template(
        "admin/import_job.html",
        job=job,
        kind=kinds.KINDS.get(job.kind),
        status=status_of(job),
        problems=first_problems(job),
        valid=valid_rows(job),
        may_import_valid=job.status in NOTHING_WRITTEN and valid_rows(job) > 0 and Path(job.file_path).is_file(),
    )


@bp.route("/imports/<int:job_id>/import-valid", methods=["POST"])
def import_valid(job_id):
    """Import the valid rows of a checked file (a dry run, or an all-or-nothing import that found
    invalid rows) without uploading it again: a new job on a copy of the file, skipping invalid rows."""
    job = get_or_404(ImportJob, job_id)
    if job.status not in NOTHING_WRITTEN or not Path(job.file_path).is_file():
        abort(409, "这个导入任务不能再导入有效行")
    path = _upload_path(Path(job.file_path).suffix)
    shutil.copyfile(job.file_path, path)
    options = pipeline.Options(**{**job.options, "dry_run": False, "skip_invalid": True})
    try:
        new = _start(job.kind, path, options, job.file_name)
    except pipeline.ImportFailed as e:
        flash(str(e), "danger")
        return redirect(url_for(".import_job", job_id=job.id))
    return redirect(url_for(".import_job", job_id=new.id))


def status_of(job: ImportJob) -> dict:
    return {
        "id": job.id,
        "kind": job.kind,
        "file": job.file_name,
        "status": job.status,
        "status_label": job.status_label,
        "finished": job.finished,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "counts": job.counts or {},
        "summary": counts_summary(job),
        "progress": job.progress or {},
        "message": job.message or "",
        "has_report": bool(job.report_path),
        "has_rejects": bool(job.rejects_path),
    }


@bp.route("/imports/<int:job_id>/status")
def import_status(job_id):
    return jsonify(status_of(get_or_404(ImportJob, job_id)))


@bp.route("/imports/<int:job_id>/<any(report, rejects):which>")
def import_file(job_id, which):
    job = get_or_404(ImportJob, job_id)
    path = job.report_path if which == "report" else job.rejects_path
    if not path or not Path(path).is_file():
        abort(404)
    stem = Path(job.file_name).stem
    suffix = Path(path).suffix
    name = f"{stem}.errors.csv" if which == "report" else f"{stem}.rejects{suffix}"
    return send_file(path, as_attachment=True, download_name=name)


@bp.route("/imports/template/<kind>.<any(csv, xlsx):fmt>")
def import_template(kind, fmt):
    spec = kinds.KINDS.get(kind) or abort(404)
    if fmt == "csv":
        data, mime = templates.csv_bytes(spec), "text/csv"
    else:
        data = templates.xlsx_bytes(spec, reference.vocab().names)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return send_file(BytesIO(data), mimetype=mime, as_attachment=True, download_name=f"{spec.label}导入模板.{fmt}")
