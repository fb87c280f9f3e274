"""The batch's inputs on a Ray cluster: the same per-input analysis, on actors that hold warm models.

Each actor is a batch worker on some node (one CPU, one inference thread): it
loads the models once and analyses the inputs it is given, writing their session
folders on a path every node can reach (a shared filesystem: Ray moves tasks,
not files). Before anything runs, every actor reports the sha256 of its node's
model files and the batch refuses, naming the node, if any differs from the
driver's: one dataset must come from one set of models. A node or actor lost
mid-input is restarted by Ray and its input retried; as a retried input
replaces its session folder and only the driver writes dataset parts, once per
completed input, no row is ever written twice.
"""

from __future__ import annotations

import socket
from pathlib import Path

from engines.errors import EmolensError
from engines.pipeline import PipelineOptions

RETRIES = 3  # restarts of a lost actor, and retries of the input it held


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise EmolensError(
            "--ray needs Ray on this machine and on every node: pip install 'emolens[cluster]' (or pip install ray)"
        ) from exc
    return ray


def model_digests(model_dir: Path | None) -> dict[str, str]:
    """The sha256 of each fast-path model file as it is on this machine (read, not taken from a manifest)."""
    from engines.model_assets import FAST_PATH_MODELS, default_model_dir, load_asset, sha256_file

    model_dir = model_dir or default_model_dir()
    return {name: sha256_file(load_asset(name, model_dir).path) for name in FAST_PATH_MODELS}


class BatchActor:
    """One batch worker on a node; created through `ray.remote` (the class itself never imports Ray)."""

    def __init__(self, options: PipelineOptions, expected: dict[str, str]):
        self.options = options
        self.node = socket.gethostname()
        self.fast_path = None
        try:
            here = model_digests(options.fast.model_dir)
        except EmolensError as exc:
            self.problem = str(exc)
            return
        differ = sorted(name for name, digest in expected.items() if here.get(name) != digest)
        self.problem = (
            f"its model files differ from the driver's ({', '.join(differ)}): run the same `emolens export-models` "
            "on every node"
            if differ
            else None
        )

    def ready(self) -> tuple[str, str | None]:
        if self.problem is None and self.fast_path is None:
            from app.batch.worker import warm_worker

            self.fast_path = warm_worker(self.options)
        return self.node, self.problem

    def analyse(self, index: int, path: Path, folder: Path, log: Path) -> tuple[int, dict]:
        from app.batch.worker import analyse_one

        self.ready()
        return index, {**analyse_one(path, folder, log, self.options, self.fast_path), "node": self.node}


CONNECT_TIMEOUT_S = 5.0


def connect(address: str):
    """Ray, joined to the cluster at `address` (`analyse_on_ray` leaves it). A HOST:PORT is knocked on first:
    Ray itself retries an address nobody answers at for minutes."""
    ray = import_ray()
    host, _, port = address.rpartition("://")[2].rpartition(":")
    if address != "auto" and port.isdigit():
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            raise EmolensError(
                f"no Ray cluster answers at {address} ({exc.strerror or exc}): start one there (ray start --head) "
                "or give --ray the head's HOST:PORT"
            ) from exc
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "no Ray cluster runs on this machine" if address == "auto" else f"no Ray cluster answers at {address}"
        raise EmolensError(
            f"{where}: start one (ray start --head) or give --ray HEAD_ADDRESS:PORT ({exc.__class__.__name__})"
        ) from exc
    return ray


def analyse_on_ray(ray, tasks: list[tuple[int, Path, Path, Path]], options: PipelineOptions, workers: int,
                   on_result) -> None:  # fmt: skip
    """Runs `tasks` (index, input, session folder, log) on `workers` actors of the cluster `ray` is connected to,
    one input per actor at a time, calling `on_result(index, result)` on this thread as each ends; then leaves
    the cluster."""
    try:
        expected = model_digests(options.fast.model_dir)
        remote = ray.remote(num_cpus=1, max_restarts=RETRIES, max_task_retries=RETRIES)(BatchActor)
        actors = [remote.remote(options, expected) for _ in range(workers)]
        for node, problem in ray.get([a.ready.remote() for a in actors]):
            if problem:
                raise EmolensError(f"the Ray node {node} refuses: {problem}")
        pending, idle, in_flight = list(tasks), list(actors), {}
        while pending or in_flight:
            while idle and pending:
                actor, task = idle.pop(), pending.pop(0)
                in_flight[actor.analyse.remote(*task)] = (task[0], actor)
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            index, actor = in_flight.pop(ref)
            idle.append(actor)
            try:
                _, result = ray.get(ref)
            except ray.exceptions.RayError as exc:  # its retries spent: this input fails, the others go on
                result = {"status": "failed", "reason": f"lost on the cluster ({exc.__class__.__name__})"}
            on_result(index, result)
    finally:
        ray.shutdown()
