"""`emolens analyze`: the pipeline headless over a file, an image or a camera, into a session folder.

What is analyze's own: opening the input, the folder's lock and the check that
nothing is overwritten, a progress bar, and stopping cleanly. SIGTERM or Ctrl-C
at any moment (the explainer's last answers included) closes the folder as
`stopped`, with its Parquet file and report; the explainer is ended at once.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from app.stop_signals import StopRequested, StopSignals
from capture import FrameSource, clock, open_source
from capture.playback import FilePlayback
from engines.errors import EmolensError
from engines.pipeline import Pipeline, PipelineOptions
from export.folder_lock import LOCK_NAME, FolderLock
from export.key_frames import KeyFrameOptions
from export.session_recorder import RecordingError, SessionRecorder

DRAIN_LIMIT_S = 120.0  # the explainer's last answers, after the last frame


class NoFaceFound(EmolensError):
    """The whole input was processed and no face appeared in it."""


def say(line: str) -> None:
    print(f"emolens: {line}", file=sys.stderr)


def open_input(spec: str, realtime: bool) -> FrameSource:
    """`realtime`: a video plays at its own frame rate and frames the fast path cannot keep up with are dropped,
    as with a camera; otherwise every frame is processed, as fast as it goes."""
    source = open_source(spec)
    if realtime and not source.live and source.frame_count != 1:
        source.close()
        return FilePlayback(spec, pace=True)
    return source


SESSION_FILES = (
    "session.json",
    "events.jsonl",
    "frames.csv",
    "frames.parquet",
    "explanations.jsonl",
    "report.html",
    "explain-events.jsonl",
    ".reserve",
    LOCK_NAME,
)


def prepare_out_dir(out_dir: Path, replace_session: bool) -> None:
    """A session folder is never overwritten by accident; `replace_session` replaces an earlier emolens session
    there, and only its files (a folder holding anything else is refused). Called with the folder's lock held."""
    present = [p for p in out_dir.iterdir() if p.name != LOCK_NAME]
    if not present:
        return
    if not replace_session:
        raise EmolensError(f"{out_dir} already holds a session; give a new folder with --out, or add --replace")
    others = [p.name for p in present if p.name not in SESSION_FILES and p.name != "keyframes"]
    if others or not (out_dir / "session.json").exists():
        raise EmolensError(
            f"{out_dir} holds files emolens did not write ({', '.join(sorted(others)[:3]) or 'no session.json'}); "
            "not replacing"
        )
    for name in SESSION_FILES:
        if name != LOCK_NAME:
            (out_dir / name).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "keyframes", ignore_errors=True)


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
) -> dict:
    """Returns the session's counts and status; raises EmolensError (the folder closed as failed, what was
    written kept), NoFaceFound, or StopRequested (a signal before anything was recorded: no folder is left)."""
    if max_frames is not None and max_frames < 1:
        raise EmolensError("--max-frames takes 1 or more")
    with StopSignals(say) as signals:
        created = not out_dir.exists()
        source = open_input(spec, realtime)
        with source:
            lock = FolderLock.acquire(out_dir)
            pipeline = None
            try:
                prepare_out_dir(out_dir, replace_session)
                t0 = clock.now()
                if source.frame_count == 1:  # a still image has no sound to speak of
                    options = replace(options, audio=None)
                pipeline = Pipeline(
                    options,
                    spec,
                    camera=source.clock_time,
                    keep_all=not source.live,
                    t0=t0,
                    on_notice=say,
                    progress=say,
                )
                signals.check()
                recorder = SessionRecorder(
                    out_dir,
                    key_frames=key_frames,
                    lock=lock,
                    input={"spec": spec, "description": source.description, "fps": source.fps, "live": source.live},
                    devices={
                        "video": source.description,
                        **{k: pipeline.info[k] for k in ("audio", "vad") if k in pipeline.info},
                    },
                    **{
                        k: v
                        for k, v in pipeline.info.items()
                        if k in ("backend", "fast_path", "settings", "explainer", "fusion")
                    },
                )
            except BaseException as exc:  # nothing recorded yet: the folder goes as it came
                if pipeline is not None:
                    pipeline.close(abort=True)
                lock.release()
                if created:
                    shutil.rmtree(out_dir, ignore_errors=True)
                if isinstance(exc, RecordingError):
                    raise EmolensError(str(exc)) from exc
                raise
            return _run(spec, source, pipeline, recorder, signals, t0, max_frames, show_progress, drain_limit_s)


