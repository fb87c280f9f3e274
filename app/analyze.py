"""`emolens analyze`: run the fast path headless over a file, an image or a camera, and write the session folder."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from app.assembly import FastPathOptions, build_fast_path
from capture import open_source
from engines.errors import EmolensError
from export.frames_csv import FramesCsvWriter
from export.session_info import SessionInfo


class NoFaceFound(EmolensError):
    """The whole input was processed and no face appeared in it."""


def analyze(
    spec: str, out_dir: Path, options: FastPathOptions, max_frames: int | None = None, show_progress: bool = True
) -> dict:
    def say(line: str) -> None:
        print(line, file=sys.stderr)

    source = open_source(spec)
    with source:
        fast_path, info = build_fast_path(options, progress=say)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmolensError(f"cannot create output folder {out_dir}: {exc.strerror}") from exc
        session = SessionInfo(
            out_dir / "session.json",
            input={"spec": spec, "description": source.description, "fps": source.fps, "live": source.live},
            **info,
        )
        writer = FramesCsvWriter(out_dir / "frames.csv")
        processed = frames_with_faces = 0
        tracks: set[int] = set()
        total = source.frame_count if max_frames is None else min(source.frame_count or max_frames, max_frames)
        status = "complete"
        # A bar on a terminal only: in a pipe or a log it is noise, and one frame needs none.
        bar_on = show_progress and sys.stderr.isatty() and total != 1
        bar = tqdm(total=total, unit="frame", desc="analyze", disable=not bar_on, file=sys.stderr, dynamic_ncols=True)
        try:
            for frame in source.frames():
                result = fast_path.process(frame)
                writer.write(result)
                processed += 1
                frames_with_faces += bool(result.faces)
                tracks.update(face.track_id for face in result.faces)
                bar.update(1)
                if max_frames is not None and processed >= max_frames:
                    break
        except KeyboardInterrupt:
            status = "stopped by user"
        except EmolensError as exc:  # e.g. a camera that stops delivering: keep what was written, say why
            status = f"failed: {exc}"
            raise
        finally:
            bar.close()
            writer.close()
            summary = {
                "frames_processed": processed,
                "frames_dropped": source.dropped,
                "frames_with_faces": frames_with_faces,
                "tracks": len(tracks),
                "rows": writer.rows,
            }
            session.finish(status=status, counts=summary)
    if processed and frames_with_faces == 0:
        raise NoFaceFound(
            f"no face found in {spec} ({processed} frame{'s' * (processed != 1)}); "
            f"wrote {out_dir / 'frames.csv'} with no rows"
        )
    return {**summary, "frames_csv": str(out_dir / "frames.csv"), "session_json": str(out_dir / "session.json")}
