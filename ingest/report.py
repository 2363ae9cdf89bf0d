"""The files an import writes next to its input: <name>.errors.csv (行号, 列, 值, 问题) and the
rejected rows, <name>.rejects.csv (or .jsonl), ready to fix and import again. Cells that a
spreadsheet would run as a formula are written with a leading apostrophe, which the reader drops
again on import.

Both are appended batch by batch; their sizes travel with each committed batch, so a resumed job
first cuts off what an interrupted batch had already written.
"""

import csv
import io
import os
from pathlib import Path

from market.infra.exports import csv_row

from .kinds import Problem
from .readers import Row, Source

REPORT_HEADER = ("行号", "列", "值", "问题")


def paths(source: Source, folder: Path | None = None) -> tuple[Path, Path]:
    folder = Path(folder) if folder else source.path.parent
    stem = source.path.stem
    rejects = folder / (f"{stem}.rejects.jsonl" if source.format == "jsonl" else f"{stem}.rejects.csv")
    return folder / f"{stem}.errors.csv", rejects


class _Appender:
    """A file created on its first line, with a header line when it has one."""

    def __init__(self, path: Path, header: str = ""):
        self.path, self.header = path, header
        self.file = None

    def start(self, keep_bytes: int) -> None:
        """Keep the first ``keep_bytes`` of an earlier run's file (0: start afresh)."""
        self.close()
        if keep_bytes and self.path.exists() and self.path.stat().st_size >= keep_bytes:
            self.file = open(self.path, "r+b")  # noqa: SIM115 (kept open across batches; close())
            self.file.truncate(keep_bytes)
            self.file.seek(keep_bytes)
        else:
            self.path.unlink(missing_ok=True)

    def write(self, text: str) -> None:
        if self.file is None:
            self.file = open(self.path, "wb")  # noqa: SIM115 (kept open across batches; close())
            if self.header:
                self.file.write(("\ufeff" + self.header).encode("utf-8"))
        self.file.write(text.encode("utf-8"))

    def sync(self) -> int:
        if self.file is None:
            return 0
        self.file.flush()
        os.fsync(self.file.fileno())
        return self.file.tell()

    @property
    def written(self) -> bool:
        return self.file is not None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _csv_line(values) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(csv_row(values))
    return buf.getvalue()


class Reports:
    def __init__(self, source: Source, header: list[str] | None, folder: Path | None = None):
        report, rejects = paths(source, folder)
        self.jsonl = source.format == "jsonl"
        self.report = _Appender(report, _csv_line(REPORT_HEADER))
        self.rejects = _Appender(rejects, "" if self.jsonl else _csv_line(header or []))
        self.problem_count = 0
        self.reject_count = 0

    def start(self, report_bytes: int = 0, rejects_bytes: int = 0) -> None:
        self.report.start(report_bytes)
        self.rejects.start(rejects_bytes)

    def problems(self, problems: list[Problem]) -> None:
        for p in problems:
            self.report.write(_csv_line((p.row, p.column, p.value, _message(p))))
            self.problem_count += 1

    def reject(self, row: Row) -> None:
        if self.jsonl:
            self.rejects.write(str(row.original).rstrip("\n") + "\n")
        else:
            self.rejects.write(_csv_line(row.original))
        self.reject_count += 1

    def sync(self) -> tuple[int, int]:
        """Flush both files to disk; their sizes, to record with the batch."""
        return self.report.sync(), self.rejects.sync()

    @property
    def report_path(self) -> Path | None:
        return self.report.path if self.report.written else None

    @property
    def rejects_path(self) -> Path | None:
        return self.rejects.path if self.rejects.written else None

    def close(self) -> None:
        self.report.close()
        self.rejects.close()


def _message(p: Problem) -> str:
    prefix = {"warning": "提示：", "duplicate": "疑似重复："}.get(p.level, "")
    return prefix + p.message


def describe(p: Problem) -> str:
    """One problem as a line for the console."""
    where = f"第 {p.row} 行" if p.row else "文件"
    column = f"［{p.column}］" if p.column else ""
    value = f"（值：{p.value}）" if p.value else ""
    return f"{where}{column}{_message(p)}{value}"
