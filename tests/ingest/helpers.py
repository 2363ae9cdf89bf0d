"""Writing import files in every format, and rows that pass."""

import csv
import json
import random
from pathlib import Path

from ingest import kinds
from tests.conftest import ACHIEVEMENT, NEED

ORG = "郑州大学"
COMPANY = "郑州中原盾构装备有限公司"


TERMS = [
    "石墨烯",
    "锂电池",
    "正极材料",
    "盾构",
    "滚刀",
    "超硬材料",
    "金刚石",
    "耐火材料",
    "铝合金",
    "高分子",
    "传感器",
    "显示面板",
    "北斗",
    "导航",
    "网络安全",
    "人工智能",
    "机器视觉",
    "量子",
    "密钥",
    "育种",
    "小麦",
    "玉米",
    "农机",
    "无人机",
    "氢能",
    "储能",
    "燃料电池",
    "电解槽",
    "光伏",
    "风电",
    "中药",
    "疫苗",
    "抗体",
    "医疗器械",
    "影像",
    "污水处理",
    "固废",
    "土壤修复",
    "建筑",
    "桥梁",
    "轨道交通",
    "冷链",
    "速冻",
    "食品",
    "发酵",
    "纺织",
    "涂料",
    "催化剂",
    "芯片",
    "封装",
    "激光",
    "焊接",
    "机器人",
    "数控",
    "机床",
    "模具",
    "轴承",
    "齿轮",
    "液压",
    "泵阀",
]


def distinct_text(n: int) -> tuple[str, str, str]:
    """Title, summary and keywords that no other ``n`` nearly repeats."""
    rng = random.Random(n)
    words = rng.sample(TERMS, 12)
    return (
        f"{words[0]}{words[1]}技术{n}号",
        f"本成果将{'、'.join(words[2:])}结合，第{n}批样品性能优于同类产品。",
        "、".join(words[:3]),
    )


def achievement_row(n: int = 0, **change) -> dict:
    """A valid 成果 row by column name; ``n`` > 0 gives a title and summary of its own."""
    row = {
        "org": ORG,
        **{k: v for k, v in ACHIEVEMENT.items() if k not in ("price_min", "price_max")},
        "transfer_modes": "转让、许可",
        "price": "50万-200万",
    }
    if n:
        row["title"], row["summary"], row["keywords"] = distinct_text(n)
    row.update(change)
    return row


def need_row(n: int = 0, **change) -> dict:
    row = {
        "org": COMPANY,
        **{k: v for k, v in NEED.items() if k not in ("budget_min", "budget_max")},
        "bottleneck": "是",
        "coop_modes": "合作开发",
        "budget": "100万-300万",
    }
    if n:
        row["title"], row["statement"], row["keywords"] = distinct_text(n)
    row.update(change)
    return row


def headers_for(kind: kinds.ImportKind, rows: list[dict], english: bool = False) -> dict[str, str]:
    names = list(dict.fromkeys(k for row in rows for k in row))
    return {n: (n if english else kind.column(n).label) for n in names}


def write(
    path: Path,
    kind: kinds.ImportKind,
    rows: list[dict],
    encoding: str = "utf-8",
    english: bool = False,
    header_names: dict | None = None,
) -> Path:
    """Rows (by column name) into a CSV/TSV (in ``encoding``), XLSX or JSON Lines file."""
    path = Path(path)
    heads = header_names or headers_for(kind, rows, english)
    cols = list(heads)
    if path.suffix in (".csv", ".tsv"):
        with open(path, "w", encoding=encoding, newline="") as f:
            w = csv.writer(f, delimiter="\t" if path.suffix == ".tsv" else ",")
            w.writerow([heads[c] for c in cols])
            for row in rows:
                w.writerow(["" if row.get(c) is None else row.get(c) for c in cols])
    elif path.suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append([heads[c] for c in cols])
        for row in rows:
            ws.append([row.get(c) for c in cols])
        wb.save(path)
    else:
        with open(path, "w", encoding=encoding) as f:
            for row in rows:
                f.write(json.dumps({heads[c]: row[c] for c in cols if c in row}, ensure_ascii=False) + "\n")
    return path


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))
