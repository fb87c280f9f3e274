"""Real-face inputs for checking the converted face mesh and iris models against the original TFLite files.

Faces come from the photos packages ship, found by the project's detector and
cropped as MediaPipe crops them (without its rotation to the eye line: the
check compares two runtimes on the same pixels, not landmark quality). Crops
of the same photos away from every face give the non-faces the face score must
reject.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MESH_SIZE = 192
IRIS_SIZE = 64
MESH_ROI_SCALE = 1.5  # MediaPipe's face ROI: the detection box enlarged 1.5x about its centre, square
IRIS_ROI_SCALE = 2.3  # MediaPipe's eye ROI: 2.3x the eye-corner distance, square
EYE_CORNERS = ((33, 133), (362, 263))  # mesh points; the second eye is flipped horizontally, as MediaPipe does


def square_crop(image_bgr: np.ndarray, cx: float, cy: float, side: float, size: int, flip: bool = False) -> tuple:
    """A side x side square about (cx, cy) resized to size x size, RGB in [0, 1]; and the 2x3 image -> crop map."""
    s = size / side
    sx = -s if flip else s
    affine = np.array([[sx, 0.0, size / 2 - sx * cx], [0.0, s, size / 2 - s * cy]])
    crop = cv2.warpAffine(image_bgr, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0, affine


def to_image(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Crop-pixel (x, y) points back into the image."""
    inverse = cv2.invertAffineTransform(affine)
    return points[:, :2] @ inverse[:, :2].T + inverse[:, 2]


def face_rois(boxes: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float]]:
    """(cx, cy, side) of MediaPipe's face ROI for each detector box."""
    return [((x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * MESH_ROI_SCALE) for x1, y1, x2, y2 in boxes]


def background_rois(shape: tuple[int, ...], rois: list[tuple[float, float, float]], per_photo: int) -> list:
    """Squares the size of the photo's face ROIs, inside the photo, clear of every face's ROI: hair, clothes,
    background."""
    height, width = shape[:2]
    side = float(np.median([r[2] for r in rois]))
    candidates = []
    for cy in np.arange(side / 2, height - side / 2 + 1, side / 4):
        for cx in np.arange(side / 2, width - side / 2 + 1, side / 4):
            # clear of each face ROI by half a side: at most a fringe of hair or chin at the edge
            if all(abs(cx - fx) >= (side + fs) / 2 or abs(cy - fy) >= (side + fs) / 2 for fx, fy, fs in rois):
                candidates.append((float(cx), float(cy), side))
    if len(candidates) <= per_photo:
        return candidates
    return [candidates[i] for i in np.linspace(0, len(candidates) - 1, per_photo).round().astype(int)]


def face_and_background_crops(model_dir: Path, photos: tuple[str, ...], per_photo: int = 6) -> dict:
    """Mesh inputs (N, 192, 192, 3) for every face the detector finds, the crop maps back to each photo, and
    non-face crops from the same photos."""
    from capture.synthetic import package_photo
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend
    from engines.fast.face_detector import RetinaFaceDetector
    from engines.model_assets import DETECTOR, load_asset

    asset = load_asset(DETECTOR, model_dir)
    detector = RetinaFaceDetector(OnnxRuntimeBackend("cpu").load(asset.path), asset, input_size=640)
    faces, affines, owners, backgrounds = [], [], [], []
    for name in photos:
        photo = package_photo(name)
        rois = face_rois([d.box for d in detector.detect(photo)])
        for cx, cy, side in rois:
            crop, affine = square_crop(photo, cx, cy, side, MESH_SIZE)
            faces.append(crop)
            affines.append(affine)
            owners.append(name)
        if rois:
            backgrounds += [
                square_crop(photo, *roi, MESH_SIZE)[0] for roi in background_rois(photo.shape, rois, per_photo)
            ]
    empty = np.zeros((0, MESH_SIZE, MESH_SIZE, 3), np.float32)
    return {
        "faces": np.array(faces) if faces else empty,
        "affines": affines,
        "photos": owners,
        "backgrounds": np.array(backgrounds) if backgrounds else empty,
    }


def eye_crops(mesh_points: np.ndarray, affines: list[np.ndarray], photos: list[str]) -> np.ndarray:
    """Iris inputs (2N, 64, 64, 3): both eyes of each face, cropped from the full photo around the mesh's eye
    corners."""
    from capture.synthetic import package_photo

    images = {name: package_photo(name) for name in set(photos)}
    crops = []
    for points, affine, name in zip(mesh_points, affines, photos, strict=True):
        in_image = to_image(points.reshape(-1, 3), affine)
        for flip, (a, b) in zip((False, True), EYE_CORNERS, strict=True):
            (cx, cy), side = (in_image[a] + in_image[b]) / 2, IRIS_ROI_SCALE * np.linalg.norm(in_image[a] - in_image[b])
            crops.append(square_crop(images[name], cx, cy, side, IRIS_SIZE, flip=flip)[0])
    return np.array(crops, dtype=np.float32).reshape(-1, IRIS_SIZE, IRIS_SIZE, 3)


def lfw_non_faces() -> np.ndarray | None:
    """scikit-image's 100 LFW non-face patches (25x25 gray), upsampled to mesh inputs; None where it is absent."""
    try:
        from skimage import data

        patches = data.lfw_subset()[100:]  # the first 100 are faces, the next 100 are not
    except (AttributeError, OSError, ValueError):  # an older scikit-image or a missing data file: no extra check
        return None
    up = [cv2.resize(p.astype(np.float32), (MESH_SIZE, MESH_SIZE), interpolation=cv2.INTER_LINEAR) for p in patches]
    return np.repeat(np.array(up)[..., None], 3, axis=3)


def onnx_run(data: bytes, batch_nhwc: np.ndarray) -> dict[str, np.ndarray]:
    """The converted model through ONNX Runtime (CPU, one thread), the whole batch in one call."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(batch_nhwc.transpose(0, 3, 1, 2))})
    return dict(zip(names, outputs, strict=True))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
