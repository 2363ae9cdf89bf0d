"""The admin upload page runs the same import in the background and shows its progress."""
import io
import time

from openpyxl import load_workbook
from sqlalchemy import func, select

from ingest import kinds
from market.extensions import db
from market.models import Achievement, ImportJob, Role
from tests.conftest import csrf_from, login
from tests.ingest.helpers import ORG, achievement_row, read_csv, write


def upload(client, path, kind="achievements", **options):
    token = csrf_from(client.get("/admin/imports").get_data(as_text=True))
    data = {"csrf_token": token, "kind": kind, "file": (io.BytesIO(path.read_bytes()), path.name), **options}
    return client.post("/admin/imports", data=data, content_type="multipart/form-data")


def wait_for(client, job_id, timeout=30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/admin/imports/{job_id}/status").json
        if status["finished"]:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def test_only_admins(client, make):
    login(client, make.user(Role.broker))
    assert client.get("/admin/imports").status_code == 403
    assert client.get("/admin/imports/template/achievements.csv").status_code == 403


def test_upload_runs_the_import_and_shows_progress(client, make, tmp_path):
    make.org("高校", name=ORG, region="410102")
    admin = make.user(Role.admin)
    login(client, admin)
    page = client.get("/admin/imports").get_data(as_text=True)
    assert "上传文件" in page and "/admin/imports/template/achievements.xlsx" in page
    path = write(tmp_path / "成果.csv", kinds.ACHIEVEMENTS, [achievement_row(n) for n in range(1, 4)], encoding="gbk")
    resp = upload(client, path)
    assert resp.status_code == 302
    job_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    status = wait_for(client, job_id)
    assert status["status"] == "done" and status["counts"]["create"] == 3 and status["file"] == "成果.csv"
    assert status["progress"]["store"]["done"] == 3 and status["progress"]["validate"]["done"] == 3
    html = client.get(f"/admin/imports/{job_id}").get_data(as_text=True)
    assert "已完成" in html and "新增 3" in html
    assert "成果.csv" in client.get("/admin/imports").get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Achievement)) == 3
    assert db.session.get(ImportJob, job_id).user_id == admin.id


def test_invalid_upload_reports_and_nothing_is_written(client, make, tmp_path):
    make.org("高校", name=ORG, region="410102")
    login(client, make.user(Role.admin))
    rows = [achievement_row(1), achievement_row(2, field="炼金术")]
    resp = upload(client, write(tmp_path / "bad.xlsx", kinds.ACHIEVEMENTS, rows))
    job_id = int(resp.headers["Location"].split("/")[-1])
    status = wait_for(client, job_id)
    assert status["status"] == "invalid" and status["has_report"] and not status["has_rejects"]
    report = client.get(f"/admin/imports/{job_id}/report")
    assert report.headers["Content-Disposition"].endswith("bad.errors.csv") or "bad.errors.csv" in \
        report.headers["Content-Disposition"]
    out = tmp_path / "report.csv"
    out.write_bytes(report.data)
    assert read_csv(out)[1][:3] == ["3", "技术领域", "炼金术"]
    assert client.get(f"/admin/imports/{job_id}/rejects").status_code == 404
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Achievement)) == 0


def test_upload_form_errors_and_templates(client, make):
    login(client, make.user(Role.admin))
    token = csrf_from(client.get("/admin/imports").get_data(as_text=True))
    resp = client.post("/admin/imports", data={"csrf_token": token, "kind": "achievements"},
                       content_type="multipart/form-data")
    assert resp.status_code == 400 and "请选择要上传的文件" in resp.get_data(as_text=True)
    resp = client.post("/admin/imports", data={"csrf_token": token, "kind": "achievements",
                                               "file": (io.BytesIO(b"x"), "a.xls")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400 and "CSV、XLSX" in resp.get_data(as_text=True)
    assert client.post("/admin/imports", data={"kind": "achievements"}).status_code == 400   # no CSRF token
    csv_file = client.get("/admin/imports/template/needs.csv")
    assert csv_file.data.decode("utf-8-sig").splitlines()[0].startswith("外部编号,单位*")
    xlsx = load_workbook(io.BytesIO(client.get("/admin/imports/template/orgs.xlsx").data))
    assert [c.value for c in xlsx.worksheets[0][1]] == ["单位名称*", "单位性质*", "统一社会信用代码", "行政区划代码*"]
    assert xlsx.worksheets[1].title == "填写说明"
