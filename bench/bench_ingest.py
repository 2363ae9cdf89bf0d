"""Bulk import benchmark: 10,000 成果 built from CSL papers, imported with the real model.

    python bench/bench_ingest.py --csl ../shared/eval/csl [--rows 10000] [--batch 500]

Builds the rows (CSL title → 成果名称, abstract → 成果简介, keywords → 关键词, a 技术领域 from the
paper's discipline, a research organisation of the demo data, contact columns; beyond the 2,000
papers with abstracts, a title from the CSL title list with four sentences of four papers),
writes them to a CSV, and imports it into a fresh data folder (SQLite, empty embedding cache) with
`ingest`'s pipeline. Prints rows/s for read+validate+store and for embed+index, model-encoding
seconds against everything else, and peak RSS. Goal: all but encoding under 10% of the wall time;
peak memory under 1.5 GB including the model.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_SHARE, GOAL_RSS_MB = 0.10, 1536

FIELDS = (  # discipline fragment → 技术领域
    ("核", "核应用"),
    ("航空", "航空航天"),
    ("兵器", "航空航天"),
    ("交通", "现代交通"),
    ("船舶", "现代交通"),
    ("材料", "新材料及其应用"),
    ("冶金", "新材料及其应用"),
    ("化学", "新材料及其应用"),
    ("纺织", "新材料及其应用"),
    ("信息", "电子信息"),
    ("计算机", "电子信息"),
    ("电子", "电子信息"),
    ("控制", "电子信息"),
    ("光学", "电子信息"),
    ("测绘", "电子信息"),
    ("数学", "电子信息"),
    ("物理", "电子信息"),
    ("电气", "新能源与高效节能"),
    ("动力", "新能源与高效节能"),
    ("石油", "新能源与高效节能"),
    ("环境", "环境保护与资源综合利用"),
    ("矿业", "环境保护与资源综合利用"),
    ("地质", "环境保护与资源综合利用"),
    ("地理", "环境保护与资源综合利用"),
    ("大气", "环境保护与资源综合利用"),
    ("海洋", "环境保护与资源综合利用"),
    ("土木", "城市建设与社会发展"),
    ("水利", "城市建设与社会发展"),
    ("建筑", "城市建设与社会发展"),
    ("食品", "农业"),
    ("农业", "农业"),
    ("生物", "生物医药和医疗器械"),
)
CATEGORY_FIELDS = {"医学": "生物医药和医疗器械", "农学": "农业", "工学": "先进制造"}
MATURITY = ("实验室", "小试", "中试", "试生产", "产业化")
MODES = ("转让", "许可", "转让、许可", "合作开发", "作价入股、技术服务")
PRICES = ("面议", "50万-200万", "100万", "20万-80万", "300万以上")
NAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高"


def field_of(paper: dict) -> str:
    for fragment, field in FIELDS:
        if fragment in paper.get("discipline", ""):
            return field
    return CATEGORY_FIELDS.get(paper.get("category", ""), "城市建设与社会发展")


def load_csl(csl: Path) -> tuple[list[dict], list[str]]:
    with open(csl / "csl_merged_dev_test.jsonl", encoding="utf-8") as f:
        papers = [json.loads(line) for line in f if line.strip()]
    with open(csl / "cls_ctg_train.tsv", encoding="utf-8") as f:
        titles = [line.rstrip("\n").split("\t")[1] for line in f if line.count("\t") >= 2]
    return papers, titles


def _sentences(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch in "。；.;":
            out.append(cur)
            cur = ""
    return out + ([cur] if cur else [])


def build_rows(papers: list[dict], titles: list[str], n: int, orgs: list[dict]):
    """n 成果 rows: the papers as they are, then CSL titles each with four sentences of four papers
    (a prime-sized pool and four strides: two rows share at most one sentence)."""
    seen_titles = {p["title"] for p in papers}
    extra = [t for t in dict.fromkeys(titles) if t not in seen_titles and 4 <= len(t) <= 100]
    pool = [(p, s) for p in papers if len(ss := _sentences(p["abstract"])) >= 3 for s in ss if len(s) >= 15]
    size = next(m for m in range(len(pool), 1, -1) if all(m % d for d in range(2, int(m**0.5) + 1)))
    for i in range(n):
        if i < len(papers):
            a = papers[i]
            title, summary, keywords = a["title"], a["abstract"], a["keywords"]
            title = title if len(title) >= 4 else title + "研究"
        else:
            k = i - len(papers)
            lap = k // size + 1
            parts = [pool[((2 * t + 1) * k + 7919 * t * lap) % size] for t in range(4)]  # two rows share ≤ 1
            a = parts[0][0]
            summary = "".join(sentence for _, sentence in parts)
            title = extra[k % len(extra)] + ("" if k < len(extra) else f"（{i}）")
            keywords = [kw for p, _ in parts for kw in p["keywords"][:2]]
        keywords = [k for k in dict.fromkeys(keywords) if len(k) <= 20 and not any(c.isspace() for c in k)][:10] or [
            a["category"]
        ]
        org = orgs[i % len(orgs)]
        yield {
            "外部编号": f"CSL-{i:05d}",
            "单位": org["name"],
            "单位性质": org["kind"],
            "行政区划代码": org["region"],
            "统一社会信用代码": org.get("credit_code") or "",
            "成果名称": title[:100],
            "成果简介": summary[:3000],
            "关键词": "、".join(keywords),
            "技术领域": field_of(a),
            "成熟度": MATURITY[i % 5],
            "转化方式": MODES[i % len(MODES)],
            "价格": PRICES[i % len(PRICES)],
            "联系人": NAMES[i % len(NAMES)] + "老师",
            "联系电话": f"0371-6{i % 10000:04d}{i % 997:03d}",
        }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csl", type=Path, required=True, help="CSL folder (csl_merged_dev_test.jsonl, cls_ctg_train.tsv)")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="converted model (default: $MARKET_MODEL_DIR or data/var/models/multilingual-e5-small)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)

    from matching.folders import model_dir as default_model_dir

    model_dir = args.model_dir or default_model_dir()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    os.environ.update(
        MARKET_DATA_DIR=str(tmp), MARKET_MODEL_DIR=str(model_dir.resolve()), MARKET_MATCHING="1", LOG_LEVEL="WARNING"
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("MARKET_INDEX_DIR", None)

    from ingest import pipeline
    from ingest.progress import Progress
    from market import create_app
    from market.config import DEMO_DIR, Config
    from market.extensions import db
    from market.infra import match_engine
    from market.models import ImportJob, Role, User
    from market.models.org import RESEARCH_KINDS
    from market.validation import reference

    papers, titles = load_csl(args.csl)
    orgs = [
        o
        for o in json.loads((DEMO_DIR / "organisations.json").read_text(encoding="utf-8"))
        if o["kind"] in RESEARCH_KINDS
    ]
    path = tmp / "csl_achievements.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        rows = build_rows(papers, titles, args.rows, orgs)
        first = next(rows)
        w = csv.DictWriter(f, fieldnames=list(first))
        w.writeheader()
        w.writerow(first)
        w.writerows(rows)
    print(f"input: {path} ({path.stat().st_size / 1e6:.1f} MB, {args.rows} rows); data folder {tmp}")

    app = create_app(Config(tmp))
    with app.app_context():
        db.create_all()
        reference.seed_taxonomies()
        admin = User(username="bench", display_name="bench", role=Role.admin.value)
        admin.set_password("bench-password")
        db.session.add(admin)
        db.session.commit()
        t = time.perf_counter()
        eng = match_engine.engine()
        _ = eng.embedder.model  # load the model before the clock starts
        load = time.perf_counter() - t
        loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"model loaded in {load:.1f} s ({eng.embedder.precision}), peak RSS so far {loaded_rss:,.0f} MB; "
            f"embedding cache empty: {len(eng.embedder._cache) == 0}"
        )
        result = pipeline.run(
            "achievements",
            path,
            admin.id,
            pipeline.Options(duplicates="keep", batch=args.batch),
            Progress(quiet=args.quiet, interval=5.0),
        )
        check = eng.check("achievement", match_engine.published_docs("achievement"))
        job = db.session.get(ImportJob, result.job_id)

    from ingest.report import describe

    for problem in result.problems[:20]:
        print(describe(problem))
    s = result.seconds
    wall, encode = s["wall"], s.get("encode", 0.0)
    front = s.get("read", 0) + s.get("validate", 0) + s.get("store", 0)
    back = encode + s.get("index", 0)
    main_busy = front + s.get("index", 0) + s.get("duplicates", 0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    share = (wall - encode) / wall
    print()
    print(
        f"rows imported      {result.counts['create']:>10,}   (status {job.status}; near-duplicates reported "
        f"{result.counts['duplicate']}; invalid {result.counts['invalid']})"
    )
    print(f"index check        {'ok' if check['ok'] else 'DRIFT'} ({check['indexed']} vectors)")
    print("phase                  seconds")
    for key, label in (
        ("read", "read (both passes)"),
        ("validate", "validate (both passes)"),
        ("store", "store + commit"),
        ("encode", "encode (model, worker)"),
        ("index", "index (FAISS/BM25)"),
        ("duplicates", "near-duplicate check"),
        ("wait", "main waits for encoder"),
    ):
        print(f"  {label:<24}{s.get(key, 0.0):>9.1f}")
    print(f"  {'wall':<24}{wall:>9.1f}   (+ model load {load:.1f} s, not counted)")
    print()
    print(f"read+validate+store  {args.rows / max(front, 1e-9):>9,.0f} rows/s")
    print(f"embed+index          {args.rows / max(back, 1e-9):>9,.1f} rows/s")
    print(
        f"not encoding         {share:>9.1%} of wall time   (goal < {GOAL_SHARE:.0%}: "
        f"{'met' if share < GOAL_SHARE else 'NOT met'})"
    )
    print(f"main thread busy     {main_busy / wall:>9.1%} of wall time (overlaps encoding)")
    print(
        f"peak RSS             {rss:>9,.0f} MB          (goal < {GOAL_RSS_MB} MB: "
        f"{'met' if rss < GOAL_RSS_MB else 'NOT met'}; {loaded_rss:,.0f} MB with the model loaded, before the import)"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if check["ok"] and job.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
