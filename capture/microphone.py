"""MicrophoneSource: a PortAudio input (sounddevice) into an AudioRing, on the frames' clock.

With no input device it raises `AudioUnavailable` once, with the reason; the
session then runs video-only. A device that disappears mid-session shows up as
`lost` (the stream stops delivering), which the session logs and carries on.
"""

from __future__ import annotations

import contextlib

import numpy as np

from capture import clock
from capture.audio_ring import AudioRing
from capture.source import CaptureError

RATE = 16000  # what the voice-activity model takes
BLOCK = 512  # 32 ms


def refresh_portaudio(sounddevice) -> None:
    """PortAudio lists devices once, when it starts: a microphone plugged in (or a sound server started) after
    that is invisible until it starts again. Restarting would end open streams, so it waits until none is."""
    if MicrophoneSource.open_streams:
        return
    with contextlib.suppress(Exception):
        sounddevice._terminate()
        sounddevice._initialize()


class AudioUnavailable(CaptureError):
    """No microphone can be opened; the session runs on video alone."""


class MicrophoneSource:
    open_streams = 0  # across the process: PortAudio is restarted (see refresh_portaudio) only when none is

    def __init__(self, device: str | int | None = None, ring_seconds: float = 10.0):
        try:
            import sounddevice
        except (ImportError, OSError) as exc:
            why = f"no audio: sounddevice cannot load PortAudio ({exc}); install Debian's libportaudio2"
            raise AudioUnavailable(why) from exc
        refresh_portaudio(sounddevice)
        self._open = False
        self.ring = AudioRing(RATE, ring_seconds)
        self._opened = clock.now()
        self._last_block: float | None = None
        try:
            self._stream = sounddevice.InputStream(
                samplerate=RATE,
                channels=1,
                dtype="float32",
                blocksize=BLOCK,
                device=device,
                callback=self._on_block,
            )
            self._stream.start()
            self._open = True
            MicrophoneSource.open_streams += 1
        except Exception as exc:  # noqa: BLE001 - PortAudio's own error types
            raise AudioUnavailable(f"no audio: cannot open microphone {device or '(default)'}: {exc}") from exc
        self.description = f"microphone {device or '(default)'} at {RATE} Hz"

    def _on_block(self, block: np.ndarray, frames: int, time_info, status) -> None:
        now = clock.now()
        self._last_block = now
        self.ring.write(block[:, 0].copy(), now)

    @property
    def lost(self) -> bool:
        """True when the device has stopped delivering (unplugged, or its server went away). A stream takes a
        moment to deliver its first block (about a second through PulseAudio), so that gets longer."""
        if not self._stream.active:
            return True
        if self._last_block is None:
            return clock.now() - self._opened > 3.0
        return clock.now() - self._last_block > 1.0

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        MicrophoneSource.open_streams -= 1
        with contextlib.suppress(Exception):  # a device already gone cannot be closed twice
            self._stream.abort()
            self._stream.close()
