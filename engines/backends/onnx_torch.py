"""An ONNX graph executed op by op with PyTorch: the exported models on any device torch has.

Why: a GPU machine with PyTorch (the `[gpu]` extra installs it for device
preprocessing) can run the fast path even where onnxruntime-gpu's CUDA libraries
do not match and TensorRT cannot be installed. The file stays the one source of
truth: the same ONNX, no second export.

Shape arithmetic (Shape, Gather, Concat, ... feeding Reshape, Resize, Slice)
stays in host int64 tensors, so a run never waits on the GPU to learn a shape
and the whole run can be captured in a CUDA graph. Only the ops the bundled
models and their likes use are here; any other op is refused when the file is
loaded, by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.errors import ModelError

# Inputs that are shapes, sizes or indices, not data: (op, input position). Constants feeding only these stay on
# the host.
HOST_INPUTS = {
    ("Reshape", 1),
    ("Resize", 1),
    ("Resize", 2),
    ("Resize", 3),
    ("Slice", 1),
    ("Slice", 2),
    ("Slice", 3),
    ("Slice", 4),
    ("Unsqueeze", 1),
    ("Squeeze", 1),
}


@dataclass(frozen=True)
class Node:
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict


def _torch_dtype(torch, onnx_type: int):
    from onnx import TensorProto

    table = {
        TensorProto.FLOAT: torch.float32,
        TensorProto.FLOAT16: torch.float16,
        TensorProto.DOUBLE: torch.float64,
        TensorProto.INT64: torch.int64,
        TensorProto.INT32: torch.int32,
        TensorProto.INT8: torch.int8,
        TensorProto.UINT8: torch.uint8,
        TensorProto.BOOL: torch.bool,
    }
    if onnx_type not in table:
        raise ModelError(f"ONNX element type {onnx_type} has no torch counterpart here")
    return table[onnx_type]


class OnnxTorchGraph:
    """The graph of one ONNX file, its weights on `device`; `run(inputs)` returns the outputs in file order."""

    def __init__(self, path: Path, device: str):
        import onnx
        import torch
        from onnx import numpy_helper

        self.torch = torch
        self.device = torch.device(device)
        try:
            model = onnx.load(str(path))
        except Exception as exc:  # protobuf's own errors: say which file and what to do
            raise ModelError(f"{path} is not a readable ONNX file ({exc}); run `emolens export-models` again") from exc
        graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        value = onnx.helper.get_attribute_value
        self.nodes = [
            Node(n.op_type, tuple(n.input), tuple(n.output), {a.name: value(a) for a in n.attribute})
            for n in graph.node
        ]
        unknown = sorted({n.op for n in self.nodes} - set(OPS))
        unknown += sorted(
            {f"Resize({', '.join(_resize_mode(n))})" for n in self.nodes if n.op == "Resize"}
            - {"Resize(nearest, asymmetric, floor)"}
        )
        if unknown:
            raise ModelError(
                f"{path.name} uses ONNX ops the torch backend does not run ({', '.join(unknown)}); "
                "use --backend onnxruntime-cpu or onnxruntime-gpu for this model"
            )
        host_only = self._host_only_names()
        self.values: dict = {}
        for tensor in graph.initializer:
            array = np.array(numpy_helper.to_array(tensor))
            self.values[tensor.name] = self._place(torch.from_numpy(array), tensor.name in host_only)
        for node in self.nodes:  # Constant nodes are weights too: made once, here
            if node.op == "Constant":
                array = np.array(numpy_helper.to_array(node.attrs["value"]))
                self.values[node.outputs[0]] = self._place(torch.from_numpy(array), node.outputs[0] in host_only)
        self.nodes = [n for n in self.nodes if n.op != "Constant"]
        initializers = {t.name for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in initializers]
        self.output_names = [o.name for o in graph.output]

    def _host_only_names(self) -> set[str]:
        uses: dict[str, set[bool]] = {}
        for node in self.nodes:
            for position, name in enumerate(node.inputs):
                uses.setdefault(name, set()).add((node.op, position) in HOST_INPUTS)
        return {name for name, kinds in uses.items() if kinds == {True}}

    def _place(self, tensor, host: bool):
        """Integers are shape arithmetic (host); floats are weights (device), unless only read as sizes."""
        if host or not tensor.is_floating_point():
            return tensor
        return tensor.to(self.device)

    def run(self, inputs: dict) -> list:
        values = dict(self.values)
        values.update(inputs)
        for node in self.nodes:
            args = [values[name] if name else None for name in node.inputs]
            result = OPS[node.op](self, node, args)
            if not isinstance(result, tuple):
                result = (result,)
            for name, value in zip(node.outputs, result, strict=False):
                values[name] = value
        return [values[name] for name in self.output_names]

    # -- helpers the ops share ------------------------------------------------------------------------------------

    def same_device(self, a, b):
        """Binary ops on a device tensor and a host scalar or constant: the host one moves."""
        if a.device != b.device:
            if a.device.type == "cpu":
                a = a.to(b.device)
            else:
                b = b.to(a.device)
        return a, b


def _ints(tensor) -> list[int]:
    return [int(v) for v in tensor.reshape(-1).tolist()]


def _pad_pairs(pads: list[int]) -> tuple[list[int], bool]:
    """ONNX pads [begin..., end...] as torch's F.pad order (last axis first), and whether they are symmetric."""
    half = len(pads) // 2
    begins, ends = pads[:half], pads[half:]
    torch_order: list[int] = []
    for b, e in zip(reversed(begins), reversed(ends), strict=True):
        torch_order += [b, e]
    return torch_order, begins == ends


