"""The voice-activity model at 16 kHz: silero's packaged ONNX with its 8 kHz half taken out.

silero-vad ships one graph that branches on the sample rate (an `If` node over
two copies of the network). emolens only feeds 16 kHz, and ONNX Runtime keeps
both branches' weights and plans in memory: 13 MB a session, against 4 MB for
the 16 kHz branch alone. The branch becomes the graph, `sr` goes away, and the
result is checked against the packaged model on real speech and on noise:
the same probabilities and states, chunk by chunk.
"""

from __future__ import annotations

import numpy as np

from engines.errors import ModelError

TOLERANCE = 1e-6  # the same operations on the same weights: any difference is a broken extraction


def extract_16k(model):
    """The `then` branch of the top-level `If` (taken when sr == 16000) as a model of its own."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    (branch_on,) = [n for n in graph.node if n.op_type == "If"]
    (constant,) = [n for n in graph.node if n.op_type == "Constant"]
    if int(numpy_helper.to_array(constant.attribute[0].t)) != 16000:
        raise ModelError("the packaged VAD's graph is not the one expected (no branch on sr == 16000)")
    then = next(a.g for a in branch_on.attribute if a.name == "then_branch")
    outputs = [o.name for o in graph.output]  # output, stateN
    nodes = [*then.node] + [
        helper.make_node("Identity", [b.name], [o]) for b, o in zip(then.output, outputs, strict=True)
    ]
    inputs = [i for i in graph.input if i.name in ("input", "state")]
    sub = helper.make_graph(nodes, "silero_vad_16k", inputs, list(graph.output), initializer=list(then.initializer))
    out = helper.make_model(sub, opset_imports=model.opset_import, ir_version=model.ir_version)
    onnx.checker.check_model(out)
    return out


def check_against_source(source_path, data: bytes, audio: np.ndarray, chunk: int = 512, context: int = 64) -> dict:
    """Both models over `audio` chunk by chunk, state carried as the app carries it; the largest difference."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    source = ort.InferenceSession(str(source_path), options, providers=["CPUExecutionProvider"])
    mine = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    state_a = state_b = np.zeros((2, 1, 128), np.float32)
    before = np.zeros(context, np.float32)
    worst = 0.0
    chunks = 0
    for start in range(0, len(audio) - chunk, chunk):
        piece = audio[start : start + chunk].astype(np.float32)
        x = np.concatenate([before, piece])[None, :]
        before = piece[-context:]
        pa, state_a = source.run(None, {"input": x, "state": state_a, "sr": np.array(16000, np.int64)})
        pb, state_b = mine.run(None, {"input": x, "state": state_b})
        worst = max(worst, float(np.abs(pa - pb).max()), float(np.abs(state_a - state_b).max()))
        chunks += 1
    if worst > TOLERANCE:
        raise ModelError(f"the 16 kHz VAD differs from the packaged one by {worst:.2e} (tolerance {TOLERANCE})")
    return {"max_abs_error": worst, "tolerance": TOLERANCE, "chunks": chunks}
