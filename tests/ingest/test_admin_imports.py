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
    assert (
        report.headers["Content-Disposition"].endswith("bad.errors.csv")
        or "bad.errors.csv" in report.headers["Content-Disposition"]
    )
    out = tmp_path / "report.csv"
    out.write_bytes(report.data)
    assert read_csv(out)[1][:3] == ["3", "技术领域", "炼金术"]
    assert client.get(f"/admin/imports/{job_id}/rejects").status_code == 404
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Achievement)) == 0


def test_upload_form_errors_and_templates(client, make):
    login(client, make.user(Role.admin))
    token = csrf_from(client.get("/admin/imports").get_data(as_text=True))
    resp = client.post(
        "/admin/imports", data={"csrf_token": token, "kind": "achievements"}, content_type="multipart/form-data"
    )
    assert resp.status_code == 400 and "请选择要上传的文件" in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/imports",
        data={"csrf_token": token, "kind": "achievements", "file": (io.BytesIO(b"x"), "a.xls")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400 and "CSV、XLSX" in resp.get_data(as_text=True)
    assert client.post("/admin/imports", data={"kind": "achievements"}).status_code == 400  # no CSRF token
    csv_file = client.get("/admin/imports/template/needs.csv")
    assert csv_file.data.decode("utf-8-sig").splitlines()[0].startswith("外部编号,单位*")
    xlsx = load_workbook(io.BytesIO(client.get("/admin/imports/template/orgs.xlsx").data))
    assert [c.value for c in xlsx.worksheets[0][1]] == ["单位名称*", "单位性质*", "统一社会信用代码", "行政区划代码*"]
    assert xlsx.worksheets[1].title == "填写说明"


def test_invalid_upload_shows_its_problems_honest_counts_and_imports_the_valid_rows(client, make, tmp_path):
    make.org("高校", name=ORG, region="410102")
    login(client, make.user(Role.admin))
    rows = [achievement_row(1), achievement_row(2)] + [achievement_row(n, field="炼金术") for n in range(3, 63)]
    resp = upload(client, write(tmp_path / "bad.csv", kinds.ACHIEVEMENTS, rows))
    job_id = int(resp.headers["Location"].split("/")[-1])
    assert wait_for(client, job_id)["status"] == "invalid"
    html = client.get(f"/admin/imports/{job_id}").get_data(as_text=True)
    counts = html.split('data-testid="job-counts">')[1].split("</p>")[0]
    assert counts.startswith("未写入任何记录") and "可新增 2" in counts and "无效 60" in counts
    assert "新增 2" not in counts.replace("可新增 2", "")
    problems = html.split('data-testid="problems"')[1].split("</table>")[0]
    assert problems.count("<tr>") == 1 + 50 and "炼金术" in problems  # header + the first 50
    assert "共 60 条，下面是前 50 条" in html and f"/admin/imports/{job_id}/report" in html
    listing = client.get("/admin/imports").get_data(as_text=True)
    assert "未写入任何记录（校验：可新增 2，无效 60）" in listing
    assert 'data-testid="import-valid"' in html and "只导入有效行（2 行）" in html
    token = csrf_from(html)
    resp = client.post(f"/admin/imports/{job_id}/import-valid", data={"csrf_token": token})
    assert resp.status_code == 302
    new_id = int(resp.headers["Location"].split("/")[-1])
    assert new_id != job_id
    status = wait_for(client, new_id)
    assert status["status"] == "done" and status["counts"]["create"] == 2 and status["file"] == "bad.csv"
    assert status["summary"].startswith("新增 2")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Achievement)) == 2
    assert client.post(f"/admin/imports/{new_id}/import-valid", data={"csrf_token": token}).status_code == 409
    html = client.get(f"/admin/imports/{new_id}").get_data(as_text=True)
    assert 'data-testid="import-valid"' not in html


def test_a_dry_run_can_be_imported_without_uploading_again(client, make, tmp_path):
    make.org("高校", name=ORG, region="410102")
    login(client, make.user(Role.admin))
    resp = upload(client, write(tmp_path / "ok.csv", kinds.ACHIEVEMENTS, [achievement_row(1)]), dry_run="1")
    job_id = int(resp.headers["Location"].split("/")[-1])
    assert wait_for(client, job_id)["status"] == "checked"
    html = client.get(f"/admin/imports/{job_id}").get_data(as_text=True)
    assert "未写入任何记录（校验：可新增 1）" in html and "确认导入（1 行）" in html
    resp = client.post(f"/admin/imports/{job_id}/import-valid", data={"csrf_token": csrf_from(html)})
    assert wait_for(client, int(resp.headers["Location"].split("/")[-1]))["counts"]["create"] == 1


def test_xlsx_templates_offer_drop_down_lists_for_the_taxonomy_columns(client, make):
    login(client, make.user(Role.admin))
    book = load_workbook(io.BytesIO(client.get("/admin/imports/template/needs.xlsx").data))
    sheet, choices = book.worksheets[0], book["可选值"]
    assert choices.sheet_state == "hidden"
    header = [c.value for c in sheet[1]]
    by_column = {}
    for dv in sheet.data_validations.dataValidation:
        column = header[sheet[str(dv.sqref).split(":")[0]].column - 1]
        ref = dv.formula1.split("!")[1].replace("$", "")
        values = [c.value for row in choices[ref] for c in row]
        by_column[column] = (values, dv.showErrorMessage)
    assert by_column["技术领域*"][0][:2] == ["电子信息", "先进制造"] and by_column["技术领域*"][1]
    assert "盾构及工程装备" in by_column["产业链"][0] and "中试" in by_column["期望成熟度"][0]
    assert by_column["卡脖子"] == (["是", "否"], True)
    assert by_column["单位性质"][0][0] == "高校"
    assert "合作开发" in by_column["合作方式*"][0] and not by_column["合作方式*"][1]  # several values: a suggestion


def test_template_examples_agree_with_the_demo_data():
    import json

    from market.config import DEMO_DIR

    orgs = {o["name"]: o for o in json.loads((DEMO_DIR / "organisations.json").read_text(encoding="utf-8"))}
    for kind in kinds.KINDS.values():
        ex = kind.example
        for name, org_kind, region in (
            (ex.get("org"), ex.get("org_kind"), ex.get("region")),
            (ex.get("name"), ex.get("kind"), ex.get("region")),
            (ex.get("seller_name"), ex.get("seller_kind"), ex.get("seller_region")),
            (ex.get("buyer_name"), ex.get("buyer_kind"), ex.get("buyer_region")),
        ):
            if name:
                assert name in orgs, (kind.name, name)
                assert (orgs[name]["kind"], orgs[name]["region"]) == (org_kind, region), (kind.name, name)
