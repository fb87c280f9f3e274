"""Writes tests/data/distractors.mp4: real faces among things the face detector takes for faces.

    .venv/bin/python scripts/make_distractor_clip.py [--out PATH] [--collage PNG]

A collage on a dark, uneven, grainy background (fixed seed), filmed by
`PanZoomSource` panning left to right with small zooms: 720x528, 30 fps, 208
frames (6.9 s), MPEG-4 Part 2 at 1.2 Mbit/s (about 1.1 MB). Along the top, eight real faces 330 px
apart, so 2-3 are in view at a time: Joey, Ross, Phoebe, Monica, Chandler and
Rachel cut from insightface's group photo with their hair, scikit-image's
astronaut and its cameraman. Below them, non-faces:

- ones RetinaFace-MobileNet0.25 (score 0.7, the app's auto input size) fires on
  here: the cat's face (scikit-image's `chelsea`) tilted 30 degrees, a
  motorcycle's headlight between its two round gauges (`stereo_motorcycle`)
  tilted 20 degrees, and the group photo's silver sugar bowl tilted 35 degrees.
  Run over package photos and over cut-outs on a dark background, the detector
  fired on these most often, at about these tilts and sizes;
- ones it might fire on and does not here: hair seen from behind (hair cut from
  the group photo into head-sized ovals), hands holding cards and a chip, the
  group photo's whisky glass and a bare shoulder, enlarged and tilted.

`FACES` gives each real face's box in collage pixels (the detector's box on the
source photo, mapped through the paste), and `distractor_source().matrix(i)`
maps it into frame i: the ground truth that tells a real face's rows from false
ones, whatever the face mesh says.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from capture.synthetic import PanZoomSource, View, package_photo  # noqa: E402

SEED = 20251202
SIZE = (720, 528)
CANVAS = (2650, 700)  # collage width, height
OUT = ROOT / "tests" / "data" / "distractors.mp4"


@dataclass(frozen=True)
class Piece:
    """A cut-out of `photo` (x1, y1, x2, y2), pasted with its centre at `at` (collage pixels), `scale`d and turned
    by `angle` degrees (counter-clockwise); `oval`: an elliptic cut-out instead of a rectangle. `face`: the face's
    box in the source photo, for the ground truth."""

    name: str
    photo: str
    cut: tuple[int, int, int, int]
    at: tuple[int, int]
    scale: float = 1.0
    angle: float = 0.0
    oval: bool = False
    face: tuple[float, float, float, float] | None = None


# Non-faces first, so that faces are pasted over them where cut-outs meet. Face boxes: the detector's box on
# the source photo at its own size (group: t1.jpg, 1280x886).
PIECES = (
    Piece("cat", "chelsea", (120, 20, 400, 260), (330, 470), 1.05, angle=-30),
    Piece("hair_back_1", "hair_joey", (0, 0, 150, 190), (620, 580), 1.0, oval=True),
    Piece("hand_cards", "group", (120, 380, 270, 500), (700, 430), 1.0),
    Piece("motorcycle", "motorcycle", (460, 90, 620, 240), (1000, 470), 2.1, angle=20),
    Piece("hand_chip", "group", (680, 480, 780, 590), (1330, 480), 1.5),
    Piece("hair_back_2", "hair_ross", (0, 0, 150, 190), (1440, 580), 0.9, oval=True),
    Piece("sugar_bowl", "group", (1050, 600, 1180, 760), (1700, 470), 1.6, angle=35),
    Piece("glass", "group", (150, 600, 290, 740), (2060, 470), 2.2, angle=-40),
    Piece("shoulder", "group", (1130, 380, 1230, 500), (2420, 480), 3.0, angle=45),
    Piece("joey", "group", (860, 0, 1060, 250), (150, 190), face=(900, 57, 1016, 202)),
    Piece("astronaut", "astronaut", (140, 20, 320, 210), (480, 190), face=(178, 59, 272, 175)),
    Piece("ross", "group", (430, 215, 610, 440), (810, 190), face=(463, 272, 574, 405)),
    Piece("phoebe", "group", (1095, 235, 1255, 445), (1140, 190), face=(1131, 280, 1219, 404)),
    Piece("cameraman", "camera", (165, 85, 295, 235), (1470, 190), 1.3, face=(197, 116, 258, 198)),
    Piece("monica", "group", (225, 95, 412, 318), (1800, 190), face=(260, 141, 377, 277)),
    Piece("chandler", "group", (705, 300, 880, 500), (2130, 190), face=(743, 346, 845, 472)),
    Piece("rachel", "group", (15, 225, 205, 430), (2460, 190), face=(56, 266, 169, 394)),
)

VIEWS = (View(0.136, 0.48, 1.33), View(0.38, 0.52, 1.25), View(0.62, 0.47, 1.4), View(0.864, 0.5, 1.3))
SECONDS_PER_MOVE = 2.3


# Hair only, from the group photo: stretched to a head's size and cut as an oval, it stands for the back of a head.
HAIR = {"hair_joey": (8, 50, 925, 1025), "hair_ross": (228, 272, 480, 590)}


def source_photo(name: str) -> np.ndarray:
    if name in ("group", "astronaut"):
        return package_photo(name)
    if name in HAIR:
        y1, y2, x1, x2 = HAIR[name]
        return cv2.resize(package_photo("group")[y1:y2, x1:x2], (150, 190), interpolation=cv2.INTER_CUBIC)
    from skimage import data

    image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR if image.ndim == 2 else cv2.COLOR_RGB2BGR)


def paste_matrix(piece: Piece) -> np.ndarray:
    """2x3: source-photo pixels to collage pixels."""
    x1, y1, x2, y2 = piece.cut
    m = cv2.getRotationMatrix2D(((x1 + x2) / 2, (y1 + y2) / 2), piece.angle, piece.scale)
    m[:, 2] += np.array(piece.at) - np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    return m


def background(rng: np.random.Generator) -> np.ndarray:
    """Dark, uneven and grainy: the dim room behind the people."""
    w, h = CANVAS
    shade = rng.uniform(8, 55, (h // 40, w // 40, 1)) * np.array([1.0, 0.95, 0.9])  # a little warm
    blotches = cv2.resize(shade.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    return np.clip(blotches + grain, 0, 255)


def collage() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    canvas = background(rng)
    w, h = CANVAS
    for piece in PIECES:
        photo = source_photo(piece.photo)
        x1, y1, x2, y2 = piece.cut
        alpha = np.zeros(photo.shape[:2], np.float32)
        if piece.oval:
            cv2.ellipse(alpha, (((x1 + x2) / 2, (y1 + y2) / 2), (x2 - x1, y2 - y1), 0.0), 1.0, -1)
        else:
            alpha[y1:y2, x1:x2] = 1.0
        alpha = cv2.GaussianBlur(alpha, (0, 0), 2.0)  # soft edges: no hard frame around the cut-out
        m = paste_matrix(piece)
        warped = cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR).astype(np.float32)
        a = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR)[..., None]
        canvas = canvas * (1 - a) + warped * a
    return np.clip(canvas, 0, 255).astype(np.uint8)


def face_boxes() -> dict[str, tuple[float, float, float, float]]:
    """Each real face's box in collage pixels."""
    boxes = {}
    for piece in PIECES:
        if piece.face is None:
            continue
        x1, y1, x2, y2 = piece.face
        corners = np.array([[x1, y1, 1], [x2, y1, 1], [x1, y2, 1], [x2, y2, 1]], np.float64) @ paste_matrix(piece).T
        boxes[piece.name] = (*corners.min(axis=0), *corners.max(axis=0))
    return boxes


FACES = face_boxes()


def distractor_source() -> PanZoomSource:
    return PanZoomSource(collage(), VIEWS, size=SIZE, seconds_per_move=SECONDS_PER_MOVE, description="distractors")


def write_mpeg4(source: PanZoomSource, path: Path, bit_rate: int = 1_200_000) -> int:
    """MPEG-4 Part 2 through PyAV's FFmpeg, no sound: a rerun writes the same bytes. (PyAV's libx264 did not:
    the same frames came out a different clip on most runs, even on one thread.)"""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=int(source.fps))
        video.width, video.height, video.pix_fmt, video.bit_rate = *source.size, "yuv420p", bit_rate
        for frame in source.frames():
            picture = av.VideoFrame.from_ndarray(cv2.cvtColor(frame.image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
            picture.pts = frame.index  # in 1/fps
            container.mux(video.encode(picture))
            count += 1
        container.mux(video.encode())
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--collage", type=Path, help="also save the collage as an image here")
    args = parser.parse_args(argv)
    source = distractor_source()
    if args.collage:
        cv2.imwrite(str(args.collage), source.photo)
    n = write_mpeg4(source, args.out)
    print(f"wrote {args.out}: {n} frames, {args.out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
