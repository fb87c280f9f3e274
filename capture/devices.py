"""What capture devices this machine really has, for the app's pickers and `emolens devices`."""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import re
import struct
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    id: str  # what the session opens: a camera index, or a microphone's name
    name: str  # what the picker shows


@dataclass(frozen=True)
class Camera:
    index: int  # what --source takes
    path: str  # /dev/videoN
    name: str  # the driver's name for it, e.g. "Integrated Camera: Integrated C"
    driver: str = ""


@dataclass(frozen=True)
class Microphone:
    index: int  # PortAudio's device index; --mic takes it or the name
    name: str
    channels: int
    sample_rate: float
    host_api: str = ""
    default: bool = False


def list_camera_devices(max_index: int = 4) -> list[Device]:
    from capture.camera import list_cameras

    return [Device(str(i), f"Camera {i}") for i in list_cameras(max_index)]


# struct v4l2_capability: driver[16], card[32], bus_info[32], version, capabilities, device_caps, reserved[3]
_V4L2_CAPABILITY = struct.Struct("16s32s32sIII12x")
_VIDIOC_QUERYCAP = 0x80000000 | (_V4L2_CAPABILITY.size << 16) | (ord("V") << 8) | 0  # _IOR('V', 0, ...)
_V4L2_CAP_VIDEO_CAPTURE = 0x00000001
_V4L2_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
_V4L2_CAP_DEVICE_CAPS = 0x80000000


def find_cameras(read_timeout_s: float = 5.0) -> tuple[list[Camera], str | None]:
    """The V4L2 cameras that really deliver a frame now, and why there are none when there are none.

    A camera shows up as several /dev/video* nodes (the picture, and metadata ones): only nodes that capture
    video count, and only those that give a frame within `read_timeout_s` (one in use elsewhere may not)."""
    nodes = sorted(glob.glob("/dev/video*"), key=_node_number)
    if not nodes:
        return [], (
            "there is no /dev/video* device at all: no camera is plugged in, or its driver is not loaded (in a "
            "container or VM, pass the camera in, e.g. docker run --device /dev/video0)"
        )
    found, skipped = [], []
    for path in nodes:
        number = _node_number(path)
        if number < 0:
            continue
        try:
            driver, card, capture = _query_capabilities(path)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                skipped.append(f"{path}: permission denied (add your account to the 'video' group, log in again)")
            elif exc.errno in (errno.ENOTTY, errno.EINVAL):
                skipped.append(f"{path}: not a V4L2 device")
            else:
                skipped.append(f"{path}: cannot be opened ({exc.strerror or exc})")
            continue
        if not capture:
            skipped.append(f"{path}: not a video capture node (metadata or output)")
            continue
        if not _delivers_a_frame(number, read_timeout_s):
            skipped.append(f"{path} ({card}): opens but gives no frame (in use by another program?)")
            continue
        found.append(Camera(number, path, card or f"Camera {number}", driver))
    return found, None if found else "none delivers a picture: " + "; ".join(skipped)


def _node_number(path: str) -> int:
    match = re.fullmatch(r"/dev/video(\d+)", path)
    return int(match.group(1)) if match else -1


def _query_capabilities(path: str) -> tuple[str, str, bool]:
    """The driver's name, the card's name, and whether the node captures video (VIDIOC_QUERYCAP)."""
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        buffer = bytearray(_V4L2_CAPABILITY.size)
        fcntl.ioctl(fd, _VIDIOC_QUERYCAP, buffer)
    finally:
        os.close(fd)
    driver, card, _bus, _version, capabilities, device_caps = _V4L2_CAPABILITY.unpack(bytes(buffer))
    caps = device_caps if capabilities & _V4L2_CAP_DEVICE_CAPS else capabilities
    name = card.split(b"\0", 1)[0].decode(errors="replace").strip()
    return (
        driver.split(b"\0", 1)[0].decode(errors="replace"),
        name,
        bool(caps & (_V4L2_CAP_VIDEO_CAPTURE | _V4L2_CAP_VIDEO_CAPTURE_MPLANE)),
    )


def _delivers_a_frame(index: int, timeout_s: float) -> bool:
    """Opens camera `index` as the app does (OpenCV) and waits up to `timeout_s` for one frame."""
    import cv2

    got = threading.Event()

    def read() -> None:
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                ok, image = cap.read()
                if ok and image is not None:
                    got.set()
        finally:
            cap.release()

    reader = threading.Thread(target=read, name="camera-probe", daemon=True)
    reader.start()
    reader.join(timeout_s)
    return got.is_set()


def find_microphones() -> tuple[list[Microphone], str | None]:
    """The input devices PortAudio sees, and why there are none when there are none."""
    found, why, _listed = _microphones()
    return found, why


def _microphones() -> tuple[list[Microphone], str | None, bool]:
    """(the input devices, why there are none, whether PortAudio could list devices at all)."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        return [], f"sounddevice cannot load PortAudio ({exc}); install Debian's libportaudio2", False
    from capture.microphone import refresh_portaudio

    refresh_portaudio(sounddevice)
    try:
        devices = sounddevice.query_devices()
        apis = sounddevice.query_hostapis()
    except Exception as exc:  # noqa: BLE001 - PortAudio raises its own error types
        return [], f"PortAudio cannot list devices: {exc}", False
    try:
        default_input = sounddevice.default.device[0]
    except Exception:  # noqa: BLE001
        default_input = -1
    found = [
        Microphone(
            index=index,
            name=d["name"],
            channels=d["max_input_channels"],
            sample_rate=d["default_samplerate"],
            host_api=apis[d["hostapi"]]["name"] if 0 <= d.get("hostapi", -1) < len(apis) else "",
            default=index == default_input,
        )
        for index, d in enumerate(devices)
        if d.get("max_input_channels", 0) > 0
    ]
    if found:
        return found, None, True
    if len(devices) == 0:
        why = (
            "PortAudio sees no sound device at all (no sound card, no sound server such as PipeWire or "
            "PulseAudio running, or in a container none passed in)"
        )
    else:
        why = f"PortAudio sees {len(devices)} sound device(s), none with an input"
    return [], why, True


def list_microphones() -> tuple[list[Device], str | None]:
    """Input devices PortAudio sees, and why there are none when there are none (for the window's picker, which
    shows "None found (audio off)" for "no microphone found")."""
    found, why, listed = _microphones()
    if why is not None and listed:
        why = "no microphone found"
    return [Device(m.name, m.name) for m in found], why
