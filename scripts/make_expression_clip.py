"""Writes tests/data/expressions.mp4: two real faces that smile, raise their brows, open their mouths and blink.

    .venv/bin/python scripts/make_expression_clip.py [--out PATH]

The bundled pans move the camera over still photos, so no facial action ever
moves in them and nothing tests an explanation that should cite one. Here two
faces the packages ship (scikit-image's astronaut on the left, Ross cut from
insightface's group photo on the right, each enlarged 1.8x) sit still on a dark
background for 2 s (each person's baseline is learned over 1.5 s), then move
regions of their own face mesh by known amounts with `tests/face_warps.moved`,
easing in and out, as a script (`SCRIPT`) says:

- left: a smile (lip corners up 0.18 eye spacings) from 2.5 s, held 2 s; then
  surprise (brows up 0.1, upper lids up 0.045, mouth open 0.09) from 7 s, held 2.5 s;
- right: brows raised (0.07) from 3 s; lids lowered (0.04) from 6.5 s; the mouth
  opened (0.12) from 9.5 s; blinks at 2.2 s, 5.5 s and 8.6 s (lids shut for 0.1 s).

720x480, 30 fps, 360 frames (12 s), light sensor noise (fixed seed), MPEG-4 Part 2 at
1.2 Mbit/s through `make_distractor_clip.write_mpeg4`: a rerun writes the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scripts")]

from face_warps import MOVEMENTS, Movement, moved  # noqa: E402
from make_distractor_clip import write_mpeg4  # noqa: E402

from capture.synthetic import package_photo  # noqa: E402

SEED = 20261202
SIZE = (720, 480)
FPS = 30
SECONDS = 12.0
OUT = ROOT / "tests" / "data" / "expressions.mp4"
# Wider fields than the warp tests' for the lip corners and brows, so those moves can be larger without folding;
# the mouth keeps the tests' own (a wider field moves the upper lip with the lower, and the mouth does not open).
BY_NAME = {m.name: m if m.name == "mouth opened" else replace(m, reach=m.reach * 1.8) for m in MOVEMENTS}
LIDS_RAISED = replace(
    BY_NAME["lids lowered"], name="lids raised", direction=(0.0, -1.0), action="eye_opening_right", sign=1.0
)
BLINK = Movement("blink", BY_NAME["lids lowered"].points, (0.0, 1.0), "eye_opening_right", -1.0, reach=0.05)


@dataclass(frozen=True)
class Move:
    """`movement` grows to `size` eye spacings from `start` (s) over `ease`, holds until `end`, eases back."""

    movement: Movement
    start: float
    end: float
    size: float
    ease: float = 0.5

    def amount(self, t: float) -> float:
        if t <= self.start or t >= self.end + self.ease:
            return 0.0
        rise = min(1.0, (t - self.start) / self.ease)
        fall = min(1.0, (self.end + self.ease - t) / self.ease)
        s = min(rise, fall)
        return self.size * (0.5 - 0.5 * np.cos(np.pi * s))


def _blinks(*at: float) -> tuple[Move, ...]:
    return tuple(Move(BLINK, t, t + 0.07, 0.035, ease=0.05) for t in at)


# (person, photo, cut (x1, y1, x2, y2) of the photo, centre on the frame, moves)
SCRIPT = (
    (
        "astronaut",
        "astronaut",
        (130, 10, 330, 230),
        (190, 250),
        (
            Move(BY_NAME["lip corners raised"], 2.5, 4.5, 0.18),
            Move(BY_NAME["brows raised"], 7.0, 9.5, 0.1),
            Move(LIDS_RAISED, 7.0, 9.5, 0.045),
            Move(BY_NAME["mouth opened"], 7.0, 9.5, 0.09),
        ),
    ),
    (
        "ross",
        "group",
        (440, 230, 600, 430),
        (530, 245),
        (
            Move(BY_NAME["brows raised"], 3.0, 5.0, 0.07),
            Move(BY_NAME["lids lowered"], 6.5, 8.0, 0.04),
            Move(BY_NAME["mouth opened"], 9.5, 11.0, 0.12),
            *_blinks(2.2, 5.5, 8.6),
        ),
    ),
)
SCALE = 1.8


def _background(rng: np.random.Generator) -> np.ndarray:
    w, h = SIZE
    shade = rng.uniform(15, 50, (h // 60, w // 60, 1)) * np.array([1.0, 0.97, 0.92])
    return cv2.resize(shade.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


def _faces(detector, face_mesh) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[Move, ...]]]:
    """Per person: the enlarged cut-out, its soft mask, its still mesh (cut-out pixels) and its moves."""
    out = []
    for _, photo, (x1, y1, x2, y2), _, moves in SCRIPT:
        cut = cv2.resize(package_photo(photo)[y1:y2, x1:x2], None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
        dets = detector.detect(cut)
        if len(dets) != 1:
            raise SystemExit(f"expected one face in the {photo} cut-out, found {len(dets)}")
        still = face_mesh.read(cut, [(dets[0].box, dets[0].landmarks)], irises=False)[0]
        mask = np.zeros(cut.shape[:2], np.float32)
        h, w = mask.shape
        cv2.ellipse(mask, ((w / 2, h / 2), (w * 0.96, h * 0.98), 0.0), 1.0, -1)
        out.append((cut, cv2.GaussianBlur(mask, (0, 0), 6.0)[..., None], still.points, moves))
    return out


def frames(detector, face_mesh):
    rng = np.random.default_rng(SEED)
    backdrop = _background(rng)
    faces = _faces(detector, face_mesh)
    for index in range(int(SECONDS * FPS)):
        t = index / FPS
        canvas = backdrop.copy()
        for (cut, mask, points, moves), (*_, centre, _) in zip(faces, SCRIPT, strict=True):
            spacing = float(np.linalg.norm(points[263, :2] - points[33, :2]))  # outer eye corners
            image = cut
            for move in moves:
                if (k := move.amount(t)) > 0:
                    image = moved(image, points, move.movement, k * spacing)
            h, w = image.shape[:2]
            x0, y0 = centre[0] - w // 2, centre[1] - h // 2
            region = canvas[y0 : y0 + h, x0 : x0 + w]
            canvas[y0 : y0 + h, x0 : x0 + w] = region * (1 - mask) + image.astype(np.float32) * mask
        grain = rng.normal(0, 2.0, canvas.shape).astype(np.float32)
        yield np.clip(canvas + grain, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class _Frame:
    index: int
    image: np.ndarray


class ExpressionClip:
    """The frames in the shape `write_mpeg4` takes."""

    fps = FPS
    size = SIZE

    def __init__(self, detector, face_mesh):
        self.detector, self.face_mesh = detector, face_mesh

    def frames(self):
        for i, image in enumerate(frames(self.detector, self.face_mesh)):
            yield _Frame(i, image)


def _models():
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend
    from engines.fast.face_detector import RetinaFaceDetector
    from engines.fast.face_mesh import FaceMesh
    from engines.model_assets import DETECTOR, FACE_MESH, IRIS, default_model_dir, load_asset

    model_dir = default_model_dir()
    backend = OnnxRuntimeBackend("cpu", threads=1)
    det = load_asset(DETECTOR, model_dir)
    mesh, iris = load_asset(FACE_MESH, model_dir), load_asset(IRIS, model_dir)
    return (
        RetinaFaceDetector(backend.load(det.path), det),
        FaceMesh(backend.load(mesh.path), mesh, backend.load(iris.path), iris),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    n = write_mpeg4(ExpressionClip(*_models()), args.out)
    print(f"wrote {args.out}: {n} frames, {args.out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
