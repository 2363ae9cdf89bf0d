"""Any table to CSV (UTF-8 with a BOM, so Excel reads the Chinese) or XLSX (openpyxl).

Amounts are written as exact decimals: in XLSX as numbers with a two-place format, in CSV as
plain digits with a decimal point.

Text is never a formula: a CSV cell that a spreadsheet would evaluate (starting with = + - @, tab
or CR, and not a plain number) gets a leading apostrophe; an XLSX text cell is always written as a
string (marked quote-prefixed when it looks like a formula), so Excel neither runs it nor turns it
into a formula when edited.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def looks_like_formula(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value)


def neutralise(value):
    """A CSV cell safe to open in a spreadsheet: formula-like text gets a leading apostrophe."""
    return "'" + value if looks_like_formula(value) else value


def csv_row(values) -> list:
    """Cells for ``csv.writer``: None as empty, formula-like text neutralised."""
    return ["" if v is None else neutralise(v if isinstance(v, (int, float, Decimal)) else str(v)) for v in values]


def as_text_cells(ws, row_index: int | None = None) -> None:
    """Mark every string cell of the sheet (or of one row) as text, never a formula."""
    rows = ws.iter_rows() if row_index is None else (ws[row_index],)
    for row in rows:
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
                if looks_like_formula(cell.value):
                    cell.quotePrefix = True


FORMATS = {"int": "#,##0", "money": "#,##0.00", "percent": "0.00%", "date": "yyyy-mm-dd", "text": "@"}


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"  # text int money percent date
    width: int = 14


def _csv_value(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "percent":
        return f"{Decimal(value) * 100:.2f}%"
    if kind == "money":
        return f"{Decimal(value):.2f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return neutralise(str(value))


def csv_bytes(columns: list[Column], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow([_csv_value(v, c.kind) for v, c in zip(row, columns)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(title: str, columns: list[Column], rows: list[list], notes: list[str] = ()) -> bytes:
    """One sheet: the header in row 1, the data below it; ``notes`` go on a second sheet."""
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append([c.header for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8F0FA")
        cell.alignment = Alignment(horizontal="center")
    for row in rows:
        ws.append([v if not isinstance(v, Decimal) or c.kind != "int" else int(v) for v, c in zip(row, columns)])
    as_text_cells(ws)
    for i, c in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = c.width
        if c.kind != "text":
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = FORMATS[c.kind]
    ws.freeze_panes = "A2"
    if notes:
        info = wb.create_sheet("说明")
        for line in notes:
            info.append([line])
        as_text_cells(info)
        info.column_dimensions["A"].width = 80
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
