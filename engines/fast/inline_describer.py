"""InlineDescriber: faces described on the frame thread, for offline work where every core is already a worker's.

The live pipeline describes faces in a process of its own (descriptor_worker.py)
so that a frame never waits for dlib's 70-85 ms; a file analysed that way uses a
core and a third. In a batch of N workers on N cores that third has no core to
go to: the describers and the frame loops take turns, and two workers on two
cores gave 1.47 times one worker's throughput. Described here instead, a worker
is one core, and who each face is no longer depends on how fast the other
process answered: the same file gives the same people on every run.

The interface is DescriptorWorker's: a region submitted is described at once and
its answer handed out by the next `poll`, the frame after, as a prompt child
process would.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from engines.model_assets import ModelAsset


class InlineDescriber:
    def __init__(self, asset: ModelAsset):
        self.asset = asset
        self.failed: str | None = None
        self.described = 0
        self._answers: dict[Hashable, np.ndarray | None] = {}
        try:
            from engines.fast.face_descriptor import FaceDescriber

            self._describer: FaceDescriber | None = FaceDescriber.from_asset(asset)
        except Exception as exc:  # noqa: BLE001 - as in the child process: re-identification turns off, said why
            self._describer, self.failed = None, f"{exc.__class__.__name__}: {exc}"
        self.ready = self._describer is not None

    def submit(self, key: Hashable, region: np.ndarray, box: tuple[int, ...], urgent: bool = False) -> None:
        if self._describer is None:
            return
        try:
            self._answers[key] = self._describer.describe(region, box)
        except Exception:  # noqa: BLE001 - one bad crop is that track's loss (None: asked again), not the session's
            self._answers[key] = None
        self.described += 1

    def waiting(self, key: Hashable) -> bool:
        return key in self._answers

    def poll(self) -> list[tuple[Hashable, np.ndarray | None]]:
        done, self._answers = list(self._answers.items()), {}
        return done

    def keep_only(self, keys: set) -> None:
        for key in [k for k in self._answers if k not in keys]:
            del self._answers[key]

    def drop_all(self) -> None:
        self._answers.clear()

    def wait_ready(self, timeout_s: float) -> bool:
        return self.ready

    def sizes(self) -> dict[str, int]:
        return {"waiting": len(self._answers), "in_flight": 0}

    def close(self) -> None:
        self._describer = None
