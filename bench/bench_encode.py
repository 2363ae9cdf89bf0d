"""Encoding paths side by side: torch float32, torch bf16 autocast, ONNX Runtime float32 and int8.

    python bench/bench_encode.py            # every path, this CPU as it is
    python bench/bench_encode.py --avx2     # the same with torch held to AVX2 (see below)

Texts: the demo listings (data/demo, 284): their titles with the ``query: `` prompt ("titles"), and
title + text cut to 300 characters with ``passage: `` ("listings").  Each path runs in a process of
its own, one after the other (load time and RSS are that process's), through
matching.embedder.embed_with_model (no cache; batches of DEFAULT_BATCH windows, as the Embedder runs
them); texts/s is the best of ``--rounds`` rounds, on the cores this process may use.  Cosines are to
the torch float32 vectors of the same run.  The goal of issue 14: a path that ``precision="auto"``
takes on CPUs without native bf16 at >= 2x torch float32 and cosine >= 0.999.

``--avx2`` sets ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2 and ATEN_CPU_CAPABILITY=avx2
for the workers: torch (oneDNN, MKL and its own kernels) then runs as on an AVX2-only CPU.  ONNX
Runtime cannot be held back like that: MLAS picks its kernels from cpuid at start-up and has no
switch (only build options), so its rows stay on this CPU's best kernels (AVX-512/VNNI/AMX); the
bf16 row is left out under --avx2 (without native bf16 instructions it is emulated, slower than
float32, and ``auto`` never picks it there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching import folders  # noqa: E402

PATHS = ("float32", "bf16", "onnx", "onnx-int8")
AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
GOAL_SPEEDUP = 2.0
GOAL_COSINE = 0.999


def demo_texts(chars: int = 300) -> tuple[list[str], list[str]]:
    titles, listings = [], []
    for path in sorted(folders.shipped("demo").glob("*/*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    body = row.get("summary") or row.get("statement") or ""
                    titles.append("query: " + row["title"])
                    listings.append(("passage: " + row["title"] + "\n" + body)[: len("passage: ") + chars])
    return titles, listings


def _status_mb(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(path: str, model_dir: Path, rounds: int, out: Path) -> None:
    """One path in this process: load, encode both sets ``rounds`` times, write vectors and figures."""
    t0 = time.perf_counter()
    from matching.embedder import E5Model, OnnxE5Model, embed_with_model

    if path.startswith("onnx"):
        model = OnnxE5Model(model_dir, path, check=False)
    else:
        model = E5Model(model_dir, precision=path)
    load = time.perf_counter() - t0
    rss_loaded = _status_mb("VmRSS")
    titles, listings = demo_texts()
    embed_with_model(model, listings[:16])  # one-time costs (kernel selection, allocator) are not throughput
    figures = {"load_s": load, "rss_loaded_mb": rss_loaded}
    vectors = {}
    for name, texts in (("titles", titles), ("listings", listings)):
        best = float("inf")
        for _ in range(rounds):
            t = time.perf_counter()
            vectors[name] = embed_with_model(model, texts)
            best = min(best, time.perf_counter() - t)
        figures[f"{name}_per_s"] = len(texts) / best
    figures["rss_peak_mb"] = _status_mb("VmHWM")
    np.savez(out, **vectors)
    out.with_suffix(".json").write_text(json.dumps(figures))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=None, help="converted model (default: the data folder's)")
    ap.add_argument("--avx2", action="store_true", help="hold torch to AVX2 (ONNX Runtime cannot be)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per path; the best counts (default 3)")
    ap.add_argument("--paths", nargs="+", choices=PATHS, default=None, help="default: all (no bf16 with --avx2)")
    ap.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.model_dir, args.rounds, args.out)
        return 0
    from matching.e5convert import ensure_model

    model_dir = ensure_model(args.model_dir or folders.model_dir())

    from matching.embedder import bf16_support, onnx_export_status

    paths = args.paths or [p for p in PATHS if not (args.avx2 and p == "bf16")]
    if "float32" not in paths:
        paths.insert(0, "float32")
    titles, listings = demo_texts()
    env = dict(os.environ, **(AVX2_ENV if args.avx2 else {}))
    print(
        f"machine: {platform.processor() or platform.machine()}, cores {len(os.sched_getaffinity(0))}, load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"limits: {'torch held to AVX2 (' + ', '.join(f'{k}={v}' for k, v in AVX2_ENV.items()) + '); ONNX Runtime unlimited' if args.avx2 else 'none'}"
    )
    print(f"bf16: {bf16_support()[1]}; ONNX export: {onnx_export_status(model_dir)[1]}")
    print(
        f"texts: {len(titles)} demo titles ({np.mean([len(t) for t in titles]):.0f} chars), "
        f"{len(listings)} demo listings ({np.mean([len(t) for t in listings]):.0f} chars); best of {args.rounds} rounds"
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            out = Path(tmp) / f"{path}.npz"
            cmd = [sys.executable, __file__, "--model-dir", str(model_dir), "--rounds", str(args.rounds)]
            subprocess.run([*cmd, "--worker", path, "--out", str(out)], env=env, check=True)
            figures = json.loads(out.with_suffix(".json").read_text())
            with np.load(out) as v:
                figures["vectors"] = {k: v[k] for k in v.files}
            results[path] = figures
            print(f"  {path}: done", flush=True)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    ref = results["float32"]
    header = (
        f"{'path':10s} {'load s':>6s} {'RSS MB':>7s} {'peak MB':>7s} {'titles/s':>9s} {'x f32':>6s} "
        f"{'listings/s':>10s} {'x f32':>6s} {'cos min':>9s} {'cos mean':>9s}"
    )
    print(header)
    print("-" * len(header))
    for path, r in results.items():
        cos = np.concatenate([np.sum(r["vectors"][k] * ref["vectors"][k], axis=1) for k in ("titles", "listings")])
        r["cos_min"] = float(cos.min())
        print(
            f"{path:10s} {r['load_s']:6.1f} {r['rss_loaded_mb']:7.0f} {r['rss_peak_mb']:7.0f} "
            f"{r['titles_per_s']:9.1f} {r['titles_per_s'] / ref['titles_per_s']:5.2f}x "
            f"{r['listings_per_s']:10.1f} {r['listings_per_s'] / ref['listings_per_s']:5.2f}x "
            f"{cos.min():9.6f} {cos.mean():9.6f}"
        )
    if "onnx-int8" in results:
        r = results["onnx-int8"]
        speed = min(r["titles_per_s"] / ref["titles_per_s"], r["listings_per_s"] / ref["listings_per_s"])
        ok = speed >= GOAL_SPEEDUP and r["cos_min"] >= GOAL_COSINE
        print(
            f"goal (onnx-int8, what auto takes without native bf16: >= {GOAL_SPEEDUP:.0f}x float32 at cosine >= "
            f"{GOAL_COSINE}): {speed:.2f}x, min cosine {r['cos_min']:.6f} -> {'PASS' if ok else 'FAIL'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
