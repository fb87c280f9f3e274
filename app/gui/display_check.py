"""Is there a display to open a window on? Asked before Qt loads, because Qt aborts the whole process (exit 134,
advising a reinstall) when the display it picks does not answer."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engines.errors import EmolensError

HEADLESS_HINT = "Run it in a desktop session, or headless: emolens analyze INPUT --out DIR"


def check_display() -> None:
    """Qt aborts the whole process (exit 134, advising a reinstall) when it cannot reach the display it picks: make
    sure one answers first, and otherwise say in one line what to do instead. QT_QPA_PLATFORM=offscreen (the
    tests), minimal, eglfs, vnc ... need no display server and pass."""
    asked = [name.split(":")[0].strip() for name in os.environ.get("QT_QPA_PLATFORM", "").split(";")]
    asked = [name for name in asked if name]
    if any(name != "xcb" and not name.startswith("wayland") for name in asked):
        return  # a platform with no display server, or one the user chose knowingly
    problems = []
    if not asked or "xcb" in asked:
        if (problem := x_display_problem()) is None:
            return
        problems.append(problem)
    wayland = any(name.startswith("wayland") for name in asked)
    if wayland or (not asked and os.environ.get("WAYLAND_DISPLAY")):
        if (problem := wayland_display_problem()) is None:
            if not asked:  # only Wayland answers: Qt must not try X first
                os.environ["QT_QPA_PLATFORM"] = "wayland"
            return
        problems.append(problem)
    raise EmolensError(f"no display to open a window on: {'; '.join(problems)}. {HEADLESS_HINT}")


def x_display_problem() -> str | None:
    """None when the X server $DISPLAY names accepts a connection (as Qt's xcb plugin makes it: libxcb, with the
    user's X authority), else why not."""
    import ctypes
    import re

    display = os.environ.get("DISPLAY", "")
    if not display:
        return "DISPLAY is not set"
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return "libxcb.so.1 is not installed, which Qt needs for X (Debian: apt install libxcb1)"
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.restype = ctypes.c_int
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    xcb.xcb_get_setup.restype = ctypes.c_void_p
    xcb.xcb_get_setup.argtypes = [ctypes.c_void_p]
    xcb.xcb_setup_roots_length.restype = ctypes.c_int
    xcb.xcb_setup_roots_length.argtypes = [ctypes.c_void_p]
    screen = ctypes.c_int(0)
    sys.stderr.flush()
    saved = os.dup(2)  # libxcb writes an X server's refusal to stderr itself; the line below says it once
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        connection = xcb.xcb_connect(display.encode(), ctypes.byref(screen))
        error = xcb.xcb_connection_has_error(connection)
        if error == 0 and screen.value >= xcb.xcb_setup_roots_length(xcb.xcb_get_setup(connection)):
            error = 6  # XCB_CONN_CLOSED_INVALID_SCREEN: libxcb leaves this check to its caller, as Qt makes it
        xcb.xcb_disconnect(connection)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    if error == 0:
        return None
    if error == 5:  # XCB_CONN_CLOSED_PARSE_ERR
        return f"DISPLAY={display} is not a display name such as :0"
    if error == 6:  # XCB_CONN_CLOSED_INVALID_SCREEN
        return f"the X server at DISPLAY={display} has no screen {screen.value}"
    local = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    if local and not Path(f"/tmp/.X11-unix/X{local.group(1)}").exists():
        return f"no X server at DISPLAY={display} (nothing at /tmp/.X11-unix/X{local.group(1)})"
    return f"the X server at DISPLAY={display} does not answer or refuses this user (see XAUTHORITY, xhost)"


def wayland_display_problem() -> str | None:
    """None when the Wayland compositor $WAYLAND_DISPLAY names accepts a connection, else why not."""
    import socket

    name = os.environ.get("WAYLAND_DISPLAY", "")
    if not name:
        return "WAYLAND_DISPLAY is not set"
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if not os.path.isabs(name) and not runtime:
        return f"WAYLAND_DISPLAY={name} but XDG_RUNTIME_DIR is not set"
    path = os.path.join(runtime, name)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(path)
    except OSError as exc:
        return f"no Wayland compositor at WAYLAND_DISPLAY={name} ({path}: {exc.strerror or exc})"
    return None
