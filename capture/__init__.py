"""Frame sources: files, still images, cameras and synthetic clips, on one clock."""

from capture.source import CaptureError, FrameSource, open_source

__all__ = ["CaptureError", "FrameSource", "open_source"]