def _run(
    spec: str,
    source: FrameSource,
    pipeline: Pipeline,
    recorder: SessionRecorder,
    signals: StopSignals,
    t0: float,
    max_frames: int | None,
    show_progress: bool,
    drain_limit_s: float,
) -> dict:
    status, stop, failure = "complete", None, None
    total = source.frame_count if max_frames is None else min(source.frame_count or max_frames, max_frames)
    # A bar on a terminal only: in a pipe or a log it is noise, and one frame needs none.
    bar_on = show_progress and sys.stderr.isatty() and total != 1
    bar = tqdm(total=total, unit="frame", desc="analyze", disable=not bar_on, file=sys.stderr, dynamic_ncols=True)
    signals.finishing = f"{recorder.folder} (the Parquet file and the report)"
    try:
        recorder.event({"event": "session_started", "input": spec, "backend": pipeline.info["backend"]["name"]})
        pipeline.connect(recorder.event)
        with signals.raising():
            for frame in source.frames():
                if source.clock_time:  # a camera: seconds since the start; a file: its media time already
                    frame = replace(frame, t=frame.t - t0)
                result = pipeline.step(frame)
                recorder.result(result, frame, dropped=source.dropped)
                for item in pipeline.explanations():
                    recorder.explanation(item.explanation, item.evidence)
                bar.update(1)
                if max_frames is not None and pipeline.frames >= max_frames:
                    break
            bar.close()
            _drain(pipeline, recorder, drain_limit_s)
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
    if stop is None and signals.signum is not None:  # came while the folder was being written to, outside a frame
        stop = StopRequested(signals.signum)
        status = "stopped" if failure is None else status
    pipeline.close(abort=stop is not None or failure is not None)
    last = {"event": "session_stopped", "status": status}
    if stop is not None:
        last["signal"] = stop.signal_name
    if pipeline.audio_lost:
        recorder.session.data["devices"]["audio"] = pipeline.info["audio"]
    recorder.close(status=status, last_event=last, dropped=source.dropped, **pipeline.summary())
    summary = {**pipeline.summary(), **recorder.counts(), "status": status}
    if stop is not None:
        summary.update(stopped_by=stop.signal_name, exit_code=128 + stop.signum)
    if isinstance(failure, RecordingError) or recorder.failed:
        raise EmolensError(recorder.failed or str(failure))
    if failure is not None:
        if isinstance(failure, EmolensError):
            raise failure
        raise EmolensError(f"{status}; the session folder {recorder.folder} was closed as failed") from failure
    if status == "complete" and pipeline.frames and pipeline.frames_with_faces == 0:
        raise NoFaceFound(
            f"no face found in {spec} ({pipeline.frames} frame{'s' * (pipeline.frames != 1)}); "
            f"wrote {recorder.folder / 'frames.csv'} with no rows"
        )
    return {
        **summary,
        "frames_csv": str(recorder.folder / "frames.csv"),
        "session_json": str(recorder.folder / "session.json"),
        "report": str(recorder.folder / "report.html"),
    }


def _drain(pipeline: Pipeline, recorder: SessionRecorder, limit_s: float) -> None:
    """The explainer's answers to the windows already asked, within `limit_s`, with a line of progress."""
    asked = pipeline.outstanding
    if asked:
        say(f"explaining {asked} window(s) the gate chose (up to {limit_s:.0f} s; Ctrl-C stops and keeps the rest)")
    last = [asked]

    def progress(left: int) -> None:
        if left != last[0]:
            last[0] = left
            print(f"  {asked - left} of {asked} explained", file=sys.stderr)

    for item in pipeline.finish(timeout=limit_s, progress=progress):
        recorder.explanation(item.explanation, item.evidence)
    left = pipeline.outstanding
    if left:
        say(f"{left} window(s) left unexplained after the {limit_s:.0f} s limit")
        recorder.event({"event": "explainer_drain_limit", "limit_s": limit_s, "unexplained": left})
