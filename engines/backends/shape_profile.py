"""The shapes an engine is built for: one optimisation profile, shared by TensorRT and ONNX Runtime's TensorRT
provider, so both compile the same ranges."""

from __future__ import annotations

BATCH = (1, 8, 32)  # min, opt, max faces in one call
SIDE = (64, 480, 1024)  # min, opt, max detector input side, px


def _dynamic(size) -> bool:
    return size is None or isinstance(size, str) or (isinstance(size, int) and size < 0)


def profile_shapes(shape: tuple) -> tuple[tuple, tuple, tuple]:
    """min/opt/max for one input: the first dynamic axis is the batch, further ones image sides."""
    dims = [list(shape), list(shape), list(shape)]
    for axis, size in enumerate(shape):
        if _dynamic(size):
            values = BATCH if axis == 0 else SIDE
            for k in range(3):
                dims[k][axis] = values[k]
    return tuple(tuple(d) for d in dims)


def ort_profile_options(inputs: dict[str, tuple]) -> dict[str, str]:
    """The same profile in ONNX Runtime's TensorRT provider syntax ("input:1x3x64x64,..."); empty when every
    input has a fixed shape (the provider then needs none)."""
    if not any(_dynamic(size) for shape in inputs.values() for size in shape):
        return {}
    keys = ("trt_profile_min_shapes", "trt_profile_opt_shapes", "trt_profile_max_shapes")
    ranges = {name: profile_shapes(shape) for name, shape in inputs.items()}
    return {
        key: ",".join(f"{name}:{'x'.join(str(d) for d in shapes[k])}" for name, shapes in ranges.items())
        for k, key in enumerate(keys)
    }
