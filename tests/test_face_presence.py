"""The face mesh's face-presence check on a clip made to fool the detector (tests/data/distractors.mp4).

`scripts/make_distractor_clip.py` pans over a collage of eight real faces and
non-faces that RetinaFace fires on (a cat's face, a motorcycle's headlight between
its gauges, a sugar bowl) or might (hair from behind, hands, a glass, a shoulder).
Where each real face is in each frame is known from how the clip was made, so a
row of frames.csv is a real face's when its box overlaps one (IoU >= 0.3, the
face's box cut to the frame), and false otherwise: the mesh's own score decides
nothing here.

Measured on 2 December 2026 (`analyze`'s defaults, ONNX Runtime on the CPU),
`--no-mesh` -> with the mesh:
  tracks 17 -> 11, rows 551 -> 436;
  false tracks 9 -> 3, false rows 117 -> 20 (the sugar bowl, mesh 0.0000-0.19, and
  the cat, 0.001-0.005, gone; the motorcycle, 0.24-0.999, left in 3 short tracks);
  real-face rows 434 -> 416, all eight faces kept. Of the 18 lost, 7 are of faces
  partly out of the frame and 11 the cameraman's (turned, an eye to his camera),
  whom the mesh reads at 0.004-0.89 on some frames while he is fully in view.
With FacePresence's rule before `sure_score` (min_face_s 0.3 alone) it was
tracks 17 -> 9, false tracks 9 -> 1, false rows 117 -> 9, and real-face rows
434 -> 330: the 0.3 s confirmation cost each new track its first 9-10 frames.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import DATA, run_emolens

CLIP = DATA / "distractors.mp4"
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_distractor_clip.py"


def clip_script():
    """scripts/make_distractor_clip.py as a module: the clip's source and its real faces."""
    spec = importlib.util.spec_from_file_location("make_distractor_clip", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def real_faces_in(frame: int, source, faces: dict) -> dict[str, tuple[float, float, float, float]]:
    """Each real face's box in `frame`, cut to the frame."""
    m = source.matrix(frame)
    width, height = source.size
    boxes = {}
    for name, (x1, y1, x2, y2) in faces.items():
        (a, b), (c, d) = m[:, :2] @ (x1, y1) + m[:, 2], m[:, :2] @ (x2, y2) + m[:, 2]
        boxes[name] = (max(0.0, a), max(0.0, b), min(width, c), min(height, d))
    return boxes


def figures(frames_csv: Path, source, faces: dict) -> dict:
    with open(frames_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    tracks = defaultdict(list)  # track -> the real face of each of its rows, or None
    face_rows = defaultdict(int)
    for row in rows:
        box = tuple(float(row[k]) for k in ("box_x1", "box_y1", "box_x2", "box_y2"))
        overlap, face = max((iou(box, b), n) for n, b in real_faces_in(int(row["frame"]), source, faces).items())
        face = face if overlap >= 0.3 else None
        tracks[int(row["track_id"])].append(face)
        if face:
            face_rows[face] += 1
    false_tracks = [t for t, seen in tracks.items() if not any(seen)]
    return {
        "frames": len({row["frame"] for row in rows}),
        "tracks": len(tracks),
        "rows": len(rows),
        "false_tracks": len(false_tracks),
        "false_rows": sum(face is None for seen in tracks.values() for face in seen),
        "face_rows": dict(face_rows),
    }


@pytest.fixture(scope="module")
def before_after(model_dir, tmp_path_factory):
    script = clip_script()
    source = script.distractor_source()
    out = tmp_path_factory.mktemp("presence")
    result = {}
    for label, extra in (("before", ["--no-mesh"]), ("after", [])):
        proc = run_emolens("analyze", str(CLIP), "--out", str(out / label), "--quiet", *extra)
        assert proc.returncode == 0, proc.stderr
        result[label] = figures(out / label / "frames.csv", source, script.FACES)
    result["frame_count"] = source.frame_count
    result["faces"] = list(script.FACES)
    before, after = result["before"], result["after"]
    print(f"\n{'':18s}{'--no-mesh':>10s}{'mesh':>8s}")
    for key in ("tracks", "rows", "false_tracks", "false_rows"):
        print(f"{key:18s}{before[key]:>10d}{after[key]:>8d}")
    for face in result["faces"]:
        print(f"rows of {face:10s}{before['face_rows'].get(face, 0):>10d}{after['face_rows'].get(face, 0):>8d}")
    return result


def test_the_clip_is_the_one_the_script_makes_and_fools_the_detector(before_after):
    before = before_after["before"]
    assert before["frames"] == before_after["frame_count"]
    assert before["false_tracks"] >= 5 and before["false_rows"] >= 60  # measured: 9 and 117
    assert set(before["face_rows"]) == set(before_after["faces"])  # all eight real faces are found


def test_the_mesh_drops_false_tracks(before_after):
    before, after = before_after["before"], before_after["after"]
    assert after["false_tracks"] < before["false_tracks"]
    assert after["false_rows"] <= before["false_rows"] / 2


def test_the_mesh_loses_no_real_face(before_after):
    before, after = before_after["before"], before_after["after"]
    for face, rows in before["face_rows"].items():
        kept = after["face_rows"].get(face, 0)
        assert kept > 0, f"{face} lost outright"
        # the 0.3 s confirmation costs a new track ~10 frames; faces at the frame edge, and the turned cameraman,
        # lose a few more
        assert kept >= rows / 3, f"{face}: {rows} rows without the mesh, {kept} with it"
