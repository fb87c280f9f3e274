"""`emolens bench --explain`: what the slow path costs and what the gate saves, measured side by side.

1. Explanation latency (first token, total), tokens, and how often the model's
   answer passed the grounding check, over every window of the clips.
2. The same windows as *always reason*, *gated* and *never*: calls, reasoning
   time, and where the explainer's label differs from the fast path's.
3. The fast path's frames/s alone and while the explainer works flat out,
   alternating run by run so that both see the same machine.
"""

from __future__ import annotations

import statistics
import sys
import time

from app.bench.fast_path import load_frames
from engines.contracts import Evidence, Explanation
from engines.pipeline import ExplainOptions, FastPathOptions, Pipeline, PipelineOptions
from engines.pipeline.assembly import explainer_batch_threads, explainer_threads
from engines.slow.gate import ExplanationGate
from engines.slow.llm_models import resolve_llm
from engines.slow.worker import ExplainerWorker, WorkerSettings
from engines.summary_stats import percentiles


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _explain_all(worker: ExplainerWorker, items: list[tuple[Evidence, str]]) -> list[Explanation]:
    for evidence, trigger in items:
        worker.submit(evidence, trigger)
    done = [item.explanation for item in worker.drain()]
    order = {(e.track_id, e.window): i for i, (e, _) in enumerate(items)}
    return sorted(done, key=lambda x: order[(x.track_id, x.window)])


def _summary(explanations: list[Explanation]) -> dict:
    return {
        "calls": len(explanations),
        "reasoning_s": round(sum(x.latency_ms for x in explanations) / 1000, 3),
        "from_model": sum(x.source == "llm" for x in explanations),
        "label_differs": [
            {"track_id": x.track_id, "window": list(x.window), "fast": x.fast_label, "explainer": x.label}
            for x in explanations
            if x.label != x.fast_label
        ],
    }


