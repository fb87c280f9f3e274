"""Pipeline: the one chain from a frame to its results and explanations, for every way in.

`analyze`, the window and the kiosk (through `LiveSession`), the training data
builder and the benches all build this object from `PipelineOptions` and call
`step(frame)`; what differs between them (a progress bar, retries, daily
folders) wraps it and never re-wires it. Inside: the fast path, the voice
(a file's sound track in step with its frames, or a microphone), face/voice
fusion, and the slow path with its explainer process.

Events (gate decisions, fusion, the explainer's state, a lost sound track) are
handed to one sink on the caller's thread, so a session folder has one writer.
Until a sink is connected they wait, so nothing said while the models load is lost.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from engines.contracts import Evidence, Explained, ExplanationSource, Frame, FrameResult, SessionDescription
from engines.fast.pipeline import FastPath
from engines.fusion import FaceVoiceFusion, fusion_record
from engines.pipeline.assembly import build_fast_path, build_slow_path, build_voice
from engines.pipeline.heap_release import HeapRelease
from engines.pipeline.options import PipelineOptions
from engines.slow.gate import decision_record
from engines.slow.pipeline import SlowPath
from engines.voice.voice_track import with_voice_cues

EventSink = Callable[[dict], None]
EVENTS_WAITING = 4096  # held for a sink not yet connected (a pipeline nobody logs keeps only the newest)


def _ignore(*_args) -> None:
    return None


class Pipeline:
    def __init__(
        self,
        options: PipelineOptions,
        spec: str,
        camera: bool = False,
        keep_all: bool = True,
        t0: float = 0.0,
        on_notice: Callable[[str], None] | None = None,
        on_token: Callable[[Evidence, str], None] | None = None,
        progress: Callable[[str], None] | None = None,
        on_window: Callable[[Evidence], None] | None = None,
        fast_path: tuple[FastPath, dict] | None = None,
    ):
        """`spec`: the input as the user gave it (its sound track is the voice of a file); `camera`: the voice is
        the microphone; `keep_all`: explain every window the gate picks (a file) rather than the newest (live);
        `t0`: the capture clock at the session's start, for a microphone's time axis; `on_notice`: one line a
        user should read (audio off, audio lost, the base explainer standing in); `on_window`: every closed
        evidence window, fused with the voice, as the gate saw it (the training data builder's input);
        `fast_path`: one already built (`build_fast_path`) with the same options, its models warm (a batch worker
        runs many inputs on one), reset here and left open by `close`."""
        self.options = options
        self._offline = keep_all
        self._reid_lost = False
        self._notice = on_notice or _ignore
        self._events: deque[dict] = deque(maxlen=EVENTS_WAITING)
        self._sink: EventSink | None = None
        self._sink_thread: threading.Thread | None = None
        self.voice = None
        self.audio_lost: str | None = None
        self.slow: SlowPath | None = None
        self.explainer_warning: str | None = None
        self.frames = self.frames_with_faces = self.tracks = 0
        self._input_ended = False
        self._newest_track = 0
        self.explained = {source: 0 for source in ExplanationSource}
        self._heap = HeapRelease()  # a kiosk runs for weeks: freed pages go back to the system once a minute
        self._owns_fast = fast_path is None
        if fast_path is None:
            fast_path = build_fast_path(options.fast, progress=progress or _ignore)
        else:
            fast_path[0].reset()
        self.fast, fast_info = fast_path
        self.info: dict = dict(fast_info)
        try:  # what was started (a microphone, the explainer's process) is ended if a later stage fails
            fusion = self._open_voice(spec, camera, t0)
            self._build_slow_path(fusion, keep_all, on_token, on_window)
            if self.slow is not None:
                self.slow.people_return = self.fast.identity is not None
        except BaseException:
            self.close(abort=True)
            raise
        if self.voice is None:
            self._emit({"event": "audio_unavailable", "reason": self.info["audio"]})
        if keep_all and self.fast.describer is not None:  # a file waits for no one: its first faces are
            self.fast.describer.wait_ready(60.0)  # described from its first frame, not after a second of it

    def _open_voice(self, spec: str, camera: bool, t0: float) -> FaceVoiceFusion | None:
        """The voice input and, with one, the face/voice fusion."""
        audio = self.options.audio
        if audio is None:
            self.info["audio"] = "off"
            return None
        self.voice, voice_info = build_voice(spec, camera, audio, t0, self.options.fast.model_dir)
        if voice_info.pop("problem", False):
            self._notice(f"audio {voice_info['audio']}; analysing the video alone")
        self.info.update(voice_info)
        if self.voice is None:
            return None
        fusion = FaceVoiceFusion(audio.fusion)
        self.info["fusion"] = fusion.settings.as_dict()
        return fusion

    def _build_slow_path(self, fusion, keep_all: bool, on_token, on_window) -> None:
        """The gate and the explainer; without an explainer, windows are still built when the fused state is
        logged or `on_window` asks for them."""
        on_fusion = (lambda state, cues: self._emit(fusion_record(state, cues))) if fusion else None

        def on_decision(decision, evidence: Evidence) -> None:
            self._emit(decision_record(decision, evidence))
            if on_window is not None:
                on_window(evidence)

        explain = self.options.explain
        if explain is not None:
            self.slow, self.info["explainer"], self.explainer_warning = build_slow_path(
                explain,
                self.options.fast.threads,
                keep_all=keep_all,
                on_event=self._emit,
                on_decision=on_decision,
                model_dir=self.options.fast.model_dir,
                on_token=on_token,
                fusion=fusion,
                on_fusion=on_fusion,
            )
            if self.explainer_warning:
                self._notice(f"warning: {self.explainer_warning}")
        elif fusion is not None or on_window is not None:
            self.slow = SlowPath(None, on_decision=on_decision, fusion=fusion, on_fusion=on_fusion)

    # --- events ----------------------------------------------------------------------------------
    def connect(self, sink: EventSink | None) -> None:
        """Where events go from now on (None: held until the next sink); held ones are handed over first.
        Called on the thread that calls `step`, which is the thread the sink is called on."""
        self._sink = sink
        self._sink_thread = threading.current_thread()
        self.pump()

    def _emit(self, record: dict) -> None:
        self._events.append(record)  # any thread; handed over by `pump` on the caller's
        if threading.current_thread() is self._sink_thread:
            self.pump()

    def pump(self) -> None:
        """Hands the waiting events to the sink; an error the sink raises (a full disk) reaches the caller."""
        while self._sink is not None and self._events:
            self._sink(self._events.popleft())

    # --- frames ----------------------------------------------------------------------------------
    def step(self, frame: Frame) -> FrameResult:
        """One frame through the fast path, the voice of the second before it, and the gate."""
        result = self.fast.process(frame)
        self._emit_identities()
        if self.voice is not None:
            result = with_voice_cues(result, self.voice)
            if self.voice.lost:  # the cues of a voice that is gone are not this frame's
                result = replace(result, voice=None)
                self._lose_voice(self.voice.lost, frame.t)
        if self.slow is not None:
            self.slow.observe(result)
        self.frames += 1
        self.frames_with_faces += bool(result.faces)
        for face in result.faces:  # the tracker numbers faces upwards: a number above the newest is a new face
            if face.track_id > self._newest_track:
                self._newest_track = face.track_id
                self.tracks += 1
        self.pump()
        self._heap.tick()
        return result

    def _emit_identities(self) -> None:
        identity = self.fast.identity
        if identity is None:
            return
        for decision in identity.take_decisions():
            self._emit(decision.record())
        if identity.blind is not None and not self._reid_lost:
            self._reid_lost = True
            self.info["fast_path"]["re_identification"]["lost"] = identity.blind
            self._emit({"event": "reid_lost", "reason": identity.blind})
            self._notice(f"re-identification off from here: {identity.blind}; each new face is someone new")

    def forget_people(self) -> None:
        """Who was seen is forgotten (descriptors dropped); faces in view become new people. A kiosk's new day."""
        self.fast.forget_people()

    def reset(self) -> None:
        """Forget every face, as at the start of a new input; the models and the explainer stay."""
        self.fast.reset()
        if self.slow is not None:
            self.slow.reset()
        self._newest_track = 0
        self._input_ended = False

    def _lose_voice(self, why: str, t: float) -> None:
        self.voice.close()
        self.voice = None
        self.audio_lost = f"off from {t:.1f} s: {why}"
        self.info["audio"] = f"lost at {t:.1f} s: {why}; the video went on alone"
        self._emit({"event": "audio_lost", "t": round(t, 3), "reason": why})
        self._notice(f"audio {self.audio_lost}; the video goes on alone")

    def explanations(self) -> list[Explained]:
        """The explanations finished since the last call, each with its evidence."""
        items = self.slow.take() if self.slow is not None else []
        self._count(items)
        self.pump()
        return items

    def end_of_input(self) -> None:
        """Closes and decides the windows still open: after it, `outstanding` is all the explainer owes."""
        if self._input_ended:
            return
        self._input_ended = True
        if self._offline:
            self.fast.settle(timeout_s=10.0)
            self._emit_identities()
        if self.slow is not None:
            self.slow.finish()
            self.pump()

    def finish(
        self, timeout: float | None = None, say: Callable[[str], None] | None = None, count: bool = True
    ) -> list[Explained]:
        """The end of the input (`end_of_input`), then up to `timeout` seconds for the explainer to answer what
        was asked. `say` is told what is owed, each answer as it comes (unless `count` is off: --quiet), and
        what the limit left unexplained (also an `explainer_drain_limit` event)."""
        self.end_of_input()
        if self.slow is None:
            self.pump()
            return []
        tell = say or _ignore
        asked = last = self.outstanding
        if asked:
            limit = f" (up to {timeout:.0f} s; Ctrl-C stops and keeps the rest)" if timeout else ""
            tell(f"explaining {asked} window(s) the gate chose{limit}")

        def waiting(left: int) -> None:
            nonlocal last
            self.pump()
            if left != last:
                last = left
                if count:
                    tell(f"{asked - left} of {asked} explained")

        items = self.slow.drain(timeout, waiting)
        waiting(self.outstanding)
        self._count(items)
        if left := self.outstanding:
            tell(f"{left} window(s) left unexplained after the {timeout:.0f} s limit")
            self._emit({"event": "explainer_drain_limit", "limit_s": timeout, "unexplained": left})
        self.pump()
        return items

    def _count(self, items: list[Explained]) -> None:
        for item in items:
            self.explained[ExplanationSource(item.explanation.source)] += 1

    @property
    def explainer_state(self) -> str:
        """off | loading | ready | busy | failed: why, for a status bar."""
        if self.options.explain is None:
            return "off"
        worker = self.slow.worker if self.slow else None
        if worker is None:
            return f"failed: {self.explainer_warning or 'no model'}"
        if worker.failed:
            return f"failed: {worker.failed}"
        if not worker.ready:
            return "loading"
        return "busy" if worker.outstanding else "ready"

    @property
    def outstanding(self) -> int:
        """Windows asked of the explainer and not answered yet."""
        worker = self.slow.worker if self.slow else None
        return worker.outstanding if worker else 0

    def summary(self) -> dict:
        """The counts session.json keeps: frames, faces, and what the gate and the explainer did."""
        identity = self.fast.identity
        people = identity.people if identity is not None else self.tracks
        out = {"frames_with_faces": self.frames_with_faces, "tracks": self.tracks, "people": people}
        if self.slow is not None and self.options.explain is not None:
            worker = self.slow.worker
            written = sum(self.explained.values())
            out["explainer"] = {
                "windows": self.slow.windows,
                "invoked": self.slow.invoked,
                "invocation_ratio": round(self.slow.invoked / self.slow.windows, 3) if self.slow.windows else 0.0,
                "explanations": written,
                "from_model": self.explained[ExplanationSource.LLM],
                "from_template": self.explained[ExplanationSource.TEMPLATE],
                "replaced_before_start": worker.replaced if worker else 0,
                "not_answered": (self.slow.invoked - written) if worker else self.slow.invoked,
                "restarts": worker.restarts if worker else 0,
            }
        return out

    def describe(self, input: dict, video: str) -> SessionDescription:
        """What this pipeline runs on, for the window and session.json (`video`: the source as opened)."""
        info = self.info
        return SessionDescription(
            input=input,
            devices={"video": video, **{k: info[k] for k in ("audio", "vad") if k in info}},
            backend=info["backend"],
            fast_path=info["fast_path"],
            settings=info["settings"],
            explainer=info.get("explainer"),
            fusion=info.get("fusion"),
            explainer_warning=self.explainer_warning,
        )

    def sizes(self) -> dict[str, int]:
        """How many entries each table and queue holds: a soak run checks that none of them grows."""
        out = {
            "events_waiting": len(self._events),
            "fast.tracks": len(self.fast.tracker.tracks),
            "fast.smoother": self.fast.smoother.size,
        }
        if self.fast.identity is not None:
            out["fast.identity_tracks"] = self.fast.identity.tracks
            out.update({f"fast.describer_{k}": v for k, v in self.fast.describer.sizes().items()})
        if self.slow is not None:
            out.update(self.slow.sizes())
        if self.voice is not None:
            out["voice.chunks"] = self.voice.track.size
        return out

    def close(self, abort: bool = False) -> None:
        """Ends the explainer process and the voice; `abort`: the explainer is killed at once, not asked to
        finish the answer it is writing (a stop by a signal)."""
        if self.slow is not None and self.slow.worker is not None:
            self.slow.worker.close(abort=abort)
        if self._owns_fast:
            self.fast.close()
        if self.voice is not None:
            self.voice.close()
            self.voice = None
        self.pump()
