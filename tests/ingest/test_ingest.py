"""Bulk import: formats and encodings, headers, every validation rule, the two policies, dry runs,
idempotent re-import, updates by external id, near-duplicates."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ingest import kinds, pipeline, templates
from ingest.kinds import parse_range
from ingest.pipeline import Options
from market.extensions import db
from market.infra import match_engine
from market.models import Achievement, ImportJob, Need, Organisation, Role
from market.services import listings
from tests.conftest import ACHIEVEMENT, credit_code
from tests.ingest.helpers import COMPANY, ORG, achievement_row, need_row, read_csv, write


@pytest.fixture
def admin(make):
    make.org("高校", name=ORG, region="410102")
    make.org("国有企业", name=COMPANY, region="410171")
    return make.user(Role.admin)


def run(kind, path, user, **options):
    return pipeline.run(kind, path, user.id, Options(**options))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# ---- formats, encodings, headers -----------------------------------------------------------


@pytest.mark.parametrize(
    "name, encoding",
    [
        ("a.csv", "utf-8"),
        ("a.csv", "utf-8-sig"),
        ("a.csv", "gbk"),
        ("a.tsv", "gb18030"),
        ("a.xlsx", None),
        ("a.jsonl", "utf-8"),
    ],
)
def test_each_format_and_encoding(admin, tmp_path, name, encoding):
    rows = [achievement_row(), achievement_row(2, title="耐磨刀圈：第二代（WC-Co）", contact_phone=13803711234)]
    path = write(tmp_path / name, kinds.ACHIEVEMENTS, rows, encoding=encoding or "utf-8")
    result = run("achievements", path, admin)
    assert result.status == "done" and result.counts["create"] == 2, result.problems
    items = db.session.scalars(select(Achievement).order_by(Achievement.id)).all()
    assert [x.title for x in items] == [ACHIEVEMENT["title"], "耐磨刀圈：第二代（WC-Co）"]
    first = items[0]
    assert first.summary == ACHIEVEMENT["summary"] and first.detail == ACHIEVEMENT["detail"]
    assert first.keywords == ["盾构", "滚刀", "硬质合金"] and first.transfer_modes == ["转让", "许可"]
    assert (first.price_min, first.price_max) == (Decimal("500000"), Decimal("2000000"))
    assert first.ip == [{"type": "发明专利", "number": "ZL202110356789.4"}] and first.trl == 6
    assert first.org.name == ORG and first.owner_id == admin.id and first.is_published
    assert items[1].contact_phone == "13803711234"
    assert result.report_path is None and result.rejects_path is None


def test_jsonl_values_may_be_lists_and_numbers(admin, tmp_path):
    row = achievement_row(
        transfer_modes=["转让", "作价入股"],
        keywords=["盾构", "刀圈"],
        trl=6,
        price=None,
        price_min=500000,
        price_max=None,
    )
    path = write(tmp_path / "a.jsonl", kinds.ACHIEVEMENTS, [row])
    assert run("achievements", path, admin).counts["create"] == 1
    item = db.session.scalar(select(Achievement))
    assert item.transfer_modes == ["转让", "作价入股"] and item.price_min == 500000 and item.price_max is None


def test_english_headers_and_loose_spelling(admin, tmp_path):
    path = write(tmp_path / "en.csv", kinds.ACHIEVEMENTS, [achievement_row()], english=True)
    assert run("achievements", path, admin).counts["create"] == 1
    rows = [need_row()]
    heads = {k: k for k in rows[0]}
    heads.update(
        title=" 标题* ",
        statement="摘要",
        keywords="关键字",
        budget="预算（元）",
        org="企业名称",
        contact_name="联系人＊",
        field="ＦＩＥＬＤ",
    )
    path = write(tmp_path / "mixed.csv", kinds.NEEDS, rows, header_names=heads)
    result = run("needs", path, admin)
    assert result.counts["create"] == 1, result.problems
    need = db.session.scalar(select(Need))
    assert need.bottleneck and need.budget_min == 1000000 and need.org.name == COMPANY


def test_unknown_column_is_a_warning_missing_required_column_an_error(admin, tmp_path):
    path = write(
        tmp_path / "extra.csv",
        kinds.ACHIEVEMENTS,
        [achievement_row(备注="内部用")],
        header_names={**{k: kinds.ACHIEVEMENTS.column(k).label for k in achievement_row()}, "备注": "备注"},
    )
    result = run("achievements", path, admin)
    assert result.status == "done" and result.counts["create"] == 1
    assert any(p.level == "warning" and "备注" in p.message for p in result.problems)
    assert read_csv(result.report_path)[1][:2] == ["1", "备注"]

    row = achievement_row(3)
    del row["contact_name"], row["field"]
    result = run("achievements", write(tmp_path / "missing.csv", kinds.ACHIEVEMENTS, [row]), admin)
    assert result.status == "invalid" and count(Achievement) == 1
    assert "缺少必填列：技术领域、联系人" in result.problems[0].message


def test_unreadable_files(admin, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x80\x81title\n")
    with pytest.raises(pipeline.ImportFailed, match="无法识别文件编码"):
        run("achievements", bad, admin)
    with pytest.raises(pipeline.ImportFailed, match="不支持的文件类型"):
        run("achievements", tmp_path / "x.xls", admin)
    fake = tmp_path / "fake.xlsx"
    fake.write_text("title\n")
    with pytest.raises(pipeline.ImportFailed, match="不是有效的 XLSX"):
        run("achievements", fake, admin)
    lines = tmp_path / "a.jsonl"
    lines.write_text('{"title": "x"}\nnot json\n[1, 2]\n', encoding="utf-8")
    result = run("achievements", lines, admin, dry_run=True)
    bad_rows = {p.row: p.message for p in result.problems if not p.column}
    assert "不是有效的 JSON" in bad_rows[2] and "JSON 对象" in bad_rows[3]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("50万-200万", ("50万", "200万")),
        ("50-200万", ("50万", "200万")),
        ("1.5亿～3亿", ("1.5亿", "3亿")),
        ("面议", (None, None)),
        ("", (None, None)),
        ("100万", ("100万", "100万")),
        ("≤200万", (None, "200万")),
        ("200万以下", (None, "200万")),
        ("50万以上", ("50万", None)),
        (300000, (300000, 300000)),
    ],
)
def test_price_range_cell(text, expected):
    assert parse_range(text) == expected


# ---- validation: every rule as (row, column, value, message) ---------------------------------

ACHIEVEMENT_RULES = [
    ("title", "盾构", "至少 4 个字"),
    ("title", "", "请填写“成果名称”"),
    ("summary", "太短了", "至少 20 个字"),
    ("keywords", "、".join(f"词{i}" for i in range(11)), "关键词最多 10 个"),
    ("keywords", "盾构、" + "长" * 21, "太长"),
    ("field", "材料", "不是可选的值"),
    ("chain", "不存在的链", "不是可选的值"),
    ("maturity", "成熟", "不是可选的值"),
    ("trl", "12", "技术就绪度应为 1 到 9"),
    ("trl", "9", "与所选成熟度“中试”不符"),
    ("trl", "六", "不是整数"),
    ("ip", "发明专利:ZL202110356789.5", "校验位不正确"),
    ("ip", "专利一项", "请按“类型:编号”填写"),
    ("ip", "商标:123", "知识产权类型“商标”不是可选的值"),
    ("transfer_modes", "捐赠", "不是可选的值"),
    ("transfer_modes", "", "请填写“转化方式”"),
    ("price", "五十万", "不是有效金额"),
    ("price", "200万-50万", "价格上限不能小于下限"),
    ("price", "-5", "金额不能为负数"),
    ("expires_at", "2020-01-01", "有效期应晚于今天"),
    ("expires_at", "明年", "不是有效日期"),
    ("contact_name", "", "请填写“联系人”"),
    ("contact_phone", "12345", "电话格式不对"),
    ("contact_email", "zhang@", "电子邮箱格式不对"),
    ("status", "上架", "请填写“发布”或“草稿”"),
    ("org", "不存在的大学", "不存在；新单位请同时填写“单位性质”和“行政区划代码”"),
    ("org", COMPANY, "不能发布成果"),
    ("org_kind", "民营企业", "的性质是“高校”，与填写的“民营企业”不符"),
    ("ext_id", "X" * 81, "最多 80 个字符"),
]


@pytest.mark.parametrize("column, value, message", ACHIEVEMENT_RULES)
def test_achievement_rules(admin, tmp_path, column, value, message):
    rows = [achievement_row(1, ext_id="A1"), achievement_row(2, **{"ext_id": "A2", column: value})]
    path = write(tmp_path / "a.csv", kinds.ACHIEVEMENTS, rows)
    result = run("achievements", path, admin)
    assert result.status == "invalid" and count(Achievement) == 0
    header = kinds.ACHIEVEMENTS.column(column).label
    problems = [p for p in result.problems if p.is_error]
    assert len(problems) == 1, problems
    p = problems[0]
    assert (p.row, p.column, p.value) == (3, header, value) and message in p.message, p
    assert [str(p.row), header, value] == read_csv(result.report_path)[1][:3]
    assert message in read_csv(result.report_path)[1][3]


def test_rules_across_rows_and_columns(admin, tmp_path):
    rows = [
        achievement_row(1, ext_id="A1"),
        achievement_row(2, ext_id="A1"),  # same external id
        achievement_row(3),
        achievement_row(3, summary="另一段足够长的成果简介，描述同名的另一项成果。"),  # same org + title
        achievement_row(5, org="新建的研究院", org_kind="新型研发机构", region="410199"),  # bad new org
        achievement_row(6, price="50万", price_min="10万"),  # range given twice
        achievement_row(7, title="", summary="短"),  # several problems, one row
    ]
    result = run("achievements", write(tmp_path / "a.csv", kinds.ACHIEVEMENTS, rows), admin, dry_run=True)
    got = {(p.row, p.column): p.message for p in result.problems}
    assert "外部编号“A1”与第 2 行重复" in got[(3, "外部编号")]
    assert "与第 4 行的单位和成果名称相同" in got[(5, "外部编号")]
    assert "郑州市没有代码为 410199 的区县" in got[(6, "行政区划代码")]
    assert "只能填一种" in got[(7, "价格")]
    assert "请填写“成果名称”" in got[(8, "成果名称")] and "至少 20 个字" in got[(8, "成果简介")]
    assert result.counts["invalid"] == 5 and result.counts["create"] == 2
    assert result.status == "checked" and count(Achievement) == 0 and count(ImportJob) == 0


@pytest.mark.parametrize(
    "change, column, message",
    [
        ({"budget": "300万-100万"}, "budget", "预算上限不能小于下限"),
        ({"bottleneck": "也许"}, "bottleneck", "应为 是 或 否"),
        ({"challenge_reward": "100万"}, "challenge_deadline", "揭榜挂帅需同时填写奖金和截止日期"),
        ({"challenge_reward": "0", "challenge_deadline": "2099-01-01"}, "challenge_reward", "应大于 0"),
        ({"deadline": "2001-01-01"}, "deadline", "需求截止日期应晚于今天"),
        ({"coop_modes": "白送"}, "coop_modes", "不是可选的值"),
        ({"wanted_maturity": "很成熟"}, "wanted_maturity", "不是可选的值"),
        ({"org": ORG}, "org", "不能发布需求"),
    ],
)
def test_need_rules(admin, tmp_path, change, column, message):
    path = write(tmp_path / "n.xlsx", kinds.NEEDS, [need_row(1), need_row(2, **change)])
    result = run("needs", path, admin)
    assert result.status == "invalid" and count(Need) == 0
    p = next(p for p in result.problems if p.is_error)
    assert (p.row, p.column) == (3, kinds.NEEDS.column(column).label) and message in p.message, p


@pytest.mark.parametrize(
    "change, column, message",
    [
        ({"credit_code": credit_code()[:-1] + "0"}, "credit_code", "校验位不正确"),
        ({"region": "123"}, "region", "应为 6 位数字"),
        ({"kind": "学校"}, "kind", "请选择单位性质"),
        ({"name": "郑"}, "name", "请填写单位全称"),
        ({"name": "郑州某某公司"}, "name", "与第 2 行的单位名称相同"),
    ],
)
def test_org_rules(admin, tmp_path, change, column, message):
    rows = [
        {"name": "郑州某某公司", "kind": "民营企业", "region": "410105"},
        {"name": "河南另一家公司", "kind": "民营企业", "region": "410105", **change},
    ]
    result = run("orgs", write(tmp_path / "o.csv", kinds.ORGS, rows), admin)
    assert result.status == "invalid"
    p = next(p for p in result.problems if p.is_error)
    assert (p.row, p.column) == (3, kinds.ORGS.column(column).label) and message in p.message, p


def test_orgs_created_updated_unchanged(admin, tmp_path):
    rows = [
        {"name": "郑州某某公司", "kind": "民营企业", "region": "410105", "credit_code": credit_code()},
        {"name": ORG, "kind": "高校", "region": "410105"},
    ]
    path = write(tmp_path / "o.jsonl", kinds.ORGS, rows)
    result = run("orgs", path, admin)
    assert (result.counts["create"], result.counts["update"]) == (1, 1)
    assert db.session.scalar(select(Organisation).where(Organisation.name == ORG)).region == "410105"
    assert run("orgs", path, admin).counts["unchanged"] == 2


def test_a_row_may_bring_its_new_org_and_only_admins_import_orgs(admin, tmp_path, make):
    rows = [
        achievement_row(
            1, org="中原新材料研究院", org_kind="新型研发机构", region="410185", credit_code=credit_code("410185")
        ),
        achievement_row(2, org="中原新材料研究院"),
    ]
    result = run("achievements", write(tmp_path / "a.csv", kinds.ACHIEVEMENTS, rows), admin)
    assert result.counts["create"] == 2, result.problems
    org = db.session.scalar(select(Organisation).where(Organisation.name == "中原新材料研究院"))
    assert org.kind == "新型研发机构" and org.credit_code == credit_code("410185")
    researcher = make.user(Role.researcher)
    with pytest.raises(pipeline.ImportFailed, match="不能导入单位"):
        run(
            "orgs",
            write(tmp_path / "o.csv", kinds.ORGS, [{"name": "某", "kind": "高校", "region": "410105"}]),
            researcher,
        )


def test_researcher_imports_for_own_org_only(admin, tmp_path, make):
    researcher = make.user(Role.researcher)
    own = researcher.org.name
    row = achievement_row(1)
    del row["org"]
    path = write(tmp_path / "mine.csv", kinds.ACHIEVEMENTS, [row])  # no 单位 column: the user's own
    assert run("achievements", path, researcher).counts["create"] == 1
    assert db.session.scalar(select(Achievement)).org.name == own
    path = write(tmp_path / "other.csv", kinds.ACHIEVEMENTS, [achievement_row(2)])
    result = run("achievements", path, researcher)
    assert "只能导入本单位" in result.problems[0].message and result.problems[0].column == "单位"
    with pytest.raises(pipeline.ImportFailed, match="不能导入成果"):
        run("achievements", path, make.user(Role.enterprise))


# ---- the two policies, dry run -------------------------------------------------------------


def test_all_or_nothing_by_default(admin, tmp_path):
    rows = [achievement_row(n) for n in range(1, 8)] + [achievement_row(9, field="材料")]
    result = run("achievements", write(tmp_path / "a.csv", kinds.ACHIEVEMENTS, rows), admin, batch=3)
    assert result.status == "invalid" and "未导入任何记录" in result.message
    assert count(Achievement) == 0 and count(Organisation) == 2
    assert result.rejects_path is None
    job = db.session.scalar(select(ImportJob))
    assert job.status == "invalid" and job.rows_done == 0 and job.counts["invalid"] == 1


def test_skip_invalid_imports_the_rest_and_rejects_can_be_fixed_and_imported(admin, tmp_path):
    rows = [achievement_row(n) for n in range(1, 6)]
    rows[1]["field"] = "材料"
    rows[3]["contact_phone"] = "12345"
    path = write(tmp_path / "batch.csv", kinds.ACHIEVEMENTS, rows)
    result = run("achievements", path, admin, skip_invalid=True, batch=2)
    assert result.status == "done" and result.counts["create"] == 3 and result.counts["invalid"] == 2
    assert result.rejects_path == tmp_path / "batch.rejects.csv"
    assert result.report_path == tmp_path / "batch.errors.csv"
    report = read_csv(result.report_path)
    assert report[0] == ["行号", "列", "值", "问题"] and [r[:3] for r in report[1:]] == [
        ["3", "技术领域", "材料"],
        ["5", "联系电话", "12345"],
    ]
    rejects = read_csv(result.rejects_path)
    assert rejects[0] == read_csv(path)[0] and [r[0] for r in rejects[1:]] == [ORG, ORG]
    # fix the rejects file and import it
    fixed = [r[:] for r in rejects]
    col_field, col_phone = fixed[0].index("技术领域"), fixed[0].index("联系电话")
    fixed[1][col_field], fixed[2][col_phone] = "新材料及其应用", "13803711234"
    with open(result.rejects_path, "w", encoding="utf-8", newline="") as f:
        import csv

        csv.writer(f).writerows(fixed)
    again = run("achievements", result.rejects_path, admin)
    assert again.counts["create"] == 2 and count(Achievement) == 5


def test_dry_run_writes_nothing(admin, tmp_path):
    rows = [achievement_row(1), achievement_row(2, org="新的大学", org_kind="高校", region="410105")]
    result = run("achievements", write(tmp_path / "a.xlsx", kinds.ACHIEVEMENTS, rows), admin, dry_run=True)
    assert result.status == "checked" and result.counts["create"] == 2 and result.ok
    assert count(Achievement) == 0 and count(ImportJob) == 0 and count(Organisation) == 2


def test_templates_import_cleanly(admin, tmp_path):
    from market.validation import reference

    for kind in (kinds.ACHIEVEMENTS, kinds.NEEDS, kinds.ORGS):
        csv_path = tmp_path / f"{kind.name}.csv"
        csv_path.write_bytes(templates.csv_bytes(kind))
        assert run(kind.name, csv_path, admin, dry_run=True).ok, kind.name
        xlsx_path = tmp_path / f"{kind.name}.xlsx"
        xlsx_path.write_bytes(templates.xlsx_bytes(kind, reference.vocab().names))
        result = run(kind.name, xlsx_path, admin)
        assert result.status == "done" and not result.counts["invalid"], result.problems
    assert read_csv(tmp_path / "achievements.csv")[0][:3] == ["外部编号", "单位*", "单位性质"]


# ---- idempotent re-import, updates by external id --------------------------------------------


def test_reimport_changes_nothing(admin, tmp_path, fake_engine):
    rows = [achievement_row(n) for n in range(1, 5)] + [achievement_row(5, ext_id="ZZU-5", status="草稿")]
    path = write(tmp_path / "a.csv", kinds.ACHIEVEMENTS, rows)
    first = run("achievements", path, admin, batch=2)
    assert first.counts["create"] == 5
    before = {x.id: (x.updated_at, x.ext_id, x.status) for x in db.session.scalars(select(Achievement))}
    version = fake_engine.version
    second = run("achievements", path, admin, batch=2)
    assert second.counts["unchanged"] == 5 and not second.counts["create"] and not second.counts["update"]
    after = {x.id: (x.updated_at, x.ext_id, x.status) for x in db.session.scalars(select(Achievement))}
    assert after == before and fake_engine.version == version
    assert sorted(s for _, e, s in before.values()) == ["draft"] + ["published"] * 4
    assert sum(1 for _, e, _ in before.values() if e.startswith("auto:")) == 4
    assert len(fake_engine.libraries["achievement"].index) == 4
    assert count(ImportJob) == 2


def test_imported_listings_get_their_suggestions_as_jobs_after_each_batch(app, admin, tmp_path, fake_engine):
    from market.infra import jobs
    from market.models import Job, Match

    app.config["JOBS_EAGER"] = False
    fake_engine.weights.cutoff = 0.0
    run("achievements", write(tmp_path / "a.csv", kinds.ACHIEVEMENTS, [achievement_row(n) for n in range(3)]), admin)
    result = run("needs", write(tmp_path / "n.csv", kinds.NEEDS, [need_row(n) for n in range(3)]), admin, batch=2)
    assert result.counts["create"] == 3
    queued = db.session.execute(select(Job.name, Job.args["kind"].as_string(), Job.status)).all()
    assert sorted(queued) == [("suggest", "achievement", "queued")] * 3 + [("suggest", "need", "queued")] * 3
    assert count(Match) == 0  # nothing matched inside the import's transactions
    assert jobs.Worker().run(burst=True) == {"done": 6}
    assert count(Match) > 0


def test_edited_row_updates_its_record_and_index_entry(admin, tmp_path, fake_engine):
    rows = [achievement_row(1, ext_id="ZZU-1"), achievement_row(2)]
    path = write(tmp_path / "a.csv", kinds.ACHIEVEMENTS, rows)
    run("achievements", path, admin)
    ids = {x.ext_id: x.id for x in db.session.scalars(select(Achievement))}
    rows[0].update(
        title="梯度硬质合金刀圈（更名）", summary="更新后的成果简介：刀圈寿命提高两倍，已在郑州地铁项目中试用。"
    )
    rows[1].update(price="面议", keywords="盾构、刀圈")  # same org + title: same record
    result = run("achievements", write(tmp_path / "a2.csv", kinds.ACHIEVEMENTS, rows), admin)
    assert result.counts["update"] == 2 and count(Achievement) == 2, result.problems
    edited = db.session.get(Achievement, ids["ZZU-1"])
    assert edited.title == "梯度硬质合金刀圈（更名）"
    doc = fake_engine.libraries["achievement"].docs[edited.id]
    assert doc.title == "梯度硬质合金刀圈（更名）" and doc.text.startswith("更新后的成果简介")
    other = db.session.get(Achievement, next(i for e, i in ids.items() if e != "ZZU-1"))
    assert (other.price_min, other.price_max, other.keywords) == (None, None, ["盾构", "刀圈"])
    assert fake_engine.libraries["achievement"].docs[other.id].keywords == ("盾构", "刀圈")
    assert match_engine.check()[0]


def test_draft_row_published_later_and_others_records_protected(admin, tmp_path, make, fake_engine):
    path = write(tmp_path / "a.csv", kinds.ACHIEVEMENTS, [achievement_row(1, ext_id="E1", status="草稿")])
    run("achievements", path, admin)
    item = db.session.scalar(select(Achievement))
    assert not item.is_published and item.id not in fake_engine.libraries["achievement"].index
    path = write(tmp_path / "b.csv", kinds.ACHIEVEMENTS, [achievement_row(1, ext_id="E1", status="发布")])
    assert run("achievements", path, admin).counts["update"] == 1
    db.session.refresh(item)
    assert item.is_published and item.id in fake_engine.libraries["achievement"].index
    broker = make.user(Role.broker)
    result = run(
        "achievements",
        write(tmp_path / "c.csv", kinds.ACHIEVEMENTS, [achievement_row(1, ext_id="E1", title="被别人改的标题")]),
        broker,
    )
    assert result.status == "invalid" and "无权修改" in result.problems[0].message


def test_expired_dates_left_alone_on_reimport(admin, tmp_path):
    path = write(
        tmp_path / "a.csv",
        kinds.ACHIEVEMENTS,
        [achievement_row(1, expires_at=(date.today() + timedelta(days=30)).isoformat())],
    )
    run("achievements", path, admin)
    db.session.execute(db.update(Achievement).values(expires_at=date.today() - timedelta(days=1)))
    db.session.commit()
    row = achievement_row(1, expires_at=None)
    result = run("achievements", write(tmp_path / "b.csv", kinds.ACHIEVEMENTS, [row]), admin)
    assert result.counts["unchanged"] == 1, result.problems


# ---- near-duplicates ---------------------------------------------------------------------------


def test_near_duplicates_reported_and_skipped_or_kept(admin, tmp_path, make, fake_engine):
    owner = make.user(Role.researcher)
    original = listings.create(listings.ACHIEVEMENT, ACHIEVEMENT, owner, publish=True)
    db.session.commit()
    copy = achievement_row(title="梯度硬质合金盾构滚刀刀圈（新版）")
    fresh = achievement_row(
        title="速冻水饺面皮抗冻裂改良剂",
        summary="以冰结构蛋白与交联淀粉复配，提高速冻面皮在冷链温度波动下的抗裂性能。",
        keywords="速冻、面皮",
        field="农业",
        chain="现代食品",
        maturity="产业化",
        trl="9",
    )
    twin = dict(fresh, title="速冻水饺面皮抗冻裂改良剂（二）")
    path = write(tmp_path / "d.csv", kinds.ACHIEVEMENTS, [copy, fresh, twin])
    result = run("achievements", path, admin)
    dups = {p.row: p for p in result.problems if p.level == "duplicate"}
    assert set(dups) == {2, 4}
    assert f"与已有成果 #{original.id}“{original.title}”高度相似" in dups[2].message and "已跳过" in dups[2].message
    assert dups[2].column == "成果名称" and dups[2].value == copy["title"]
    assert "与本文件第 3 行“速冻水饺面皮抗冻裂改良剂”高度相似" in dups[4].message
    assert result.counts["create"] == 1 and result.counts["skipped"] == 2 and result.counts["duplicate"] == 2
    assert "疑似重复" in read_csv(result.report_path)[1][3]
    assert count(Achievement) == 2
    kept = run("achievements", path, admin, duplicates="keep")
    assert kept.counts["create"] == 2 and kept.counts["unchanged"] == 1 and "仍导入" in kept.problems[0].message
    assert count(Achievement) == 4
    assert run("achievements", path, admin).counts["unchanged"] == 3  # kept ones are records now


# ---- resuming in process (the subprocess kill -9 test is in test_resume.py) -------------------


def test_failed_job_resumes_from_its_last_committed_batch(admin, tmp_path, fake_engine, monkeypatch):
    rows = [achievement_row(n) for n in range(1, 11)]
    rows[6]["field"] = "材料"
    path = write(tmp_path / "r.csv", kinds.ACHIEVEMENTS, rows)
    calls = {"n": 0}
    real_store = kinds.ListingLoader.store

    def flaky(self, item):
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("磁盘满了")
        return real_store(self, item)

    monkeypatch.setattr(kinds.ListingLoader, "store", flaky)
    with pytest.raises(RuntimeError):
        run("achievements", path, admin, skip_invalid=True, batch=3)
    job = db.session.scalar(select(ImportJob))
    assert job.status == "failed" and job.rows_done == 3 and "磁盘满了" in job.message
    assert count(Achievement) == 3
    monkeypatch.setattr(kinds.ListingLoader, "store", real_store)
    result = run("achievements", path, admin, batch=50)  # options come from the job
    assert result.resumed_from == 3 and result.status == "done", result.problems
    assert count(Achievement) == 9 and count(ImportJob) == 1
    assert result.counts["create"] == 9 and result.counts["invalid"] == 1
    assert len(read_csv(result.rejects_path)) == 2 and len(read_csv(result.report_path)) == 2
    assert match_engine.check()[0]


# ---- technology contracts -----------------------------------------------------------------------


def contract_row(n: int = 0, **change) -> dict:
    row = {k: v for k, v in kinds.CONTRACTS.example.items() if k != "ext_id"}
    if n:
        row["title"] = f"盾构滚刀刀圈合作开发第{n}期"
    row.update(change)
    return row


def test_contracts_become_registration_applications(admin, tmp_path):
    from market.models import Contract

    rows = [
        contract_row(1),
        contract_row(2, ctype="技术服务", subtype="技术培训", amount="30万", tech_amount="30万", ip_type=None),
    ]
    path = write(tmp_path / "c.xlsx", kinds.CONTRACTS, rows)
    result = run("contracts", path, admin)
    assert result.status == "done" and result.counts["create"] == 2, result.problems
    items = db.session.scalars(select(Contract).order_by(Contract.id)).all()
    assert [c.status for c in items] == ["pending", "pending"] and all(c.ext_id.startswith("auto:") for c in items)
    assert items[0].seller_org.name == ORG and items[0].buyer_org.name == COMPANY
    assert items[0].amount == Decimal("2000000") and items[1].subtype == "技术培训"
    assert run("contracts", path, admin).counts["unchanged"] == 2
    rows[0]["amount"] = "250万"
    rows[0]["ext_id"] = items[0].ext_id
    result = run("contracts", write(tmp_path / "c2.csv", kinds.CONTRACTS, rows), admin)
    assert result.status == "invalid" and "不能通过导入修改" in result.problems[0].message
    assert count(Contract) == 2


@pytest.mark.parametrize(
    "change, column, message",
    [
        ({"tech_amount": "300万"}, "tech_amount", "不能大于合同成交额"),
        ({"ctype": "技术买卖"}, "ctype", "请选择合同类型"),
        ({"subtype": "专利权转让"}, "ctype", "子类"),
        ({"signed_on": (date.today() + timedelta(days=3)).isoformat()}, "signed_on", "不能晚于今天"),
        ({"valid_until": "2025-01-01"}, "valid_until", "不能早于"),
        ({"buyer_name": ORG}, "buyer_name", "不能是同一单位"),
        (
            {"buyer_name": "新客户公司", "buyer_kind": "民营企业", "buyer_region": None},
            "buyer_region",
            "境内当事人必填",
        ),
    ],
)
def test_contract_rules(admin, tmp_path, change, column, message):
    result = run(
        "contracts", write(tmp_path / "c.csv", kinds.CONTRACTS, [contract_row(1), contract_row(2, **change)]), admin
    )
    assert result.status == "invalid"
    p = next(p for p in result.problems if p.is_error)
    assert (p.row, p.column) == (3, kinds.CONTRACTS.column(column).label) and message in p.message, p


def test_station_option_attributes_intake(admin, tmp_path, make):
    station = make.station()
    db.session.commit()
    path = write(tmp_path / "a.csv", kinds.ACHIEVEMENTS, [achievement_row(1)])
    assert run("achievements", path, admin, station=station.code.lower()).counts["create"] == 1
    assert db.session.scalar(select(Achievement)).station_id == station.id
    with pytest.raises(pipeline.ImportFailed, match="驿站代码“NOPE”不存在"):
        run("achievements", path, admin, station="NOPE")


def test_template_command(tmp_path):
    from click.testing import CliRunner

    from ingest.cli import cli

    out = tmp_path / "orgs.csv"
    result = CliRunner().invoke(cli, ["template", "orgs", "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert read_csv(out) == [
        ["单位名称*", "单位性质*", "统一社会信用代码", "行政区划代码*"],
        ["郑州大学", "高校", "12410102E4B35B2F4A", "410102"],
    ]
