"""Model processes end with the process that started them, even one killed while they were still starting."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import multiprocessing as mp, os, sys, time
sys.path.insert(0, {root!r})

def child():
    time.sleep(1.0)  # still starting (imports) when its parent is killed
    from engines.child_process import exit_with_parent
    exit_with_parent(0.2)
    time.sleep(60)

if __name__ == "__main__":
    p = mp.get_context("spawn").Process(target=child)
    p.start()
    print(p.pid, flush=True)
    os._exit(0)  # gone at once, as under kill -9
"""


def test_a_child_whose_parent_died_while_it_started_ends(tmp_path):
    script = tmp_path / "orphan.py"
    script.write_text(SCRIPT.format(root=str(Path(__file__).resolve().parent.parent)))
    out = tmp_path / "pid"
    with open(out, "w") as f:  # a file, not a pipe: a child holding a pipe would make run() wait for it
        subprocess.run([sys.executable, str(script)], stdout=f, check=True, timeout=30)
    pid = int(out.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "the child was handed to init and kept running"
