"""Encoding paths side by side: torch float32, torch bf16 autocast, ONNX Runtime float32 and int8.

    python bench/bench_encode.py            # every path, this CPU as it is
    python bench/bench_encode.py --avx2     # the same with torch held to AVX2 (see below)

Texts: the demo listings (data/demo, 284): their titles with the ``query: `` prompt ("titles"), and
title + text cut to 300 characters with ``passage: `` ("listings").  Load time and RSS: each path
alone in a process of its own.  Throughput: every path in one process, rounds interleaved (so that a
busy machine slows all paths alike), best of ``--rounds``, through
matching.embedder.embed_with_model (no cache; batches of DEFAULT_BATCH windows, as the Embedder runs
them), on the cores this process may use.  Cosines are to
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


def load_model(path: str, model_dir: Path):
    from matching.embedder import E5Model, OnnxE5Model

    return OnnxE5Model(model_dir, path, check=False) if path.startswith("onnx") else E5Model(model_dir, path)


def memory_worker(path: str, model_dir: Path, out: Path) -> None:
    """One path alone in this process: load time, RSS once loaded and peak RSS after encoding 32 listings."""
    from matching.embedder import embed_with_model

    t0 = time.perf_counter()
    model = load_model(path, model_dir)
    figures = {"load_s": time.perf_counter() - t0, "rss_loaded_mb": _status_mb("VmRSS")}
    embed_with_model(model, demo_texts()[1][:32])
    figures["rss_peak_mb"] = _status_mb("VmHWM")
    out.write_text(json.dumps(figures))


def speed_worker(paths: list[str], model_dir: Path, rounds: int, out: Path) -> None:
    """Every path in this one process, rounds interleaved (a shared machine slows all paths alike);
    per set the best round counts."""
    from matching.embedder import embed_with_model

    models = {path: load_model(path, model_dir) for path in paths}
    titles, listings = demo_texts()
    for model in models.values():
        embed_with_model(model, listings[:16])  # one-time costs (kernel selection, allocator)
    best: dict[str, float] = {}
    vectors: dict[str, np.ndarray] = {}
    for r in range(rounds):
        line = []
        for path, model in models.items():
            for name, texts in (("titles", titles), ("listings", listings)):
                t = time.perf_counter()
                vectors[f"{path}/{name}"] = embed_with_model(model, texts)
                secs = time.perf_counter() - t
                best[f"{path}/{name}"] = min(best.get(f"{path}/{name}", secs), secs)
                line.append(f"{path} {name} {len(texts) / secs:.1f}/s")
        print(f"  round {r + 1} (load {os.getloadavg()[0]:.1f}): " + ", ".join(line), flush=True)
    np.savez(out, **vectors)
    n = {"titles": len(titles), "listings": len(listings)}
    rates = {key: n[key.split("/")[1]] / secs for key, secs in best.items()}
    out.with_suffix(".json").write_text(json.dumps(rates))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=None, help="converted model (default: the data folder's)")
    ap.add_argument("--avx2", action="store_true", help="hold torch to AVX2 (ONNX Runtime cannot be)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per path; the best counts (default 3)")
    ap.add_argument("--paths", nargs="+", choices=PATHS, default=None, help="default: all (no bf16 with --avx2)")
    ap.add_argument("--memory-worker", choices=PATHS, help=argparse.SUPPRESS)
    ap.add_argument("--speed-worker", choices=PATHS, nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_worker:
        memory_worker(args.memory_worker, args.model_dir, args.out)
        return 0
    if args.speed_worker:
        speed_worker(args.speed_worker, args.model_dir, args.rounds, args.out)
        return 0
    from matching.e5convert import ensure_model

    model_dir = ensure_model(args.model_dir or folders.model_dir())

    from matching.embedder import AUTO_ONNX_VARIANTS, bf16_support, onnx_export_status

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
    results: dict[str, dict] = {}
    cmd = [sys.executable, __file__, "--model-dir", str(model_dir), "--rounds", str(args.rounds)]
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            out = Path(tmp) / f"{path}.json"
            subprocess.run([*cmd, "--memory-worker", path, "--out", str(out)], env=env, check=True)
            results[path] = json.loads(out.read_text())
        out = Path(tmp) / "speed.npz"
        subprocess.run([*cmd, "--speed-worker", *paths, "--out", str(out)], env=env, check=True)
        rates = json.loads(out.with_suffix(".json").read_text())
        with np.load(out) as v:
            for path in paths:
                results[path]["vectors"] = {k: v[f"{path}/{k}"] for k in ("titles", "listings")}
                results[path].update({f"{k}_per_s": rates[f"{path}/{k}"] for k in ("titles", "listings")})
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
    auto = next((p for p in AUTO_ONNX_VARIANTS if p in results), None)
    if auto:
        r = results[auto]
        speed = min(r["titles_per_s"] / ref["titles_per_s"], r["listings_per_s"] / ref["listings_per_s"])
        ok = speed >= GOAL_SPEEDUP and r["cos_min"] >= GOAL_COSINE
        print(
            f"goal ({auto}, what auto takes without native bf16: >= {GOAL_SPEEDUP:.0f}x float32 at cosine >= "
            f"{GOAL_COSINE}): {speed:.2f}x, min cosine {r['cos_min']:.6f} -> {'PASS' if ok else 'FAIL'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
