"""Read a Keras 2 functional model (.h5) with h5py alone: the layer graph and its weights.

TensorFlow is a 500 MB dependency for reading 0.9 MB of weights; the HDF5 layout
is documented and stable, so the project reads it directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.errors import ModelError


@dataclass
class KerasLayer:
    name: str
    kind: str  # Keras class name: Conv2D, SeparableConv2D, BatchNormalization, ...
    config: dict
    inputs: list[str]
    weights: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class KerasModel:
    layers: list[KerasLayer]  # in topological order, as Keras saved them
    input_name: str
    input_shape: tuple[int | None, ...]  # NHWC, as Keras declares it
    output_name: str


def read_keras_h5(path: str | Path) -> KerasModel:
    import h5py

    try:
        f = h5py.File(str(path), "r")
    except OSError as exc:
        raise ModelError(f"cannot read Keras model {path}: {exc}") from exc
    with f:
        config = json.loads(f.attrs["model_config"])
        if config.get("class_name") not in ("Model", "Functional"):
            raise ModelError(f"{path}: expected a Keras functional model, found {config.get('class_name')}")
        group = f["model_weights"]
        layers = []
        for entry in config["config"]["layers"]:
            name = entry["name"] if "name" in entry else entry["config"]["name"]
            inputs = [node[0] for node in entry["inbound_nodes"][0]] if entry["inbound_nodes"] else []
            weights = {}
            if name in group:
                for weight_name in group[name].attrs.get("weight_names", []):
                    weight_name = weight_name.decode() if isinstance(weight_name, bytes) else str(weight_name)
                    short = weight_name.split("/")[-1].split(":")[0]
                    weights[short] = np.asarray(group[name][weight_name], dtype=np.float32)
            layers.append(KerasLayer(name, entry["class_name"], entry["config"], inputs, weights))
        input_name = config["config"]["input_layers"][0][0]
        output_name = config["config"]["output_layers"][0][0]
        input_layer = next(layer for layer in layers if layer.name == input_name)
        shape = tuple(input_layer.config["batch_input_shape"])
    return KerasModel(layers, input_name, shape, output_name)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: the odd pixel goes after, not before."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def layer_padding(layer: KerasLayer, size: int) -> tuple[int, int]:
    kernel = (layer.config.get("kernel_size") or layer.config.get("pool_size"))[0]
    stride = layer.config["strides"][0]
    return same_padding(size, kernel, stride) if layer.config["padding"] == "same" else (0, 0)
