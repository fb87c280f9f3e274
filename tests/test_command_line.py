"""The command line as a new user meets it: --version, `devices`, the window's options on plain `emolens`, a
display that does not answer, and help for every argument in one default style."""

from __future__ import annotations

import argparse
import glob
import json
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import EMOLENS, GROUP_CLIP, run_emolens

from app.cli import build_parser, with_command
from engines import __version__


def _free_display() -> str:
    """An X display number nothing listens on (:55 unless something does)."""
    number = 55
    while Path(f"/tmp/.X11-unix/X{number}").exists():
        number += 1
    return f":{number}"


def _parsers(parser: argparse.ArgumentParser, name: str = "emolens"):
    """The top-level parser and every command's, with their names."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {command}")


def test_version_prints_the_package_version():
    proc = run_emolens("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"emolens {__version__}"


def test_devices_says_what_it_found_or_why_not_and_exits_0():
    proc = run_emolens("devices")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    cameras = lines.index(next(line for line in lines if line.startswith("cameras")))
    microphones = lines.index(next(line for line in lines if line.startswith("microphones")))
    camera_lines, microphone_lines = lines[cameras + 1 : microphones], lines[microphones + 1 :]
    assert camera_lines and microphone_lines
    if not glob.glob("/dev/video*"):  # this machine: no camera at all, and the line says so
        assert camera_lines == [camera_lines[0]] and camera_lines[0].startswith("  none: ")
        assert "no /dev/video* device at all" in camera_lines[0]
    for line in microphone_lines:  # an index and a name each, or none and why (PortAudio's words)
        assert re.match(r"  \d+  \S", line) or (line.startswith("  none: ") and "PortAudio" in line), line

    report = json.loads(run_emolens("devices", "--json").stdout)
    for kind, plain in (("cameras", camera_lines), ("microphones", microphone_lines)):
        found, why = report[kind]["devices"], report[kind]["why_none"]
        assert (why is None) == bool(found)  # a reason exactly when none was found
        assert len(found) == sum(1 for line in plain if not line.startswith("  none: "))
        if why:
            assert plain == [f"  none: {why}"]


def test_cameras_that_do_not_capture_are_skipped_with_the_reason(monkeypatch):
    """Three /dev/video* nodes: a metadata node, one this account may not open, and a camera that delivers."""
    import errno

    from capture import devices

    def query(path):
        if path == "/dev/video1":
            raise PermissionError(errno.EACCES, "Permission denied")
        return "uvcvideo", "Integrated Camera", path == "/dev/video2"

    monkeypatch.setattr(devices.glob, "glob", lambda pattern: ["/dev/video10", "/dev/video1", "/dev/video2"])
    monkeypatch.setattr(devices, "_query_capabilities", query)
    monkeypatch.setattr(devices, "_delivers_a_frame", lambda index, timeout_s: index == 2)
    found, why = devices.find_cameras()
    assert [(c.index, c.path, c.name) for c in found] == [(2, "/dev/video2", "Integrated Camera")] and why is None

    monkeypatch.setattr(devices, "_delivers_a_frame", lambda index, timeout_s: False)
    found, why = devices.find_cameras()
    assert found == []
    assert "/dev/video1: permission denied (add your account to the 'video' group" in why
    assert "/dev/video10: not a video capture node" in why
    assert "/dev/video2 (Integrated Camera): opens but gives no frame" in why


def test_v4l2_capabilities_are_read_from_the_drivers_answer(monkeypatch):
    """VIDIOC_QUERYCAP's struct as the kernel fills it: a capture node and a metadata node of one camera."""
    from capture import devices

    def answer(device_caps):
        def ioctl(fd, request, buffer):
            assert request == 0x80685600  # _IOR('V', 0, struct v4l2_capability), 104 bytes
            buffer[:] = devices._V4L2_CAPABILITY.pack(
                b"uvcvideo", b"HD Webcam: HD Webcam", b"usb-0000:00:14.0-1", 0x60800, 0x84A00001, device_caps
            )

        return ioctl

    monkeypatch.setattr(devices.os, "open", lambda path, flags: 99)
    monkeypatch.setattr(devices.os, "close", lambda fd: None)
    monkeypatch.setattr(devices.fcntl, "ioctl", answer(0x04200001))
    assert devices._query_capabilities("/dev/video0") == ("uvcvideo", "HD Webcam: HD Webcam", True)
    monkeypatch.setattr(devices.fcntl, "ioctl", answer(0x04A00000))  # V4L2_CAP_META_CAPTURE, no video
    assert devices._query_capabilities("/dev/video1") == ("uvcvideo", "HD Webcam: HD Webcam", False)


