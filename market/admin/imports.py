"""管理 → 批量导入: upload a file, follow its import, download the report, rejects and templates.

The import is ingest's pipeline, run in a background thread; the page polls the job's status.
"""
import secrets
from datetime import datetime
from io import BytesIO
from pathlib import Path

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from ingest import kinds, pipeline, templates
from ingest.readers import FORMATS

from ..extensions import db
from ..models import ImportJob
from ..services import reference, rules
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
            folder = Path(current_app.config["UPLOAD_DIR"]) / "imports"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}{suffix}"
            upload.save(path)
            options = pipeline.Options(dry_run=bool(values.get("dry_run")),
                                       skip_invalid=bool(values.get("skip_invalid")),
                                       duplicates="keep" if values.get("duplicates") == "keep" else "skip")
            try:
                job = pipeline.start(kind, path, current_user.id, options,
                                     file_name=rules.safe_file_name(upload.filename, path.name))
            except pipeline.ImportFailed as e:
                path.unlink(missing_ok=True)
                errors["file"] = str(e)
            else:
                pipeline.run_in_background(current_app._get_current_object(), job.id)
                flash(f"已开始导入：{job.file_name}", "success")
                return redirect(url_for(".import_job", job_id=job.id))
    jobs = db.session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(30)).all()
    return render_template("admin/imports.html", jobs=jobs, kinds=kinds.KINDS, errors=errors, values=values,
                           labels=pipeline.ACTION_LABELS), (400 if errors else 200)


@bp.route("/imports/<int:job_id>")
def import_job(job_id):
    job = get_or_404(ImportJob, job_id)
    return render_template("admin/import_job.html", job=job, kind=kinds.KINDS.get(job.kind),
                           labels=pipeline.ACTION_LABELS, status=status_of(job))


def status_of(job: ImportJob) -> dict:
    return {"id": job.id, "kind": job.kind, "file": job.file_name, "status": job.status,
            "status_label": job.status_label, "finished": job.finished, "rows_total": job.rows_total,
            "rows_done": job.rows_done, "counts": job.counts or {}, "progress": job.progress or {},
            "message": job.message or "", "has_report": bool(job.report_path),
            "has_rejects": bool(job.rejects_path)}


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
