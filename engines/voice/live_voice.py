"""LiveVoice: a microphone's ring analysed on its own thread, so frames never wait for audio."""

from __future__ import annotations

import threading

from capture.microphone import MicrophoneSource
from engines.contracts import VoiceCues
from engines.voice.vad import SileroVad
from engines.voice.voice_track import VoiceTrack


class LiveVoice:
    def __init__(self, mic: MicrophoneSource, vad: SileroVad, t0: float, every_s: float = 0.05):
        """`t0`: the capture clock's reading at the session's start, so voice and frames share a time axis."""
        self.mic = mic
        self.track = VoiceTrack(vad)
        self.t0 = t0
        self._every_s = every_s
        self._position = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emolens-voice", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            samples, self._position, t_end = self.mic.ring.read_since(self._position)
            if len(samples) and t_end is not None:
                self.track.feed(samples, t_end - self.t0)

    def cues_at(self, t: float, window_s: float = 1.0) -> VoiceCues | None:
        return self.track.cues_at(t, window_s)

    def latest_cues(self, t: float) -> VoiceCues | None:
        return self.track.latest_cues(t)

    @property
    def lost(self) -> str | None:
        """Why the voice ended, once the microphone stopped delivering."""
        return "the microphone stopped delivering" if self.mic.lost else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.mic.close()
