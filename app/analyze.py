"""`emolens analyze`: run the fast path headless over a file, an image or a camera, and write the session folder.

With an explainer, the gate's decisions go to events.jsonl and the explanations
to explanations.jsonl. On a file every gated window is explained (the
explainer catches up after the last frame); on a camera the newest request
wins, as in the app.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from app.assembly import ExplainOptions, FastPathOptions, build_fast_path, build_slow_path
from capture import open_source
from engines.errors import EmolensError
from export.explanation_records import decision_record, explanation_record
from export.frames_csv import FramesCsvWriter
from export.jsonl_log import JsonlLog
from export.session_info import SessionInfo


class NoFaceFound(EmolensError):
    """The whole input was processed and no face appeared in it."""


def say(line: str) -> None:
    print(line, file=sys.stderr)


def analyze(
    spec: str,
    out_dir: Path,
    options: FastPathOptions,
    max_frames: int | None = None,
    show_progress: bool = True,
    explain: ExplainOptions | None = None,
) -> dict:
    source = open_source(spec)
    with source:
        fast_path, info = build_fast_path(options, progress=say)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmolensError(f"cannot create output folder {out_dir}: {exc.strerror}") from exc
        session = SessionInfo(
            out_dir / "session.json",
            input={"spec": spec, "description": source.description, "fps": source.fps, "live": source.live},
            **info,
        )
        events = JsonlLog(out_dir / "events.jsonl")
        events.write({"event": "session_started", "input": spec, "backend": info["backend"]})
        slow = explanations_log = None
        if explain is not None:
            slow, slow_info, warning = build_slow_path(
                explain,
                options.threads,
                keep_all=not source.live,
                on_event=events.write,
                on_decision=lambda d, e: events.write(decision_record(d, e)),
                model_dir=options.model_dir,
            )
            if warning:
                say(f"emolens: warning: {warning}")
            session.update(explainer=slow_info)
            explanations_log = JsonlLog(out_dir / "explanations.jsonl")
        writer = FramesCsvWriter(out_dir / "frames.csv")
        processed = frames_with_faces = 0
        tracks: set[int] = set()
        explained: list = []
        total = source.frame_count if max_frames is None else min(source.frame_count or max_frames, max_frames)
        status = "complete"
        # A bar on a terminal only: in a pipe or a log it is noise, and one frame needs none.
        bar_on = show_progress and sys.stderr.isatty() and total != 1
        bar = tqdm(total=total, unit="frame", desc="analyze", disable=not bar_on, file=sys.stderr, dynamic_ncols=True)

        def record(items) -> None:
            for item in items:
                explained.append(item.explanation)
                explanations_log.write(explanation_record(item.explanation, item.evidence))

        try:
            for frame in source.frames():
                result = fast_path.process(frame)
                writer.write(result)
                if slow is not None:
                    slow.observe(result)
                    record(slow.take())
                processed += 1
                frames_with_faces += bool(result.faces)
                tracks.update(face.track_id for face in result.faces)
                bar.update(1)
                if max_frames is not None and processed >= max_frames:
                    break
        except KeyboardInterrupt:
            status = "stopped by user"
        except EmolensError as exc:  # e.g. a camera that stops delivering: keep what was written, say why
            status = f"failed: {exc}"
            raise
        finally:
            bar.close()
            writer.close()
            if slow is not None:
                slow.finish()
                if slow.worker is not None:
                    if slow.worker.outstanding:
                        say(f"explaining {slow.worker.outstanding} window(s) the gate chose...")
                    record(slow.drain(timeout=None if status == "complete" else 5.0))
                    slow.worker.close()
                explanations_log.close()
            summary = {
                "frames_processed": processed,
                "frames_dropped": source.dropped,
                "frames_with_faces": frames_with_faces,
                "tracks": len(tracks),
                "rows": writer.rows,
            }
            if slow is not None:
                summary["explainer"] = {
                    "windows": slow.windows,
                    "invoked": slow.invoked,
                    "invocation_ratio": round(slow.invoked / slow.windows, 3) if slow.windows else 0.0,
                    "explanations": len(explained),
                    "from_model": sum(x.source == "llm" for x in explained),
                    "from_template": sum(x.source == "template" for x in explained),
                    "restarts": slow.worker.restarts if slow.worker else 0,
                }
            events.write({"event": "session_stopped", "status": status})
            events.close()
            session.finish(status=status, counts=summary)
    if processed and frames_with_faces == 0:
        raise NoFaceFound(
            f"no face found in {spec} ({processed} frame{'s' * (processed != 1)}); "
            f"wrote {out_dir / 'frames.csv'} with no rows"
        )
    return {**summary, "frames_csv": str(out_dir / "frames.csv"), "session_json": str(out_dir / "session.json")}
