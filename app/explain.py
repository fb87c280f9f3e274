"""`emolens explain --frames frames.csv`: explain a recorded session offline, as `analyze --explain` would have."""

from __future__ import annotations

import sys
from pathlib import Path

from engines.errors import EmolensError
from engines.pipeline.assembly import build_slow_path
from engines.pipeline.options import ExplainOptions
from engines.slow.gate import decision_record
from engines.slow.gate_fit import windows_of
from export.explanation_records import explanation_record
from export.frames_csv import read_frames_csv
from export.jsonl_log import JsonlLog


def explain_recorded(frames_csv: Path, out_dir: Path, options: ExplainOptions, fast_threads: int = 1) -> dict:
    windows = windows_of(read_frames_csv(frames_csv))
    if not windows:
        raise EmolensError(f"{frames_csv} has no face seen long enough to make a window; nothing to explain")
    existing = out_dir / "explanations.jsonl"
    if existing.exists() and existing.stat().st_size > 0:  # a session recorded without the explainer has it empty
        raise EmolensError(
            f"{out_dir} already has an explanations.jsonl; give another folder with --out so that nothing is replaced"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    events = JsonlLog(out_dir / "explain-events.jsonl")
    log = JsonlLog(out_dir / "explanations.jsonl")
    slow = None
    try:
        slow, info, warning = build_slow_path(
            options,
            fast_threads,
            keep_all=True,
            on_event=events.write,
            on_decision=lambda d, e: events.write(decision_record(d, e)),
        )
        if warning:
            raise EmolensError(warning.replace("explanations off: ", ""))
        slow.decide(windows)
        bar = _Progress(slow.invoked)
        explained = slow.drain(progress=bar)
        bar.close()
        for item in explained:
            log.write(explanation_record(item.explanation, item.evidence))
    finally:
        if slow is not None and slow.worker:
            slow.worker.close()
        log.close()
        events.close()
    return {
        "windows": slow.windows,
        "invoked": slow.invoked,
        "explanations": len(explained),
        "from_model": sum(x.explanation.source == "llm" for x in explained),
        "path": str(out_dir / "explanations.jsonl"),
        "model": info["model"],
    }


class _Progress:
    def __init__(self, total: int):
        self.total = total
        self.last = None
        self.tty = sys.stderr.isatty()

    def __call__(self, left: int) -> None:
        if left != self.last:
            self.last = left
            end = "\r" if self.tty else "\n"
            print(f"explaining: {self.total - left} of {self.total} windows done", end=end, file=sys.stderr)

    def close(self) -> None:
        if self.tty and self.last is not None:
            print(file=sys.stderr)
