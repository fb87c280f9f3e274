"""FileVoice: a file's sound track analysed in step with its frames, on media time.

Each frame asks for the voice of the second before it; the track is decoded
and analysed only up to that moment, so a long file starts at once and holds a
minute of analysis, not the hour. A damaged track ends the voice from that
point (`lost` says why); the frames go on without it.
"""

from __future__ import annotations

from pathlib import Path

from capture.audio_file import AudioTrackReader
from capture.source import CaptureError
from engines.contracts import VoiceCues
from engines.voice.vad import SileroVad
from engines.voice.voice_track import VoiceTrack


class FileVoice:
    def __init__(self, path: str | Path, vad: SileroVad):
        self.reader = AudioTrackReader(path)
        self.track = VoiceTrack(vad)
        self.lost: str | None = None

    def latest_cues(self, t: float) -> VoiceCues | None:
        if self.lost is None and not self.reader.ended and self.reader.position_s < t:
            try:
                samples = self.reader.read_until(t)
            except CaptureError as exc:
                self.lost = str(exc)
                return None
            if len(samples):
                self.track.feed(samples, self.reader.position_s)
        return self.track.latest_cues(t)

    def close(self) -> None:
        self.reader.close()
