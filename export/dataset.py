"""The batch dataset: every session's frames in one hive-partitioned Parquet dataset.

`DIR/dataset/session=<id>/part-0.parquet` holds one session's frames.parquet with
two columns more, `session_id` and `source` (the input's path), so that pandas
(`pd.read_parquet(DIR / "dataset")`), polars (`pl.read_parquet(f"{DIR}/dataset/**/*.parquet")`)
and DuckDB (`SELECT * FROM 'DIR/dataset/**/*.parquet'`) read all sessions as one
table with no arguments. A part is written under a temporary name and
renamed, and only for a session that completed, so a kill leaves either no part
or a whole one; a session done again replaces its part: rows are never
duplicated. `completed()` checks a session rather than assuming it: its
session.json says complete, its frames.parquet and its part hold the rows
session.json counts, and its input is the file it was made of (the size and
modification time its part recorded).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from export.frames_parquet import ROW_GROUP_ROWS, _pyarrow, write_tables_whole

DATASET = "dataset"
PART = "part-0.parquet"
SOURCE_KEY = b"emolens_input"  # a part's metadata: the input's size and modification time when it was analysed


def part_path(root: Path, session_id: str) -> Path:
    return root / DATASET / f"session={session_id}" / PART


def input_fingerprint(path: Path) -> dict | None:
    """What tells a changed input from the one a session was made of: its size and modification time."""
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_part(root: Path, session_id: str, source: str, session_folder: Path, fingerprint: dict | None) -> int:
    """The session's frames as its partition of the dataset, a row group at a time, with the fingerprint of the
    input it was made of (taken before its analysis) in the file's metadata; returns its row count."""
    pa = _pyarrow()
    frames = pa.parquet.ParquetFile(session_folder / "frames.parquet")
    schema = frames.schema_arrow.append(pa.field("session_id", pa.string())).append(pa.field("source", pa.string()))
    schema = schema.with_metadata({**(schema.metadata or {}), SOURCE_KEY: json.dumps(fingerprint)})

    def tables():
        for batch in frames.iter_batches(batch_size=ROW_GROUP_ROWS):
            n = batch.num_rows
            columns = [*batch.columns, pa.array([session_id] * n, pa.string()), pa.array([source] * n, pa.string())]
            yield pa.Table.from_arrays(columns, schema=schema)

    path = part_path(root, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tables_whole(tables(), schema, path)


def _part_fingerprint(path: Path) -> dict | None:
    pa = _pyarrow()
    try:
        return json.loads((pa.parquet.read_schema(path).metadata or {}).get(SOURCE_KEY, b"null"))
    except (OSError, ValueError, pa.ArrowException):
        return None


def stale_parts(root: Path, session_ids: set[str]) -> list[str]:
    """Sessions with a part in the dataset that are not among `session_ids` (an input left out of this run, moved
    or renamed): left there, the dataset would hold rows batch.json does not count, or a recording twice."""
    folder = root / DATASET
    if not folder.is_dir():
        return []
    found = (p.name.removeprefix("session=") for p in folder.iterdir() if p.name.startswith("session="))
    return sorted(s for s in found if s not in session_ids)


def drop_part(root: Path, session_id: str) -> None:
    shutil.rmtree(part_path(root, session_id).parent, ignore_errors=True)


def parquet_rows(path: Path) -> int | None:
    """A Parquet file's row count from its footer, or None when it is missing or unreadable."""
    pa = _pyarrow()
    try:
        return pa.parquet.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException):
        return None


def session_rows(session_folder: Path) -> tuple[str | None, int | None]:
    """(status, rows) as the folder's session.json states them; (None, None) when it cannot be read."""
    try:
        info = json.loads((session_folder / "session.json").read_text())
        return info.get("status"), info.get("counts", {}).get("rows")
    except (OSError, ValueError, AttributeError):
        return None, None


def completed(root: Path, session_id: str, session_folder: Path, source: Path) -> tuple[bool, str]:
    """Whether a session is done, checked: (True, "") or (False, why it is to be done again)."""
    status, rows = session_rows(session_folder)
    if status is None:
        return False, "no readable session.json"
    if status != "complete":
        return False, f"its session.json says {status!r}"
    on_disk = parquet_rows(session_folder / "frames.parquet")
    if on_disk != rows:
        return False, f"session.json counts {rows} rows, frames.parquet holds {on_disk}"
    in_part = parquet_rows(part_path(root, session_id))
    if in_part != rows:
        return False, f"its part of the dataset holds {in_part} rows of {rows}"
    if _part_fingerprint(part_path(root, session_id)) != input_fingerprint(source):
        return False, f"{source} changed (its size or modification time) since it was analysed"
    return True, ""
