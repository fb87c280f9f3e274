"""VoiceTrack: voice activity, loudness and pitch per 32 ms chunk, and voice cues for any window of time.

Audio is analysed apart from the frames (a file's whole track at once, a
microphone's ring on its own thread), so the fast path only asks for the cues
of the second before a frame: a lookup, not an analysis.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections import deque
from dataclasses import replace
from itertools import islice

import numpy as np

from engines.contracts import FrameResult, VoiceCues
from engines.summary_stats import robust_spread
from engines.voice.prosody import loudness_db, pitch_hz
from engines.voice.vad import CHUNK, RATE, SileroVad

CHUNK_S = CHUNK / RATE


class VoiceTrack:
    def __init__(self, vad: SileroVad, keep_s: float = 60.0, speech_threshold: float = 0.5, window_s: float = 1.0):
        self.vad = vad
        self.speech_threshold = speech_threshold
        self.window_s = window_s
        keep = int(keep_s / CHUNK_S)
        self._cue_t: deque[float] = deque(maxlen=keep)  # a chunk's end, and the cues of the window up to it
        self._cues: deque[VoiceCues] = deque(maxlen=keep)
        self._t = deque(maxlen=keep)  # each chunk's end, on the session clock
        self._prob = deque(maxlen=keep)
        self._db = deque(maxlen=keep)
        self._pitch = deque(maxlen=keep)  # NaN where unvoiced
        self._rest = np.zeros(0, np.float32)
        self._lock = threading.Lock()

    @classmethod
    def of_samples(cls, samples: np.ndarray, vad: SileroVad, start_s: float = 0.0) -> VoiceTrack:
        """A whole recording (a file's track), sample 0 at `start_s`."""
        track = cls(vad, keep_s=len(samples) / RATE + 1.0)
        track.feed(samples, start_s + len(samples) / RATE)
        return track

    def feed(self, samples: np.ndarray, t_end: float) -> None:
        """New audio that ended at `t_end`; complete chunks are analysed, the remainder waits for more."""
        data = np.concatenate([self._rest, samples])
        whole = len(data) // CHUNK * CHUNK
        t_first_end = t_end - (len(data) - CHUNK) / RATE
        for i, start in enumerate(range(0, whole, CHUNK)):
            chunk = data[start : start + CHUNK]
            prob = self.vad(chunk)
            pitch = pitch_hz(chunk, RATE) if prob >= self.speech_threshold else None
            end = t_first_end + i * CHUNK_S
            with self._lock:
                self._t.append(end)
                self._prob.append(prob)
                self._db.append(loudness_db(chunk))
                self._pitch.append(np.nan if pitch is None else pitch)
            cues = self._cues_of(*self._tail(self.window_s), self.window_s)
            with self._lock:
                self._cue_t.append(end)
                self._cues.append(cues)
        self._rest = data[whole:]

    def _tail(self, window_s: float):
        """The last `window_s` of chunks, as arrays (prob, loudness, pitch)."""
        n = int(round(window_s / CHUNK_S))
        with self._lock:
            start = max(0, len(self._t) - n)
            return tuple(np.fromiter(islice(d, start, None), float) for d in (self._prob, self._db, self._pitch))

    @property
    def size(self) -> int:
        return len(self._t)

    def latest_cues(self, t: float) -> VoiceCues | None:
        """The cues of the `window_s` up to the last chunk that ended by `t`: computed as the audio came, so
        a frame only looks them up."""
        with self._lock:
            i = bisect_right(self._cue_t, t) - 1
            if i < 0 or t - self._cue_t[i] > 0.25:
                return None  # no audio near this moment (not yet, or not any more; a live ring lags ~0.1 s)
            return self._cues[i]

    def _window(self, t0: float, t1: float):
        with self._lock:
            t = np.fromiter(self._t, float, len(self._t))
            keep = (t > t0) & (t <= t1)
            if not keep.any():
                return None
            arrays = (np.fromiter(d, float, len(d))[keep] for d in (self._prob, self._db, self._pitch))
            return t[keep], *arrays

    def cues_at(self, t: float, window_s: float = 1.0) -> VoiceCues | None:
        """The voice over the `window_s` seconds up to `t`; None when no audio covers them yet."""
        window = self._window(t - window_s, t)
        if window is None:
            return None
        _times, prob, db, pitch = window
        return self._cues_of(prob, db, pitch, window_s)

    def _cues_of(self, prob: np.ndarray, db: np.ndarray, pitch: np.ndarray, window_s: float) -> VoiceCues:
        speech = prob >= self.speech_threshold
        spoken = speech.sum() * CHUNK_S
        levels = db[speech] if speech.any() else db
        loud = float(10 * np.log10(np.mean(np.power(10.0, levels / 10.0))))
        voiced = pitch[speech & ~np.isnan(pitch)]
        return VoiceCues(
            speech=bool(spoken >= 0.2 * window_s),
            loudness_db=round(loud, 1),
            pitch_hz=round(float(np.median(voiced)), 1) if len(voiced) >= 3 else None,
            pitch_var=round(robust_spread(voiced), 1) if len(voiced) >= 3 else None,
            rate=round(float(syllable_peaks(db, speech) / spoken), 2) if spoken >= 0.3 else None,
        )

    def segments(self, on: float = 0.5, off: float = 0.35, min_silence_s: float = 0.1) -> list[tuple[float, float]]:
        """Spoken stretches as (start, end) seconds, with silero's own hysteresis and minimum pause."""
        with self._lock:
            t = list(self._t)
            prob = list(self._prob)
        segments: list[list[float]] = []
        speaking, quiet_since = False, None
        for end, p in zip(t, prob, strict=True):
            start = end - CHUNK_S
            if p >= on:
                quiet_since = None
                if not speaking:
                    speaking = True
                    segments.append([start, end])
                segments[-1][1] = end
            elif speaking and p < off:
                quiet_since = quiet_since if quiet_since is not None else start
                if end - quiet_since >= min_silence_s:
                    speaking = False
        return [(a, b) for a, b in segments]


def syllable_peaks(db: np.ndarray, speech: np.ndarray, prominence_db: float = 3.0, min_gap: int = 3) -> int:
    """Syllable nuclei: loudness peaks within speech that stand out from their surroundings, at least
    `min_gap` chunks (about 100 ms) apart. A count, for a rate in syllables per second."""
    peaks, last = 0, -min_gap
    for i in range(1, len(db) - 1):
        if not speech[i] or db[i] < db[i - 1] or db[i] < db[i + 1]:
            continue
        around = db[max(0, i - 4) : i + 5]
        if db[i] - around.min() >= prominence_db and i - last >= min_gap:
            peaks += 1
            last = i
    return peaks


def with_voice_cues(result: FrameResult, voice) -> FrameResult:
    """The frame's result with the voice of the second before it; the lookup's cost is the fast path's `voice` ms."""
    start = time.perf_counter()
    cues = voice.latest_cues(result.t)
    ms = (time.perf_counter() - start) * 1000
    latency = {**result.latency_ms, "voice": ms, "total": result.latency_ms.get("total", 0.0) + ms}
    return replace(result, voice=cues, latency_ms=latency)
