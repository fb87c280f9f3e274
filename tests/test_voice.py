"""Voice cues from a real capture device: PulseAudio's null sink, recorded through sounddevice."""

from __future__ import annotations

import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from engines.voice.vad import RATE

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
