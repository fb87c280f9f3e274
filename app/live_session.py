"""LiveSession: the pipeline on its own thread for the app and the kiosk, with what is theirs alone.

The window never runs any of this: it receives the contracts through a
`SessionListener` and paints. What is the live session's own: reopening a live
source that stops (a camera unplugged, a looped file that vanished) with a
back-off until it comes back or the session is stopped; the status bar's rates;
recording on and off, and a new folder each day for the kiosk. The chain from a
frame to its explanations is the one `Pipeline`; its explainer is its own
process, so a frame never waits for it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Protocol

from capture import CaptureError, FrameSource, clock
from capture.camera import CameraSource
from capture.playback import FilePlayback
from capture.source import IMAGE_SUFFIXES, open_source
from engines.contracts import Evidence, Explained, Frame, FrameResult, SessionPhase, SessionState, SessionStats
from engines.errors import EmolensError
from engines.pipeline import AudioOptions, ExplainOptions, FastPathOptions, Pipeline, PipelineOptions
from export.daily_rotation import DailyRotation
from export.key_frames import KeyFrameOptions
from export.session_recorder import RecordingError, SessionRecorder, new_session_folder


@dataclass(frozen=True)
class SessionConfig:
    source: str  # a camera index ("0"), a device path, or a video file
    camera: bool | None = None  # None: a digit or /dev/video* is a camera, anything else a file
    loop: bool = False  # a file starts again at its end, as a camera would go on
    pace: bool = True  # a file plays at its own frame rate; False: as fast as the fast path goes
    fast: FastPathOptions = FastPathOptions()
    explain: ExplainOptions | None = field(default_factory=ExplainOptions)  # None: no explainer (gate inside)
    retry_s: tuple[float, float] = (1.0, 8.0)  # first and longest wait before reopening a lost source
    audio: AudioOptions | None = None  # voice cues from a microphone, with a camera; None: video alone

    @property
    def is_camera(self) -> bool:
        if self.camera is not None:
            return self.camera
        return self.source.isdigit() or self.source.startswith("/dev/video")

    @property
    def endless(self) -> bool:
        """Whether the source's end means it was lost (and is retried) rather than finished."""
        return self.is_camera or self.loop


@dataclass(frozen=True)
class RecordingPlan:
    root: Path  # session folders go under it, one per recording
    daily: bool = False  # a new folder each day (the kiosk), older ones pruned
    keep_days: int = 30
    key_frames: KeyFrameOptions | None = None  # None: numbers only, no image written


class SessionListener(Protocol):
    """What the window implements. Called on the session's thread (or the explainer's dispatch thread for tokens)."""

    def on_state(self, state: SessionState) -> None: ...
    def on_info(self, info: dict) -> None: ...
    def on_result(self, frame: Frame, result: FrameResult) -> None: ...
    def on_explanation(self, item: Explained) -> None: ...
    def on_token(self, evidence: Evidence, piece: str) -> None: ...
    def on_stats(self, stats: SessionStats) -> None: ...


def open_session_source(config: SessionConfig) -> FrameSource:
    if config.is_camera:
        device = int(config.source) if config.source.isdigit() else config.source
        return CameraSource(device)
    if Path(config.source).suffix.lower() in IMAGE_SUFFIXES:
        return open_source(config.source)
    return FilePlayback(config.source, loop=config.loop, pace=config.pace)


