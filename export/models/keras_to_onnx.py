"""Convert a Keras CNN (as read by `keras_h5`) to an ONNX graph in NCHW.

Covers the layers small vision classifiers such as mini-Xception use; any other
layer is refused by name rather than converted wrongly.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export.models.keras_h5 import KerasModel, layer_padding

OPSET = 17


def keras_to_onnx(model: KerasModel, input_name: str = "input", output_name: str = "probs") -> onnx.ModelProto:
    _, height, width, channels = model.input_shape
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    names = {model.input_name: input_name}
    sizes = {model.input_name: (height, width)}  # spatial size per tensor, for TF 'same' pads

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def activation(kind: str, x: str, out: str) -> None:
        if kind == "relu":
            nodes.append(helper.make_node("Relu", [x], [out]))
        elif kind == "softmax":
            nodes.append(helper.make_node("Softmax", [x], [out], axis=-1))
        elif kind == "linear":
            nodes.append(helper.make_node("Identity", [x], [out]))
        else:
            raise NotImplementedError(f"no ONNX conversion for activation {kind!r}")

    for layer in model.layers:
        if layer.kind == "InputLayer":
            continue
        src = [names[i] for i in layer.inputs]
        h, w = sizes[layer.inputs[0]]
        out = layer.name
        cfg = layer.config
        if layer.kind in ("Conv2D", "SeparableConv2D", "MaxPooling2D"):
            top, bottom = layer_padding(layer, h)
            left, right = layer_padding(layer, w)
            pads = [top, left, bottom, right]
            stride = cfg["strides"]
            k = (cfg.get("kernel_size") or cfg["pool_size"])[0]
            sizes[layer.name] = ((h + top + bottom - k) // stride[0] + 1, (w + left + right - k) // stride[1] + 1)
        else:
            sizes[layer.name] = (h, w)

        if layer.kind == "Conv2D":
            ins = [src[0], const(f"{out}.W", layer.weights["kernel"].transpose(3, 2, 0, 1))]
            if "bias" in layer.weights:
                ins.append(const(f"{out}.B", layer.weights["bias"]))
            conv_out = out if cfg.get("activation", "linear") == "linear" else f"{out}.pre"
            nodes.append(helper.make_node("Conv", ins, [conv_out], pads=pads, strides=stride))
            if conv_out != out:
                activation(cfg["activation"], conv_out, out)
        elif layer.kind == "SeparableConv2D":
            dw = layer.weights["depthwise_kernel"]  # kh, kw, C, multiplier
            groups = dw.shape[2]
            dw_w = dw.transpose(2, 3, 0, 1).reshape(groups * dw.shape[3], 1, dw.shape[0], dw.shape[1])
            nodes.append(
                helper.make_node(
                    "Conv",
                    [src[0], const(f"{out}.dw", dw_w)],
                    [f"{out}.depthwise"],
                    pads=pads,
                    strides=stride,
                    group=groups,
                )
            )
            ins = [f"{out}.depthwise", const(f"{out}.pw", layer.weights["pointwise_kernel"].transpose(3, 2, 0, 1))]
            if "bias" in layer.weights:
                ins.append(const(f"{out}.B", layer.weights["bias"]))
            conv_out = out if cfg.get("activation", "linear") == "linear" else f"{out}.pre"
            nodes.append(helper.make_node("Conv", ins, [conv_out]))
            if conv_out != out:
                activation(cfg["activation"], conv_out, out)
        elif layer.kind == "BatchNormalization":
            wts = layer.weights
            nodes.append(
                helper.make_node(
                    "BatchNormalization",
                    [
                        src[0],
                        const(f"{out}.gamma", wts["gamma"]),
                        const(f"{out}.beta", wts["beta"]),
                        const(f"{out}.mean", wts["moving_mean"]),
                        const(f"{out}.var", wts["moving_variance"]),
                    ],
                    [out],
                    epsilon=float(cfg["epsilon"]),
                )
            )
        elif layer.kind == "Activation":
            activation(cfg["activation"], src[0], out)
        elif layer.kind == "MaxPooling2D":
            k = cfg["pool_size"]
            nodes.append(helper.make_node("MaxPool", [src[0]], [out], kernel_shape=k, pads=pads, strides=stride))
        elif layer.kind == "Add":
            if len(src) != 2:
                raise NotImplementedError("Add with more than two inputs")
            nodes.append(helper.make_node("Add", src, [out]))
        elif layer.kind == "GlobalAveragePooling2D":
            nodes.append(helper.make_node("GlobalAveragePool", [src[0]], [f"{out}.nc11"]))
            nodes.append(helper.make_node("Flatten", [f"{out}.nc11"], [out], axis=1))
        else:
            raise NotImplementedError(f"no ONNX conversion for Keras layer {layer.kind} ({layer.name})")
        names[layer.name] = out

    nodes.append(helper.make_node("Identity", [names[model.output_name]], [output_name]))
    graph = helper.make_graph(
        nodes,
        "keras_model",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", channels, height, width])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", None])],
        initializer=inits,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="emolens")
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    return onnx_model
