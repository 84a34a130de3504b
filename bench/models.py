"""The bench's ONNX models, built with onnx.helper (nothing is downloaded)."""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _save(graph: onnx.GraphProto, path: pathlib.Path) -> pathlib.Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnvisr-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def conv_net(path: pathlib.Path, layers: int = 4, channels: int = 32, seed: int = 7) -> pathlib.Path:
    """layers 3x3 convolutions (pad 1, ReLU between them): 3 -> channels -> ... -> 3, same size.

    [N, 3, H, W] -> [N, 3, H, W], names x -> y. Weights are seeded He-normal,
    the last layer scaled down and biased to 0.5 so that outputs mostly stay
    inside [0, 1] (their values do not matter for speed)."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    source = "x"
    widths = [3, *([channels] * (layers - 1)), 3]
    for i in range(layers):
        c_in, c_out = widths[i], widths[i + 1]
        weight = rng.normal(0, np.sqrt(2 / (9 * c_in)), (c_out, c_in, 3, 3)).astype(np.float32)
        bias = np.zeros(c_out, np.float32)
        if i == layers - 1:
            weight *= 0.1
            bias += 0.5
        inits += [numpy_helper.from_array(weight, f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
        conv = "y" if i == layers - 1 else f"c{i}"
        nodes.append(helper.make_node("Conv", [source, f"w{i}", f"b{i}"], [conv], pads=[1, 1, 1, 1]))
        source = conv
        if i < layers - 1:
            nodes.append(helper.make_node("Relu", [conv], [f"r{i}"]))
            source = f"r{i}"
    graph = helper.make_graph(
        nodes,
        f"conv{layers}x{channels}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        initializer=inits,
    )
    return _save(graph, path)


def identity(path: pathlib.Path) -> pathlib.Path:
    """y = x, [N, 3, H, W]: a model that costs nothing, to time the frame path around it."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "H", "W"])],
    )
    return _save(graph, path)
