"""A batch worker: one process, its models loaded once, analysing one input after another.

Each worker builds the fast path once (the detector, classifier, mesh and the
face describer) and runs every input it is given on those warm models
(`analyze(..., fast_path=...)`, which resets them between inputs), with one
inference thread and its faces described on that thread (BatchRun asks for it),
so N workers use N cores. What an input's analysis says on
stderr goes to that input's log under `DIR/logs/`, not over the batch's progress
bar. Whatever happens to one input (a corrupt file, a defect) is that input's
result; the worker goes on with the next.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import time
from collections.abc import Iterator
from multiprocessing.queues import Queue
from pathlib import Path

from app.stop_signals import SIGNALS
from engines.pipeline import PipelineOptions


def _result(status: str, started: float, **fields) -> dict:
    """With the worker's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"status": status, "seconds": round(time.monotonic() - started, 2), "peak_rss_mb": round(peak, 1), **fields}


def _frames_read(folder: Path) -> int | None:
    """The frames a session read, as its session.json counts them."""
    try:
        return json.loads((folder / "session.json").read_text())["counts"]["frames_processed"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _shortfall(folder: Path) -> str:
    """What a complete session is still short of: the frames its file says it holds and that could not be
    decoded (a damaged or cut-short file reads to its end without an error)."""
    try:
        info = json.loads((folder / "session.json").read_text())
        read, declared = info["counts"]["frames_processed"], info["input"].get("frames_declared")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""
    if not isinstance(declared, int) or not isinstance(read, int) or read >= declared - 1:  # an estimate's slack
        return ""
    return f"read {read} of the {declared} frames the file says it holds: damaged or cut short"


@contextlib.contextmanager
def _native_stderr_to(out) -> Iterator[None]:
    """What the decoders and runtimes write on the process's stderr (an FFmpeg warning on a damaged frame) goes
    to the input's log too, not over the batch's progress bar."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(out.fileno(), 2)
    try:
        yield
    finally:
        out.flush()
        os.dup2(saved, 2)
        os.close(saved)


def analyse_one(path: Path, folder: Path, log: Path, options: PipelineOptions, fast_path) -> dict:
    """One input into its session folder: {"status": complete | failed | stopped, "reason", counts}."""
    from app.analyze import NoFaceFound, analyze
    from app.stop_signals import StopRequested
    from engines.errors import EmolensError

    started = time.monotonic()
    if not path.is_file():  # said here: analyze's own line would offer a camera index
        why = f"no such file: {path}" if not path.exists() else f"not a video file: {path}"
        return _result("failed", started, reason=why)
    if not os.access(path, os.R_OK):
        return _result("failed", started, reason=f"cannot read {path}: permission denied")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out, contextlib.redirect_stderr(out), _native_stderr_to(out):
        try:
            summary = analyze(
                str(path), folder, options, show_progress=False, replace_session=True, fast_path=fast_path
            )
        except NoFaceFound as exc:  # the folder was closed as complete, with no rows
            return _result("complete", started, reason=str(exc), frames=_frames_read(folder), rows=0, people=0)
        except StopRequested as exc:
            return _result("stopped", started, reason="before anything was written", signal=exc.signal_name)
        except EmolensError as exc:
            return _result("failed", started, reason=str(exc))
        except Exception as exc:  # a defect: this input fails, the batch goes on
            return _result("failed", started, reason=f"{exc.__class__.__name__}: {exc}")
    if summary["status"] != "complete":
        return _result("stopped", started, reason="as it ran", signal=summary.get("stopped_by", "a signal"))
    return _result(
        "complete",
        started,
        reason=_shortfall(folder),
        frames=summary["frames_processed"],
        rows=summary["rows"],
        people=summary.get("people", summary["tracks"]),
    )


def warm_worker(options: PipelineOptions):
    """The models, and what closing a session loads, loaded once: a worker's memory is flat from its first input."""
    from engines.pipeline.assembly import build_fast_path
    from export.frames_parquet import load_writer

    fast_path = build_fast_path(options.fast, progress=lambda line: None)
    load_writer()
    return fast_path


def worker_main(worker: int, options: PipelineOptions, tasks: Queue, results: Queue) -> None:
    """Messages to the parent: ("ready", worker), ("broken", worker, why), ("start", worker, index),
    ("done", worker, index, result)."""
    from engines.child_process import exit_with_parent
    from engines.errors import EmolensError

    # SIGTERM (the parent's stop) and SIGINT (Ctrl-C reaches the whole group) are held blocked outside an analysis,
    # from before any thread starts (a thread inherits the mask, and one that did not block them would take them,
    # SIGTERM's default killing the worker in the middle of reading the task queue, whose lock then stays taken):
    # one that comes between inputs stays pending, so the next input is given back unstarted; one that comes as an
    # analysis starts is delivered to its handlers (StopSignals unblocks them), which close the session as stopped.
    # Should one reach a thread anyway, it is noted, not fatal.
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    noted: list[int] = []
    for s in SIGNALS:
        signal.signal(s, lambda signum, _frame: noted.append(signum))
    exit_with_parent()
    try:
        fast_path = warm_worker(options)
    except EmolensError as exc:
        results.put(("broken", worker, str(exc)))
        return
    except Exception as exc:  # a defect: said once, as the reason every input fails
        results.put(("broken", worker, f"the models could not be loaded: {exc.__class__.__name__}: {exc}"))
        return
    results.put(("ready", worker))
    stopped_by: str | None = None
    try:
        while (task := tasks.get()) is not None:
            index, path, folder, log = task
            results.put(("start", worker, index))
            pending = (signal.sigpending() & set(SIGNALS)) | set(noted)
            if stopped_by is None and pending:
                stopped_by = signal.Signals(min(pending)).name
            if stopped_by is not None:  # asked to stop: every input still handed out goes back unstarted
                result = _result("stopped", time.monotonic(), reason="before it started", signal=stopped_by)
            else:
                result = analyse_one(path, folder, log, options, fast_path)
                if result["status"] == "stopped":  # the signal that stopped it stops this worker too
                    stopped_by = result.get("signal", "a signal")
            results.put(("done", worker, index, result))
    finally:
        fast_path[0].close()