class LiveSession:
    def __init__(
        self,
        config: SessionConfig,
        listener: SessionListener,
        recording: RecordingPlan | None = None,
        record: bool = False,
        today=date.today,
    ):
        self.config = config
        self.listener = listener
        self.plan = recording
        self._record_wanted = record and recording is not None
        self._rotation = (
            DailyRotation(recording.root, recording.keep_days, today) if recording and recording.daily else None
        )
        self._recorder: SessionRecorder | None = None
        self._recorder_day: date | None = None
        self._stop = threading.Event()
        self._source: FrameSource | None = None
        self._source_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="emolens-session", daemon=True)
        self._info: dict = {}
        self._pipeline: Pipeline | None = None
        self._audio_lost_shown = False
        self._counts = {"processed": 0, "dropped": 0, "explanations": 0, "reconnects": 0}
        self._window: deque[tuple[float, dict[str, float]]] = deque()
        self._captured_at_last = 0
        self._stats_due = 0.0
        self._t0 = 0.0
        self._source_description = config.source
        self.last_recording: Path | None = None  # the folder of the recording closed last
        self.error: str | None = None

    # --- control, from the window's thread ---------------------------------------------------------
    def start(self) -> LiveSession:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._source_lock:
            if self._source is not None:
                self._source.interrupt()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def set_recording(self, on: bool) -> None:
        """Takes effect on the session's thread at the next frame."""
        self._record_wanted = on and self.plan is not None

    @property
    def recording_folder(self) -> Path | None:
        recorder = self._recorder
        return recorder.folder if recorder else None

    @property
    def t0(self) -> float:
        """The capture clock's reading at the session's start: a live frame's `t` is seconds after it."""
        return self._t0

    @property
    def _worker(self):
        slow = self._pipeline.slow if self._pipeline else None
        return slow.worker if slow else None

    @property
    def explainer_busy(self) -> bool:
        worker = self._worker
        return bool(worker and worker.outstanding)

    @property
    def explainer_ready(self) -> bool:
        worker = self._worker
        return bool(worker and worker.ready)

    def sizes(self) -> dict[str, int]:
        """Every table and queue the session holds, by name: a soak run checks that none of them grows."""
        pipeline = self._pipeline
        return {"session.latency_window": len(self._window), **(pipeline.sizes() if pipeline else {})}

    @property
    def counts(self) -> dict:
        return dict(self._counts)

    # --- the session's thread ----------------------------------------------------------------------
    def _state(self, phase: SessionPhase, detail: str = "", retry_in_s: float | None = None) -> None:
        self.listener.on_state(SessionState(phase, detail, retry_in_s))

    def _event(self, record: dict) -> None:
        recorder = self._recorder
        if recorder is not None:
            try:
                recorder.event(record)
            except RecordingError as exc:
                self._recording_failed(exc)

    def _run(self) -> None:
        status = "complete"  # a live session's normal end is the user's Stop
        self._t0 = clock.now()
        try:
            built = self._build()
            status = self._serve() if built else (self.error or "failed")
        except Exception as exc:  # the window shows it; the thread's excepthook prints the traceback
            status = f"failed: {exc.__class__.__name__}: {exc}"
            self.error = status
            self._state(SessionPhase.FAILED, status)
            raise
        finally:
            if self._pipeline is not None:
                self._deliver_explanations()
                self._pipeline.close(abort=self._stop.is_set())
            self._close_recorder(status)
            if not status.startswith("failed"):
                self._state(SessionPhase.STOPPED if self._stop.is_set() else SessionPhase.FINISHED, status)

    def _build(self) -> bool:
        """The pipeline, its explainer started; False (state failed) when a model cannot load."""
        self._state(SessionPhase.STARTING, "loading the models")
        config = self.config
        audio = config.audio if config.audio is not None and config.audio.enabled and config.is_camera else None
        try:
            self._pipeline = Pipeline(
                PipelineOptions(fast=config.fast, explain=config.explain, audio=audio),
                config.source,
                camera=True,
                keep_all=False,
                t0=self._t0,
                on_token=self.listener.on_token,
                progress=lambda line: self._state(SessionPhase.STARTING, line),
            )
        except EmolensError as exc:
            self.error = f"failed: {exc}"
            self._state(SessionPhase.FAILED, str(exc))
            return False
        self._pipeline.connect(self._event)
        self._info = {"input": config.source, **self._pipeline.info}
        if audio is None and config.audio is not None and config.audio.enabled:
            self._info["audio"] = "off: voice cues come from a microphone with a camera (for a file's sound track, "
            self._info["audio"] += "use emolens analyze)"
        self._info["explainer_warning"] = self._pipeline.explainer_warning
        self.listener.on_info(dict(self._info))
        return True

    def _serve(self) -> str:
        backoff = self.config.retry_s[0]
        while not self._stop.is_set():
            try:
                source = open_session_source(self.config)
            except CaptureError as exc:
                if not self.config.endless:
                    self.error = str(exc)
                    self._state(SessionPhase.FAILED, str(exc))
                    return f"failed: {exc}"
                self._wait_to_retry(str(exc), backoff)
                backoff = min(backoff * 2, self.config.retry_s[1])
                continue
            with self._source_lock:
                self._source = source
            if self._stop.is_set():
                source.close()
                break
            self._source_description = source.description
            self._state(SessionPhase.RUNNING, source.description)
            self._sync_recorder()
            self._event({"event": "source_opened", "source": source.description})
            delivered = 0
            try:
                delivered = self._run_source(source)
                why = f"{source.description} stopped delivering frames"
            except CaptureError as exc:
                why = str(exc)
            finally:
                with self._source_lock:
                    self._source = None
                self._counts["dropped"] += source.dropped
                source.close()
            if self._stop.is_set():
                break
            if not self.config.endless:
                return "complete"
            self._event({"event": "source_lost", "reason": why})
            self._counts["reconnects"] += 1
            if delivered:
                backoff = self.config.retry_s[0]
            self._wait_to_retry(why, backoff)
            backoff = min(backoff * 2, self.config.retry_s[1])
        return "complete"

    def _wait_to_retry(self, why: str, delay: float) -> None:
        """Shows the retry state with a countdown; explanations still arrive meanwhile."""
        until = time.monotonic() + delay
        while not self._stop.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return
            self._state(SessionPhase.RETRYING, why, round(left, 1))
            self._deliver_explanations()
            self._stop.wait(min(0.25, left))

    def _check_voice(self) -> None:
        pipeline = self._pipeline
        if pipeline.audio_lost and not self._audio_lost_shown:
            self._audio_lost_shown = True
            self._info["audio"] = f"lost: {pipeline.audio_lost}; video alone"
            self._state(SessionPhase.AUDIO_LOST, self._info["audio"])
            self.listener.on_info(dict(self._info))

    def _run_source(self, source: FrameSource) -> int:
        delivered = 0
        for frame in source.frames():
            if self._stop.is_set():
                break
            if source.clock_time:
                frame = replace(frame, t=frame.t - self._t0)  # seconds since the session started
            self._sync_recorder()
            result = self._pipeline.step(frame)
            self._check_voice()
            delivered += 1
            self._counts["processed"] += 1
            self._deliver_explanations()
            if self._recorder is not None:
                try:
                    self._recorder.result(result, frame, dropped=self._counts["dropped"] + source.dropped)
                except RecordingError as exc:
                    self._recording_failed(exc)
            self.listener.on_result(frame, result)
            self._tick(result, source)
        return delivered

    def _deliver_explanations(self) -> None:
        if self._pipeline is None:
            return
        for item in self._pipeline.explanations():
            self._counts["explanations"] += 1
            if self._recorder is not None:
                try:
                    self._recorder.explanation(item.explanation, item.evidence)
                except RecordingError as exc:
                    self._recording_failed(exc)
            self.listener.on_explanation(item)

    def _tick(self, result: FrameResult, source: FrameSource) -> None:
        now = time.monotonic()
        self._window.append((now, result.latency_ms))
        while self._window and now - self._window[0][0] > 1.0:
            self._window.popleft()
        if now < self._stats_due:
            return
        self._stats_due = now + 0.5
        span = max(now - self._window[0][0], 1e-3) if len(self._window) > 1 else 1.0
        processed_fps = (len(self._window) - 1) / span if len(self._window) > 1 else 0.0
        dropped = self._counts["dropped"] + source.dropped
        captured = self._counts["processed"] + dropped
        capture_fps = processed_fps
        if source.live:
            capture_fps = (captured - self._captured_at_last) / 0.5 if self._captured_at_last else processed_fps
        self._captured_at_last = captured
        stages = self._window[-1][1].keys()
        # a stage that runs on some frames only (the detector) is summarised over the frames it ran on
        latency = {
            k: round(statistics.median([lat[k] for _, lat in self._window if lat.get(k, 0.0) > 0] or [0.0]), 2)
            for k in stages
        }
        self.listener.on_stats(
            SessionStats(
                capture_fps=round(capture_fps, 1),
                processed_fps=round(processed_fps, 1),
                dropped=dropped,
                latency_ms=latency,
                faces=len(result.faces),
                explainer=self._explainer_state(),
                recording=str(self._recorder.folder) if self._recorder else None,
            )
        )

    def _explainer_state(self) -> str:
        if self._pipeline is None or self._pipeline.options.explain is None:
            return "off"
        worker = self._worker
        if worker is None:
            return "failed: " + str(self._info.get("explainer_warning") or "no model")
        if worker.failed:
            return f"failed: {worker.failed}"
        if not worker.ready:
            return "loading"
        return "busy" if worker.outstanding else "ready"

    # --- recording -----------------------------------------------------------------------------------
    def _sync_recorder(self) -> None:
        if self._recorder is not None and (
            not self._record_wanted or (self._rotation and self._rotation.due(self._recorder_day))
        ):
            self._close_recorder("complete" if self._record_wanted else "recording stopped by user")
        if self._record_wanted and self._recorder is None:
            self._open_recorder()

    def _open_recorder(self) -> None:
        assert self.plan is not None
        if self._rotation is not None:
            self._rotation.prune()
        try:
            self._recorder = SessionRecorder(
                new_session_folder(self.plan.root),
                key_frames=self.plan.key_frames,
                input={"spec": self.config.source, "camera": self.config.is_camera, "loop": self.config.loop},
                devices={"video": self._source_description, "audio": self._info.get("audio", "off")},
                **{
                    k: v
                    for k, v in self._info.items()
                    if k in ("backend", "fast_path", "settings", "explainer", "fusion")
                },
            )
        except RecordingError as exc:
            self._recording_failed(exc)
            return
        self._recorder_day = self._rotation.today() if self._rotation else None
        backend = (self._info.get("backend") or {}).get("name")
        self._event({"event": "recording_started", "folder": str(self._recorder.folder), "backend": backend})

    def _close_recorder(self, status: str) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.close(status=status, last_event={"event": "recording_stopped", "status": status})
            self.last_recording = recorder.folder

    def _recording_failed(self, exc: RecordingError) -> None:
        """A full disk stops the recording with a clear line; the session and what was written stay."""
        self._record_wanted = False
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.close(status=f"failed: {exc}")
            self.last_recording = recorder.folder
        self._state(SessionPhase.RECORDING_FAILED, str(exc))
