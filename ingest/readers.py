"""Rows out of CSV, XLSX and JSON Lines files, streamed, with the text encoding detected.

CSV may be UTF-8 (with or without BOM) or GBK/GB18030, as Excel on a Chinese Windows saves it.
Row numbers are the spreadsheet's (the header is row 1); in JSON Lines, the line number.
"""

import codecs
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from market.infra.exports import FORMULA_START

# an XLSX is a zip: its parts are checked before openpyxl inflates them (a 205 KB file can hold a
# 200 MB sharedStrings.xml that stays in memory)
XLSX_MAX_UNCOMPRESSED = 256 * 1024 * 1024  # all parts together
XLSX_MAX_PART = 64 * 1024 * 1024  # one part (a sheet, the shared strings)
XLSX_MAX_RATIO = 100  # uncompressed ÷ compressed, for parts above 1 MB
FORMATS = {".csv": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_CHUNK = 1 << 20


class ReadError(Exception):
    """The file as a whole cannot be read; the message is in Chinese."""


@dataclass(frozen=True)
class Source:
    path: Path
    format: str
    sha256: str
    size: int
    encoding: str | None = None  # text formats

    @property
    def tabular(self) -> bool:
        return self.format != "jsonl"


@dataclass
class Row:
    number: int
    cells: dict[str, Any]  # header as written in the file → value
    original: list | str = field(repr=False, default="")  # the cells (CSV/XLSX) or line (JSON Lines)
    error: str = ""  # set when the row itself could not be read


def open_source(path: Path) -> Source:
    """Format from the suffix; the checksum and the text encoding from one pass over the bytes."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ReadError(f"不支持的文件类型“{path.suffix or path.name}”：请使用 CSV、XLSX 或 JSON Lines（.jsonl）")
    if not path.is_file():
        raise ReadError(f"找不到文件 {path}")
    digest = hashlib.sha256()
    decoders = {"utf-8": codecs.getincrementaldecoder("utf-8")(), "gb18030": codecs.getincrementaldecoder("gb18030")()}
    size, head = 0, b""
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if not size:
                head = chunk[:4]
            size += len(chunk)
            if fmt != "xlsx":
                _feed(decoders, chunk)
    if fmt != "xlsx":
        _feed(decoders, b"", final=True)
    encoding = None
    if fmt == "xlsx":
        if head[:2] != b"PK":
            raise ReadError("文件不是有效的 XLSX 工作簿（旧版 .xls 请在 Excel 中另存为 .xlsx 或 CSV）")
    elif "utf-8" in decoders:
        encoding = "utf-8-sig"
    elif "gb18030" in decoders:
        encoding = "gb18030"
    else:
        raise ReadError("无法识别文件编码：请将文件另存为 UTF-8 或 GBK 编码")
    return Source(path, fmt, digest.hexdigest(), size, encoding)


def _feed(decoders: dict, chunk: bytes, final: bool = False) -> None:
    for name in list(decoders):
        try:
            decoders[name].decode(chunk, final)
        except UnicodeDecodeError:
            del decoders[name]


def header(source: Source) -> list[str] | None:
    """The header row of a CSV or XLSX file (None for JSON Lines)."""
    if not source.tabular:
        return None
    for row in _raw_rows(source):
        return [_text(c) for c in row]
    return []


def rows(source: Source, progress: "ByteCounter | None" = None) -> Iterator[Row]:
    """The data rows, blank ones left out (but counted in the numbering)."""
    if source.format == "jsonl":
        yield from _jsonl_rows(source, progress)
        return
    it = _raw_rows(source, progress)
    names = [_text(c) for c in next(it, [])]
    for number, cells in enumerate(it, start=2):
        if not any(_text(c) for c in cells):
            continue
        values = {}
        for name, value in zip(names, cells):
            if name:
                values[name] = _unquote(value)
        yield Row(number, values, [_text(c) for c in cells])


class ByteCounter:
    """How far through the file a reader has got, for progress and ETA."""

    def __init__(self, total: int):
        self.total, self.done = total, 0

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


class _CountingReader(io.RawIOBase):
    def __init__(self, raw, counter: ByteCounter | None):
        self.raw, self.counter = raw, counter

    def readable(self):
        return True

    def readinto(self, b):
        n = self.raw.readinto(b)
        if self.counter is not None and n:
            self.counter.done += n
        return n

    def close(self):
        self.raw.close()
        super().close()


def _text_stream(source: Source, progress: ByteCounter | None):
    raw = _CountingReader(open(source.path, "rb", buffering=0), progress)  # noqa: SIM115 (closed by its reader)
    return io.TextIOWrapper(io.BufferedReader(raw, _CHUNK), encoding=source.encoding, newline="")


def _raw_rows(source: Source, progress: ByteCounter | None = None) -> Iterator[list]:
    if source.format == "xlsx":
        yield from _xlsx_rows(source, progress)
        return
    with _text_stream(source, progress) as f:
        yield from csv.reader(f, delimiter="\t" if source.format == "tsv" else ",")


def check_xlsx(path: Path) -> None:
    """ReadError when the workbook would inflate beyond the limits (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as z:
            parts = z.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise ReadError(f"无法打开 XLSX 工作簿：{e}") from None
    total = sum(p.file_size for p in parts)
    for p in parts:
        ratio = p.file_size / max(p.compress_size, 1)
        if p.file_size > XLSX_MAX_PART or (p.file_size > 1024 * 1024 and ratio > XLSX_MAX_RATIO):
            raise ReadError(
                f"XLSX 工作簿中的 {p.filename} 解压后过大（{p.file_size // (1024 * 1024)} MB，"
                f"压缩比 {ratio:.0f}），拒绝读取；请另存为 CSV 或拆分文件"
            )
    if total > XLSX_MAX_UNCOMPRESSED:
        raise ReadError(f"XLSX 工作簿解压后过大（{total // (1024 * 1024)} MB），请另存为 CSV 或拆分文件")


def _xlsx_rows(source: Source, progress: ByteCounter | None) -> Iterator[list]:
    from openpyxl import load_workbook

    check_xlsx(source.path)
    try:
        wb = load_workbook(source.path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise ReadError(f"无法打开 XLSX 工作簿：{e}") from None
    try:
        ws = wb.worksheets[0]
        expected = ws.max_row if ws.max_row and ws.max_row > 1 else None
        ws.reset_dimensions()  # some writers record wrong dimensions; read what is there
        if progress is not None and expected:
            progress.total = expected
        for n, cells in enumerate(ws.iter_rows(values_only=True), start=1):
            if progress is not None and expected:
                progress.done = n
            yield [_cell(c) for c in cells]
    finally:
        wb.close()


def _cell(value):
    """Spreadsheet values as an import expects them: whole numbers as ints, midnight as a date."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date()
    return value


def _unquote(value):
    """Undo the apostrophe our own reports put before formula-like text ('=…), so a fixed
    rejects file imports what was typed."""
    if isinstance(value, str) and value[:1] == "'" and value[1:2] in FORMULA_START:
        return value[1:]
    return value


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value).strip()


def _jsonl_rows(source: Source, progress: ByteCounter | None) -> Iterator[Row]:
    with _text_stream(source, progress) as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError as e:
                yield Row(number, {}, line, error=f"不是有效的 JSON：{e.msg}（第 {e.colno} 个字符）")
                continue
            if not isinstance(record, dict):
                yield Row(number, {}, line, error='每行应是一个 JSON 对象，如 {"标题": "…"}')
                continue
            yield Row(number, record, line)
