"""`emolens bench --batch`: a batch's throughput with 1 and 2 local workers (and on Ray), side by side.

The same inputs go through `BatchRun` once per variant, each into a fresh folder
of its own, in one process run: frames per second of wall time (input decoding,
model loading and every folder's writing included, as a user waits for it), the
ratio to one worker, and each worker's peak resident memory (its own
getrusage, reported with every input it analysed) and, for local workers, its
memory sampled every second along the run (app/bench/memory_timeline.py), which
shows whether it stays flat through a long input.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from app.batch.inputs import expand_inputs
from app.batch.runner import BatchRun
from app.bench.memory_timeline import MemoryTimeline
from engines.pipeline import PipelineOptions


def bench_batch(specs: list[str], options: PipelineOptions, workers: list[int], ray_address: str | None) -> dict:
    inputs = expand_inputs(specs)
    variants = [(f"{n} local worker{'s' * (n != 1)}", n, None) for n in workers]
    if ray_address:
        variants.append((f"Ray, {max(workers)} workers", max(workers), ray_address))
    report: dict = {"inputs": [i.source for i in inputs], "variants": {}}
    for name, n, address in variants:
        with tempfile.TemporaryDirectory(prefix="emolens-bench-batch-") as folder:
            run = BatchRun(Path(folder), inputs, options, n, show_progress=False, ray_address=address)
            started = time.perf_counter()
            with MemoryTimeline(lambda run=run: run.worker_pids) as memory:
                info = run.run()
            seconds = time.perf_counter() - started
        sessions = info["sessions"]
        frames = sum(s.get("frames") or 0 for s in sessions if s["status"] == "complete")
        rss = [s["peak_rss_mb"] for s in sessions if "peak_rss_mb" in s]
        report["variants"][name] = {
            "workers": n,
            "ray": address,
            "seconds": round(seconds, 2),
            "frames": frames,
            "frames_per_s": round(frames / seconds, 1),
            "counts": info["counts"],
            "worker_peak_rss_mb_median": round(statistics.median(rss), 1) if rss else None,
            "worker_peak_rss_mb_max": round(max(rss), 1) if rss else None,
            "worker_memory_along_the_run": memory.summary() or None,  # None on Ray: its actors are not ours
        }
    base = next(iter(report["variants"].values()))["frames_per_s"]
    for v in report["variants"].values():
        v["ratio_to_first"] = round(v["frames_per_s"] / base, 3) if base else None
    return report


def format_batch_report(report: dict) -> str:
    lines = [f"{len(report['inputs'])} inputs"]
    head = f"  {'variant':<20}{'frames/s':>10}{'ratio':>8}{'seconds':>9}{'peak RSS/worker MB':>20}"
    lines.append(head + "  RSS along each worker's run, MB (first fifth -> last fifth, median)")
    for name, v in report["variants"].items():
        rss = "" if v["worker_peak_rss_mb_max"] is None else f"{v['worker_peak_rss_mb_max']:.0f}"
        along = ", ".join(
            f"{w['first_fifth_median_mb']:.0f} -> {w['last_fifth_median_mb']:.0f}"
            for w in (v["worker_memory_along_the_run"] or {}).values()
        )
        row = f"  {name:<20}{v['frames_per_s']:>10.1f}{v['ratio_to_first']:>8.2f}{v['seconds']:>9.1f}{rss:>20}"
        lines.append(f"{row}  {along}")
    return "\n".join(lines)
