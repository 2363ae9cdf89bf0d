"""Template files to fill in, generated from the kinds' column definitions: the header row and one
example row, as CSV (UTF-8 with BOM, which Excel opens correctly) or XLSX (with a sheet of notes and
drop-down lists — data validation — on the taxonomy columns, whose values sit on a hidden sheet)."""

import csv
import io

from market.infra.exports import as_text_cells, csv_row

from .kinds import ImportKind

VOCAB_OF = {
    "field": "field",
    "chain": "chain",
    "maturity": "maturity",
    "wanted_maturity": "maturity",
    "transfer_modes": "transfer_mode",
    "coop_modes": "coop_mode",
    "org_kind": "org_kind",
    "kind": "org_kind",
    "seller_kind": "org_kind",
    "buyer_kind": "org_kind",
    "ip_type": "ip_type",
}
FIXED_CHOICES = {"bottleneck": ["是", "否"], "status": ["发布", "草稿"]}
MULTI = {"transfer_modes", "coop_modes"}  # several values, separated by 、: the list only suggests
CHOICES_SHEET = "可选值"
VALIDATED_ROWS = 5000


def choices(col, vocab: dict[str, list[str]] | None) -> list[str]:
    if col.name in FIXED_CHOICES:
        return FIXED_CHOICES[col.name]
    if col.name == "ctype":
        from market.services.contracts import TYPES

        return list(TYPES)
    return list((vocab or {}).get(VOCAB_OF.get(col.name, ""), []))


def template_columns(kind: ImportKind):
    return [c for c in kind.columns if c.in_template]


def headers(kind: ImportKind) -> list[str]:
    return [c.label + ("*" if c.required else "") for c in template_columns(kind)]


def example(kind: ImportKind) -> list[str]:
    return [kind.example.get(c.name, "") for c in template_columns(kind)]


def csv_bytes(kind: ImportKind) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(csv_row(headers(kind)))
    w.writerow(csv_row(example(kind)))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def xlsx_bytes(kind: ImportKind, vocab: dict[str, list[str]] | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = f"{kind.label}导入"
    ws.append(headers(kind))
    ws.append(example(kind))
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="FFF2CC")
    for cell, col in zip(ws[1], template_columns(kind)):
        cell.font = bold
        if col.required:
            cell.fill = fill
        ws.column_dimensions[cell.column_letter].width = max(12, min(40, 2 * len(col.label) + 4))
        cell.number_format = "@"
    for cell in ws[2]:
        cell.number_format = "@"  # keep codes and phone numbers as text
        cell.alignment = Alignment(wrap_text=False)
    ws.freeze_panes = "A2"

    notes = wb.create_sheet("填写说明")
    notes.append(["列名", "必填", "也可写作", "说明", "可选值"])
    for cell in notes[1]:
        cell.font = bold
    for col in template_columns(kind):
        allowed = choices(col, vocab)
        notes.append(
            [col.label, "是" if col.required else "", "、".join((col.name, *col.aliases)), col.help, "、".join(allowed)]
        )
    notes.append([])
    notes.append(["第一行为列名，从第二行起每行一条记录；示例行请删除或改为真实数据。"])
    notes.append(["再次导入同一文件不会重复：有“外部编号”的按编号更新，没有的按“单位+名称”识别。"])
    as_text_cells(ws)
    as_text_cells(notes)
    for letter, width in zip("ABCDE", (18, 6, 40, 50, 60)):
        notes.column_dimensions[letter].width = width
    _drop_downs(wb, ws, kind, vocab)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _drop_downs(wb, ws, kind: ImportKind, vocab) -> None:
    """A list validation on every taxonomy column (rows 2 … VALIDATED_ROWS): single-valued columns
    refuse other values, multi-valued ones (、-separated) only offer the list."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    sheet = None
    for n, col in enumerate(template_columns(kind), start=1):
        values = choices(col, vocab)
        if not values:
            continue
        if sheet is None:
            sheet = wb.create_sheet(CHOICES_SHEET)
            sheet.sheet_state = "hidden"
        letter = get_column_letter(sheet.max_column + 1 if sheet.max_row > 1 or sheet["A1"].value else 1)
        sheet[f"{letter}1"] = col.label
        for i, v in enumerate(values, start=2):
            sheet[f"{letter}{i}"] = v
        strict = col.name not in MULTI
        dv = DataValidation(
            type="list",
            formula1=f"'{CHOICES_SHEET}'!${letter}$2:${letter}${len(values) + 1}",
            allow_blank=True,
            showErrorMessage=strict,
            showInputMessage=True,
            promptTitle=col.label[:32],
            prompt=("从下拉列表中选择" if strict else "可从列表选择，多个值用“、”分隔"),
        )
        if strict:
            dv.errorTitle, dv.error = col.label[:32], f"请从下拉列表中选择{col.label}"
        target = get_column_letter(n)
        dv.add(f"{target}2:{target}{VALIDATED_ROWS}")
        ws.add_data_validation(dv)
