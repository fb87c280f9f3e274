"""Voice cues from a real capture device: PulseAudio's null sink, recorded through sounddevice."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, pulse_server, run_emolens
from scipy.signal import resample_poly

from engines.voice.vad import RATE

TALKING_CLIP = DATA / "talking_neutral.mp4"
SENTENCE = "The quick brown fox jumps over the lazy dog. Then it rests for a while."


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())


def espeak(text: str, path: Path, *args: str) -> np.ndarray:
    """A sentence spoken by espeak-ng, as float32 at 16 kHz."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/install-debian-packages.sh installs it)")
    subprocess.run(["espeak-ng", *args, "-w", str(path), text], check=True)
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    return resample_poly(data, RATE, rate).astype(np.float32)


def true_speech(samples: np.ndarray, pause_s: float = 0.1) -> list[tuple[float, float]]:
    """Where the synthetic speech really is: 10 ms frames above -45 dBFS, pauses under `pause_s` joined."""
    hop = RATE // 100
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop)
    loud = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9) > -45
    spans: list[list[float]] = []
    for i in np.flatnonzero(loud):
        t = i / 100
        if spans and t - spans[-1][1] <= pause_s:
            spans[-1][1] = t + 0.01
        else:
            spans.append([t, t + 0.01])
    return [(a, b) for a, b in spans]


def test_vad_marks_the_spoken_stretches_recorded_from_a_real_device(virtual_microphone, tmp_path):
    from capture.microphone import MicrophoneSource
    from engines.voice.vad import SileroVad
    from engines.voice.voice_track import VoiceTrack

    speech = espeak(SENTENCE, tmp_path / "espeak.wav")
    tone = (0.25 * np.sin(2 * np.pi * 440 * np.arange(int(0.6 * RATE)) / RATE)).astype(np.float32)
    gap = np.zeros(int(0.8 * RATE), np.float32)
    played = np.concatenate([gap, tone, gap, speech, gap])
    write_wav(tmp_path / "played.wav", played)

    mic = MicrophoneSource()
    try:
        time.sleep(0.3)
        virtual_microphone(tmp_path / "played.wav")
        time.sleep(0.5)
    finally:
        mic.close()
    recorded, _, _ = mic.ring.read_since(0)
    assert len(recorded) > len(played) * 0.9, "the device delivered less audio than was played"

    # where the played signal sits in the recording: the lag of the cross-correlation peak
    n = 1 << int(np.ceil(np.log2(len(recorded) + len(played))))
    corr = np.fft.irfft(np.fft.rfft(recorded, n) * np.conj(np.fft.rfft(played, n)), n)
    lag = int(np.argmax(corr[: len(recorded)])) / RATE
    track = VoiceTrack.of_samples(recorded, SileroVad())
    heard = [(a - lag, b - lag) for a, b in track.segments()]
    truth = [
        (a + len(gap) / RATE * 2 + len(tone) / RATE, b + len(gap) / RATE * 2 + len(tone) / RATE)
        for a, b in true_speech(speech)
    ]
    truth = [s for s in truth if s[1] - s[0] >= 0.1]

    # the tone is not speech; its level arrives as played (0.25 sine: -15 dBFS)
    tone_at = len(gap) / RATE + lag
    assert not any(a < tone_at + 0.6 and b > tone_at for a, b in track.segments())
    cues = track.cues_at(tone_at + 0.55, window_s=0.4)
    assert cues is not None and not cues.speech and abs(cues.loudness_db - (-15.1)) < 1.5, cues

    errors = []
    for a, b in truth:  # each true stretch is heard, and its edges within 200 ms
        match = [h for h in heard if h[0] < b and h[1] > a]
        assert match, (a, b, heard)
        errors += [abs(match[0][0] - a), abs(match[-1][1] - b)]
    print(
        f"VAD edge error over {len(truth)} spoken stretches: median {np.median(errors) * 1000:.0f} ms, "
        f"max {max(errors) * 1000:.0f} ms"
    )
    assert max(errors) <= 0.2, errors
    assert sum(b - a for a, b in heard) < 1.3 * sum(b - a for a, b in truth)  # it does not mark silence


@pytest.fixture(scope="module")
def loud_clip(tmp_path_factory) -> Path:
    """The bundled talking clip's neutral face, with espeak-ng's voice loud, high and fast over it."""
    from capture.synthetic import talking_clip

    return talking_clip(tmp_path_factory.mktemp("loud") / "loud_over_neutral.mp4", "-p", "99", "-a", "200", "-s", "190")


