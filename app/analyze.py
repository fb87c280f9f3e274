"""`emolens analyze`: the pipeline headless over a file, an image or a camera, into a session folder.

What is analyze's own: claiming the folder, a progress bar, and stopping cleanly.
SIGTERM or Ctrl-C at any moment (the explainer's last answers included) closes
the folder as `stopped`, with its Parquet file and report; the explainer is ended
at once. Anything else that goes wrong closes it as `failed: why`.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from app.stop_signals import StopRequested, StopSignals
from capture import FrameSource, clock, open_source
from engines.errors import EmolensError
from engines.fast.pipeline import FastPath
from engines.pipeline import Pipeline, PipelineOptions
from export.key_frames import KeyFrameOptions
from export.session_folder import claim_session_folder
from export.session_recorder import RecordingError, SessionRecorder

DRAIN_LIMIT_S = 120.0  # the explainer's last answers, after the last frame


class NoFaceFound(EmolensError):
    """The whole input was processed and no face appeared in it."""


def say(line: str) -> None:
    print(f"emolens: {line}", file=sys.stderr)


def analyze(
    spec: str,
    out_dir: Path,
    options: PipelineOptions,
    max_frames: int | None = None,
    show_progress: bool = True,
    realtime: bool = False,
    key_frames: KeyFrameOptions | None = None,
    replace_session: bool = False,
    drain_limit_s: float = DRAIN_LIMIT_S,
    fast_path: tuple[FastPath, dict] | None = None,
) -> dict:
    """Returns the session's counts and status; raises EmolensError (the folder closed as failed, what was
    written kept), NoFaceFound, or StopRequested (a signal before anything was recorded: no folder is left).
    `max_frames`: None or 1 and more (the command checks it); `fast_path`: warm models to run on (a batch
    worker's), left open."""
    with StopSignals(say) as signals, open_source(spec, paced=realtime) as source:
        created = not out_dir.exists()
        lock = claim_session_folder(out_dir, replace_session)
        pipeline = None
        try:
            t0 = clock.now()
            if source.frame_count == 1:  # a still image has no sound to speak of
                options = replace(options, audio=None)
            pipeline = Pipeline(
                options, spec, source.clock_time, not source.live, t0, on_notice=say, progress=say, fast_path=fast_path
            )
            signals.check()
            given = {"spec": spec, "description": source.description, "fps": source.fps, "live": source.live}
            if not source.live and source.frame_count:  # what the file says it holds, to tell a damaged one
                given["frames_declared"] = source.frame_count
            described = pipeline.describe(given, source.description)
            recorder = SessionRecorder(out_dir, key_frames=key_frames, lock=lock, **described.record())
        except BaseException as exc:  # nothing recorded yet: the folder goes as it came
            if pipeline is not None:
                pipeline.close(abort=True)
            lock.release()
            if created:
                shutil.rmtree(out_dir, ignore_errors=True)
            if isinstance(exc, RecordingError):
                raise EmolensError(str(exc)) from exc
            raise
        run = (spec, source, pipeline, recorder, signals, t0)
        status, stop, failure = _run(*run, max_frames, show_progress, drain_limit_s)
        pipeline.close(abort=stop is not None or failure is not None)
        if pipeline.audio_lost:
            recorder.session.data["devices"]["audio"] = pipeline.info["audio"]
        last = {"event": "session_stopped", "status": status, **({"signal": stop.signal_name} if stop else {})}
        recorder.close(status=status, last_event=last, dropped=source.dropped, **pipeline.summary())
    if recorder.failed or isinstance(failure, RecordingError):
        raise EmolensError(recorder.failed or str(failure))
    if isinstance(failure, EmolensError):
        raise failure
    if failure is not None:
        raise EmolensError(f"{status}; the session folder {recorder.folder} was closed as failed") from failure
    if status == "complete" and pipeline.frames and not pipeline.frames_with_faces:
        frames = f"{pipeline.frames} frame{'s' * (pipeline.frames != 1)}"
        raise NoFaceFound(f"no face found in {spec} ({frames}); wrote {recorder.folder / 'frames.csv'} with no rows")
    summary = {**pipeline.summary(), **recorder.counts(), "status": status, "folder": str(recorder.folder)}
    if stop is not None:
        summary.update(stopped_by=stop.signal_name, exit_code=128 + stop.signum)
    return summary


def _run(spec, source: FrameSource, pipeline: Pipeline, recorder: SessionRecorder, signals: StopSignals, t0: float,
         max_frames: int | None, show_progress: bool, drain_limit_s: float):  # fmt: skip
    """The frames, then the explainer's last answers; returns (status, the stop, the failure)."""
    total = source.frame_count if max_frames is None else min(source.frame_count or max_frames, max_frames)
    bar_on = show_progress and sys.stderr.isatty() and total != 1  # in a pipe or a log a bar is noise
    bar = tqdm(total=total, unit="frame", desc="analyze", disable=not bar_on, file=sys.stderr, dynamic_ncols=True)
    signals.finishing = f"{recorder.folder} (the Parquet file and the report)"
    status, stop, failure = "complete", None, None
    try:
        recorder.event({"event": "session_started", "input": spec, "backend": pipeline.info["backend"]["name"]})
        pipeline.connect(recorder.event)
        with signals.raising():
            for frame in source.frames():
                if source.clock_time:  # a camera: seconds since the start; a file: its media time already
                    frame = replace(frame, t=frame.t - t0)
                dropped = source.dropped  # those before this frame: its own step may take long (the first)
                recorder.result(pipeline.step(frame), frame, dropped=dropped)
                for item in pipeline.explanations():
                    recorder.explanation(item.explanation, item.evidence)
                bar.update(1)
                if max_frames is not None and pipeline.frames >= max_frames:
                    break
            bar.close()
            for item in pipeline.finish(drain_limit_s, say, count=show_progress):  # the explainer's last answers
                recorder.explanation(item.explanation, item.evidence)
    except StopRequested as exc:
        status, stop = "stopped", exc
    except RecordingError as exc:  # a full disk: the folder keeps what was written, the run stops
        status, failure = "failed", exc
    except EmolensError as exc:  # e.g. a camera that stops delivering: keep what was written, say why
        status, failure = f"failed: {exc}", exc
    except Exception as exc:  # a defect: the folder still closes, and says so
        status, failure = f"failed: {exc.__class__.__name__}: {exc}", exc
    finally:
        bar.close()
    if stop is None and failure is None and signals.signum is not None:  # came between two frames' blocks
        status, stop = "stopped", StopRequested(signals.signum)
    return status, stop, failure
