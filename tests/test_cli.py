"""The `emolens` command as a user runs it: results on the bundled clip, and one clear line for bad input."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from conftest import GROUP_CLIP, PORTRAIT_CLIP, run_emolens

from engines.contracts import EMOTIONS
from engines.model_assets import DETECTOR, EXPRESSION
from export.frames_csv import COLUMNS


def test_analyze_writes_frames_csv_and_session_json(model_dir, tmp_path):
    out = tmp_path / "session"
    proc = run_emolens("analyze", str(GROUP_CLIP), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "frames.csv" in proc.stdout
    with open(out / "frames.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0].keys()) == COLUMNS
    assert len({r["frame"] for r in rows}) == 127
    probs = np.array([[float(r[f"p_{e}"]) for e in EMOTIONS] for r in rows])
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    assert {r["label"] for r in rows} <= set(EMOTIONS)
    assert {r["uncertain"] for r in rows} <= {"0", "1"}

    session = json.loads((out / "session.json").read_text())
    assert session["status"] == "complete"
    assert session["counts"]["frames_processed"] == 127 and session["counts"]["rows"] == len(rows)
    assert session["backend"]["name"] == "onnxruntime-cpu" and session["backend"]["reason"]
    for key, name in (("detector", DETECTOR), ("expression", EXPRESSION)):
        manifest = json.loads((model_dir / f"{name}.json").read_text())
        assert session["fast_path"][key]["sha256"] == manifest["sha256"]
    assert session["versions"]["onnxruntime"] and session["versions"]["emolens"]


def test_bench_prints_and_writes_json(model_dir, tmp_path):
    report_path = tmp_path / "bench.json"
    proc = run_emolens("bench", str(PORTRAIT_CLIP), "--frames", "60", "--repeats", "1", "--json", str(report_path))
    assert proc.returncode == 0, proc.stderr
    assert "frames/s" in proc.stdout
    report = json.loads(report_path.read_text())
    assert report["frames"] == 60 and report["fps"] > 0 and report["faces_per_frame"] == 1.0
    assert set(report["per_stage_ms"]) == {
        "upload",
        "detect",
        "track",
        "mesh",
        "expression",
        "identity",
        "smooth",
        "total",
    }
    assert report["per_stage_ms"]["upload"]["p99"] < 0.1  # host preprocessing: nothing to upload
    assert report["per_stage_ms"]["total"]["p95"] >= report["per_stage_ms"]["total"]["p50"] > 0
    assert report["peak_rss_mb"] > 0 and report["backend"]["name"] == "onnxruntime-cpu"


def test_export_models_writes_checked_manifests(tmp_path):
    proc = run_emolens("export-models", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for name in (DETECTOR, EXPRESSION):
        manifest = json.loads((tmp_path / f"{name}.json").read_text())
        assert (tmp_path / manifest["file"]).stat().st_size == manifest["size"] and manifest["checks"]
    again = run_emolens("export-models", "--out", str(tmp_path))
    assert "already" in again.stdout


def _no_face_image(d):
    import cv2
    from skimage import data

    path = d / "coffee.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    return [str(path)]


def _truncated_model(d, model_dir):
    broken = d / "models"
    shutil.copytree(model_dir, broken)
    f = broken / f"{DETECTOR}.onnx"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    return [str(GROUP_CLIP), "--model-dir", str(broken)]


def _corrupt_video(d):
    path = d / "broken.mp4"
    path.write_bytes(GROUP_CLIP.read_bytes()[:4096])  # a real file cut short, as a failed copy leaves it
    return [str(path)]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing file", "no such file"),
        ("corrupt video", "cannot (open|read)"),
        ("image with no face", "no face found"),
        ("truncated model", "truncated.*export-models --force --out"),
        ("unknown camera", "camera 42 could not be opened"),
    ],
)
def test_bad_input_gives_one_clear_line_and_a_nonzero_exit(case, expected, model_dir, tmp_path):
    import re

    args = {
        "missing file": lambda: [str(tmp_path / "nope.mp4")],
        "corrupt video": lambda: _corrupt_video(tmp_path),
        "image with no face": lambda: _no_face_image(tmp_path),
        "truncated model": lambda: _truncated_model(tmp_path, model_dir),
        "unknown camera": lambda: ["42"],
    }[case]()
    proc = run_emolens("analyze", *args, "--out", str(tmp_path / "out"))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    print(f"\n{case}: exit {proc.returncode}: {lines}")
    assert proc.returncode != 0
    assert len(lines) == 1 and lines[0].startswith("emolens:")
    assert re.search(expected, lines[0])
    assert "Traceback" not in proc.stderr + proc.stdout


def test_help_lists_the_commands():
    proc = run_emolens("--help")
    assert proc.returncode == 0
    for command in ("analyze", "bench", "export-models"):
        assert command in proc.stdout


def test_output_piped_into_a_reader_that_closes_early_is_not_an_error(model_dir, tmp_path):
    import subprocess

    from conftest import EMOLENS

    cmd = f"{EMOLENS} bench {PORTRAIT_CLIP} --frames 20 --repeats 1 --json {tmp_path / 'b.json'} | head -1"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith(str(PORTRAIT_CLIP))
    assert "Traceback" not in proc.stderr


def test_a_camera_lost_mid_session_keeps_the_rows_and_records_why(model_dir, tmp_path, monkeypatch):
    """No camera exists here; this source plays the real clip behind the FrameSource interface, then fails
    the way CameraSource does when frames stop arriving."""
    import app.analyze as analyze_module
    from capture import CaptureError
    from capture.video_file import VideoFileSource
    from engines.pipeline import FastPathOptions, PipelineOptions

    class UnpluggedCamera(VideoFileSource):
        live = True

        def frames(self):
            for frame in super().frames():
                if frame.index == 40:
                    raise CaptureError("camera 0 delivered no frame for 5 s")
                yield frame

    monkeypatch.setattr(analyze_module, "open_source", lambda spec, **how: UnpluggedCamera(GROUP_CLIP))
    out = tmp_path / "session"
    with pytest.raises(CaptureError, match="no frame"):
        analyze_module.analyze("0", out, PipelineOptions(FastPathOptions(model_dir=model_dir)), show_progress=False)
    session = json.loads((out / "session.json").read_text())
    assert session["status"].startswith("failed: camera 0 delivered no frame")
    assert session["counts"]["frames_processed"] == 40
    with open(out / "frames.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == session["counts"]["rows"] > 0 and max(int(r["frame"]) for r in rows) == 39
