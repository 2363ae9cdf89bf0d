"""`ingest`: bulk import from the command line.

ingest achievements 成果.xlsx [--dry-run] [--skip-invalid] [--duplicates skip|keep]
                              [--as USERNAME] [--batch 500] [--station CODE] [--no-resume]
ingest needs 需求.csv …      ingest orgs 单位.jsonl …      ingest contracts 合同.xlsx …
ingest template achievements --format xlsx -o 成果模板.xlsx
"""

import sys
from pathlib import Path

import click

from . import kinds as kinds_
from . import templates
from .report import describe

KIND_HELP = {
    "achievements": "成果 (科技成果)",
    "needs": "需求 (技术需求)",
    "orgs": "单位",
    "contracts": "技术合同 (登记申请)",
}


@click.group(help="批量导入成果、需求、单位、技术合同（CSV / XLSX / JSON Lines）。")
def cli():
    pass


def _app():
    from market import create_app

    return create_app()


def _import_command(kind_name: str):
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="只校验，不写入")
    @click.option("--skip-invalid", is_flag=True, help="导入正确的行，错误的行写入 <文件名>.rejects.csv")
    @click.option(
        "--duplicates",
        type=click.Choice(["skip", "keep"]),
        default="skip",
        show_default=True,
        help="与已有记录或文件中其他行高度相似的行：跳过或仍导入（都会报告）",
    )
    @click.option("--as", "username", help="以该用户身份导入（默认：第一个管理员）")
    @click.option(
        "--batch", type=click.IntRange(1, 100_000), default=500, show_default=True, help="每批行数（每批提交一次）"
    )
    @click.option("--station", help="记入该驿站（驿站代码）")
    @click.option("--no-resume", is_flag=True, help="不续传：放弃此文件未完成的导入任务，从头开始")
    @click.option("--quiet", "-q", is_flag=True, help="不显示进度")
    def command(file, dry_run, skip_invalid, duplicates, username, batch, station, no_resume, quiet):
        from . import pipeline
        from .progress import Progress

        app = _app()
        with app.app_context():
            actor_id = _actor_id(username)
            options = pipeline.Options(
                dry_run=dry_run, skip_invalid=skip_invalid, duplicates=duplicates, batch=batch, station=station
            )
            try:
                result = pipeline.run(kind_name, file, actor_id, options, Progress(quiet=quiet), resume=not no_resume)
            except pipeline.ImportFailed as e:
                raise click.ClickException(str(e)) from None
            except KeyboardInterrupt:
                click.echo("\n已中断；再次运行同一命令即可从中断处继续。", err=True)
                sys.exit(130)
            _print(result)
            sys.exit(_exit_code(result))

    command.__doc__ = f"导入{KIND_HELP[kind_name]}。"
    return cli.command(kind_name)(command)


for _name in KIND_HELP:
    _import_command(_name)


def _actor_id(username: str | None) -> int | None:
    if not username:
        return None
    from sqlalchemy import func, select

    from market.extensions import db
    from market.models import User

    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        raise click.ClickException(f"用户“{username}”不存在")
    return user.id


def _print(result) -> None:
    from .pipeline import ACTION_LABELS

    kind = kinds_.get(result.kind)
    for p in result.problems:
        click.echo(describe(p))
    if result.problem_count > len(result.problems):
        click.echo(f"…… 另有 {result.problem_count - len(result.problems)} 条，见问题清单")
    counts = "，".join(f"{ACTION_LABELS[k]} {result.counts[k]}" for k in ACTION_LABELS if result.counts[k])
    head = {"done": "导入完成", "checked": "校验完成（未写入）", "invalid": "未导入"}.get(result.status, result.status)
    job = (
        f"（任务 #{result.job_id}" + (f"，从第 {result.resumed_from} 行后继续" if result.resumed_from else "") + "）"
        if result.job_id
        else ""
    )
    click.echo(f"{kind.label}{head}{job}：共 {result.rows} 行" + (f"；{counts}" if counts else ""))
    if result.message:
        click.echo(result.message)
    if result.report_path:
        click.echo(f"问题清单：{result.report_path}")
    if result.rejects_path:
        click.echo(f"未导入的行：{result.rejects_path}（修改后可再次导入）")
    if result.status == "done" and kind.indexed and not result.matching:
        click.echo("匹配引擎未启用：未做近似重复检查，索引将在启用后同步。")


def _exit_code(result) -> int:
    if result.status == "invalid":
        return 1
    if result.status == "checked" and result.counts["invalid"]:
        return 1
    return 0


@cli.command("template")
@click.argument("kind_name", metavar="KIND", type=click.Choice(sorted(kinds_.KINDS)))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="xlsx", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="输出文件（默认：<类型>模板.<格式>）"
)
def template_cmd(kind_name, fmt, output):
    """生成导入模板（列名和一行示例）。"""
    kind = kinds_.get(kind_name)
    output = output or Path(f"{kind.label}导入模板.{fmt}")
    if fmt == "csv":
        data = templates.csv_bytes(kind)
    else:
        app = _app()
        with app.app_context():
            from market.validation import reference

            data = templates.xlsx_bytes(kind, reference.vocab().names)
    output.write_bytes(data)
    click.echo(f"已生成 {output}")


def main():
    cli(prog_name="ingest")
