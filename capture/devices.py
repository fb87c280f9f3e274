"""What capture devices this machine really has, for the app's pickers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    id: str  # what the session opens: a camera index, or a microphone's name
    name: str  # what the picker shows


def list_camera_devices(max_index: int = 4) -> list[Device]:
    from capture.camera import list_cameras

    return [Device(str(i), f"Camera {i}") for i in list_cameras(max_index)]


def list_microphones() -> tuple[list[Device], str | None]:
    """Input devices PortAudio sees, and why there are none when there are none."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        return [], f"sounddevice cannot load PortAudio ({exc}); install Debian's libportaudio2"
    from capture.microphone import refresh_portaudio

    refresh_portaudio(sounddevice)
    try:
        devices = sounddevice.query_devices()
    except Exception as exc:  # noqa: BLE001 - PortAudio raises its own error types
        return [], f"PortAudio cannot list devices: {exc}"
    inputs = [Device(d["name"], d["name"]) for d in devices if d.get("max_input_channels", 0) > 0]
    return inputs, None if inputs else "no microphone found"