def _conv(g: OnnxTorchGraph, node: Node, args):
    F = g.torch.nn.functional
    x, w = args[0], args[1]
    bias = args[2] if len(args) > 2 else None
    a = node.attrs
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ModelError(f"Conv auto_pad={a['auto_pad']!r} is not supported by the torch backend")
    pads = list(a.get("pads", [0] * (2 * (w.dim() - 2))))
    torch_pads, symmetric = _pad_pairs(pads)
    padding = pads[: len(pads) // 2] if symmetric else 0
    if not symmetric:
        x = F.pad(x, torch_pads)
    conv = F.conv2d if w.dim() == 4 else F.conv1d
    return conv(
        x,
        w,
        bias,
        stride=list(a.get("strides", [1] * (w.dim() - 2))),
        padding=padding,
        dilation=list(a.get("dilations", [1] * (w.dim() - 2))),
        groups=a.get("group", 1),
    )


def _max_pool(g: OnnxTorchGraph, node: Node, args):
    F = g.torch.nn.functional
    a = node.attrs
    kernel = list(a["kernel_shape"])
    pads = list(a.get("pads", [0] * (2 * len(kernel))))
    torch_pads, symmetric = _pad_pairs(pads)
    x = args[0]
    if not symmetric:  # e.g. Keras "same" pooling: pad the end only, with -inf so padding never wins
        x = F.pad(x, torch_pads, value=-math.inf)
    return F.max_pool2d(
        x,
        kernel,
        stride=list(a.get("strides", [1] * len(kernel))),
        padding=pads[: len(kernel)] if symmetric else 0,
        dilation=list(a.get("dilations", [1] * len(kernel))),
        ceil_mode=bool(a.get("ceil_mode", 0)),
    )


def _batch_norm(g: OnnxTorchGraph, node: Node, args):
    x, scale, bias, mean, var = args[:5]
    return g.torch.nn.functional.batch_norm(x, mean, var, scale, bias, False, 0.0, node.attrs.get("epsilon", 1e-5))


def _softmax(g: OnnxTorchGraph, node: Node, args):
    x = args[0]
    if g.opset >= 13:
        return g.torch.softmax(x, dim=node.attrs.get("axis", -1))
    axis = node.attrs.get("axis", 1) % x.dim()  # before opset 13: softmax over everything from `axis` on, as 2-D
    return g.torch.softmax(x.reshape(math.prod(x.shape[:axis]), -1), dim=1).reshape(x.shape)


def _reshape(g: OnnxTorchGraph, node: Node, args):
    x, shape = args[0], _ints(args[1])
    if not node.attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _text(value, default: str) -> str:
    value = default if value is None else value
    return value.decode() if isinstance(value, bytes) else value


def _resize_mode(node: Node) -> tuple[str, str, str]:
    a = node.attrs
    return (
        _text(a.get("mode"), "nearest"),
        _text(a.get("coordinate_transformation_mode"), "half_pixel"),
        _text(a.get("nearest_mode"), "round_prefer_floor"),
    )


def _resize(g: OnnxTorchGraph, node: Node, args):
    """Nearest, asymmetric, floor (what torch's own export writes for `nn.Upsample`): the same as torch's nearest."""
    x = args[0]
    sizes = args[3] if len(args) > 3 and args[3] is not None and args[3].numel() else None
    F = g.torch.nn.functional
    if sizes is not None:
        return F.interpolate(x, size=_ints(sizes)[2:], mode="nearest")
    return F.interpolate(x, scale_factor=[float(s) for s in args[2].tolist()[2:]], mode="nearest")


def _gather(g: OnnxTorchGraph, node: Node, args):
    data, indices = args
    axis = node.attrs.get("axis", 0) % data.dim()
    indices = indices.to(data.device).long()
    picked = g.torch.index_select(data, axis, indices.reshape(-1) % data.shape[axis])
    return picked.reshape(data.shape[:axis] + indices.shape + data.shape[axis + 1 :])


def _unsqueeze(g: OnnxTorchGraph, node: Node, args):
    axes = node.attrs.get("axes") or _ints(args[1])
    x = args[0]
    rank = x.dim() + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = x.unsqueeze(axis)
    return x


def _squeeze(g: OnnxTorchGraph, node: Node, args):
    axes = node.attrs.get("axes") or (_ints(args[1]) if len(args) > 1 and args[1] is not None else None)
    x = args[0]
    if axes is None:
        return x.squeeze()
    for axis in sorted((a % x.dim() for a in axes), reverse=True):
        x = x.squeeze(axis)
    return x


def _slice(g: OnnxTorchGraph, node: Node, args):
    x = args[0]
    starts, ends = _ints(args[1]), _ints(args[2])
    axes = _ints(args[3]) if len(args) > 3 and args[3] is not None else list(range(len(starts)))
    steps = _ints(args[4]) if len(args) > 4 and args[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.dim()
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        if step < 1:
            raise ModelError("Slice with a negative step is not supported by the torch backend")
        size = x.shape[axis]
        start = max(0, min(size, start + size if start < 0 else start))
        end = max(0, min(size, end + size if end < 0 else end))
        index[axis % x.dim()] = slice(start, end, step)
    return x[tuple(index)]


def _concat(g: OnnxTorchGraph, node: Node, args):
    tensors = [t for t in args if t is not None]
    if len({t.device for t in tensors}) > 1:
        tensors = [t.to(g.device) for t in tensors]
    return g.torch.cat(tensors, dim=node.attrs["axis"])


def _flatten(g: OnnxTorchGraph, node: Node, args):
    x = args[0]
    axis = node.attrs.get("axis", 1) % max(x.dim(), 1)
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _binary(fn: Callable) -> Callable:
    def op(g: OnnxTorchGraph, node: Node, args):
        return fn(*g.same_device(args[0], args[1]))

    return op


def _gemm(g: OnnxTorchGraph, node: Node, args):
    a, b = args[0], args[1]
    if node.attrs.get("transA", 0):
        a = a.t()
    if node.attrs.get("transB", 0):
        b = b.t()
    y = node.attrs.get("alpha", 1.0) * (a @ b)
    if len(args) > 2 and args[2] is not None:
        y = y + node.attrs.get("beta", 1.0) * args[2]
    return y


OPS: dict[str, Callable] = {
    "Constant": lambda g, node, args: None,  # folded into the weights at load
    "Identity": lambda g, node, args: args[0],
    "Conv": _conv,
    "BatchNormalization": _batch_norm,
    "Relu": lambda g, node, args: g.torch.relu(args[0]),
    "LeakyRelu": lambda g, node, args: g.torch.nn.functional.leaky_relu(args[0], node.attrs.get("alpha", 0.01)),
    "PRelu": lambda g, node, args: g.torch.where(args[0] >= 0, args[0], args[0] * args[1]),
    "Sigmoid": lambda g, node, args: g.torch.sigmoid(args[0]),
    "MaxPool": _max_pool,
    "GlobalAveragePool": lambda g, node, args: args[0].mean(dim=tuple(range(2, args[0].dim())), keepdim=True),
    "Flatten": _flatten,
    "Gemm": _gemm,
    "MatMul": _binary(lambda a, b: a @ b),
    "Add": _binary(lambda a, b: a + b),
    "Sub": _binary(lambda a, b: a - b),
    "Mul": _binary(lambda a, b: a * b),
    "Div": _binary(lambda a, b: a / b),
    "Softmax": _softmax,
    "Transpose": lambda g, node, args: args[0].permute(*node.attrs.get("perm", range(args[0].dim() - 1, -1, -1))),
    "Reshape": _reshape,
    "Resize": _resize,
    "Shape": lambda g, node, args: g.torch.tensor(tuple(args[0].shape), dtype=g.torch.int64),
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Slice": _slice,
    "Concat": _concat,
    "Cast": lambda g, node, args: args[0].to(_torch_dtype(g.torch, node.attrs["to"])),
}