def fusion_events(folder: Path) -> list[dict]:
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    return [e for e in events if e["event"] == "fusion"]


def test_analyze_logs_voice_cues_and_flags_a_loud_voice_over_a_neutral_face(model_dir, loud_clip, tmp_path):
    ordinary, loud = tmp_path / "ordinary", tmp_path / "loud"
    for clip, out in ((TALKING_CLIP, ordinary), (loud_clip, loud)):
        proc = run_emolens("analyze", str(clip), "--out", str(out), "--quiet")
        assert proc.returncode == 0, proc.stderr
        assert "audio" not in proc.stderr  # the sound track is found: nothing to say
    session = json.loads((loud / "session.json").read_text())
    assert session["devices"]["audio"] == "sound track of loud_over_neutral.mp4"
    assert session["devices"]["vad"]["sha256"] and session["fusion"]["conflict_threshold"] > 0

    calm, agitated = fusion_events(ordinary), fusion_events(loud)
    assert len(calm) >= 7 and len(agitated) >= 7  # one per second of the 8 s clips
    for record in calm + agitated:
        assert record["label"] == "neutral" and record["voice"]["speech"]
        assert -60 < record["voice"]["loudness_db"] < 0 and 60 < record["voice"]["pitch_hz"] < 400
        assert record["voice"]["rate_syllables_s"] > 1
    assert not any(r["conflict"] for r in calm)  # ordinary speech over a neutral face: the calibration
    assert sum(r["conflict"] for r in agitated) >= len(agitated) - 1
    assert np.median([r["voice"]["pitch_hz"] for r in agitated]) > 1.3 * np.median(
        [r["voice"]["pitch_hz"] for r in calm]
    )
    assert all(r["voice_weight"] > 0.3 for r in agitated)  # speech with a pitch: the voice expert counts
    gates = [json.loads(x) for x in (loud / "events.jsonl").read_text().splitlines() if '"gate"' in x]
    assert any(g["trigger"] == "conflict" for g in gates)


def test_the_explainers_prompt_for_a_conflict_names_the_voice(model_dir, loud_clip):
    from capture.video_file import VideoFileSource
    from engines.pipeline import AudioOptions, Pipeline, PipelineOptions
    from engines.slow.prompt import build_prompt

    windows = []
    pipeline = Pipeline(PipelineOptions(audio=AudioOptions()), loud_clip, on_window=windows.append)
    with VideoFileSource(loud_clip) as source:
        for frame in source.frames():
            pipeline.step(frame)
    pipeline.close()
    conflicts = [e for e in windows if e.conflict]
    assert conflicts
    prompt = build_prompt(conflicts[0])
    assert "voice: speaking, loudness" in prompt and "pitch" in prompt and "face and voice disagree" in prompt


def test_with_no_microphone_the_session_runs_on_video_alone(model_dir):
    from engines.pipeline import AudioOptions
    from engines.pipeline.assembly import build_voice

    voice, info = build_voice("0", True, AudioOptions(device="no such microphone"), 0.0)
    assert voice is None and info["problem"]
    assert info["audio"].startswith("off: no audio: cannot open microphone no such microphone")


def test_without_pyav_a_file_runs_on_video_alone_and_says_why(model_dir, monkeypatch):
    import sys

    from engines.pipeline import AudioOptions
    from engines.pipeline.assembly import build_voice

    voice, info = build_voice(str(TALKING_CLIP), False, AudioOptions(), 0.0)
    assert voice is not None and info["audio"] == "sound track of talking_neutral.mp4"
    monkeypatch.setitem(sys.modules, "av", None)  # what `import av` meets where PyAV is not installed
    voice, info = build_voice(str(TALKING_CLIP), False, AudioOptions(), 0.0)
    assert voice is None and info["problem"]
    assert info["audio"] == "off: PyAV is not installed, so no sound can be read from a file: pip install av"


