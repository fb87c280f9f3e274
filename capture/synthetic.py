"""Synthetic clips: smooth pans and zooms over a still photo.

No emotion-labelled video exists in any package, so the project makes its own
real-face clips from photos that packages ship (insightface's group photo and
portrait, scikit-image's astronaut). `python -m capture.synthetic` writes the
bundled samples under tests/data.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from capture.source import CaptureError, FrameSource
from engines.contracts import Frame


@dataclass(frozen=True)
class View:
    """A window onto the photo: centre (cx, cy) as fractions of width/height, and zoom."""

    cx: float
    cy: float
    zoom: float  # 1.0: the photo's height fills the output height


class PanZoomSource(FrameSource):
    """Moves a virtual camera through `views`, easing between them, at `fps`."""

    def __init__(
        self,
        photo: np.ndarray,
        views: Sequence[View],
        size: tuple[int, int] = (720, 528),
        seconds_per_move: float = 2.0,
        fps: float = 30.0,
        description: str = "synthetic pan/zoom",
    ):
        if len(views) < 2:
            raise ValueError("a pan needs at least two views")
        self.photo = photo
        self.views = list(views)
        self.size = size
        self.fps = fps
        self.frames_per_move = int(round(seconds_per_move * fps))
        self.frame_count = self.frames_per_move * (len(views) - 1) + 1
        self.description = description

    def view_at(self, index: int) -> View:
        move, k = divmod(index, self.frames_per_move)
        if move >= len(self.views) - 1:
            return self.views[-1]
        a, b = self.views[move], self.views[move + 1]
        s = 0.5 - 0.5 * np.cos(np.pi * k / self.frames_per_move)  # ease in/out
        return View(a.cx + (b.cx - a.cx) * s, a.cy + (b.cy - a.cy) * s, a.zoom + (b.zoom - a.zoom) * s)

    def matrix(self, index: int) -> np.ndarray:
        """The 2x3 affine map from photo pixels to frame `index`'s pixels: ground truth for tracking tests."""
        view = self.view_at(index)
        out_w, out_h = self.size
        ph, pw = self.photo.shape[:2]
        scale = out_h / ph * view.zoom
        tx = out_w / 2 - scale * view.cx * pw
        ty = out_h / 2 - scale * view.cy * ph
        return np.array([[scale, 0, tx], [0, scale, ty]], dtype=np.float64)

    def frames(self) -> Iterator[Frame]:
        for index in range(self.frame_count):
            image = cv2.warpAffine(
                self.photo, self.matrix(index), self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            yield Frame(t=index / self.fps, index=index, image=image)


def package_photo(name: str) -> np.ndarray:
    """A photo that a dependency ships: 'group' and 'portrait' (insightface), 'astronaut' (scikit-image)."""
    if name == "astronaut":
        from skimage import data

        return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    files = {"group": "t1.jpg", "portrait": "Tom_Hanks_54745.png"}
    spec = importlib.util.find_spec("insightface")
    if spec is None or not spec.submodule_search_locations:
        raise CaptureError("insightface is not installed; run ./install.sh")
    path = Path(spec.submodule_search_locations[0]) / "data" / "images" / files[name]
    image = cv2.imread(str(path))
    if image is None:
        raise CaptureError(f"cannot read {path}")
    return image


# The bundled samples, 720x528 at 30 fps: a pan across six faces that leave and re-enter the view
# (tracking), and one face zooming (the benchmark's one-face clip).
SAMPLES = {
    "group_pan.mp4": (
        "group",
        [View(0.50, 0.42, 1.0), View(0.33, 0.36, 1.5), View(0.66, 0.38, 1.5), View(0.50, 0.42, 1.0)],
        1.4,
    ),
    "portrait_zoom.mp4": ("astronaut", [View(0.45, 0.33, 1.6), View(0.47, 0.30, 2.1), View(0.44, 0.34, 1.7)], 2.0),
}


def write_video(source: FrameSource, path: Path) -> int:
    """Encode a source to an mp4 (MPEG-4 Part 2, which every OpenCV build can write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    count = 0
    for frame in source.frames():
        if writer is None:
            h, w = frame.image.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), source.fps or 30.0, (w, h))
            if not writer.isOpened():
                raise CaptureError(f"cannot write video {path}")
        writer.write(frame.image)
        count += 1
    if writer is not None:
        writer.release()
    return count


# One face with a neutral expression (the group photo's third face from the left), held for 4 s with a slow
# zoom: the talking clips put a voice over it.
TALKING = ("group", [View(0.252, 0.245, 3.0), View(0.252, 0.245, 3.3)], 8.0)
TALKING_TEXT = (
    "I am telling you about the weather today. It was cloudy in the morning, and then the sun came out. "
    "In the afternoon we walked to the market, bought some bread and apples, and came home before the rain."
)


def talking_source() -> PanZoomSource:
    photo, views, seconds = TALKING
    return PanZoomSource(
        package_photo(photo), views, size=(480, 480), seconds_per_move=seconds, description="talking_neutral"
    )


def spoken(text: str, *espeak_args: str, rate: int = 16000) -> np.ndarray:
    """`text` spoken by espeak-ng (Debian's espeak-ng), float32 mono at `rate`."""
    import shutil
    import subprocess
    import tempfile
    import wave

    from scipy.signal import resample_poly

    if shutil.which("espeak-ng") is None:
        raise CaptureError("espeak-ng is not installed (scripts/install-debian-packages.sh installs it)")
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", *espeak_args, "-w", tmp.name, text], check=True, capture_output=True)
        with wave.open(tmp.name) as w:
            source_rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    return resample_poly(data, rate, source_rate).astype(np.float32)


def write_video_with_audio(source: FrameSource, audio: np.ndarray, path: Path, rate: int = 16000) -> int:
    """An mp4 with H.264 video and AAC sound (PyAV's FFmpeg), the sound starting with the first frame."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with av.open(str(path), "w") as container:
        video = sound = None
        for frame in source.frames():
            if video is None:
                h, w = frame.image.shape[:2]
                video = container.add_stream("libx264", rate=int(source.fps or 30))
                video.width, video.height, video.pix_fmt = w, h, "yuv420p"
                video.options = {"crf": "23", "preset": "medium"}
                sound = container.add_stream("aac", rate=rate)
                sound.layout = "mono"
            for packet in video.encode(av.VideoFrame.from_ndarray(frame.image, format="bgr24")):
                container.mux(packet)
            count += 1
        for packet in video.encode():
            container.mux(packet)
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        for start in range(0, len(pcm), 1024):
            block = av.AudioFrame.from_ndarray(pcm[None, start : start + 1024], format="s16", layout="mono")
            block.sample_rate = rate
            block.pts = start
            for packet in sound.encode(block):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    return count


def talking_clip(path: Path, *espeak_args: str) -> Path:
    """The neutral face of `talking_source` with `TALKING_TEXT` spoken over it (0.3 s in), as an mp4."""
    source = talking_source()
    voice = spoken(TALKING_TEXT, *espeak_args)
    seconds = source.frame_count / source.fps
    audio = np.zeros(int(seconds * 16000), np.float32)
    start = int(0.3 * 16000)
    audio[start : start + len(voice)] = voice[: len(audio) - start]
    write_video_with_audio(source, audio, path)
    return path


def sample_source(filename: str) -> PanZoomSource:
    photo, views, seconds = SAMPLES[filename]
    return PanZoomSource(package_photo(photo), views, seconds_per_move=seconds, description=filename)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the bundled sample clips from photos that packages ship.")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "data")
    args = parser.parse_args(argv)
    for filename in SAMPLES:
        n = write_video(sample_source(filename), args.out / filename)
        print(f"wrote {args.out / filename}: {n} frames, {(args.out / filename).stat().st_size // 1024} KiB")
    path = talking_clip(args.out / "talking_neutral.mp4")  # espeak-ng's default voice over a neutral face
    print(f"wrote {path}: {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
