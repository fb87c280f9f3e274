"""frames.parquet: the frames.csv table, typed, with each column's unit in its metadata.

Parquet writes its index at the end, so it cannot survive a kill mid-write: it
is built from frames.csv when a recording closes, and `emolens repair` builds it
again for a session that never closed. pandas and polars read it with no arguments.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from engines.errors import EmolensError
from export.frames_schema import FRAME_COLUMNS, FRAMES_SCHEMA_VERSION
from export.line_file import WholeLinesReader, readable_lines

_TYPES = {"float": "float32", "int": "int64", "bool": "bool_", "str": "string"}


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.csv
        import pyarrow.parquet
    except ImportError as exc:
        raise EmolensError("Parquet needs pyarrow: .venv/bin/pip install pyarrow (install.sh installs it)") from exc
    return pyarrow


def frames_schema():
    pa = _pyarrow()
    fields = []
    for c in FRAME_COLUMNS:
        kind = pa.float64() if c.name == "time_s" else getattr(pa, _TYPES[c.kind])()
        fields.append(pa.field(c.name, kind, metadata={"unit": c.unit} if c.unit else None))
    return pa.schema(fields, metadata={"emolens_frames_schema": str(FRAMES_SCHEMA_VERSION)})


BLOCK_BYTES = 1 << 20  # frames.csv is read this much at a time (about 3,500 rows): an hour's table is ~30 MB


def frames_chunks(csv_path: Path) -> Iterator:
    """frames.csv as typed Arrow tables of a block each, rows with their decided person; a last line cut short by
    a kill or a full disk is left out. Closing an hour-long session holds a block or two, not the whole table."""
    pa = _pyarrow()
    schema = frames_schema()
    try:
        whole_lines = WholeLinesReader(csv_path)
    except OSError as exc:
        raise EmolensError(f"cannot read {csv_path}: {exc.strerror}") from exc
    persons = decided_persons(csv_path.parent / "events.jsonl")
    with whole_lines:
        if whole_lines.empty:  # killed before even the header reached the disk: no rows
            return
        try:
            reader = pa.csv.open_csv(
                whole_lines,
                read_options=pa.csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False),
                convert_options=pa.csv.ConvertOptions(
                    column_types=schema,
                    include_columns=schema.names,
                    include_missing_columns=True,  # a schema-1 file has no latency_ms: it reads as nulls
                    true_values=["1"],
                    false_values=["0"],
                    strings_can_be_null=False,
                ),
            )
            for batch in reader:
                yield _with_persons(pa.Table.from_batches([batch]).cast(schema), persons)
        except pa.ArrowInvalid as exc:
            raise EmolensError(f"{csv_path} is not a readable emolens frames.csv: {exc}") from exc


def read_frames_table(csv_path: Path):
    """frames.csv as one typed Arrow table (see `frames_chunks`)."""
    pa = _pyarrow()
    chunks = list(frames_chunks(csv_path))
    return pa.concat_tables(chunks) if chunks else frames_schema().empty_table()


def decided_persons(events_path: Path) -> dict[int, int]:
    """track -> person, as the session decided them (`person` events in events.jsonl)."""
    import json

    if not events_path.exists():
        return {}
    persons = {}
    for line in readable_lines(events_path)[0]:
        if '"person"' in line:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "person":
                persons[int(record["track_id"])] = int(record["person_id"])
    return persons


def _with_persons(table, persons: dict[int, int]):
    """Rows written while their face's person was not known yet (the moment its descriptor took) get the person
    the session decided for their track; rows of a track never decided stay empty."""
    import numpy as np

    pa = _pyarrow()
    column = table.column("person_id")
    if not persons or column.null_count == 0:
        return table
    tracks = table.column("track_id").to_numpy()
    known = column.is_valid().to_numpy(zero_copy_only=False)
    values = column.fill_null(0).to_numpy()
    each, which = np.unique(tracks, return_inverse=True)
    decided_for = np.array([persons.get(int(t), -1) for t in each], np.int64)[which]
    filled = np.where(known, values, decided_for)
    index = table.schema.get_field_index("person_id")
    array = pa.array(filled, pa.int64(), mask=~known & (decided_for < 0))
    return table.set_column(index, table.schema.field(index), array)


ROW_GROUP_ROWS = 16_384  # rows per Parquet row group: large enough for readers, small enough to hold


def write_tables_whole(tables: Iterable, schema, path: Path) -> int:
    """Writes Arrow tables one after another as one Parquet file, atomically, holding a row group's worth at a
    time; returns the rows."""
    pa = _pyarrow()
    tmp = path.with_name(f".{path.name}.tmp")
    rows, group = 0, []
    try:
        with pa.parquet.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for table in tables:
                group.append(table)
                rows += table.num_rows
                if sum(t.num_rows for t in group) >= ROW_GROUP_ROWS:
                    writer.write_table(pa.concat_tables(group))
                    group = []
            if group:
                writer.write_table(pa.concat_tables(group))
        os.replace(tmp, path)
    except BaseException:  # a bad row, a full disk, a signal: no half file under either name
        tmp.unlink(missing_ok=True)
        raise
    return rows


def load_writer() -> None:
    """Loads what writing Parquet loads (pyarrow imports pandas on its first write: about 90 MB), so that a
    long-lived batch worker holds it from the start instead of stepping up at its first session's end."""
    pa = _pyarrow()
    pa.parquet.write_table(pa.table({"x": [0]}), pa.BufferOutputStream())


def write_frames_parquet(csv_path: Path, parquet_path: Path) -> int:
    """Writes the Parquet copy of frames.csv, a block at a time; returns its row count."""
    return write_tables_whole(frames_chunks(csv_path), frames_schema(), parquet_path)