def test_a_microphone_that_goes_away_mid_session_is_logged_and_the_video_goes_on(model_dir, tmp_path):
    from conftest import pulse_server

    from capture import clock
    from engines.contracts import Frame
    from engines.pipeline import AudioOptions, Pipeline, PipelineOptions
    from export.session_recorder import SessionRecorder

    recorder = SessionRecorder(tmp_path / "s")
    blank = np.zeros((120, 160, 3), np.uint8)
    notices = []
    room = tmp_path / "room.wav"  # a null sink's monitor delivers while something plays: a room is never silent
    write_wav(room, np.random.default_rng(0).normal(0, 0.01, 30 * RATE).astype(np.float32))
    with pulse_server(tmp_path / "pulse") as (env, server):
        player = subprocess.Popen(["paplay", "--device=vsink", str(room)], env=env)
        t0 = clock.now()
        pipeline = Pipeline(PipelineOptions(audio=AudioOptions()), "0", camera=True, t0=t0, on_notice=notices.append)
        pipeline.connect(recorder.event)
        voice = pipeline.voice
        assert voice is not None and pipeline.info["audio"].startswith("microphone"), pipeline.info
        deadline = time.monotonic() + 5
        while voice.cues_at(clock.now() - t0) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        result = pipeline.step(Frame(clock.now() - t0, 0, blank))
        assert pipeline.voice is voice and result.voice is not None and result.latency_ms["voice"] >= 0
        server.kill()  # the sound server dies: the device is gone
        server.wait()
        player.kill()
        deadline = time.monotonic() + 5
        while not voice.lost and time.monotonic() < deadline:
            time.sleep(0.1)
        result = pipeline.step(Frame(clock.now() - t0, 1, blank))
    assert pipeline.voice is None and result.voice is None
    assert notices == [f"audio off from {result.t:.1f} s: the microphone stopped delivering; the video goes on alone"]
    pipeline.close()
    recorder.close()
    events = [json.loads(x) for x in (tmp_path / "s" / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events if e["event"].startswith("audio")] == ["audio_lost"]


def test_a_live_session_with_a_camera_hears_the_microphone_and_goes_on_when_it_goes(model_dir, tmp_path):
    """The app's and the kiosk's session: a camera (OpenCV opened on a file, as no /dev/video exists here)
    with the virtual microphone, which then disappears."""
    from app.live_session import LiveSession, RecordingPlan, SessionConfig
    from engines.pipeline import AudioOptions

    class Listener:
        def __init__(self):
            self.states, self.results, self.infos = [], [], []

        def on_state(self, state):
            self.states.append(state)

        def on_info(self, info):
            self.infos.append(info)

        def on_result(self, frame, result):
            self.results.append(result)

        def __getattr__(self, name):
            return lambda *args: None

    room = tmp_path / "room.wav"
    write_wav(room, np.tile(espeak(SENTENCE, tmp_path / "s.wav"), 4))  # someone talking in the room
    listener = Listener()
    with pulse_server(tmp_path / "pulse") as (env, server):
        player = subprocess.Popen(["paplay", "--device=vsink", str(room)], env=env)
        session = LiveSession(
            SessionConfig(str(TALKING_CLIP), camera=True, explain=None, audio=AudioOptions()),
            listener,
            RecordingPlan(tmp_path / "rec"),
            record=True,
        ).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(r.voice and r.voice.speech for r in listener.results):
            time.sleep(0.1)
        heard = [r.t for r in listener.results if r.voice and r.voice.speech]
        # a window (1 s) that holds the voice closes before the microphone goes, so the fusion has a window
        while heard and time.monotonic() < deadline and listener.results[-1].t < heard[0] + 2.5:
            time.sleep(0.1)
        server.kill()
        server.wait()
        player.kill()
        while time.monotonic() < deadline and not any(s.phase == "audio_lost" for s in listener.states):
            time.sleep(0.1)
        before = len(listener.results)
        while time.monotonic() < deadline and len(listener.results) < before + 20:
            time.sleep(0.1)
        session.stop()
    assert listener.infos[0].audio.startswith("microphone") and heard
    assert listener.infos[-1].audio.startswith("lost")
    lost = [s for s in listener.states if s.phase == "audio_lost"]
    assert lost and "video alone" in lost[0].detail
    assert len(listener.results) >= before + 20 and session.error is None  # the video went on
    assert listener.results[-1].voice is None
    (folder,) = (tmp_path / "rec").iterdir()
    events = [json.loads(x)["event"] for x in (folder / "events.jsonl").read_text().splitlines()]
    assert "audio_lost" in events, events
    assert "fusion" in events, events
