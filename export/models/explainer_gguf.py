"""The trained explainer as a GGUF file: the LoRA adapter merged into the base model's weights, then quantised.

The base GGUF is read tensor by tensor (gguf), dequantised, and the adapter's
delta (scaling * B @ A) added to the five projections it trained; every other
tensor and every metadata key (tokenizer, chat template, rope) is copied as it
was. The result is written as F16, quantised by llama.cpp's own quantiser, and
moved into place only when complete.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engines.errors import ModelError
from engines.model_assets import sha256_file

# peft's module path -> llama.cpp's tensor name
GGUF_NAMES = {
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
QUANT_TYPES = {"q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_1": "LLAMA_FTYPE_MOSTLY_Q4_1", "f16": None}
SKIPPED_KEYS = ("general.architecture", "general.file_type", "general.quantization_version")


def gguf_deltas(adapter: dict) -> dict[str, np.ndarray]:
    """GGUF tensor name (blk.N.ffn_up.weight) -> the float32 delta scaling * B @ A, from peft's adapter weights
    (torch tensors or numpy arrays)."""
    weights, scaling = adapter["weights"], adapter["scaling"]
    deltas = {}
    for name, a in weights.items():
        if ".lora_A." not in name:
            continue
        b = weights[name.replace(".lora_A.", ".lora_B.")]
        module = name.split(".lora_A.")[0]  # base_model.model.model.layers.N.mlp.up_proj
        layer = module.split(".layers.")[1].split(".")[0]
        kind = module.split(f".layers.{layer}.")[1]
        if kind not in GGUF_NAMES:
            raise ModelError(f"the adapter trains {kind}, which this export does not map to a GGUF tensor")
        delta = scaling * (float32_array(b) @ float32_array(a))
        deltas[f"blk.{layer}.{GGUF_NAMES[kind]}.weight"] = delta.astype(np.float32)
    return deltas


def float32_array(weight) -> np.ndarray:
    """torch tensors (as training leaves them) or numpy arrays (as the shipped adapter is read)."""
    if hasattr(weight, "detach"):
        weight = weight.detach().float().cpu().numpy()
    return np.asarray(weight, dtype=np.float32)


def _copy_metadata(reader, writer) -> None:
    import gguf

    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in SKIPPED_KEYS:
            continue
        kind = gguf.GGUFValueType(field.types[0])
        sub = gguf.GGUFValueType(field.types[-1]) if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)


def write_merged_gguf(
    base: Path, adapter: dict, out: Path, quant: str = "q8_0", progress: Callable[[str], None] = print
) -> dict:
    """Writes `out` and returns its sha256 and size; `out` is replaced only by a complete, loadable file."""
    try:
        import gguf
    except ImportError as exc:
        raise ModelError("writing GGUF needs the gguf package: pip install -e '.[train]'") from exc
    if quant not in QUANT_TYPES:
        raise ValueError(f"quant must be one of {sorted(QUANT_TYPES)}")
    deltas = gguf_deltas(adapter)
    reader = gguf.GGUFReader(str(base))
    arch = reader.fields["general.architecture"].contents()
    out.parent.mkdir(parents=True, exist_ok=True)
    f16 = out.with_name(out.name + ".f16.tmp")
    writer = gguf.GGUFWriter(str(f16), arch)
    _copy_metadata(reader, writer)
    merged = 0
    for tensor in reader.tensors:
        weights = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        if tensor.name in deltas:
            delta = deltas.pop(tensor.name)
            if delta.shape != weights.shape:
                raise ModelError(f"{tensor.name}: adapter delta {delta.shape} does not fit {weights.shape}")
            weights = weights + delta
            merged += 1
        writer.add_tensor(tensor.name, weights if weights.ndim == 1 else weights.astype(np.float16))
    if deltas:
        raise ModelError(f"the base model has no tensors {sorted(deltas)[:3]}: the adapter was trained on another")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    progress(f"merged the adapter into {merged} tensors; F16 file {f16.stat().st_size / 1e6:.0f} MB")
    final = out.with_name(out.name + ".tmp")
    if QUANT_TYPES[quant] is None:
        f16.replace(final)
    else:
        _quantize(f16, final, quant)
        f16.unlink()
        progress(f"quantised to {quant}: {final.stat().st_size / 1e6:.0f} MB")
    os.replace(final, out)
    return {"sha256": sha256_file(out), "size": out.stat().st_size, "merged_tensors": merged}


def _quantize(source: Path, target: Path, quant: str) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_TYPES[quant])
    params.nthread = os.cpu_count() or 1
    log = logging.getLogger("llama-cpp-python")  # llama-cpp-python prints llama.cpp's log at this logger's level
    level = log.level
    log.setLevel(logging.ERROR)  # not a line per tensor
    try:
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    finally:
        log.setLevel(level)
    if status != 0 or not target.exists():
        raise ModelError(f"llama.cpp could not quantise {source} to {quant} (status {status})")
