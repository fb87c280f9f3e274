"""`emolens analyze`: run the fast path headless over a file, an image or a camera, and write the session folder.

The folder is the one the app's Record button writes (`SessionRecorder`): a
killed run leaves it readable, a full disk stops the run with what was written
kept. With an explainer, the gate's decisions go to events.jsonl and the
explanations to explanations.jsonl. On a file every gated window is explained
(the explainer catches up after the last frame); on a camera, or a file played
in real time, the newest request wins, as in the app.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from app.assembly import AudioOptions, ExplainOptions, FastPathOptions, build_fast_path, build_slow_path, build_voice
from capture import FrameSource, clock, open_source
from capture.camera import CameraSource
from capture.playback import FilePlayback
from engines.contracts import FrameResult
from engines.errors import EmolensError
from engines.fusion import FaceVoiceFusion, FusionSettings, fusion_record
from engines.slow.pipeline import SlowPath
from engines.voice.voice_track import with_voice_cues
from export.explanation_records import decision_record
from export.key_frames import KeyFrameOptions
from export.session_recorder import RecordingError, SessionRecorder


class NoFaceFound(EmolensError):
    """The whole input was processed and no face appeared in it."""


def say(line: str) -> None:
    print(line, file=sys.stderr)


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
)


def prepare_out_dir(out_dir: Path, replace_session: bool) -> None:
    """A session folder is never overwritten by accident; `replace_session` replaces an earlier emolens session
    there, and only its files (a folder holding anything else is refused)."""
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return
    if not replace_session:
        raise EmolensError(f"{out_dir} already holds a session; give a new folder with --out, or add --replace")
    others = [p.name for p in out_dir.iterdir() if p.name not in SESSION_FILES and p.name != "keyframes"]
    if others or not (out_dir / "session.json").exists():
        raise EmolensError(
            f"{out_dir} holds files emolens did not write ({', '.join(sorted(others)[:3])}); not replacing"
        )
    for name in SESSION_FILES:
        (out_dir / name).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "keyframes", ignore_errors=True)


def with_voice(result: FrameResult, voice, recorder: SessionRecorder):
    """The frame's result with the voice of the second before it; a microphone that went away is logged
    once and the session goes on with the video alone (returns None for the voice from then on)."""
    if getattr(voice, "lost", False):
        say("emolens: the microphone stopped delivering; going on with the video alone")
        recorder.event({"event": "audio_lost", "reason": "the microphone stopped delivering"})
        voice.close()
        return result, None
    return with_voice_cues(result, voice), voice


def analyze(
    spec: str,
    out_dir: Path,
    options: FastPathOptions,
    max_frames: int | None = None,
    show_progress: bool = True,
    explain: ExplainOptions | None = None,
    realtime: bool = False,
    key_frames: KeyFrameOptions | None = None,
    replace_session: bool = False,
    audio: AudioOptions | None = None,
) -> dict:
    source = open_input(spec, realtime)
    with source:
        prepare_out_dir(out_dir, replace_session)
        fast_path, info = build_fast_path(options, progress=say)
        t0 = clock.now()
        voice, voice_info = (
            (None, {"audio": "off"})
            if source.frame_count == 1
            else build_voice(spec, isinstance(source, CameraSource), audio or AudioOptions(), t0)
        )
        if voice_info.pop("problem", False):  # said once: a camera without a microphone, a missing model
            say(f"emolens: audio {voice_info['audio']}; analysing the video alone")
        try:
            recorder = SessionRecorder(
                out_dir,
                key_frames=key_frames,
                input={"spec": spec, "description": source.description, "fps": source.fps, "live": source.live},
                devices={"video": source.description, **voice_info},
                **info,
            )
        except RecordingError as exc:
            raise EmolensError(str(exc)) from exc
        recorder.event({"event": "session_started", "input": spec, "backend": info["backend"]["name"]})
        fusion = on_fusion = None
        if voice is not None:
            settings = FusionSettings.load(audio.fusion) if audio and audio.fusion else FusionSettings()
            fusion = FaceVoiceFusion(settings)
            on_fusion = lambda state, cues: recorder.event(fusion_record(state, cues))  # noqa: E731
            recorder.session.update(fusion=settings.as_dict())
        slow = None
        if explain is not None:
            slow, slow_info, warning = build_slow_path(
                explain,
                options.threads,
                keep_all=not source.live,
                on_event=recorder.event,
                on_decision=lambda d, e: recorder.event(decision_record(d, e)),
                model_dir=options.model_dir,
                fusion=fusion,
                on_fusion=on_fusion,
            )
            if warning:
                say(f"emolens: warning: {warning}")
            recorder.session.update(explainer=slow_info)
        elif fusion is not None:  # no explainer: windows are still built, for the fused state per person
            slow = SlowPath(
                None, on_decision=lambda d, e: recorder.event(decision_record(d, e)), fusion=fusion, on_fusion=on_fusion
            )
        if voice is None:
            recorder.event({"event": "audio_unavailable", "reason": voice_info["audio"]})
        processed = frames_with_faces = 0
        tracks: set[int] = set()
        explained: list = []
        total = source.frame_count if max_frames is None else min(source.frame_count or max_frames, max_frames)
        status = "complete"
        origin = source.started if isinstance(source, FilePlayback) else t0
        # A bar on a terminal only: in a pipe or a log it is noise, and one frame needs none.
        bar_on = show_progress and sys.stderr.isatty() and total != 1
        bar = tqdm(total=total, unit="frame", desc="analyze", disable=not bar_on, file=sys.stderr, dynamic_ncols=True)

        def record(items) -> None:
            for item in items:
                explained.append(item.explanation)
                recorder.explanation(item.explanation, item.evidence)

        try:
            for frame in source.frames():
                if source.live:
                    frame = replace(frame, t=frame.t - origin)  # a camera: since the start; a file: media time
                result = fast_path.process(frame)
                if voice is not None:
                    result, voice = with_voice(result, voice, recorder)
                recorder.result(result, frame, dropped=source.dropped)
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
        except RecordingError as exc:  # a full disk: the folder keeps what was written, the run stops
            status = f"failed: {exc}"
            raise EmolensError(str(exc)) from exc
        except EmolensError as exc:  # e.g. a camera that stops delivering: keep what was written, say why
            status = f"failed: {exc}"
            raise
        finally:
            bar.close()
            if voice is not None and hasattr(voice, "close"):
                voice.close()
            if slow is not None:
                slow.finish()
                if slow.worker is not None:
                    if slow.worker.outstanding:
                        say(f"explaining {slow.worker.outstanding} window(s) the gate chose...")
                    with contextlib.suppress(RecordingError):
                        record(slow.drain(timeout=None if status == "complete" else 5.0))
                    slow.worker.close()
            summary = {"frames_with_faces": frames_with_faces, "tracks": len(tracks)}
            if slow is not None and explain is not None:
                summary["explainer"] = {
                    "windows": slow.windows,
                    "invoked": slow.invoked,
                    "invocation_ratio": round(slow.invoked / slow.windows, 3) if slow.windows else 0.0,
                    "explanations": len(explained),
                    "from_model": sum(x.source == "llm" for x in explained),
                    "from_template": sum(x.source == "template" for x in explained),
                    "restarts": slow.worker.restarts if slow.worker else 0,
                }
            recorder.close(status=status, last_event={"event": "session_stopped", "status": status}, **summary)
            summary.update(recorder.counts())
    if recorder.failed:
        raise EmolensError(recorder.failed)
    if processed and frames_with_faces == 0:
        raise NoFaceFound(
            f"no face found in {spec} ({processed} frame{'s' * (processed != 1)}); "
            f"wrote {out_dir / 'frames.csv'} with no rows"
        )
    return {
        **summary,
        "frames_csv": str(out_dir / "frames.csv"),
        "session_json": str(out_dir / "session.json"),
        "report": str(out_dir / "report.html"),
    }
