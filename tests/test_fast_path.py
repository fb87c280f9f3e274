"""The fast path on real faces: detection on the group photo, stable IDs on the panning clip, smoothing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GROUP_CLIP
from scipy.optimize import linear_sum_assignment

from capture.still_image import StillImageSource
from capture.synthetic import package_photo, sample_source
from capture.video_file import VideoFileSource
from engines.contracts import EMOTIONS
from engines.fast.landmark_cues import landmark_cues
from engines.fast.pipeline import FastPath
from engines.fast.smoothing import ExpressionSmoother
from engines.fast.tracker import iou_matrix


def test_every_face_in_the_group_photo_is_found_and_classified(detector, classifier, tmp_path):
    import cv2

    path = tmp_path / "t1.png"
    cv2.imwrite(str(path), package_photo("group"))  # insightface's t1.jpg: six people, all faces clearly visible
    frame = next(StillImageSource(path).frames())
    result = FastPath(detector, classifier, detect_every=1).process(frame)
    print(f"\nt1.jpg: {len(result.faces)} faces found")
    assert len(result.faces) == 6
    assert len({f.track_id for f in result.faces}) == 6
    for face in result.faces:
        assert face.probs.shape == (len(EMOTIONS),) and face.raw_probs.shape == (len(EMOTIONS),)
        assert abs(float(face.probs.sum()) - 1.0) < 1e-5
        assert face.label in EMOTIONS and face.det_score > 0.9
        x1, y1, x2, y2 = face.box
        assert 0 <= x1 < x2 <= frame.image.shape[1] and 0 <= y1 < y2 <= frame.image.shape[0]


def _ground_truth_boxes(detector):
    """The six faces in photo coordinates, found at full resolution on the still photo."""
    from engines.fast.face_detector import RetinaFaceDetector

    full = RetinaFaceDetector(detector.model, detector.asset, input_size=1280)
    boxes = np.array([d.box for d in full.detect(package_photo("group"))])
    assert len(boxes) == 6
    return boxes


def _follow_the_pan(detector, fast_path: FastPath) -> tuple[int, float, float]:
    """Each face's true position in every frame is known from the pan's geometry. Returns the ID switches (a
    face in view whose matched track changes), the share of visible face-frames tracked, and the median IoU of
    a tracked face's box with its true box on the frames without detection."""
    synthetic = sample_source(GROUP_CLIP.name)
    photo_boxes = _ground_truth_boxes(detector)
    last_id: dict[int, int] = {}
    switches = visible_total = matched_total = 0
    between: list[float] = []
    with VideoFileSource(GROUP_CLIP) as clip:
        assert clip.frame_count == synthetic.frame_count
        for frame in clip.frames():
            h, w = frame.image.shape[:2]
            m = synthetic.matrix(frame.index)
            truth = np.column_stack(
                [photo_boxes[:, [0, 2]] * m[0, 0] + m[0, 2], photo_boxes[:, [1, 3]] * m[1, 1] + m[1, 2]]
            )[:, [0, 2, 1, 3]]
            visible = (truth[:, 0] >= 0) & (truth[:, 1] >= 0) & (truth[:, 2] <= w) & (truth[:, 3] <= h)
            result = fast_path.process(frame)
            matched: dict[int, int] = {}
            if result.faces:
                ious = iou_matrix(truth, np.array([f.box for f in result.faces]))
                for gi, fi in zip(*linear_sum_assignment(-ious), strict=True):
                    if ious[gi, fi] >= 0.3:
                        matched[gi] = result.faces[fi].track_id
                        if not result.faces[fi].detected and visible[gi]:
                            between.append(float(ious[gi, fi]))
            for gi in range(len(truth)):
                if not visible[gi]:
                    last_id.pop(gi, None)  # out of view: a new ID on return is not a switch
                    continue
                visible_total += 1
                if gi in matched:
                    matched_total += 1
                    if gi in last_id and last_id[gi] != matched[gi]:
                        switches += 1
                    last_id[gi] = matched[gi]
    return switches, matched_total / visible_total, float(np.median(between))


def test_ids_stay_stable_across_the_panning_clip(detector, classifier):
    """While a face stays in view, the track matched to it must keep one ID; a face that leaves the view may
    come back under a new one."""
    switches, coverage, _ = _follow_the_pan(detector, FastPath(detector, classifier, detect_every=3))
    print(f"\ngroup pan: {switches} ID switches; {coverage:.1%} of visible face-frames tracked")
    assert switches == 0
    assert coverage >= 0.9


def test_the_face_mesh_follows_faces_between_detections(detector, classifier, face_mesh):
    """With the mesh, a face between two detections is where its mesh found it, so the detector can run on one
    frame in 6 (the default with the mesh) and still hold every face of the pan under one ID; coasting on
    motion alone at that interval puts the boxes further from the truth."""
    from engines.pipeline.options import DETECT_EVERY_WITH_MESH

    def run(follow: bool) -> tuple[int, float, float]:
        fast_path = FastPath(detector, classifier, detect_every=DETECT_EVERY_WITH_MESH, mesh=face_mesh)
        if not follow:
            fast_path._follow = lambda faces, readings, step, detect_frame: faces
        return _follow_the_pan(detector, fast_path)

    followed, coasting = run(True), run(False)
    print(
        f"\ngroup pan, detector 1 frame in {DETECT_EVERY_WITH_MESH}: followed by the mesh {followed[0]} switches, "
        f"{followed[1]:.1%} tracked, box IoU between detections {followed[2]:.3f}; coasting {coasting[0]} "
        f"switches, {coasting[1]:.1%}, IoU {coasting[2]:.3f}"
    )
    assert followed[0] == 0 and followed[1] >= 0.9
    assert followed[2] >= 0.8 and followed[2] > coasting[2] + 0.05


