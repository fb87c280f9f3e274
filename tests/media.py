"""Media the tests make with PyAV from the bundled clips: a damaged sound track, variable frame rate, a long file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def clip_frames(path: Path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def write_avi_with_ac3(path: Path, frames: list[np.ndarray], fps: int = 25, rate: int = 48000) -> None:
    """MPEG-4 video and AC-3 sound (a tone that rises and falls, as a voice would) in an AVI."""
    with av.open(str(path), "w", format="avi") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("ac3", rate=rate)
        audio.layout = "stereo"
        seconds = len(frames) / fps
        t = np.arange(int(seconds * rate)) / rate
        tone = (0.3 * np.sin(2 * np.pi * (150 + 40 * np.sin(2 * np.pi * 0.5 * t)) * t)).astype(np.float32)
        for image in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        block = 1536
        for i in range(0, len(tone) - block, block):
            samples = np.stack([tone[i : i + block]] * 2)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = rate, i
            for packet in audio.encode(frame):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)


def damage_audio_packet(path: Path, at_s: float) -> float:
    """Overwrites the start (the sync word and header) of the first audio packet at or after `at_s` with garbage,
    as a bad sector or a broken copy would; returns that packet's time. The video packets are untouched."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            if packet.pts is not None and packet.pts * packet.time_base >= at_s and packet.pos and packet.size > 64:
                pos, when = packet.pos, float(packet.pts * packet.time_base)
                break
        else:
            raise AssertionError("no audio packet to damage")
    data = bytearray(path.read_bytes())
    chunk_header = 8  # an AVI chunk: fourcc and size, then the packet's bytes
    start = pos + chunk_header if data[pos : pos + 2] in (b"01", b"00") else pos
    data[start : start + 48] = b"\xff" * 48
    path.write_bytes(bytes(data))
    return when


def write_vfr_mp4(path: Path, frames: list[np.ndarray], times_s: list[float]) -> None:
    """H.264 in MP4 whose frames sit at `times_s` (irregular gaps): a variable-frame-rate file."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.time_base = Fraction(1, 1000)
        video.codec_context.time_base = Fraction(1, 1000)
        for image, t in zip(frames, times_s, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)


def loop_file(source: Path, path: Path, seconds: float) -> None:
    """`source` repeated, packets copied (no re-encoding), until `seconds` of it: a long recording made fast."""
    with av.open(str(source)) as src:
        ends, starts = [], []
        for packet in src.demux():
            if packet.dts is not None:
                starts.append(float(packet.dts * packet.time_base))
                ends.append(float((packet.dts + (packet.duration or 0)) * packet.time_base))
    span = max(ends) - min(starts) + 0.05  # one pass, and a short gap so every stream's times keep rising
    with av.open(str(path), "w", format="mp4") as out:
        streams = {}
        offset = 0.0
        while offset < seconds:
            with av.open(str(source)) as src:
                if not streams:
                    for s in src.streams:
                        if s.type in ("video", "audio"):
                            streams[s.index] = out.add_stream_from_template(s)
                for packet in src.demux():
                    if packet.dts is None or packet.stream.index not in streams:
                        continue
                    shift = int(round(offset / packet.time_base))
                    packet.pts = None if packet.pts is None else packet.pts + shift
                    packet.dts += shift
                    packet.stream = streams[packet.stream.index]
                    out.mux(packet)
            offset += span
