"""Frame sources: files, images, a camera-style live reader (fed by a file: no /dev/video here)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import GROUP_CLIP

from capture import CaptureError, open_source
from capture.camera import CameraSource
from capture.still_image import StillImageSource
from capture.video_file import VideoFileSource


def test_video_file_yields_every_frame_on_media_time():
    with open_source(str(GROUP_CLIP)) as source:
        assert isinstance(source, VideoFileSource)
        frames = list(source.frames())
    assert len(frames) == source.frame_count == 127
    assert [f.index for f in frames] == list(range(127))
    times = np.array([f.t for f in frames])
    assert np.all(np.diff(times) > 0) and times[1] == pytest.approx(1 / source.fps)
    assert frames[0].image.shape == (528, 720, 3) and source.dropped == 0


def test_camera_source_keeps_only_the_newest_frame_and_counts_drops():
    """A slow consumer gets fewer frames, never a backlog: delivered + dropped = everything grabbed."""
    source = CameraSource(str(GROUP_CLIP))
    delivered = []
    try:
        for frame in source.frames():
            delivered.append(frame)
            time.sleep(0.02)  # a consumer slower than the decoder
    finally:
        source.close()
    times = [f.t for f in delivered]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert source.dropped > 0
    assert len(delivered) + source.dropped == 127
    assert [f.index for f in delivered] == list(range(len(delivered)))


def test_still_image_is_one_frame(tmp_path):
    import cv2

    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.full((40, 60, 3), 128, np.uint8))
    source = open_source(str(path))
    assert isinstance(source, StillImageSource)
    frames = list(source.frames())
    assert len(frames) == 1 and frames[0].image.shape == (40, 60, 3)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: str(d / "missing.mp4"), "no such file"),
        (lambda d: str(d), "is a folder"),
        (lambda d: _write(d / "corrupt.mp4", b"\x00\x01not a video" * 500), "cannot (open|read)"),
        (lambda d: _write(d / "corrupt.jpg", b"\xff\xd8 not a jpeg"), "cannot decode image"),
        (lambda d: "97", "camera 97 could not be opened"),
    ],
)
def test_bad_sources_raise_a_clear_capture_error(tmp_path, make, message):
    with pytest.raises(CaptureError, match=message):
        open_source(make(tmp_path))


def _write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_file_playback_paces_like_a_camera_and_drops_for_a_slow_consumer():
    """Paced at the file's 30 fps: frames come at about that rate, a slow reader skips frames, never queues them."""
    from capture.playback import FilePlayback

    source = FilePlayback(GROUP_CLIP, pace=True)
    delivered = []
    start = time.monotonic()
    try:
        for frame in source.frames():
            delivered.append(frame)
            time.sleep(0.07)  # a consumer at ~14 fps
    finally:
        source.close()
    elapsed = time.monotonic() - start
    assert source.live
    assert 127 / 30 * 0.9 < elapsed < 127 / 30 + 1.0  # real time, not as fast as it decodes
    assert source.dropped > 40 and len(delivered) + source.dropped == 127
    assert [f.t for f in delivered] == sorted(f.t for f in delivered)


def test_file_playback_loops_and_interrupt_ends_a_waiting_reader():
    import threading

    from capture.playback import FilePlayback

    unpaced = FilePlayback(GROUP_CLIP, loop=True, pace=False)
    frames = []
    for frame in unpaced.frames():
        frames.append(frame)
        if len(frames) == 300:
            break
    unpaced.close()
    assert len(frames) == 300 > 127 and frames[-1].t == pytest.approx(299 / 30)  # media time runs on

    paced = FilePlayback(GROUP_CLIP, loop=True, pace=True)
    threading.Timer(0.5, paced.interrupt).start()
    start = time.monotonic()
    got = sum(1 for _ in paced.frames())
    paced.close()
    assert got > 5 and time.monotonic() - start < 2.0


def test_a_looped_file_that_disappears_ends_and_cannot_reopen(tmp_path):
    import shutil

    from capture.playback import FilePlayback

    clip = tmp_path / "clip.mp4"
    shutil.copy(GROUP_CLIP, clip)
    FilePlayback(clip).close()
    clip.unlink()
    with pytest.raises(CaptureError, match="no such video file"):
        FilePlayback(clip)