def test_the_windows_options_alone_mean_gui():
    parser = build_parser()
    args = parser.parse_args(
        with_command(
            parser,
            ["--settings", "x.ini", "--start", "--source", "clip.mp4", "--fullscreen", "--llm", "gemma3-270m"],
        )
    )
    assert args.command == "gui" and args.settings == Path("x.ini") and args.start and args.source == "clip.mp4"
    assert args.fullscreen and args.llm == "gemma3-270m" and args.backend is None and args.explain is None
    assert with_command(parser, []) == ["gui"]
    assert parser.parse_args(with_command(parser, ["--backend=onnxruntime-cpu", "--no-explain"])).backend == (
        "onnxruntime-cpu"
    )
    assert with_command(parser, ["analyze", "x.mp4", "--out", "o"]) == ["analyze", "x.mp4", "--out", "o"]
    assert with_command(parser, ["--help"]) == ["--help"] and with_command(parser, ["--version"]) == ["--version"]
    assert with_command(parser, ["--bogus"]) == ["--bogus"]  # argparse names the mistake


def test_plain_emolens_with_the_windows_options_reaches_the_display_check(tmp_path):
    """`emolens --settings F --source CLIP --start` parses as the window's options and gets as far as opening the
    window: on a display nothing answers, one line and exit 2, before Qt (no abort, no settings file made)."""
    settings = tmp_path / "emolens.ini"
    display = _free_display()
    proc = run_emolens(
        "--settings",
        str(settings),
        "--source",
        str(GROUP_CLIP),
        "--start",
        env_extra={"DISPLAY": display, "QT_QPA_PLATFORM": "", "WAYLAND_DISPLAY": ""},
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith("emolens: error: no display to open a window on: no X server at DISPLAY=" + display)
    assert "emolens analyze INPUT --out DIR" in lines[0]
    assert "Reinstalling" not in proc.stderr and "Traceback" not in proc.stderr
    assert not settings.exists()

    proc = run_emolens("--bogus")
    assert proc.returncode == 2 and "unrecognized arguments: --bogus" in proc.stderr


def test_gui_help_lists_the_keys_and_the_new_options():
    proc = run_emolens("gui", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for words in (
        "Space starts and stops",
        "R records",
        "Ctrl+R opens the last recording's report",
        "F full screen",
        "Ctrl+, settings",
        "click a face to select it",
        "--backend NAME",
        "--llm NAME|PATH",
        "--fullscreen",
    ):
        assert words in text, words


def test_the_keys_in_gui_help_are_the_windows_shortcuts(qtbot, tmp_path):
    from app.commands.gui import KEYS
    from app.gui.main_window import MainWindow
    from app.gui.preferences import PreferencesStore

    window = MainWindow(PreferencesStore(tmp_path / "emolens.ini"))
    qtbot.addWidget(window)
    actions = [window.start_action, window.record_action, window.report_action]
    actions += [window.fullscreen_action, window.settings_action]
    keys = [action.shortcut().toString() for action in actions]
    assert keys == ["Space", "R", "Ctrl+R", "F", "Ctrl+,"]
    for key in keys:
        assert re.search(rf"(^|[ :]){re.escape(key)} ", KEYS), key


def test_gui_options_reach_the_window(qtbot, monkeypatch, tmp_path):
    """--backend for every session it starts (settings changed in between included), --llm and --no-explain in
    its settings, --fullscreen on screen."""
    from dataclasses import replace

    from app.gui import launch, main_window

    built = []

    class Window(main_window.MainWindow):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    class App:
        def exec(self):
            return 0

    monkeypatch.setattr(main_window, "MainWindow", Window)
    monkeypatch.setattr(launch, "make_application", App)
    monkeypatch.setattr(launch, "stop_on_signals", lambda shutdown: None)  # pytest keeps its own Ctrl+C
    code = launch.run_app(
        str(GROUP_CLIP),
        tmp_path / "emolens.ini",
        start=False,
        explain=True,
        backend="onnxruntime-cpu",
        llm="gemma3-270m",
        fullscreen=True,
    )
    window = built[0]
    qtbot.addWidget(window)
    assert code == 0
    assert window.isFullScreen() and window.fullscreen_action.isChecked()
    config = window.control.config()
    assert config.fast.backend == "onnxruntime-cpu" and config.source == str(GROUP_CLIP)
    assert config.explain is not None and config.explain.llm == "gemma3-270m"
    window.control.prefs = replace(window.control.prefs, detect_every=5)  # the settings dialog's way
    config = window.control.config()
    assert config.fast.backend == "onnxruntime-cpu" and config.fast.detect_every == 5


def test_every_argument_has_help_and_one_default_style():
    parser = build_parser()
    seen = 0
    for name, p in _parsers(parser):
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            seen += 1
            label = f"{name} {'/'.join(action.option_strings) or action.metavar or action.dest}"
            assert action.help and action.help.strip(), f"{label} has no help"
            if not action.option_strings:  # positionals are shown by their metavar: INPUT, DIR, CSV, COMMAND
                shown = action.metavar or action.dest
                assert shown == shown.upper(), f"{label} is shown as {shown!r}"
            text = " ".join(action.help.split())
            mentions = len(re.findall("default", text, re.IGNORECASE))
            assert mentions == text.count("(default: "), f"{label}: {text!r}"
            if mentions:
                assert mentions == 1 and re.search(r"\(default: [^()]*(\([^()]*\)[^()]*)*\)$", text), (label, text)
        rendered = " ".join(p.format_help().split())  # argparse adds nothing of its own ("(default: None)")
        assert "None" not in rendered and "default: True" not in rendered and "default: False" not in rendered, name
    assert seen > 60


def test_bench_usage_names_its_inputs_once():
    usage = " ".join(run_emolens("bench", "--help").stdout.split())
    assert "INPUT [INPUT ...]" in usage and " input" not in usage


def test_the_window_opens_full_screen_on_a_real_x_display_with_pyqts_own_plugins(x_display, tmp_path):
    """Plain `emolens --settings F --source CLIP --fullscreen` on Xvfb with a window manager: the window covers the
    screen, and Qt loads its platform plugin from PyQt6, not from OpenCV's bundled Qt; SIGTERM closes it."""
    env = {**x_display, "QT_QPA_PLATFORM": "", "QT_DEBUG_PLUGINS": "1"}
    proc = subprocess.Popen(
        [str(EMOLENS), "--settings", str(tmp_path / "emolens.ini"), "--source", str(GROUP_CLIP), "--fullscreen"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        geometry, deadline = "", time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", "^emolens$"], env=env, capture_output=True, text=True
            )
            windows = found.stdout.split()
            if windows:
                geometry = subprocess.run(
                    ["xdotool", "getwindowgeometry", windows[-1]], env=env, capture_output=True, text=True
                ).stdout
                if "1280x800" in geometry:
                    break
            time.sleep(0.5)
        assert "1280x800" in geometry, (geometry, proc.poll())
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    loaded = re.findall(r'"([^"]+)" loaded library', err)
    platform = [path for path in loaded if "/platforms/" in path]
    assert platform and all("/PyQt6/" in path for path in platform), platform
    assert "/cv2/" not in err
