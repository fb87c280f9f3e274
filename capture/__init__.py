"""Frame sources: files, still images, cameras and synthetic clips, on one clock."""

import os

# OpenCV and FFmpeg print their own warnings for a missing camera or a corrupt file;
# sources report those once, as a CaptureError in our own words.
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

from capture.source import CaptureError, FrameSource, open_source  # noqa: E402

__all__ = ["CaptureError", "FrameSource", "open_source"]
