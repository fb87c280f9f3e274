"""`emolens batch`: many inputs, N worker processes, one session folder each, one dataset over them all.

Layout under `--out DIR`: `sessions/<id>/` (the session folder `analyze` writes),
`dataset/session=<id>/part-0.parquet` (export/dataset.py), `logs/<id>.log` (what
each input's analysis said), `batch.json` and `index.html`.

Resumable: an input whose session is complete, checked against its rows
(`export.dataset.completed`), is skipped; any other is done again from the
start (its folder replaced, its dataset part written anew), so a run killed at
any moment loses only the sessions in flight and the next run finishes them.
Fault-isolated: a corrupt input fails alone with its reason; a worker that dies
(a crash in a decoder) fails the input it held, and a new worker takes its
place. One batch at a time writes a folder (a lock, as for session folders).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import queue
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from app.batch.inputs import BatchInput
from app.batch.worker import worker_main
from app.stop_signals import SIGNALS
from engines import __version__
from engines.errors import EmolensError
from engines.pipeline import PipelineOptions
from engines.pipeline.assembly import ensure_models
from export.counted_words import counted
from export.dataset import completed, drop_part, input_fingerprint, remove_entry, stale_entries, write_part
from export.folder_lock import FolderLock
from export.session_info import iso_now, package_versions

SESSIONS = "sessions"
LOGS = "logs"
ROW_KEYS = ("input", "session_id", "folder", "status", "skipped", "redo", "redone_because")  # set anew each run
READY_TIMEOUT_S = 300.0  # a worker's first model load (a cold disk, a first export)


@dataclass
class _Worker:
    process: multiprocessing.Process
    index: int | None = None  # the input it is analysing
    ready: bool = False


@dataclass
class BatchRun:
    root: Path
    inputs: list[BatchInput]
    options: PipelineOptions
    workers: int = 1
    show_progress: bool = True
    ray_address: str | None = None  # run the inputs on this Ray cluster ("auto": the one this machine is in)
    results: dict[int, dict] = field(default_factory=dict)
    worker_pids: list[int] = field(default_factory=list)  # the local workers started so far (a bench watches them)
    removed_parts: list[str] = field(default_factory=list)  # dataset parts of sessions not among the inputs
    removed_other: list[str] = field(default_factory=list)  # other entries of the dataset folder, taken out
    _fingerprints: dict[int, dict | None] = field(default_factory=dict)  # each input's, taken as it was handed out
    _settings: str = ""  # settings_digest of this run
    _stopped_by: str | None = None
    _used: int = 0  # workers started in this run
    _ray: object = None  # the Ray module, joined to the cluster
    _raise_on_stop: bool = False  # a signal interrupts (Ray's wait has no other way out)
    _stop_signals: list[int] = field(default_factory=list)  # the signals this run was sent
    _started: str = ""
    _t0: float = 0.0
    _models: dict | None = None  # batch.json's models, read once a run

    def __post_init__(self) -> None:
        # a worker is one core: its faces are described on its own thread, not by a second process that would
        # compete with the other workers for the cores (and whose timing would decide who each face is)
        self.options = replace(self.options, fast=replace(self.options.fast, describe_inline=True))
        self.root = Path(self.root).absolute()

    def folder(self, item: BatchInput) -> Path:
        """Its session folder (under an absolute batch folder: batch.json's paths hold wherever it is read)."""
        return self.root / SESSIONS / item.session_id

    def run(self) -> dict:
        """Every input done or skipped; returns batch.json's content (also written, with index.html).

        SIGTERM and SIGINT are noted for the whole run, not only while inputs are analysed: a signal while the
        dataset is being pruned or batch.json written lets that step finish, then stops the batch; batch.json
        says "running" from the moment the dataset starts to change until it says how the run ended."""
        lock = FolderLock.acquire(self.root, "running a batch")
        stop = self._stop_signals

        def note(signum: int, _frame) -> None:
            stop.append(signum)
            if self._raise_on_stop:
                raise _BatchStop(signum)

        previous = {s: signal.signal(s, note) for s in SIGNALS}
        try:
            started, t0 = iso_now(), time.monotonic()
            if self.ray_address:  # an unreachable cluster is said before anything in the folder changes
                from app.batch.ray_workers import connect

                self._ray = connect(self.ray_address)
            self._make_folders()
            ensure_models(self.options.fast.model_dir, self._say)
            settings = settings_digest(self.options, self._model_record())
            earlier = self._earlier_rows()
            todo = []
            for i, item in enumerate(self.inputs):
                done, why = completed(self.root, item.session_id, self.folder(item), item.path, settings)
                if done:
                    kept = {k: v for k, v in earlier.get(item.session_id, {}).items() if k not in ROW_KEYS}
                    self.results[i] = {**kept, **self._counted(i), "status": "complete", "skipped": True}
                else:
                    todo.append(i)
                    self.results[i] = {"status": "pending", "redo": why if self.folder(item).exists() else None}
            skipped, workers = len(self.inputs) - len(todo), min(self.workers, len(todo))
            print(
                f"{counted(len(self.inputs), 'input')}: {skipped} done by an earlier run, {len(todo)} to analyse"
                + (f" on {counted(workers, 'worker')}{' on Ray' if self.ray_address else ''}" if todo else "")
                + f" -> {self.root}",
                file=sys.stderr,
            )
            self._say_redone(todo)
            self._started, self._t0 = started, t0
            self._write(started, time.monotonic() - t0, None, used=0, running=True)
            self._prune_dataset()
            for i in todo:  # before any stop can come: no row of a session about to be done again is left
                drop_part(self.root, self.inputs[i].session_id)
            if todo and not stop:
                try:
                    if self.ray_address:
                        self._analyse_on_ray(todo, settings, stop)
                    else:
                        self._analyse(todo, settings, stop)
                except EmolensError as exc:  # batch.json says what the run did before the error, not "running"
                    for i in todo:
                        if self.results[i]["status"] == "pending":
                            self.results[i] = {"status": "not done", "reason": str(exc)}
                    self._write(started, time.monotonic() - t0, None, used=self._used)
                    raise
            if stop:
                self._stopped_by = signal.Signals(stop[0]).name
                for i in todo:
                    if self.results[i]["status"] == "pending":
                        self.results[i] = {"status": "not done", "reason": "the batch was stopped before it began"}
            info = self._write(started, time.monotonic() - t0, stop[0] if stop else None, used=self._used)
        finally:
            if self._ray is not None:
                self._ray.shutdown()
            for s, handler in previous.items():
                signal.signal(s, handler)
            lock.release()
        return info

    def _model_record(self) -> dict:
        """Each fast-path model's file and sha256 (or why it could not be read), read once a run."""
        from engines.model_assets import FAST_PATH_MODELS, load_asset

        if self._models is None:
            self._models = {}
            for name in FAST_PATH_MODELS:
                try:
                    asset = load_asset(name, self.options.fast.model_dir)
                    self._models[name] = {"file": asset.path.name, "sha256": asset.sha256}
                except EmolensError as exc:
                    self._models[name] = {"problem": str(exc)}
        return self._models

    def _say_redone(self, todo: list[int]) -> None:
        """Why sessions done before are done again, a line a reason."""
        reasons: dict[str, int] = {}
        for i in todo:
            if why := self.results[i].get("redo"):
                why = why.replace(str(self.inputs[i].path), "its input")
                reasons[why] = reasons.get(why, 0) + 1
        for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            print(f"emolens: {counted(n, 'session')} done again: {why}", file=sys.stderr)

    def _say(self, line: str) -> None:
        if self.show_progress:
            print(line, file=sys.stderr)

    def _make_folders(self) -> None:
        for name in (SESSIONS, LOGS):
            try:
                (self.root / name).mkdir(exist_ok=True)
            except OSError as exc:
                raise EmolensError(
                    f"cannot make {self.root / name} ({exc.strerror}): move what is there away, or give another --out"
                ) from exc

    def _prune_dataset(self) -> None:
        """The dataset is this run's inputs: a part of another session, or anything else put in the dataset
        folder, is taken out (no row batch.json does not count, no file a reader trips on)."""
        for name in stale_entries(self.root, {item.session_id for item in self.inputs}):
            path = self.root / "dataset" / name
            is_part = name.startswith("session=") and path.is_dir() and not path.is_symlink()
            session = name.removeprefix("session=") if is_part else None
            try:
                remove_entry(self.root, name)
            except OSError as exc:
                raise EmolensError(f"cannot take {path} out of the dataset ({exc.strerror}); remove it") from exc
            if session is not None:
                self.removed_parts.append(session)
            else:
                self.removed_other.append(name)

    def _earlier_rows(self) -> dict[str, dict]:
        """The last run's batch.json rows by session id: a skipped input keeps what its run measured."""
        try:
            return {s["session_id"]: s for s in json.loads((self.root / "batch.json").read_text())["sessions"]}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def _counted(self, i: int) -> dict:
        """A skipped input's counts, as its session.json gives them."""
        try:
            info = json.loads((self.folder(self.inputs[i]) / "session.json").read_text())
        except (OSError, ValueError):
            return {}
        counts = info.get("counts", {})
        return {"frames": counts.get("frames_processed"), "rows": counts.get("rows"), "people": counts.get("people")}

    # --- the workers -----------------------------------------------------------------------------
    def _analyse(self, todo: list[int], settings: str, stop: list[int]) -> None:
        """Runs `todo` on the workers until done or until `stop` holds a signal."""
        ctx = multiprocessing.get_context("spawn")  # no fork of a process holding model threads
        tasks, results = ctx.Queue(), ctx.Queue()
        for task in self._tasks(todo, settings):
            tasks.put(task)
        count = self._used = min(self.workers, len(todo))
        workers: dict[int, _Worker] = {}
        next_id = 0

        def start_worker() -> None:
            nonlocal next_id
            # not a daemon: with --explain a worker starts the explainer's process (it ends with its parent's death)
            p = ctx.Process(target=worker_main, args=(next_id, self.options, tasks, results), name=f"batch-{next_id}")
            # started with SIGTERM and SIGINT blocked (a mask outlives exec): Ctrl-C while a worker still imports
            # is kept for it to see, not a KeyboardInterrupt traceback from a worker that then never starts
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
            try:
                p.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            self.worker_pids.append(p.pid)
            workers[next_id] = _Worker(p)
            next_id += 1

        for _ in range(count):
            start_worker()
        bar = tqdm(total=len(todo), unit="input", desc="batch", disable=not self.show_progress, file=sys.stderr)
        left, began, idle_since = set(todo), time.monotonic(), None
        stopping_since: float | None = None
        try:
            while left or stopping_since is not None:
                if stop and stopping_since is None:
                    stopping_since = time.monotonic()
                    self._stop(stop[0], tasks, workers, left)
                if stopping_since is not None and (
                    not any(w.process.is_alive() for w in workers.values())
                    and results.empty()
                    or time.monotonic() - stopping_since > 30
                ):
                    break  # every worker has ended and said how its input ended (or would not, in 30 s)
                try:
                    message = results.get(timeout=0.1 if stopping_since is not None else 0.5)
                except queue.Empty:
                    self._reap(workers, left, bar, start_worker if stopping_since is None else None)
                    if not workers and left and stopping_since is None:
                        self._fail_all(left, "no worker could start")
                    if time.monotonic() - began > READY_TIMEOUT_S and not any(w.ready for w in workers.values()):
                        self._fail_all(left, "no worker was ready after 5 minutes")
                    # every worker waiting for work while inputs are left: a task died with a worker unseen
                    idle = workers and all(w.ready and w.index is None for w in workers.values()) and tasks.empty()
                    idle_since = (idle_since or time.monotonic()) if idle else None
                    if idle_since is not None and time.monotonic() - idle_since > 10 and stopping_since is None:
                        self._fail_all(left, "lost with a worker process that died")
                    continue
                kind, worker, *rest = message
                if kind == "ready":
                    workers[worker].ready = True
                elif kind == "broken":
                    self._fail_all(left, rest[0])
                elif kind == "start":
                    workers[worker].index = rest[0]
                elif kind == "done":
                    index, result = rest
                    workers[worker].index = None
                    self._finish(index, result, left, bar)
        finally:
            bar.close()
            for _ in workers:
                tasks.put(None)
            for w in workers.values():
                w.process.join(timeout=10)
                if w.process.is_alive():
                    w.process.kill()
            for q in (tasks, results):
                q.close()
                q.cancel_join_thread()  # what a killed worker left in a queue is not waited for

    def _tasks(self, todo: list[int], settings: str) -> list[tuple[int, Path, Path, Path]]:
        """(index, input, session folder, log) of each input to do (their dataset parts already dropped)."""
        self._settings = settings
        out = []
        for i in todo:
            item = self.inputs[i]
            self._fingerprints[i] = input_fingerprint(item.path)
            out.append((i, item.path, self.folder(item), self.root / LOGS / f"{item.session_id}.log"))
        return out

    def _analyse_on_ray(self, todo: list[int], settings: str, stop: list[int]) -> None:
        from app.batch.ray_workers import analyse_on_ray

        self._used = min(self.workers, len(todo))
        bar = tqdm(total=len(todo), unit="input", desc="batch (Ray)", disable=not self.show_progress, file=sys.stderr)
        left = set(todo)
        self._raise_on_stop = True
        try:
            if stop:
                raise _BatchStop(stop[0])
            analyse_on_ray(
                self._ray,
                self._tasks(todo, settings),
                self.options,
                self.workers,
                lambda index, result: self._finish(index, result, left, bar),
            )
        except _BatchStop:  # the sessions in flight are left unfinished: the next run does them again
            self._stopped_by = signal.Signals(stop[0]).name
            for i in left:
                self.results[i] = {"status": "not done", "reason": "the batch was stopped"}
        finally:
            self._raise_on_stop = False
            bar.close()

    def _finish(self, index: int, result: dict, left: set[int], bar: tqdm) -> None:
        item = self.inputs[index]
        if result["status"] == "stopped":
            batch_stop = self._stopped_by or (self._stop_signals and signal.Signals(self._stop_signals[0]).name)
            by = f"the batch was stopped by {batch_stop}" if batch_stop else (
                f"its worker was stopped by {result.get('signal', 'a signal')}")  # fmt: skip
            result = {**result, "reason": f"{by} ({result.get('reason') or 'as it ran'}); the next run does it again"}
        if redo := self.results.get(index, {}).get("redo"):
            result = {**result, "redone_because": redo}
        if result["status"] == "complete":
            try:
                result["dataset_rows"] = write_part(
                    self.root, item.session_id, item.source, self.folder(item), self._fingerprints.get(index),
                    self._settings,
                )  # fmt: skip
            except (OSError, EmolensError) as exc:
                result = {**result, "status": "failed", "reason": f"its dataset part could not be written: {exc}"}
        self.results[index] = result
        left.discard(index)
        bar.update(1)
        with contextlib.suppress(EmolensError):  # a kill now leaves batch.json saying what had ended
            self._write(self._started, time.monotonic() - self._t0, None, used=self._used, running=True)
        if (result["status"] != "complete" or result.get("reason")) and self.show_progress:  # all listed at the end
            bar.write(f"emolens: {item.path.name}: {result['status']}: {result['reason']}", file=sys.stderr)

    def _reap(self, workers: dict[int, _Worker], left: set[int], bar: tqdm, start_worker) -> None:
        """A worker that died fails the input it held; another takes its place while inputs are left (unless
        `start_worker` is None: the batch is stopping)."""
        for wid, w in list(workers.items()):
            if w.process.is_alive():
                continue
            del workers[wid]
            if w.index is not None and w.index in left:
                code = w.process.exitcode
                how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit {code}"
                result = {"status": "failed", "reason": f"the worker process died ({how})"}
                if start_worker is None:
                    result = {"status": "stopped", "reason": "its worker ended before saying how"}
                self._finish(w.index, result, left, bar)
            if left and w.ready and start_worker is not None:
                start_worker()

    def _stop(self, signum: int, tasks, workers: dict[int, _Worker], left: set[int]) -> None:
        """A signal to the batch: no input is started any more, and every worker is told to stop: one analysing
        closes its session as stopped (the next run does it again), one that took an input it has not said it
        started gives it back as stopped, an idle one ends."""
        self._stopped_by = signal.Signals(signum).name
        with contextlib.suppress(queue.Empty):
            while True:
                tasks.get_nowait()
        for _ in workers:
            tasks.put(None)
        for i in left:
            self.results[i] = {"status": "not done", "reason": "the batch was stopped"}
        for w in workers.values():
            if w.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.process.pid, signal.SIGTERM)

    def _fail_all(self, left: set[int], why: str) -> None:
        for i in list(left):
            self.results[i] = {"status": "failed", "reason": why}
        left.clear()

    # --- what the batch writes -------------------------------------------------------------------
    def _write(self, started: str, seconds: float, stop: int | None, used: int, running: bool = False) -> dict:
        from export.batch_index import write_index

        models = self._model_record()
        rows = []
        for i, item in enumerate(self.inputs):
            r = self.results.get(i, {"status": "not done"})
            rows.append({"input": item.source, "session_id": item.session_id, "folder": str(self.folder(item)), **r})
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        info = {
            "format": 1,
            "emolens": __version__,
            "started": started,
            "ended": iso_now(),
            "seconds": round(seconds, 1),
            "status": _status(counts, len(rows), stop, running),
            "workers": used,  # started for this run (none when every input was done by an earlier one)
            "ray": self.ray_address,
            "inputs": len(rows),
            "counts": counts,
            "skipped": sum(bool(r.get("skipped")) for r in rows),
            "removed_parts": self.removed_parts,
            "removed_other": self.removed_other,
            "dataset": {
                "path": str(self.root / "dataset"),
                "rows": sum(r.get("rows") or 0 for r in rows if r["status"] == "complete"),
            },  # fmt: skip
            "models": models,
            "versions": package_versions(),
            "sessions": rows,
        }
        if stop and info["status"] != "complete":  # a stop that came when all was done lost nothing
            info["stopped_by"] = signal.Signals(stop).name
        if running:
            info["pid"] = os.getpid()
        tmp = self.root / ".batch.json.tmp"
        try:
            tmp.write_text(json.dumps(info, indent=2))
            os.replace(tmp, self.root / "batch.json")
            write_index(self.root, info)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise EmolensError(
                f"cannot write the batch's summary, batch.json and index.html, in {self.root} ({exc.strerror}); the "
                "sessions and the dataset are kept: move what is in their way and run the same command again"
            ) from exc
        return info


def _status(counts: dict[str, int], inputs: int, stop: int | None, running: bool) -> str:
    if running:
        return "running"
    if counts.get("complete", 0) == inputs:
        return "complete"
    if stop:
        return "stopped"
    return "some failed" if counts.get("failed") else "some not complete"


class _BatchStop(BaseException):
    """A signal, raised where only an exception gets out (a wait on the Ray cluster)."""


def settings_digest(options: PipelineOptions, models: dict) -> str:
    """What decides a session's rows besides its input: the analysis settings (not where or how fast they ran:
    threads, backend, preprocessing, folders) and the models' sha256. A session made with other ones is not
    this run's: it is done again, so that one dataset never mixes settings unsaid. `models`: as batch.json
    records them."""
    # the interval as it runs: the default given by name or not is one setting
    every = options.fast.detection_interval
    fast = replace(options.fast, threads=1, backend="auto", preprocess="auto", model_dir=None, detect_every=every)
    explain = options.explain and replace(options.explain, threads=None, gate_file=None)
    audio = options.audio and replace(options.audio, device=None, fusion_file=None)
    return hashlib.sha256(repr((fast, explain, audio, models)).encode()).hexdigest()[:16]