def bench_explain(
    specs: list[str],
    options: FastPathOptions,
    explain: ExplainOptions,
    max_frames: int = 600,
    repeats: int = 3,
) -> dict:
    clips = {spec: load_frames(spec, max_frames) for spec in specs}
    found: list[Evidence] = []
    pipeline = Pipeline(PipelineOptions(fast=options), specs[0], progress=_say, on_window=found.append)
    info = pipeline.info

    windows: dict[str, list[Evidence]] = {}
    for spec, frames in clips.items():
        pipeline.reset()
        found.clear()
        for frame in frames:
            pipeline.step(frame)
        pipeline.finish()
        windows[spec] = list(found)
    fast_path = pipeline.fast
    every = [e for spec in specs for e in windows[spec]]

    gate_settings = explain.gate
    gated: list[tuple[Evidence, str]] = []
    decisions = {}
    for spec in specs:
        gate = ExplanationGate(gate_settings)
        for e in windows[spec]:
            d = gate.decide(e)
            decisions[(spec, e.track_id, e.window)] = d
            if d.invoke:
                gated.append((e, d.trigger))
    ambiguous = [e for e in every if e.uncertain_share >= 0.5 or e.conflict]

    model = resolve_llm(explain.llm, options.model_dir)
    threads = explainer_threads(explain, options.threads)
    batch = explainer_batch_threads(threads)
    worker = ExplainerWorker(
        model, WorkerSettings(threads=threads, batch_threads=batch, max_tokens=explain.max_tokens, keep_all=True)
    )
    worker.start()
    if not worker.wait_ready(120):
        raise RuntimeError(f"the explainer did not start: {worker.failed}")
    _say(f"explaining all {len(every)} windows (always reason), then the {len(gated)} the gate picks...")
    always = _explain_all(worker, [(e, "always") for e in every])
    gated_done = _explain_all(worker, gated)

    _say("fast path alone vs with the explainer busy, alternating...")
    frames = clips[specs[0]] * 3  # a few seconds per run, so the explainer works through several answers
    alone, busy = [], []
    for _ in range(repeats):
        alone.append(_fast_fps(fast_path, frames))
        for e in every:
            worker.submit(e, "load")
        time.sleep(0.3)  # let the first explanation start
        busy.append(_fast_fps(fast_path, frames))
        worker.clear_pending()
        worker.drain()
    worker.close()

    llm = [x for x in always if x.first_token_ms is not None]
    a, g = _summary(always), _summary(gated_done)
    covered = sum(1 for e in ambiguous if any(x.track_id == e.track_id and x.window == e.window for x in gated_done))
    return {
        "inputs": specs,
        "windows": len(every),
        "model": model.summary(),
        "explainer_threads": threads,
        "explainer_batch_threads": batch,
        "gate": gate_settings.as_dict(),
        "latency_ms": {
            "first_token": percentiles([x.first_token_ms for x in llm]),
            "total": percentiles([x.latency_ms for x in llm]),
        },
        "tokens_per_explanation": percentiles([x.tokens for x in llm]),
        "grounded_rate": round(sum(x.source == "llm" for x in always) / len(always), 3) if always else 0.0,
        "rejections": [x.rejected.split(" | ")[0] for x in always if x.rejected],
        "invocation_ratio": round(len(gated) / len(every), 3) if every else 0.0,
        "ambiguous_windows": len(ambiguous),
        "ambiguous_explained": covered,
        "triggers": {t: sum(1 for _, trig in gated if trig == t) for t in {trig for _, trig in gated}},
        "modes": {
            "always": a,
            "gated": g,
            "never": {"calls": 0, "reasoning_s": 0.0, "from_model": 0, "label_differs": []},
            "gated_over_always_time": round(g["reasoning_s"] / a["reasoning_s"], 3) if a["reasoning_s"] else 0.0,
        },
        "fast_path_fps": {
            "clip": specs[0],
            "alone": round(statistics.median(alone), 1),
            "with_explainer_busy": round(statistics.median(busy), 1),
            "alone_runs": [round(x, 1) for x in alone],
            "busy_runs": [round(x, 1) for x in busy],
            "loss": round(1 - statistics.median(busy) / statistics.median(alone), 3),
        },
        "backend": info["backend"],
        "examples": [
            {"track_id": x.track_id, "window": list(x.window), "trigger": x.trigger, "text": x.text, "source": x.source}
            for x in gated_done
        ],
    }


def _fast_fps(fast_path, frames) -> float:
    fast_path.reset()
    start = time.perf_counter()
    for frame in frames:
        fast_path.process(frame)
    return len(frames) / (time.perf_counter() - start)


def format_explain_report(r: dict) -> str:
    lat, modes, fps = r["latency_ms"], r["modes"], r["fast_path_fps"]
    return "\n".join(
        [
            f"explainer {r['model']['name']} on {r['explainer_threads']} thread(s), {r['windows']} windows",
            f"  first token p50 {lat['first_token']['p50']:.0f} ms (p95 {lat['first_token']['p95']:.0f}), "
            f"total p50 {lat['total']['p50']:.0f} ms (p95 {lat['total']['p95']:.0f}), "
            f"tokens p50 {r['tokens_per_explanation']['p50']:.0f}",
            f"  model answers that passed the grounding check: {r['grounded_rate']:.0%}",
            f"  gate: {modes['gated']['calls']} of {r['windows']} windows ({r['invocation_ratio']:.0%}), "
            f"triggers {r['triggers']}; "
            f"ambiguous windows explained {r['ambiguous_explained']}/{r['ambiguous_windows']}",
            f"  reasoning time: always {modes['always']['reasoning_s']} s, gated {modes['gated']['reasoning_s']} s "
            f"({modes['gated_over_always_time']:.0%}), never 0 s",
            f"  explainer label differs from the fast label: always {len(modes['always']['label_differs'])}, "
            f"gated {len(modes['gated']['label_differs'])}",
            f"  fast path {fps['alone']} frames/s alone, {fps['with_explainer_busy']} with the explainer busy "
            f"({fps['loss']:.1%} loss)",
        ]
    )
