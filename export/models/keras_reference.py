"""A plain NumPy (float64) forward pass of a Keras model: the source the ONNX export is checked against.

Written from Keras' own semantics (NHWC, TF 'same' padding), independent of the
ONNX converter's layout choices, so that a mistake in one does not hide in the other.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from export.models.keras_h5 import KerasLayer, KerasModel, layer_padding


def _pad(x: np.ndarray, layer: KerasLayer, kernel: int, value: float = 0.0) -> np.ndarray:
    top, bottom = layer_padding(layer, x.shape[1])
    left, right = layer_padding(layer, x.shape[2])
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    w = sliding_window_view(x, (kernel, kernel), axis=(1, 2))  # N, H', W', C, kh, kw
    return w[:, ::stride, ::stride]


def _conv(x: np.ndarray, layer: KerasLayer, kernel: np.ndarray) -> np.ndarray:
    k, stride = kernel.shape[0], layer.config["strides"][0]
    w = _windows(_pad(x, layer, k), k, stride)
    return np.einsum("nhwcij,ijco->nhwo", w, kernel, optimize=True)


def _depthwise(x: np.ndarray, layer: KerasLayer, kernel: np.ndarray) -> np.ndarray:
    k, stride = kernel.shape[0], layer.config["strides"][0]
    w = _windows(_pad(x, layer, k), k, stride)
    return np.einsum("nhwcij,ijc->nhwc", w, kernel[..., 0], optimize=True)


def forward(model: KerasModel, x: np.ndarray) -> np.ndarray:
    """Run the model on NHWC input already normalised as the model expects."""
    values: dict[str, np.ndarray] = {model.input_name: x.astype(np.float64)}
    for layer in model.layers:
        if layer.kind == "InputLayer":
            continue
        ins = [values[name] for name in layer.inputs]
        w = {k: v.astype(np.float64) for k, v in layer.weights.items()}
        y = ins[0]
        if layer.kind == "Conv2D":
            y = _conv(y, layer, w["kernel"])
            if "bias" in w:
                y = y + w["bias"]
        elif layer.kind == "SeparableConv2D":
            y = _depthwise(y, layer, w["depthwise_kernel"])
            y = np.einsum("nhwc,co->nhwo", y, w["pointwise_kernel"][0, 0])
            if "bias" in w:
                y = y + w["bias"]
        elif layer.kind == "BatchNormalization":
            eps = layer.config["epsilon"]
            y = (y - w["moving_mean"]) / np.sqrt(w["moving_variance"] + eps) * w["gamma"] + w["beta"]
        elif layer.kind == "Activation":
            y = _activation(y, layer.config["activation"])
        elif layer.kind == "MaxPooling2D":
            k = layer.config["pool_size"][0]
            y = _windows(_pad(y, layer, k, value=-np.inf), k, layer.config["strides"][0]).max(axis=(-2, -1))
        elif layer.kind == "Add":
            y = sum(ins)
        elif layer.kind == "GlobalAveragePooling2D":
            y = y.mean(axis=(1, 2))
        else:
            raise NotImplementedError(f"reference has no {layer.kind}")
        if layer.config.get("activation") and layer.kind != "Activation":
            y = _activation(y, layer.config["activation"])
        values[layer.name] = y
    return values[model.output_name]


def _activation(y: np.ndarray, name: str) -> np.ndarray:
    if name == "linear":
        return y
    if name == "relu":
        return np.maximum(y, 0)
    if name == "softmax":
        e = np.exp(y - y.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise NotImplementedError(f"reference has no activation {name}")
