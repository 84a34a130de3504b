"""Tiny ONNX models built in the tests, each with an independent numpy reference."""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 19


def _save(graph: onnx.GraphProto, path: pathlib.Path) -> pathlib.Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnvisr-tests")
    model.ir_version = 9
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def _value(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def colour_mix(
    path: pathlib.Path,
    matrix: np.ndarray,
    bias: np.ndarray,
    scale: int = 1,
    input_name: str = "frames",
    output_name: str = "enhanced",
    input_shape: list | None = None,
) -> pathlib.Path:
    """out = nearest-upsample(x, scale) mixed per pixel: out[c] = sum_k matrix[c,k] x[k] + bias[c]."""
    nodes = []
    inits = [
        numpy_helper.from_array(matrix.astype(np.float32).reshape(3, 3, 1, 1), "w"),
        numpy_helper.from_array(bias.astype(np.float32), "b"),
    ]
    source = input_name
    if scale != 1:
        inits.append(numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales"))
        nodes.append(helper.make_node("Resize", [input_name, "", "scales"], ["up"], mode="nearest"))
        source = "up"
    nodes.append(helper.make_node("Conv", [source, "w", "b"], [output_name]))
    graph = helper.make_graph(
        nodes,
        "colour_mix",
        [_value(input_name, input_shape or ["N", 3, "H", "W"])],
        [_value(output_name, ["N", 3, "H2", "W2"])],
        initializer=inits,
    )
    return _save(graph, path)


def colour_mix_reference(x: np.ndarray, matrix: np.ndarray, bias: np.ndarray, scale: int = 1) -> np.ndarray:
    """x: [3, H, W] float64 -> [3, H*scale, W*scale]."""
    up = x.repeat(scale, axis=1).repeat(scale, axis=2)
    return np.einsum("ck,khw->chw", matrix, up) + bias[:, None, None]


def yuv_affine(path: pathlib.Path, y_gain: float, y_offset: float, uv_gain: float, scale: int = 1) -> pathlib.Path:
    """out_y = y*y_gain + y_offset; out_uv = (uv-0.5)*uv_gain + 0.5; both nearest-upsampled by scale."""
    inits = [
        numpy_helper.from_array(np.array(y_gain, np.float32), "yg"),
        numpy_helper.from_array(np.array(y_offset, np.float32), "yo"),
        numpy_helper.from_array(np.array(uv_gain, np.float32), "ug"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales"),
    ]
    nodes = [
        helper.make_node("Resize", ["y", "", "scales"], ["y_up"], mode="nearest"),
        helper.make_node("Resize", ["uv", "", "scales"], ["uv_up"], mode="nearest"),
        helper.make_node("Mul", ["y_up", "yg"], ["y_mul"]),
        helper.make_node("Add", ["y_mul", "yo"], ["out_y"]),
        helper.make_node("Sub", ["uv_up", "half"], ["uv_c"]),
        helper.make_node("Mul", ["uv_c", "ug"], ["uv_m"]),
        helper.make_node("Add", ["uv_m", "half"], ["out_uv"]),
    ]
    graph = helper.make_graph(
        nodes,
        "yuv_affine",
        [_value("y", ["N", 1, "H", "W"]), _value("uv", ["N", 2, "Hc", "Wc"])],
        [_value("out_y", ["N", 1, "H2", "W2"]), _value("out_uv", ["N", 2, "Hc2", "Wc2"])],
        initializer=inits,
    )
    return _save(graph, path)


def scaled_wrong(path: pathlib.Path) -> pathlib.Path:
    """An x1 model (identity), to be declared x2."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [_value("x", ["N", 3, "H", "W"])],
        [_value("y", ["N", 3, "H", "W"])],
    )
    return _save(graph, path)


def rank3(path: pathlib.Path) -> pathlib.Path:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "rank3",
        [_value("x", [3, "H", "W"])],
        [_value("y", [3, "H", "W"])],
    )
    return _save(graph, path)


def two_inputs(path: pathlib.Path) -> pathlib.Path:
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])],
        "two_inputs",
        [_value("a", ["N", 3, "H", "W"]), _value("b", ["N", 3, "H", "W"])],
        [_value("y", ["N", 3, "H", "W"])],
    )
    return _save(graph, path)


def temporal_mix(path: pathlib.Path, weights: np.ndarray, scale: int = 1) -> pathlib.Path:
    """[N,T,3,H,W] -> [N,K,3,H*s,W*s]: output k = sum_t weights[k,t] * frame t (nearest upsampled).

    Distinct weights per output make every output reveal which frames fed it.
    """
    k, t = weights.shape
    inits = [numpy_helper.from_array(weights.astype(np.float32), "w")]
    nodes = [helper.make_node("Einsum", ["x", "w"], ["mixed"], equation="ntchw,kt->nkchw")]
    if scale != 1:
        inits.append(numpy_helper.from_array(np.array([1, 1, 1, scale, scale], np.float32), "scales"))
        nodes.append(helper.make_node("Resize", ["mixed", "", "scales"], ["y"], mode="nearest"))
    else:
        nodes.append(helper.make_node("Identity", ["mixed"], ["y"]))
    graph = helper.make_graph(
        nodes,
        "temporal_mix",
        [_value("x", ["N", t, 3, "H", "W"])],
        [_value("y", ["N", k, 3, "H2", "W2"])],
        initializer=inits,
    )
    return _save(graph, path)


def index_weights(frames_out: int, frames_in: int) -> np.ndarray:
    """Weights summing to 1 per output, different for every (output, input) pair."""
    raw = np.arange(1, frames_out * frames_in + 1, dtype=np.float64).reshape(frames_out, frames_in) ** 1.5
    return raw / raw.sum(axis=1, keepdims=True)


def needs_multiple_of_4(path: pathlib.Path, yuv: bool = False) -> pathlib.Path:
    """Identity that only runs on sizes divisible by 4 (SpaceToDepth then DepthToSpace)."""
    if yuv:
        nodes = [
            helper.make_node("SpaceToDepth", ["y"], ["ys"], blocksize=4),
            helper.make_node("DepthToSpace", ["ys"], ["out_y"], blocksize=4),
            helper.make_node("Identity", ["uv"], ["out_uv"]),
        ]
        inputs = [_value("y", ["N", 1, "H", "W"]), _value("uv", ["N", 2, "Hc", "Wc"])]
        outputs = [_value("out_y", ["N", 1, "H", "W"]), _value("out_uv", ["N", 2, "Hc", "Wc"])]
    else:
        nodes = [
            helper.make_node("SpaceToDepth", ["x"], ["s"], blocksize=4),
            helper.make_node("DepthToSpace", ["s"], ["y"], blocksize=4),
        ]
        inputs, outputs = [_value("x", ["N", 3, "H", "W"])], [_value("y", ["N", 3, "H", "W"])]
    return _save(helper.make_graph(nodes, "multiple_of_4", inputs, outputs), path)


def fails_on_bright(path: pathlib.Path) -> pathlib.Path:
    """Identity that fails at run time on a frame whose brightest value reaches 0.5: a Gather
    indexes a one-element table with floor(2 * max), out of bounds for bright frames."""
    inits = [
        numpy_helper.from_array(np.array([0.0], np.float32), "table"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
    ]
    nodes = [
        helper.make_node("ReduceMax", ["x"], ["peak"], keepdims=0),
        helper.make_node("Mul", ["peak", "two"], ["doubled"]),
        helper.make_node("Floor", ["doubled"], ["floored"]),
        helper.make_node("Cast", ["floored"], ["index"], to=TensorProto.INT64),
        helper.make_node("Gather", ["table", "index"], ["zero"]),
        helper.make_node("Add", ["x", "zero"], ["y"]),
    ]
    io = [_value("x", ["N", 3, "H", "W"])], [_value("y", ["N", 3, "H", "W"])]
    graph = helper.make_graph(nodes, "fails_on_bright", *io, initializer=inits)
    return _save(graph, path)


def nan_output(path: pathlib.Path) -> pathlib.Path:
    """y = sqrt(x - 2): NaN for every input in [0, 1], a network's numerical failure."""
    inits = [numpy_helper.from_array(np.array(2.0, np.float32), "two")]
    nodes = [helper.make_node("Sub", ["x", "two"], ["negative"]), helper.make_node("Sqrt", ["negative"], ["y"])]
    io = [_value("x", ["N", 3, "H", "W"])], [_value("y", ["N", 3, "H", "W"])]
    return _save(helper.make_graph(nodes, "nan_output", *io, initializer=inits), path)


def upstream_deform_conv(path: pathlib.Path, inputs: list[str], **attributes) -> pathlib.Path:
    """One image input through upstream's custom::DeformConv2d with the given inputs and attributes
    (offset and mask are constants): made to be malformed, so not checked by onnx's checker."""
    inits = [
        numpy_helper.from_array(np.zeros((1, 18, 1, 1), np.float32), "offset"),
        numpy_helper.from_array(np.ones((1, 9, 1, 1), np.float32), "mask"),
        numpy_helper.from_array(np.ones((3, 3, 3, 3), np.float32) / 27, "w"),
        numpy_helper.from_array(np.zeros(3, np.float32), "b"),
    ]
    node = helper.make_node("DeformConv2d", inputs, ["y"], name="dcn", domain="custom", **attributes)
    io = [_value("x", ["N", 3, "H", "W"])], [_value("y", ["N", 3, "H", "W"])]
    graph = helper.make_graph([node], "upstream_dcn", *io, initializer=inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("custom", 1)]
    )
    model.ir_version = 9
    onnx.save(model, path)
    return path
