"""Evaluation data: the team's demo listings with graded judgements, CSL and the STS sets."""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .docs import Doc, stage_index
from .folders import CHECKOUT, shipped
from .text import Tokenizer, default_tokenizer, listing_terms

ROOT = CHECKOUT
DEMO_DIR = shipped("demo")
JUDGEMENTS_DIR = ROOT / "data" / "eval" / "judgements"


def _jsonl(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def chain_parents() -> dict[str, str]:
    tax = json.loads(shipped("reference", "taxonomy.json").read_text(encoding="utf-8"))
    return {c: p for p, children in tax["chain"].items() for c in children}


@dataclass
class DevSet:
    achievements: list[Doc]
    needs: list[Doc]
    judgements: dict[str, dict[str, int]]  # need ext_id → {成果 ext_id: grade}
    ext_of: dict[tuple[str, int], str]  # (kind, id) → ext_id


def load_devset(
    demo_dir: Path = DEMO_DIR, judgements_dir: Path = JUDGEMENTS_DIR, tokenizer: Tokenizer | None = None
) -> DevSet:
    tok = tokenizer or default_tokenizer()
    orgs = {o["name"]: o for o in json.loads((demo_dir / "organisations.json").read_text(encoding="utf-8"))}
    parents = chain_parents()
    ext_of = {}

    def doc(n: int, kind: str, row: dict) -> Doc:
        is_need = kind == "need"
        text = row["statement" if is_need else "summary"]
        extra = row.get("indicators", "") if is_need else ""
        ext_of[(kind, n)] = row["ext_id"]
        return Doc(
            id=n,
            kind=kind,
            title=row["title"],
            text=text,
            keywords=tuple(row.get("keywords", ())),
            extra=extra,
            field=row.get("field"),
            chain=row.get("chain"),
            chain_parent=parents.get(row.get("chain") or ""),
            stage=stage_index(row.get("wanted_maturity") if is_need else row.get("maturity")),
            modes=tuple(row.get("coop_modes" if is_need else "transfer_modes") or ()),
            price_min=row.get("budget_min" if is_need else "price_min"),
            price_max=row.get("budget_max" if is_need else "price_max"),
            region=orgs.get(row["org"], {}).get("region"),
            bottleneck=bool(row.get("bottleneck")),
            tokens=tuple(listing_terms(tok, row["title"], text, row.get("keywords", ()), row["org"], extra)),
            meta={"ext_id": row["ext_id"]},
        )

    achs = [doc(n, "achievement", r) for n, r in enumerate(_jsonl(demo_dir / "achievements"), start=1)]
    needs = [doc(n, "need", r) for n, r in enumerate(_jsonl(demo_dir / "needs"), start=1)]
    judgements = {r["need"]: r["judgements"] for r in _jsonl(judgements_dir)}
    return DevSet(achs, needs, judgements, ext_of)


INDEPENDENT_DIR = ROOT / "data" / "eval" / "independent"


@dataclass
class GradedSet:
    """Needs and a library of 成果 with graded judgements; every metric of `matching eval` reads this."""

    name: str
    needs: list[Doc]
    achs: list[Doc]
    grades: np.ndarray  # needs × 成果, 0–3 (3 = the true 成果)
    near: np.ndarray  # per need: index of its near miss in achs, or -1
    lockbox: bool = False
    titles_only: bool = False  # 成果 known by their titles only

    @property
    def has_true(self) -> np.ndarray:
        return self.grades.max(axis=1) >= 3


def graded_devset(dev: "DevSet") -> GradedSet:
    needs = [n for n in dev.needs if n.meta["ext_id"] in dev.judgements]
    ext = [a.meta["ext_id"] for a in dev.achievements]
    grades = np.array([[dev.judgements[n.meta["ext_id"]].get(e, 0) for e in ext] for n in needs], dtype=float)
    return GradedSet("dev set (data/eval)", needs, dev.achievements, grades, np.full(len(needs), -1))


def load_graded(folder: Path, tokenizer: Tokenizer | None = None) -> GradedSet:
    """A set written under the protocol of data/eval/independent/README.md: needs.jsonl,
    achievements.jsonl and judgements.jsonl ({"need", "true": 成果 id or null, "near_miss"})."""
    folder = Path(folder)
    tok = tokenizer or default_tokenizer()
    parents = chain_parents()

    def doc(n: int, kind: str, row: dict) -> Doc:
        is_need = kind == "need"
        text = row.get("statement" if is_need else "summary", "") or ""
        extra = (row.get("indicators") or "") if is_need else ""
        keywords = tuple(row.get("keywords") or ())
        return Doc(
            id=n,
            kind=kind,
            title=row["title"],
            text=text,
            keywords=keywords,
            extra=extra,
            field=row.get("field"),
            chain=row.get("chain"),
            chain_parent=parents.get(row.get("chain") or ""),
            tokens=tuple(listing_terms(tok, row["title"], text, keywords, "", extra)),
            meta={"ext_id": row["id"]},
        )

    achs = [doc(n, "achievement", r) for n, r in enumerate(_jsonl_file(folder / "achievements.jsonl"), start=1)]
    needs = [doc(n, "need", r) for n, r in enumerate(_jsonl_file(folder / "needs.jsonl"), start=1)]
    col = {a.meta["ext_id"]: i for i, a in enumerate(achs)}
    row = {n.meta["ext_id"]: i for i, n in enumerate(needs)}
    grades = np.zeros((len(needs), len(achs)))
    near = np.full(len(needs), -1)
    for j in _jsonl_file(folder / "judgements.jsonl"):
        q = row[j["need"]]
        if j.get("true"):
            grades[q, col[j["true"]]] = 3
        if j.get("near_miss"):
            near[q] = col[j["near_miss"]]
    return GradedSet(folder.name, needs, achs, grades, near, lockbox=(folder / "LOCKBOX").exists())


def titles_only(gs: GradedSet) -> GradedSet:
    """The same set with every 成果 cut to its title: a library like those known by titles only."""
    from dataclasses import replace

    return replace(
        gs,
        name=f"{gs.name} (成果 titles only)",
        titles_only=True,
        achs=[replace(a, text="", keywords=(), tokens=tuple(default_tokenizer().tokens(a.title))) for a in gs.achs],
    )


@dataclass
class Paper:
    id: str
    split: str
    title: str
    abstract: str
    keywords: list
    discipline: str
    category: str


def load_csl(folder: Path) -> list[Paper]:
    path = Path(folder) / "csl_merged_dev_test.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: pass the folder that holds the CSL evaluation files")
    return [Paper(**{k: r[k] for k in Paper.__dataclass_fields__}) for r in _jsonl_file(path)]


def load_csl_titles(folder: Path) -> list[tuple[str, str]]:
    """(title, category) pairs of cls_ctg_train.tsv: training data, never evaluated on."""
    rows = []
    with open(Path(folder) / "cls_ctg_train.tsv", encoding="utf-8") as f:
        for parts in csv.reader(f, delimiter="\t"):
            if len(parts) >= 3:
                rows.append((parts[1], parts[2]))
    return rows


def _jsonl_file(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


STS_SETS = {
    "STS-B": ("Chinese-STS-B_sts-b-test.txt", False),
    "LCQMC": ("LCQMC_test.txt", False),
    "AFQMC": ("AFQMC_dev.txt", False),
    "OPPO": ("OPPO-xiaobu_dev.txt", False),
    "PAWS-X": ("PAWS-X_test_2k.tsv", True),
}


def load_sts(folder: Path, name: str) -> list[tuple[str, str, float]]:
    filename, has_header = STS_SETS[name]
    rows = []
    with open(Path(folder) / filename, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines[1:] if has_header else lines:
        parts = line.split("\t")
        if has_header:
            parts = parts[1:]
        if len(parts) >= 3:
            try:
                rows.append((parts[0], parts[1], float(parts[2])))
            except ValueError:
                continue
    return rows
