"""`emolens batch`: many inputs on worker processes, one session folder each, one dataset; resumable, with bad
inputs failing alone, and a batch killed outright finished by the next run with the same rows."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import DATA, EMOLENS, GROUP_CLIP, PORTRAIT_CLIP, run_emolens

TALKING_CLIP = DATA / "talking_neutral.mp4"


def _inputs(folder: Path) -> Path:
    """The bundled clips, a copy cut short (its index is at the end: nothing decodes) and an empty file."""
    folder.mkdir()
    for clip in (GROUP_CLIP, PORTRAIT_CLIP, TALKING_CLIP):
        shutil.copy(clip, folder / clip.name)
    (folder / "truncated.mp4").write_bytes(PORTRAIT_CLIP.read_bytes()[:400_000])
    (folder / "empty.mp4").write_bytes(b"")
    return folder


def _tables(root: Path):
    """The dataset as pandas, polars and DuckDB read it, each with no arguments beyond the path."""
    import duckdb
    import pandas as pd
    import polars as pl

    files = str(root / "dataset" / "**" / "*.parquet")
    return pd.read_parquet(root / "dataset"), pl.read_parquet(files), duckdb.sql(f"SELECT * FROM '{files}'").df()


TIMING = ("latency_ms", "session")  # the frame's time on this machine; the partition column, which pandas and DuckDB
# add and polars not. person_id is compared: a batch worker describes faces on its own thread, so who each face is
# does not depend on timing


def _rows(frame) -> list[tuple]:
    """The rows, ordered, without what depends on timing."""
    keep = [c for c in frame.columns if c not in TIMING]
    return sorted(map(tuple, frame[keep].astype(str).itertuples(index=False)))


def _stamps(sessions: dict) -> dict:
    return {
        n: (Path(s["folder"]) / "session.json").stat().st_mtime_ns
        for n, s in sessions.items()
        if s["status"] == "complete"
    }


def test_a_batch_completes_the_good_inputs_lists_the_bad_and_a_rerun_skips_what_completed(tmp_path):
    inputs, out = _inputs(tmp_path / "in"), tmp_path / "batch"
    r = run_emolens("batch", str(inputs), "--out", str(out), "--workers", "2", "--quiet")
    assert r.returncode == 1, r.stderr  # some failed
    info = json.loads((out / "batch.json").read_text())
    by_name = {Path(s["input"]).name: s for s in info["sessions"]}
    assert {n: s["status"] for n, s in by_name.items()} == {
        "group_pan.mp4": "complete",
        "portrait_zoom.mp4": "complete",
        "talking_neutral.mp4": "complete",
        "truncated.mp4": "failed",
        "empty.mp4": "failed",
    }
    for bad in ("truncated.mp4", "empty.mp4"):
        assert "cannot open video" in by_name[bad]["reason"] and bad in r.stderr
    assert info["status"] == "some failed" and info["counts"] == {"complete": 3, "failed": 2}
    assert set(info["models"]) >= {"retinaface_mnet", "fer_mini_xception", "mediapipe_face_mesh"}
    assert all(len(m["sha256"]) == 64 for m in info["models"].values())
    index = (out / "index.html").read_text()
    for s in by_name.values():
        assert Path(s["input"]).name in index
        if s["status"] == "complete":
            assert os.path.relpath(Path(s["folder"]) / "report.html", out) in index
            session = json.loads((Path(s["folder"]) / "session.json").read_text())
            assert session["status"] == "complete" and session["counts"]["rows"] == s["rows"] == s["dataset_rows"]

    expected = sum(s["rows"] for s in by_name.values() if s["status"] == "complete")
    pandas_table, polars_table, duck_table = _tables(out)
    counts = (len(pandas_table), polars_table.height, len(duck_table))
    print(f"\ndataset: {expected} rows; pandas, polars and DuckDB read {counts}")
    assert counts == (expected,) * 3 and expected == info["dataset"]["rows"]
    keys = ["session_id", "time_s", "track_id"]
    assert not pandas_table.duplicated(keys).any()
    assert set(pandas_table["session_id"]) == {s["session_id"] for s in by_name.values() if s["status"] == "complete"}
    assert set(pandas_table["source"]) == {s["input"] for s in by_name.values() if s["status"] == "complete"}
    first = _rows(pandas_table)
    stamps = _stamps(by_name)

    started = time.monotonic()
    r = run_emolens("batch", str(inputs), "--out", str(out), "--workers", "2", "--quiet")
    seconds = time.monotonic() - started
    again = json.loads((out / "batch.json").read_text())
    print(f"rerun: {again['skipped']} skipped in {seconds:.1f} s (the first run: {info['seconds']} s)")
    assert r.returncode == 1 and again["skipped"] == 3 and again["counts"] == {"complete": 3, "failed": 2}
    assert _stamps(by_name) == stamps  # the completed sessions' folders untouched
    assert _rows(_tables(out)[0]) == first  # not a row more

    # a completed session whose rows no longer match is not taken on trust: done again, its part replaced
    part = next((out / "dataset").glob("session=portrait_zoom-*/part-0.parquet"))
    part.write_bytes(part.read_bytes()[:100])
    r = run_emolens("batch", str(inputs), "--out", str(out), "--workers", "1", "--quiet")
    redo = {Path(s["input"]).name: s for s in json.loads((out / "batch.json").read_text())["sessions"]}
    assert redo["portrait_zoom.mp4"]["status"] == "complete" and not redo["portrait_zoom.mp4"].get("skipped")
    assert "part of the dataset is missing or unreadable" in redo["portrait_zoom.mp4"]["redone_because"]
    assert (
        redo["group_pan.mp4"].get("skipped") and redo["group_pan.mp4"]["seconds"] == by_name["group_pan.mp4"]["seconds"]
    )  # fmt: skip - a skipped input keeps what its run measured
    assert len(_tables(out)[0]) == expected

    # an input replaced by another file under the same name is not its old session: done again
    shutil.copy(PORTRAIT_CLIP, inputs / "talking_neutral.mp4")
    r = run_emolens("batch", str(inputs), "--out", str(out), "--workers", "1", "--quiet")
    redo = {Path(s["input"]).name: s for s in json.loads((out / "batch.json").read_text())["sessions"]}
    assert not redo["talking_neutral.mp4"].get("skipped") and "changed" in redo["talking_neutral.mp4"]["redone_because"]
    assert redo["talking_neutral.mp4"]["rows"] == by_name["portrait_zoom.mp4"]["rows"]

    # a run over fewer inputs: the dataset is theirs alone, and the line says which sessions left it
    r = run_emolens("batch", str(inputs / "group_pan.mp4"), "--out", str(out), "--quiet")
    info = json.loads((out / "batch.json").read_text())
    assert r.returncode == 0 and info["removed_parts"] == sorted(
        s["session_id"] for n, s in by_name.items() if n != "group_pan.mp4" and s["status"] == "complete"
    )
    assert "took 2 sessions out of the dataset" in r.stderr and "1 input: 1 done by an earlier run, 0 to" in r.stderr
    assert len(_tables(out)[0]) == info["dataset"]["rows"] == by_name["group_pan.mp4"]["rows"]
    group = [str(inputs / "group_pan.mp4"), "--out", str(out), "--quiet"]

    # the same input with other settings is not the session it was: done again, not mixed into one dataset unsaid
    r = run_emolens("batch", *group, "--detect-every", "2")
    info = json.loads((out / "batch.json").read_text())
    assert r.returncode == 0 and "other settings" in info["sessions"][0]["redone_because"], r.stderr
    assert len(_tables(out)[0]) == info["dataset"]["rows"] == info["sessions"][0]["rows"]

    # what else is put in the dataset folder is taken out (readers would count it); a partition holding a file
    # emolens did not write is written anew
    part = next((out / "dataset").glob("session=group_pan-*/part-0.parquet"))
    (out / "dataset" / "other").mkdir()
    shutil.copy(part, out / "dataset" / "other" / "part-0.parquet")
    (part.parent / "notes.txt").write_text("a reader trips on this")
    r = run_emolens("batch", *group, "--detect-every", "2")
    info = json.loads((out / "batch.json").read_text())
    assert r.returncode == 0 and info["removed_other"] == ["other"] and "1 other entry" in r.stderr, r.stderr
    assert "files emolens did not write" in info["sessions"][0]["redone_because"]
    assert len(_tables(out)[0]) == info["dataset"]["rows"] == info["sessions"][0]["rows"]

    # a session killed as it began (its space reserved, no session.json yet) or mid-write is done again, not
    # refused as a folder of someone else's files
    folder = Path(info["sessions"][0]["folder"])
    for f in folder.iterdir():
        f.unlink()
    (folder / ".reserve").write_bytes(b"\0" * 1024)
    (folder / ".frames.parquet.tmp").write_bytes(b"PAR1")
    r = run_emolens("batch", *group, "--detect-every", "2")
    info = json.loads((out / "batch.json").read_text())
    assert r.returncode == 0 and info["sessions"][0]["status"] == "complete", r.stderr
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp") or p.name == ".reserve") == []


def test_a_batch_killed_outright_is_finished_by_the_next_run_with_a_clean_runs_rows(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(4):
        shutil.copy(GROUP_CLIP, inputs / f"interview-{k}.mp4")
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    r = run_emolens("batch", str(inputs), "--out", str(clean), "--workers", "1", "--quiet")
    assert r.returncode == 0, r.stderr

    proc = subprocess.Popen(
        [str(EMOLENS), "batch", str(inputs), "--out", str(killed), "--workers", "1", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list((killed / "dataset").glob("session=*"))) < 1:
        time.sleep(0.05)
    time.sleep(0.8)  # well into the second input
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((killed / "dataset").glob("session=*/part-0.parquet")))
    assert 1 <= done < 4, done
    time.sleep(1.5)  # the worker notices its parent is gone and ends

    r = run_emolens("batch", str(inputs), "--out", str(killed), "--workers", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    info = json.loads((killed / "batch.json").read_text())
    print(f"\nkilled with {done} of 4 done; the rerun skipped {info['skipped']} and did the rest")
    assert info["skipped"] == done and info["counts"] == {"complete": 4}
    a, b = _tables(clean)[0], _tables(killed)[0]
    assert len(a) == len(b) and _rows(a) == _rows(b)
    people = [{s["session_id"]: s["people"] for s in json.loads((root / "batch.json").read_text())["sessions"]}
              for root in (clean, killed)]  # fmt: skip
    assert people[0] == people[1] and set(people[0].values()) == {6}


@pytest.mark.parametrize(
    ("how", "workers"),
    [("SIGTERM to the batch", "1"), ("Ctrl-C to the terminal's process group", "2")],
)
def test_a_batch_stopped_as_an_input_ends_says_of_each_input_what_its_folder_holds(tmp_path, how, workers):
    """A stop just as one input completes, while the next may already be in a worker's hands: every input the
    batch calls complete has its session and its part, none it calls stopped or not done is complete on disk,
    no input begun after the signal is completed, and the batch ends at once (it does not analyse the next
    file, nor wait on a worker that took one). Ctrl-C reaches the workers too, between two inputs or as one
    starts."""
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    for clip in (PORTRAIT_CLIP, TALKING_CLIP, GROUP_CLIP, PORTRAIT_CLIP, TALKING_CLIP, GROUP_CLIP):
        shutil.copy(clip, inputs / f"{len(list(inputs.iterdir()))}-{clip.name}")
    proc = subprocess.Popen(
        [str(EMOLENS), "batch", str(inputs), "--out", str(out), "--workers", workers, "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not any(
        '"complete"' in p.read_text() for p in (out / "sessions").glob("*/session.json")
    ):
        time.sleep(0.005)
    begun = {p.name for p in (out / "sessions").iterdir()}
    signalled = time.monotonic()
    if how.startswith("SIGTERM"):
        proc.send_signal(signal.SIGTERM)
        expected = 128 + signal.SIGTERM
    else:
        os.killpg(proc.pid, signal.SIGINT)
        expected = 128 + signal.SIGINT
    _, stderr = proc.communicate(timeout=120)
    ended = time.monotonic() - signalled
    info = json.loads((out / "batch.json").read_text())
    print(f"\n{how}: stopped {ended:.1f} s after the signal: {info['counts']}")
    assert proc.returncode == expected and info["status"] == "stopped" and ended < 8, stderr
    complete_ones = [s["session_id"] for s in info["sessions"] if s["status"] == "complete"]
    assert set(complete_ones) <= begun, (complete_ones, begun)
    for s in info["sessions"]:
        folder = Path(s["folder"])
        on_disk = (folder / "session.json").exists() and json.loads((folder / "session.json").read_text())["status"]
        part = (out / "dataset" / f"session={s['session_id']}" / "part-0.parquet").exists()
        assert (s["status"] == "complete") == (on_disk == "complete") == part, (s, on_disk, part)
    assert info["counts"].get("complete", 0) >= 1 and "leaked" not in stderr


def test_a_batch_stopped_before_its_analysis_leaves_no_row_of_a_session_it_was_to_do_again(tmp_path):
    """A signal while the dataset is being cleared (thousands of stray entries make that long), before any input
    is handed out: the sessions it was to do again are not done, and none of their old rows is left for readers
    to count while batch.json says none."""
    out = tmp_path / "out"
    clips = [str(PORTRAIT_CLIP), str(TALKING_CLIP)]
    assert run_emolens("batch", *clips, "--out", str(out), "--quiet").returncode == 0
    for k in range(3000):
        (out / "dataset" / f"stray-{k}").mkdir()
    proc = subprocess.Popen(
        [str(EMOLENS), "batch", *clips, "--out", str(out), "--quiet", "--detect-every", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    while (line := proc.stderr.readline()) and "to analyse" not in line:
        seen.append(line)
    proc.send_signal(signal.SIGTERM)
    rest, stdout = proc.stderr.read(), proc.stdout.read()  # not communicate(): it skips what readline buffered
    proc.wait(timeout=120)
    info = json.loads((out / "batch.json").read_text())
    assert proc.returncode == 128 + signal.SIGTERM, "".join(seen) + rest
    assert "2 sessions done again: it was analysed with other settings or models" in rest
    assert [s["status"] for s in info["sessions"]] == ["not done", "not done"] and info["dataset"]["rows"] == 0
    assert list((out / "dataset").glob("**/*.parquet")) == []
    assert "no complete session, so no dataset" in stdout


def test_workers_on_an_empty_model_folder_find_the_models_the_batch_built_once(tmp_path):
    """Two workers that each built the models into one new folder tripped over each other's files: every input
    failed. The batch builds them once, before its workers start."""
    models = tmp_path / "models"
    r = run_emolens(
        "batch", str(PORTRAIT_CLIP), str(TALKING_CLIP), "--out", str(tmp_path / "out"), "--model-dir", str(models),
        "--workers", "2", "--quiet",
    )  # fmt: skip
    info = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert r.returncode == 0 and info["counts"] == {"complete": 2} and info["workers"] == 2, r.stderr
    assert all(m["sha256"] for m in info["models"].values())


@pytest.mark.parametrize("spec", ["glob", "list"])
def test_inputs_come_from_a_glob_or_a_list_file(tmp_path, spec):
    from app.batch.inputs import expand_inputs
    from engines.errors import EmolensError

    (tmp_path / "a").mkdir()
    for name in ("one.mp4", "two.mkv", "notes.txt.bak"):
        (tmp_path / "a" / name).write_bytes(b"x")
    if spec == "glob":
        found = expand_inputs([str(tmp_path / "a" / "*.m*")])
    else:
        listing = tmp_path / "videos.txt"
        listing.write_text("# interviews\na/one.mp4\n\nmore.list\na/one.mp4\n")
        (tmp_path / "more.list").write_text("a/two.mkv\n")  # a list may name another list
        found = expand_inputs([str(listing)])
        (tmp_path / "more.list").write_text("videos.txt\n")  # but not one it is read from
        with pytest.raises(EmolensError, match="names itself"):
            expand_inputs([str(listing)])
    assert [i.path.name for i in found] == ["one.mp4", "two.mkv"]
    assert len({i.session_id for i in found}) == 2 and all(i.session_id.startswith(("one-", "two-")) for i in found)
    assert expand_inputs([str(tmp_path / "a")])[0].session_id == found[0].session_id  # the same input, the same id

    # one file by another name (a hard link, a link, a spelling) is one input, and said; a link to nowhere in a
    # folder is an input that will fail with its reason, not passed over
    os.link(tmp_path / "a" / "one.mp4", tmp_path / "a" / "three.mp4")
    (tmp_path / "a" / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    repeated: list[Path] = []
    found = expand_inputs([str(tmp_path / "a"), str(tmp_path / "a" / ".." / "a" / "two.mkv")], repeated)
    assert [i.path.name for i in found] == ["gone.mp4", "one.mp4", "two.mkv"]  # a link to nowhere, as given
    assert sorted(p.name for p in repeated) == ["three.mp4", "two.mkv"]


@contextlib.contextmanager
def local_ray_cluster():
    """A real Ray cluster on loopback: a head node and a second node process on this machine, one CPU each."""
    pytest.importorskip("ray", reason="Ray is not installed: ./install.sh --cluster (pip install 'emolens[cluster]')")
    ray_cli = str(EMOLENS.parent / "ray")
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths must fit in 107 bytes
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    try:
        subprocess.run([ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                        "--temp-dir", str(temp), "--include-dashboard", "false", *common],
                       check=True, capture_output=True, env=env, timeout=180)  # fmt: skip
        subprocess.run([ray_cli, "start", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1",
                        *common], check=True, capture_output=True, env=env, timeout=180)  # fmt: skip
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _actor_pids() -> list[int]:
    """The processes of the batch's Ray actors (Ray names them ray::BatchActor...)."""
    out = subprocess.run(["pgrep", "-f", "ray::BatchActor"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_a_batch_on_a_local_ray_cluster_survives_a_lost_worker_and_gives_the_local_rows(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(4):
        shutil.copy(GROUP_CLIP, inputs / f"interview-{k}.mp4")
    local = tmp_path / "local"
    assert run_emolens("batch", str(inputs), "--out", str(local), "--workers", "1", "--quiet").returncode == 0
    with local_ray_cluster() as address:
        out = tmp_path / "on-ray"
        proc = subprocess.Popen(
            [str(EMOLENS), "batch", str(inputs), "--out", str(out), "--ray", address, "--workers", "2", "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline, killed = time.monotonic() + 240, None
        while time.monotonic() < deadline and proc.poll() is None and killed is None:
            if list((out / "sessions").glob("*/frames.csv")) and (pids := _actor_pids()):
                time.sleep(0.5)  # into an input
                killed = pids[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.1)
        stdout, stderr = proc.communicate(timeout=600)
        assert killed is not None, "no actor was seen to kill"
        assert proc.returncode == 0, stderr
    info = json.loads((out / "batch.json").read_text())
    nodes = {s.get("node") for s in info["sessions"]}
    print(f"\nRay: killed actor {killed}; {info['counts']} on {len(nodes)} node name(s), {info['seconds']} s")
    assert info["counts"] == {"complete": 4} and info["ray"] == address
    a, b = _tables(local)[0], _tables(out)[0]
    assert len(a) == len(b) and _rows(a) == _rows(b)


def test_a_ray_node_whose_models_differ_refuses_with_one_line(tmp_path, model_dir):
    """The driver sends its models' sha256; an actor whose node has other files refuses, naming them."""
    from app.batch.ray_workers import BatchActor, model_digests
    from engines.pipeline import FastPathOptions, PipelineOptions

    expected = model_digests(model_dir)
    actor = BatchActor(PipelineOptions(fast=FastPathOptions(model_dir=model_dir)), expected)
    assert actor.problem is None
    other = {**expected, "fer_mini_xception": "0" * 64}
    node, problem = BatchActor(PipelineOptions(fast=FastPathOptions(model_dir=model_dir)), other).ready()
    assert "fer_mini_xception" in problem and "export-models" in problem and "\n" not in problem


def test_the_memory_timeline_sees_a_process_grow_and_end():
    """The bench's evidence that a worker's memory stays flat must be able to show it does not: a child that
    takes 200 MB halfway reads higher in its last fifth than in its first, and stops being sampled once ended."""
    from app.bench.memory_timeline import MemoryTimeline

    grow = "import time; time.sleep(0.6); b = b'x' * (200 * 2**20); time.sleep(0.6)"
    child = subprocess.Popen([sys.executable, "-c", grow])
    with MemoryTimeline(lambda: [child.pid], interval_s=0.05) as timeline:
        child.wait()
        time.sleep(0.2)
    (summary,) = timeline.summary().values()
    print(f"\n{summary['first_fifth_median_mb']} -> {summary['last_fifth_median_mb']} MB, {summary['samples']} samples")
    assert summary["last_fifth_median_mb"] - summary["first_fifth_median_mb"] > 150
    assert summary["max_mb"] >= summary["last_fifth_median_mb"] and summary["seconds"] <= 1.4
