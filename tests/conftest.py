"""Shared fixtures: the real models, exported once per test session into a temporary folder."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Qt draws into memory in tests: the real widgets, no screen needed (set before pytest-qt makes the app)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATA = Path(__file__).parent / "data"
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="needs torch: ./install.sh --train installs it")


def has_cuda() -> bool:
    """A CUDA GPU that torch can use (a CUDA build of torch and a driver)."""
    if not HAS_TORCH:
        return False
    import torch

    return torch.cuda.is_available()


def unshare_works() -> bool:
    """Whether a user+mount namespace can be made here, to mount a real small tmpfs as a nearly full disk."""
    import shutil

    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True, timeout=10
    )
    return probe.returncode == 0


needs_small_disk = pytest.mark.skipif(not unshare_works(), reason="no user+mount namespace here to mount a tmpfs in")


def analyze_on_small_disk(size_kib: int, tmp_path: Path, *args: str) -> tuple[Path, int, str]:
    """`emolens analyze CLIP --out MOUNT/s ARGS` on a real tmpfs of `size_kib` KiB mounted in a private
    namespace; returns a copy of the session folder (which may not exist), the exit code and stderr."""
    mount, kept = tmp_path / "small-disk", tmp_path / "kept"
    mount.mkdir()
    script = (
        f'mount -t tmpfs -o size={size_kib}k tmpfs "$1" && shift && "$@" 2>"$KEPT.err" >"$KEPT.out"; '
        'echo $? >"$KEPT.rc"; if [ -e "$OUT" ]; then cp -a "$OUT" "$KEPT"; fi'
    )
    out = mount / "s"
    subprocess.run(
        ["unshare", "-Urm", "sh", "-c", script, "sh", str(mount), str(EMOLENS), "analyze", *args, "--out", str(out)],
        check=True,
        timeout=300,
        env={**os.environ, "KEPT": str(kept), "OUT": str(out)},
    )
    return kept, int(Path(f"{kept}.rc").read_text()), Path(f"{kept}.err").read_text()


needs_cuda = pytest.mark.skipif(not has_cuda(), reason="needs a CUDA GPU and a CUDA build of torch (neither is here)")
GROUP_CLIP = DATA / "group_pan.mp4"
PORTRAIT_CLIP = DATA / "portrait_zoom.mp4"
EXPRESSIONS_CLIP = DATA / "expressions.mp4"  # faces that smile, raise brows, blink: scripts/make_expression_clip.py
EMOLENS = Path(sys.executable).parent / "emolens"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    from export.models.chain import export_models

    folder = tmp_path_factory.mktemp("models")
    export_models(folder, progress=lambda line: None)
    os.environ["EMOLENS_MODEL_DIR"] = str(folder)  # for build_fast_path's default and for subprocesses
    return folder


@pytest.fixture(scope="session")
def backend():
    from engines.backends.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend("cpu", threads=1)


@pytest.fixture(scope="session")
def detector(model_dir, backend):
    from engines.fast.face_detector import RetinaFaceDetector
    from engines.model_assets import DETECTOR, load_asset

    asset = load_asset(DETECTOR, model_dir)
    return RetinaFaceDetector(backend.load(asset.path), asset)  # the app's default size: auto


@pytest.fixture(scope="session")
def face_mesh(model_dir, backend):
    from engines.fast.face_mesh import FaceMesh
    from engines.model_assets import FACE_MESH, IRIS, load_asset

    mesh, iris = load_asset(FACE_MESH, model_dir), load_asset(IRIS, model_dir)
    return FaceMesh(backend.load(mesh.path), mesh, backend.load(iris.path), iris)


@pytest.fixture(scope="session")
def classifier(model_dir, backend):
    from engines.fast.expression import ExpressionClassifier
    from engines.model_assets import EXPRESSION, load_asset

    asset = load_asset(EXPRESSION, model_dir)
    return ExpressionClassifier(backend.load(asset.path), asset)


def frame_rows_with_people(folder: Path) -> list[dict]:
    """frames.csv's rows, each with `person`: its person_id, or for a row written while that was being decided,
    the person the session's `person` event gave its track (as frames.parquet fills it in)."""
    import csv
    import json

    decided = {}
    for line in (folder / "events.jsonl").read_text().splitlines():
        record = json.loads(line) if line.strip() else {}
        if record.get("event") == "person":
            decided[str(record["track_id"])] = str(record["person_id"])
    with open(folder / "frames.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["person"] = row["person_id"] or decided.get(row["track_id"], "")
    return rows


def run_emolens(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([str(EMOLENS), *args], capture_output=True, text=True, env=env, timeout=300)


@contextlib.contextmanager
def pulse_server(runtime: Path):
    """A real PulseAudio server with a null sink `vsink` whose monitor is the default source: what is played
    into `vsink` is what a sounddevice input records. Yields (the environment to reach it, the process)."""
    import shutil
    import time

    if not (shutil.which("pulseaudio") and shutil.which("pactl") and shutil.which("paplay")):
        pytest.skip("PulseAudio is not installed (scripts/install-debian-packages.sh installs it)")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PULSE_RUNTIME_PATH": str(runtime), "HOME": str(runtime)}
    server = subprocess.Popen(
        [
            "pulseaudio",
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--load=module-null-sink sink_name=vsink",
            f"--load=module-native-protocol-unix socket={runtime}/native auth-anonymous=1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pulse = {**env, "PULSE_SERVER": f"unix:{runtime}/native"}
    for _ in range(100):
        if subprocess.run(["pactl", "info"], env=pulse, capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    else:
        server.kill()
        pytest.skip("PulseAudio did not start here")
    subprocess.run(["pactl", "set-default-sink", "vsink"], env=pulse, check=True)
    subprocess.run(["pactl", "set-default-source", "vsink.monitor"], env=pulse, check=True)
    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "XDG_RUNTIME_DIR")}
    os.environ.update(PULSE_SERVER=pulse["PULSE_SERVER"], XDG_RUNTIME_DIR=str(runtime))
    try:
        yield pulse, server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def virtual_microphone(tmp_path_factory):
    """Yields a function that plays a wav file into the virtual microphone."""
    with pulse_server(tmp_path_factory.mktemp("pulse")) as (pulse, _server):

        def play(wav: Path) -> None:
            subprocess.run(["paplay", "--device=vsink", str(wav)], env=pulse, check=True, timeout=60)

        yield play


@pytest.fixture
def x_display():
    """A real X server (Xvfb) with a window manager (openbox), as a user's desktop: yields the environment a
    program needs to open its windows there (xdotool gives keys and clicks, ImageMagick's import screenshots)."""
    import shutil
    import time

    missing = [tool for tool in ("Xvfb", "openbox", "xdotool") if not shutil.which(tool)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/install-debian-packages.sh installs them)")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    env = {**os.environ, "DISPLAY": f":{number}", "QT_QPA_PLATFORM": "xcb"}
    manager = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:  # openbox owns the screen once it claims _NET_ACTIVE_WINDOW (xdotool: "claims not to support")
        probe = subprocess.run(["xdotool", "getactivewindow"], env=env, capture_output=True)
        if "claims not to support" not in probe.stderr.decode():
            break
        if time.monotonic() > deadline or manager.poll() is not None:
            manager.kill()
            server.terminate()
            pytest.fail("openbox did not take the X display within 30 s")
        time.sleep(0.1)
    try:
        yield env
    finally:
        manager.terminate()
        server.terminate()
        manager.wait(timeout=10)
        server.wait(timeout=10)
