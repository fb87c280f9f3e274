"""LiveSession: the pipeline on its own thread for the app and the kiosk, with what is theirs alone.

The window never runs any of this: it receives the contracts through a `SessionListener` and paints. The
session's own: reopening a live source that stops, with a back-off (`ReconnectingSource`); the status bar's
rates (`LiveRates`); recording on and off, a folder a day for the kiosk (`LiveRecording`).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date

from app.live_config import MICROPHONE_ONLY, SessionConfig, SessionListener
from app.live_rates import LiveRates
from app.live_recording import LiveRecording, RecordingPlan
from capture import CaptureError, clock, open_source
from capture.reconnecting import ReconnectingSource
from engines.contracts import FrameResult, SessionDescription, SessionPhase, SessionState
from engines.errors import EmolensError
from engines.pipeline import Pipeline, PipelineOptions

__all__ = ["LiveSession", "RecordingPlan", "SessionConfig", "SessionListener"]  # what the window builds on


class LiveSession:
    def __init__(
        self,
        config: SessionConfig,
        listener: SessionListener,
        plan: RecordingPlan | None = None,
        record: bool = False,
        today=date.today,
    ):
        self.config = config
        self.listener = listener
        self.recording = LiveRecording(plan, record, lambda: self.description.record(), self._recording_failed, today)
        self._stop = threading.Event()
        self._source: ReconnectingSource | None = None
        self._source_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="emolens-session", daemon=True)
        self.description: SessionDescription | None = None
        self._pipeline: Pipeline | None = None
        self._counts = {"processed": 0, "dropped": 0, "explanations": 0, "reconnects": 0}
        self._rates = LiveRates()
        self._t0 = 0.0
        self.error: str | None = None
        self._end_status = "complete"

    # --- control, from the window's thread ---------------------------------------------------------
    def start(self) -> LiveSession:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0, status: str = "complete") -> None:
        """`status`: what the recording says of the end (the user's Stop completes it; a signal stops it)."""
        self._end_status = status
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
        self.recording.wanted = on and self.recording.plan is not None

    @property
    def explainer_state(self) -> str:
        if self._pipeline is not None:
            return self._pipeline.explainer_state
        return "loading" if self.config.explain is not None and self.running else "off"

    def sizes(self) -> dict[str, int]:
        """Every table and queue the session holds, by name: a soak run checks that none of them grows."""
        return {"session.rates_window": len(self._rates.window), **(p.sizes() if (p := self._pipeline) else {})}

    @property
    def counts(self) -> dict:
        source = self._source
        return {**self._counts, "dropped": source.dropped if source is not None else self._counts["dropped"]}

    # --- the session's thread ----------------------------------------------------------------------
    def _state(self, phase: SessionPhase, detail: str = "", retry_in_s: float | None = None) -> None:
        self.listener.on_state(SessionState(phase, detail, retry_in_s))

    def _run(self) -> None:
        status = "complete"  # a live session's normal end is the user's Stop
        self._t0 = clock.now()
        try:
            built = self._build()
            status = self._serve() if built else (self.error or "failed")
        except Exception as exc:  # the window shows it; the thread's excepthook prints the traceback
            self.error = status = f"failed: {exc.__class__.__name__}: {exc}"
            self._state(SessionPhase.FAILED, status)
            raise
        finally:
            if self._pipeline is not None:
                self._deliver_explanations()
                self._pipeline.close(abort=self._stop.is_set())
            self.recording.close(status)
            if not status.startswith("failed"):
                self._state(SessionPhase.STOPPED if self._stop.is_set() else SessionPhase.FINISHED, status)

    def _build(self) -> bool:
        """The pipeline, its explainer started; False (state failed) when a model cannot load."""
        self._state(SessionPhase.STARTING, "loading the models")
        config = self.config
        try:
            self._pipeline = Pipeline(
                PipelineOptions(fast=config.fast, explain=config.explain, audio=config.microphone),
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
        self._pipeline.connect(self.recording.event)
        given = {"spec": config.source, "camera": config.is_camera, "loop": config.loop}
        self.description = self._pipeline.describe(given, config.source)
        if config.microphone is None and config.audio is not None and config.audio.enabled:
            self.description = self.description.with_device("audio", f"off: {MICROPHONE_ONLY}")
        self.listener.on_info(self.description)
        return True

    def _serve(self) -> str:
        config = self.config
        source = ReconnectingSource(
            lambda: open_source(config.source, paced=config.pace, loop=config.loop, camera=config.is_camera),
            endless=config.endless,
            retry_s=config.retry_s,
            on_change=self._source_changed,
        )
        with self._source_lock:
            self._source = source
        if self._stop.is_set():
            return self._end_status
        try:
            self._run_source(source)
        except CaptureError as exc:  # a file that cannot be opened: not endless, so not retried
            self.error = str(exc)
            self._state(SessionPhase.FAILED, str(exc))
            return f"failed: {exc}"
        finally:
            self._counts["dropped"] = source.dropped
            source.close()
        return self._end_status

    def _source_changed(self, what: str, detail: str, left: float | None) -> None:
        if what == "opened":
            self.description = self.description.with_device("video", detail)
            self._state(SessionPhase.RUNNING, detail)
            self.recording.sync()
            self.recording.event({"event": "source_opened", "source": detail})
        elif what == "lost":
            self._counts["reconnects"] += 1
            self.recording.event({"event": "source_lost", "reason": detail})
        else:  # waiting: the countdown, and the explanations that still arrive meanwhile
            self._state(SessionPhase.RETRYING if self._counts["processed"] else SessionPhase.WAITING, detail, left)
            self._deliver_explanations()

    def _run_source(self, source: ReconnectingSource) -> None:
        for frame in source.frames():
            if self._stop.is_set():
                break
            frame = replace(frame, t=frame.t - self._t0) if source.clock_time else frame  # since the start
            if self.recording.sync():  # a new day: the kiosk's people are the day's, nothing carries over
                self._pipeline.forget_people()
            dropped, result = source.dropped, self._pipeline.step(frame)  # the drops before this frame
            self._check_voice()
            self._counts["processed"] += 1
            self._deliver_explanations()
            self.recording.result(result, frame, dropped=dropped)
            self.listener.on_result(frame, result)
            self._tick(result, source)

    def _check_voice(self) -> None:
        if (lost := self._pipeline.audio_lost) and not self.description.audio.startswith("lost"):
            self.description = self.description.with_device("audio", f"lost: {lost}; video alone")
            self._state(SessionPhase.AUDIO_LOST, self.description.audio)
            self.listener.on_info(self.description)

    def _deliver_explanations(self) -> None:
        for item in self._pipeline.explanations():
            self._counts["explanations"] += 1
            self.recording.explanation(item)
            self.listener.on_explanation(item)

    def _tick(self, result: FrameResult, source: ReconnectingSource) -> None:
        live = bool(source.current and source.current.live)
        extra = {"explainer": self.explainer_state, "recording": str(f) if (f := self.recording.folder) else None}
        if stats := self._rates.tick(result, self._counts["processed"], source.dropped, live, **extra):
            self.listener.on_stats(stats)

    def _recording_failed(self, why: str) -> None:
        self._state(SessionPhase.RECORDING_FAILED, why)
