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
SETTINGS_KEY = b"emolens_settings"  # and a digest of the settings and models it was analysed with


def part_path(root: Path, session_id: str) -> Path:
    return root / DATASET / f"session={session_id}" / PART


def input_fingerprint(path: Path) -> dict | None:
    """What tells a changed input from the one a session was made of: its size and modification time."""
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_part(root: Path, session_id: str, source: str, session_folder: Path, fingerprint: dict | None,
               settings: str) -> int:  # fmt: skip
    """The session's frames as its partition of the dataset, a row group at a time, with the fingerprint of the
    input it was made of (taken before its analysis) and the digest of its settings in the file's metadata;
    returns its row count."""
    pa = _pyarrow()
    frames = pa.parquet.ParquetFile(session_folder / "frames.parquet")
    schema = frames.schema_arrow.append(pa.field("session_id", pa.string())).append(pa.field("source", pa.string()))
    stamp = {SOURCE_KEY: json.dumps(fingerprint), SETTINGS_KEY: settings}
    schema = schema.with_metadata({**(schema.metadata or {}), **stamp})

    def tables():
        for batch in frames.iter_batches(batch_size=ROW_GROUP_ROWS):
            n = batch.num_rows
            columns = [*batch.columns, pa.array([session_id] * n, pa.string()), pa.array([source] * n, pa.string())]
            yield pa.Table.from_arrays(columns, schema=schema)

    path = part_path(root, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tables_whole(tables(), schema, path)


def _part_stamp(path: Path) -> tuple[dict | None, str | None]:
    """The input fingerprint and the settings digest a part was written with."""
    pa = _pyarrow()
    try:
        metadata = pa.parquet.read_schema(path).metadata or {}
        settings = metadata.get(SETTINGS_KEY)
        return json.loads(metadata.get(SOURCE_KEY, b"null")), settings.decode() if settings else None
    except (OSError, ValueError, pa.ArrowException):
        return None, None


def stale_entries(root: Path, session_ids: set[str]) -> list[str]:
    """What the dataset folder holds besides the partitions of `session_ids`: a part of an input left out of this
    run (moved or renamed), or anything else put there. Left there, readers would get rows batch.json does not
    count, a recording twice, or an error."""
    folder = root / DATASET
    if not folder.is_dir():
        return []
    own = {f"session={s}" for s in session_ids}
    return sorted(p.name for p in folder.iterdir() if not (p.name in own and p.is_dir() and not p.is_symlink()))


def remove_entry(root: Path, name: str) -> None:
    """One entry of the dataset folder out, be it a folder, a file or a link."""
    path = root / DATASET / name
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def drop_part(root: Path, session_id: str) -> None:
    remove_entry(root, part_path(root, session_id).parent.name)


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


def completed(root: Path, session_id: str, session_folder: Path, source: Path, settings: str) -> tuple[bool, str]:
    """Whether a session is done, checked: (True, "") or (False, why it is to be done again)."""
    status, rows = session_rows(session_folder)
    if status is None:
        return False, "no readable session.json"
    if status != "complete":
        return False, f"its session.json says {status!r}"
    on_disk = parquet_rows(session_folder / "frames.parquet")
    if on_disk is None:
        return False, "its frames.parquet is missing or unreadable"
    if on_disk != rows:
        return False, f"session.json counts {rows} rows, frames.parquet holds {on_disk}"
    part = part_path(root, session_id)
    in_part = parquet_rows(part)
    if in_part is None:
        return False, "its part of the dataset is missing or unreadable"
    if in_part != rows:
        return False, f"its part of the dataset holds {in_part} rows of {rows}"
    if [p.name for p in part.parent.iterdir()] != [PART]:
        return False, "its partition of the dataset holds files emolens did not write"
    fingerprint, digest = _part_stamp(part)
    now = input_fingerprint(source)
    if now is None:
        return False, f"{source} is gone"
    if fingerprint != now:
        return False, f"{source} changed (its size or modification time) since it was analysed"
    if digest != settings:
        return False, "it was analysed with other settings or models"
    return True, ""
