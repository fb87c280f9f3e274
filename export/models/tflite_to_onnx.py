"""Convert a float TFLite CNN (MediaPipe's face mesh and iris models) to an ONNX graph in NCHW.

The flatbuffer is read with the pure-Python `tflite` package, so TensorFlow is
never needed. Only the ops these models use are covered; any other op, and
weights that are not float32 (float16 or int8 quantized), are refused by name
rather than converted wrongly. The ONNX graph takes NCHW input with a free
batch dimension, so several faces run in one call.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

from engines.errors import ModelError

OPSET = 17
_OPS = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_TYPES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_ACTIVATIONS = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
_TO_NCHW, _TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)


def tflite_to_onnx(
    data: bytes, input_name: str = "input", output_names: dict[str, str] | None = None, flatten: bool = True
) -> onnx.ModelProto:
    """ONNX for the TFLite model in `data`: NCHW float input, outputs renamed by `output_names` (TFLite name ->
    ONNX name) and, with `flatten`, reshaped to (batch, features)."""
    return _Converter(data, input_name, output_names or {}, flatten).convert()


class _Converter:
    """One pass over the subgraph's operators, in their (topological) order."""

    def __init__(self, data: bytes, input_name: str, output_names: dict[str, str], flatten: bool):
        try:
            self.model = tflite.Model.GetRootAs(data, 0)
            if self.model.SubgraphsLength() != 1:
                raise ModelError(
                    f"the TFLite model has {self.model.SubgraphsLength()} subgraphs; only one is supported"
                )
            self.graph = self.model.Subgraphs(0)
        except (
            IndexError,
            ValueError,
            TypeError,
            struct.error,
        ) as exc:  # flatbuffers' errors on a truncated or foreign file
            raise ModelError(f"not a readable TFLite flatbuffer ({exc})") from exc
        self.data = data
        self.input_name = input_name
        self.output_names = output_names
        self.flatten = flatten
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.names: dict[int, str] = {}  # tensor index -> ONNX name of its value
        self.nchw: set[int] = set()  # tensors whose ONNX value is in NCHW (4-D activations)
        self.initialized: set[str] = set()

    # --- the model's tensors ---------------------------------------------------------------------------

    def tensor_name(self, index: int) -> str:
        return self.graph.Tensors(index).Name().decode()

    def shape(self, index: int) -> list[int]:
        tensor = self.graph.Tensors(index)
        return [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []

    def constant(self, index: int) -> np.ndarray | None:
        """The tensor's weights, or None for an activation; anything but float32/int32 is refused."""
        tensor = self.graph.Tensors(index)
        buffer = self.model.Buffers(tensor.Buffer())
        if buffer.Offset() > 1:  # weights stored after the flatbuffer (models over 2 GB)
            raw = self.data[buffer.Offset() : buffer.Offset() + buffer.Size()]
        elif buffer.DataLength():
            raw = buffer.DataAsNumpy().tobytes()
        else:
            return None
        kind = _TYPES.get(tensor.Type(), str(tensor.Type()))
        quant = tensor.Quantization()
        if quant is not None and quant.ScaleLength():
            kind += " quantized"
        if kind not in ("FLOAT32", "INT32"):
            raise ModelError(
                f"TFLite tensor {self.tensor_name(index)} holds {kind} weights; this converter takes float32 "
                "models only (use the float version of the model)"
            )
        return np.frombuffer(raw, np.float32 if kind == "FLOAT32" else np.int32).reshape(self.shape(index))

    def weight(self, index: int) -> np.ndarray:
        array = self.constant(index)
        if array is None:
            raise ModelError(f"TFLite tensor {self.tensor_name(index)} should be constant weights but is computed")
        return array

    def value(self, index: int, nchw_rank: int = 0) -> str:
        """ONNX name for a tensor used as an operand: an activation's value, or its weights as an initializer
        (NHWC-broadcastable weights laid out to broadcast against NCHW when `nchw_rank` is 4)."""
        if index in self.names:
            return self.names[index]
        name = f"{self.tensor_name(index)}.nchw" if nchw_rank == 4 else self.tensor_name(index)
        if name not in self.initialized:
            array = self.weight(index).astype(np.float32)
            if nchw_rank == 4 and array.ndim:
                array = array.reshape((1,) * (4 - array.ndim) + array.shape).transpose(_TO_NCHW)
            self.const(name, array)
        return name

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        self.initialized.add(name)
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    # --- conversion --------------------------------------------------------------------------------------

    def convert(self) -> onnx.ModelProto:
        (inp,) = self.graph.InputsAsNumpy()
        in_shape = self.shape(inp)
        if len(in_shape) != 4 or _TYPES.get(self.graph.Tensors(inp).Type()) != "FLOAT32":
            raise ModelError(f"the TFLite model's input {self.tensor_name(inp)} is not a float32 NHWC image")
        self.names[inp] = self.input_name
        self.nchw.add(inp)
        handlers = {
            "CONV_2D": self.conv,
            "DEPTHWISE_CONV_2D": self.conv,
            "PRELU": self.prelu,
            "ADD": self.add,
            "MAX_POOL_2D": self.max_pool,
            "PAD": self.pad,
            "RESHAPE": self.reshape,
        }
        for i in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            kind = _OPS.get(code.BuiltinCode(), str(code.BuiltinCode()))
            if kind not in handlers:
                custom = f" ({code.CustomCode().decode()})" if code.CustomCode() else ""
                raise ModelError(
                    f"TFLite op {kind}{custom} (operator {i}) has no ONNX conversion here; "
                    f"known ops: {', '.join(sorted(handlers))}"
                )
            (out,) = op.OutputsAsNumpy()
            self.names[out] = handlers[kind](op, kind, [int(t) for t in op.InputsAsNumpy()], int(out))

        outputs = []
        for index in self.graph.OutputsAsNumpy():
            name = self.output_names.get(self.tensor_name(index), self.tensor_name(index))
            value, dims = self.names[index], ["batch", *self.shape(index)[1:]]
            if value == name:  # kept under its TFLite name: that node's value gets another, the output this one
                value = self.rename(value, f"{value}.raw")
            if index in self.nchw:
                _, h, w, _ = self.shape(index)
                if not (self.flatten and h == w == 1):  # (N, C, 1, 1) flattens to the same order as NHWC
                    value = self.node("Transpose", [value], f"{value}.nhwc", perm=_TO_NHWC)
            if self.flatten and len(dims) > 2:
                value = self.node("Flatten", [value], f"{value}.flat", axis=1)
                dims = ["batch", math.prod(dims[1:])]
            self.node("Identity", [value], name)
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))

        _, h, w, c = in_shape
        graph = helper.make_graph(
            self.nodes,
            self.model.Description().decode() if self.model.Description() else "tflite_model",
            [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, ["batch", c, h, w])],
            outputs,
            initializer=self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="emolens")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model

    def rename(self, old: str, new: str) -> str:
        for node in self.nodes:
            for names in (node.input, node.output):
                for i, name in enumerate(names):
                    if name == old:
                        names[i] = new
        return new

    def options(self, op, cls):
        table = op.BuiltinOptions()
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def activation(self, code: int, value: str, out: str) -> str:
        kind = _ACTIVATIONS.get(code, str(code))
        if kind == "RELU":
            return self.node("Relu", [value], out)
        if kind == "RELU6":
            zero, six = self.const(f"{out}.min", np.float32(0)), self.const(f"{out}.max", np.float32(6))
            return self.node("Clip", [value, zero, six], out)
        raise ModelError(f"fused activation {kind} on {out} has no ONNX conversion here (known: NONE, RELU, RELU6)")

    def fused(self, code: int, op_type: str, inputs: list[str], out: str, **attrs) -> str:
        """The op, then its fused activation (none: the op writes the output itself)."""
        if _ACTIVATIONS.get(code) == "NONE":
            return self.node(op_type, inputs, out, **attrs)
        return self.activation(code, self.node(op_type, inputs, f"{out}.pre", **attrs), out)

    def window(self, source: int, out: int, kernel, strides, dilations, padding: int) -> list[int]:
        """ONNX pads for TF's padding: 'SAME' puts the odd pixel after, so the pads are explicit per side."""
        pads, got = [], []
        for size, k, s, d in zip(self.shape(source)[1:3], kernel, strides, dilations, strict=True):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            before, after = (total // 2, total - total // 2) if padding == tflite.Padding.SAME else (0, 0)
            pads.append((before, after))
            got.append((size + before + after - (k - 1) * d - 1) // s + 1)
        expected = self.shape(out)[1:3]
        if got != expected:
            raise ModelError(f"{self.tensor_name(out)}: computed size {got}, the TFLite model says {expected}")
        return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]

    def conv(self, op, kind: str, ins: list[int], out: int) -> str:
        name = self.tensor_name(out)
        depthwise = kind == "DEPTHWISE_CONV_2D"
        opts = self.options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
        kernel = self.weight(ins[1]).astype(np.float32)  # conv: O,H,W,I; depthwise: 1,H,W,C*M
        group = 1
        if depthwise:
            channels = self.shape(ins[0])[3]
            if kernel.shape[3] != channels * opts.DepthMultiplier():
                raise ModelError(f"{name}: depthwise kernel {kernel.shape} does not match {channels} channels")
            kernel, group = kernel.transpose(3, 0, 1, 2), channels  # C*M,1,H,W: output o is in group o // M
        else:
            kernel = kernel.transpose(_TO_NCHW)
        strides = (opts.StrideH(), opts.StrideW())
        dilations = (opts.DilationHFactor(), opts.DilationWFactor())
        pads = self.window(ins[0], out, kernel.shape[2:], strides, dilations, opts.Padding())
        inputs = [self.names[ins[0]], self.const(f"{name}.W", kernel)]
        if len(ins) > 2 and ins[2] >= 0:
            inputs.append(self.const(f"{name}.B", self.weight(ins[2]).astype(np.float32)))
        self.nchw.add(out)
        attrs = {"pads": pads, "strides": list(strides), "dilations": list(dilations), "group": group}
        return self.fused(opts.FusedActivationFunction(), "Conv", inputs, name, **attrs)

    def max_pool(self, op, kind: str, ins: list[int], out: int) -> str:
        opts = self.options(op, tflite.Pool2DOptions)
        kernel, strides = (opts.FilterHeight(), opts.FilterWidth()), (opts.StrideH(), opts.StrideW())
        pads = self.window(ins[0], out, kernel, strides, (1, 1), opts.Padding())
        self.nchw.add(out)
        attrs = {"kernel_shape": list(kernel), "strides": list(strides), "pads": pads}
        return self.fused(
            opts.FusedActivationFunction(), "MaxPool", [self.names[ins[0]]], self.tensor_name(out), **attrs
        )

    def prelu(self, op, kind: str, ins: list[int], out: int) -> str:
        """max(x, 0) + alpha * min(x, 0), as Relu, Min, Mul and Add: exactly PRelu, but ONNX Runtime's PRelu
        broadcasts a per-channel slope through a generic kernel that took 64% of the face mesh's time (the four
        ops halve it)."""
        alpha = self.weight(ins[1]).astype(np.float32)  # broadcasts over NHWC from the right: (C), (W, C), (H, W, C)
        if ins[0] in self.nchw:
            alpha = alpha.reshape(alpha.shape[-3:] if alpha.ndim > 3 else (1,) * (3 - alpha.ndim) + alpha.shape)
            alpha = alpha.transpose(2, 0, 1)  # C, H, W against N, C, H, W
            self.nchw.add(out)
        name, x = self.tensor_name(out), self.names[ins[0]]
        zero = "zero" if "zero" in self.initialized else self.const("zero", np.float32(0))
        negative = self.node("Min", [x, zero], f"{name}.min")
        scaled = self.node("Mul", [negative, self.const(f"{name}.alpha", alpha)], f"{name}.neg")
        return self.node("Add", [self.node("Relu", [x], f"{name}.pos"), scaled], name)

    def add(self, op, kind: str, ins: list[int], out: int) -> str:
        layouts = {i in self.nchw for i in ins if i in self.names}
        if len(layouts) > 1:
            raise ModelError(f"ADD {self.tensor_name(out)} mixes a 4-D activation with one of another rank")
        rank = 4 if layouts == {True} else 0
        if rank:
            self.nchw.add(out)
        inputs = [self.value(i, rank) for i in ins]
        opts = self.options(op, tflite.AddOptions) if op.BuiltinOptions() else None
        return self.fused(opts.FusedActivationFunction() if opts else 0, "Add", inputs, self.tensor_name(out))

    def pad(self, op, kind: str, ins: list[int], out: int) -> str:
        paddings = self.weight(ins[1]).astype(np.int64)  # one (before, after) row per NHWC axis
        if paddings[0].any():
            raise ModelError(f"PAD {self.tensor_name(out)} pads the batch axis, which is dynamic here")
        if ins[0] in self.nchw:
            paddings = paddings[list(_TO_NCHW)]
            self.nchw.add(out)
        name = self.tensor_name(out)
        pads = self.const(f"{name}.pads", np.concatenate([paddings[:, 0], paddings[:, 1]]))
        return self.node("Pad", [self.names[ins[0]], pads], name)

    def reshape(self, op, kind: str, ins: list[int], out: int) -> str:
        """Reshape in TFLite's own (NHWC) order; the leading (batch) axis is kept as it comes."""
        name = self.tensor_name(out)
        value = self.names[ins[0]]
        if ins[0] in self.nchw:
            value = self.node("Transpose", [value], f"{name}.nhwc", perm=_TO_NHWC)
        target = self.shape(out)
        if len(ins) > 1 and ins[1] >= 0 and self.constant(ins[1]) is not None:
            target = [int(d) for d in self.weight(ins[1])]
        elif op.BuiltinOptions():
            target = [int(d) for d in self.options(op, tflite.ReshapeOptions).NewShapeAsNumpy()]
        shape = self.const(f"{name}.shape", np.array([0, *target[1:]], np.int64))  # 0: copy the batch size
        if len(target) != 4:
            return self.node("Reshape", [value, shape], name)
        self.nchw.add(out)
        return self.node("Transpose", [self.node("Reshape", [value, shape], f"{name}.nhwc_out")], name, perm=_TO_NCHW)