def test_the_tracks_matching_is_scipys_optimal_assignment():
    """The tracker's own Hungarian method (no scipy.optimize import at start) against scipy's, on square,
    tall, wide, empty and tied cost matrices: the same total cost, one column per row, rows ascending."""
    from engines.fast.assignment import min_cost_assignment

    rng = np.random.default_rng(7)
    for k in range(2000):
        n, m = rng.integers(0, 9, 2)
        cost = rng.random((n, m))
        if k % 3 == 0:
            cost = np.round(cost, 1)  # ties
        if k % 5 == 0:
            cost = -((cost > 0.5) * cost)  # IoUs: many zeros
        want_rows, want_cols = linear_sum_assignment(cost)
        rows, cols = min_cost_assignment(cost)
        assert len(rows) == len(want_rows) == min(n, m)
        assert cost[rows, cols].sum() == pytest.approx(cost[want_rows, want_cols].sum(), abs=1e-9)
        assert list(rows) == sorted(set(rows)) and len(set(cols)) == len(cols)


def test_the_alignment_is_scikit_images_similarity_transform():
    """The face's similarity transform onto insightface's template, solved here (no scikit-image import on the
    first face), against scikit-image's own estimate: turned, scaled, shifted, noisy and mirrored landmarks."""
    import warnings

    from skimage.transform import SimilarityTransform

    from engines.fast.alignment import face_align, similarity_transform

    rng = np.random.default_rng(1)
    template = face_align.arcface_dst
    for k in range(300):
        angle, scale = rng.uniform(-1, 1), rng.uniform(0.2, 5)
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        landmarks = (template - 50) @ turn.T * scale + rng.uniform(0, 500, 2) + rng.normal(0, 3, (5, 2))
        if k % 7 == 0:
            landmarks[:, 0] = -landmarks[:, 0]  # a mirror image: still a rotation, never a reflection
        expected = SimilarityTransform()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            expected.estimate(landmarks, template)
        assert np.allclose(similarity_transform(landmarks, template), expected.params[:2], atol=1e-6)


def test_smoother_flags_ambiguity_and_follows_time():
    smoother = ExpressionSmoother(time_constant_s=0.5, min_margin=0.15, max_entropy=0.8)
    flat = np.full(7, 1 / 7)
    happy = np.array([0.02, 0.01, 0.02, 0.9, 0.02, 0.01, 0.02])
    assert smoother.assess(flat).uncertain
    confident = smoother.assess(happy)
    assert not confident.uncertain and EMOTIONS[confident.label_index] == "happy"
    assert smoother.assess(np.array([0.45, 0, 0, 0.40, 0.05, 0.05, 0.05])).uncertain  # margin 0.05

    smoother.update(1, 0.0, flat)
    after_short = smoother.update(1, 0.05, happy).probs[3]
    smoother.update(2, 0.0, flat)
    after_long = smoother.update(2, 2.0, happy).probs[3]
    assert 1 / 7 < after_short < after_long < 0.9  # a longer gap moves further toward the new evidence
    smoother.retain({2})
    assert smoother.update(1, 3.0, happy).probs[3] == pytest.approx(0.9, abs=1e-6)  # track 1 was forgotten


def test_landmark_cues_measure_geometry():
    level = np.array([[0, 0], [10, 0], [5, 5], [1, 10], [9, 10]], dtype=np.float64)
    cues = landmark_cues(level)
    assert cues.roll_deg == pytest.approx(0.0) and cues.yaw == pytest.approx(0.0)
    assert cues.mouth_width == pytest.approx(0.8) and cues.mouth_drop == pytest.approx(0.5)
    wide = level.copy()
    wide[3, 0], wide[4, 0] = -1, 11
    assert landmark_cues(wide).mouth_width > cues.mouth_width
    angle = np.radians(20)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tilted = landmark_cues(level @ rot.T)
    assert tilted.roll_deg == pytest.approx(20.0) and tilted.mouth_width == pytest.approx(0.8)


def test_reset_starts_a_new_session_on_the_same_models(detector, classifier):
    with VideoFileSource(GROUP_CLIP) as clip:
        frames = [f for _, f in zip(range(10), clip.frames(), strict=False)]
    fast_path = FastPath(detector, classifier, detect_every=3)
    first = [fast_path.process(f) for f in frames]
    fast_path.reset()
    second = [fast_path.process(f) for f in frames]
    assert [sorted(o.track_id for o in r.faces) for r in first] == [sorted(o.track_id for o in r.faces) for r in second]
    assert np.allclose(first[-1].faces[0].probs, second[-1].faces[0].probs)
