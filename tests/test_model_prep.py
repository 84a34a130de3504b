"""Graph preparation: upstream's custom::DeformConv2d becomes ONNX DeformConv; FP16 graphs."""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from nnvisr_core import model_prep
from nnvisr_core.errors import NnvisrError
from nnvisr_core.model_prep import prepare, rewrite_upstream_deform_conv

RNG = np.random.default_rng(3)


def upstream_deform_model(
    path: pathlib.Path, weight, bias, opset: int, activation: int = -1, alpha: float = 0.0, beta: float = 0.0,
    then_relu: bool = True,
) -> pathlib.Path:
    """What upstream's deform_conv2d helper exports: custom::DeformConv2d(x, offset, mask, weight, bias), its
    optimiser folding a following activation into activation_type/alpha/beta (TensorRT's ActivationType)."""
    node = helper.make_node(
        "DeformConv2d", ["x", "offset", "mask", "w", "b"], ["dcn" if then_relu else "y"], domain="custom",
        stride=[1, 1], padding=[1, 1], dilation=[1, 1], deformable_groups=1, activation_type=activation,
        alpha=alpha, beta=beta,
    )
    nodes = [node, helper.make_node("Relu", ["dcn"], ["y"])] if then_relu else [node]
    value = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)  # noqa: E731
    graph = helper.make_graph(
        nodes, "upstream_dcn",
        [value("x", [1, 2, 5, 6]), value("offset", [1, 18, 5, 6]), value("mask", [1, 9, 5, 6])],
        [value("y", [1, 3, 5, 6])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("custom", 1)]
    )
    model.ir_version = 8
    onnx.save(model, path)
    return path


def deform_conv_reference(x, offset, mask, weight, bias):
    """DCNv2 by its definition: bilinear samples at p0 + pk + offset, zero outside, times the mask."""
    _, channels, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    out = np.zeros((1, out_channels, height, width))
    for oy in range(height):
        for ox in range(width):
            for k in range(kh * kw):
                ky, kx = divmod(k, kw)
                py = oy - 1 + ky + offset[0, 2 * k, oy, ox]
                px = ox - 1 + kx + offset[0, 2 * k + 1, oy, ox]
                sample = np.zeros(channels)
                y0, x0 = int(np.floor(py)), int(np.floor(px))
                for yy, xx in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
                    if 0 <= yy < height and 0 <= xx < width:
                        sample += (1 - abs(py - yy)) * (1 - abs(px - xx)) * x[0, :, yy, xx]
                out[0, :, oy, ox] += weight[:, :, ky, kx] @ sample * mask[0, k, oy, ox]
    return out + bias[None, :, None, None]


@pytest.mark.parametrize("opset", [17, 19])
def test_upstream_deform_conv_runs_as_onnx_deform_conv(tmp_path: pathlib.Path, opset: int) -> None:
    weight = RNG.standard_normal((3, 2, 3, 3)).astype(np.float32)
    bias = RNG.standard_normal(3).astype(np.float32)
    path = upstream_deform_model(tmp_path / "dcn.onnx", weight, bias, opset)
    prepared = prepare(path)
    assert prepared is not None
    model = onnx.load_from_string(prepared)
    assert [n.op_type for n in model.graph.node] == ["DeformConv", "Relu"]
    assert all(o.domain != "custom" for o in model.opset_import)
    x = RNG.random((1, 2, 5, 6), np.float32)
    offset = (RNG.random((1, 18, 5, 6), np.float32) - 0.5) * 3
    mask = RNG.random((1, 9, 5, 6), np.float32)
    session = ort.InferenceSession(prepared, providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x, "offset": offset, "mask": mask})[0]
    expected = np.maximum(deform_conv_reference(x, offset, mask, weight, bias), 0)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def _erf(x: np.ndarray) -> np.ndarray:
    from math import erf

    return np.vectorize(erf)(x)


# TensorRT's ActivationType -> (alpha, beta, its definition in TensorRT's documentation)
ACTIVATIONS = {
    0: (0.0, 0.0, lambda x, a, b: np.maximum(x, 0)),
    1: (0.0, 0.0, lambda x, a, b: 1 / (1 + np.exp(-x))),
    2: (0.0, 0.0, lambda x, a, b: np.tanh(x)),
    3: (0.1, 0.0, lambda x, a, b: np.where(x >= 0, x, a * x)),
    4: (0.7, 0.0, lambda x, a, b: np.where(x >= 0, x, a * (np.exp(x) - 1))),
    5: (1.67, 1.05, lambda x, a, b: b * np.where(x >= 0, x, a * (np.exp(x) - 1))),
    6: (0.0, 0.0, lambda x, a, b: x / (1 + np.abs(x))),
    7: (0.8, 1.3, lambda x, a, b: a * np.log(np.exp(b * x) + 1)),
    8: (-0.5, 0.75, lambda x, a, b: np.clip(x, a, b)),
    9: (0.2, 0.5, lambda x, a, b: np.clip(a * x + b, 0, 1)),
    10: (1.5, 0.6, lambda x, a, b: a * np.tanh(b * x)),
    11: (0.3, 0.0, lambda x, a, b: np.where(x > a, x, 0)),
    12: (0.0, 0.0, lambda x, a, b: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    13: (0.0, 0.0, lambda x, a, b: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))),
}


@pytest.mark.parametrize("kind", sorted(ACTIVATIONS))
@pytest.mark.parametrize("opset", [13, 19])
def test_fused_activation_follows_the_deform_conv(tmp_path: pathlib.Path, kind: int, opset: int) -> None:
    """Upstream's exporter folds the activation into the node; the rewrite applies it after DeformConv."""
    alpha, beta, definition = ACTIVATIONS[kind]
    rng = np.random.default_rng(11)
    weight = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32) * 0.1
    path = upstream_deform_model(tmp_path / "dcn.onnx", weight, bias, opset, kind, alpha, beta, then_relu=False)
    prepared = prepare(path)
    assert prepared is not None
    x = rng.random((1, 2, 5, 6), np.float32) - 0.5
    offset = (rng.random((1, 18, 5, 6), np.float32) - 0.5) * 3
    mask = rng.random((1, 9, 5, 6), np.float32)
    session = ort.InferenceSession(prepared, providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x, "offset": offset, "mask": mask})[0]
    convolved = deform_conv_reference(x, offset, mask, weight, bias)
    assert (convolved < 0).any() and (convolved > 0).any()
    np.testing.assert_allclose(got, definition(convolved, alpha, beta), atol=1e-4)


def test_unknown_fused_activation_is_refused_by_name(tmp_path: pathlib.Path) -> None:
    path = upstream_deform_model(tmp_path / "dcn.onnx", np.ones((3, 2, 3, 3), np.float32), np.zeros(3, np.float32),
                                 13, activation=42)
    with pytest.raises(NnvisrError, match=r"DeformConv2d node '.*' has activation_type=42, which is not one of"):
        prepare(path)


def test_models_without_custom_ops_are_left_alone(tmp_path: pathlib.Path) -> None:
    import onnx_models

    path = onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3))
    assert prepare(path) is None
    assert not rewrite_upstream_deform_conv(onnx.load(path))


def test_fp16_graph_keeps_float32_io_and_matches(tmp_path: pathlib.Path) -> None:
    import onnx_models

    mix = RNG.random((3, 3)) / 2
    path = onnx_models.colour_mix(tmp_path / "m.onnx", mix, np.full(3, 0.1), scale=2)
    prepared = prepare(path, fp16=True)
    model = onnx.load_from_string(prepared)
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert {i.data_type for i in model.graph.initializer if i.name == "w"} == {TensorProto.FLOAT16}
    x = RNG.random((1, 3, 8, 10), np.float32)
    full = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"frames": x})[0]
    half = ort.InferenceSession(prepared, providers=["CPUExecutionProvider"]).run(None, {"frames": x})[0]
    np.testing.assert_allclose(half, full, atol=2e-3)


def test_broken_file_is_one_clear_error(tmp_path: pathlib.Path) -> None:
    """When the graph must change, prepare() reports the file; when it need not, prepare() leaves the
    file alone (onnx is not even imported) and the backend that loads it reports it."""
    from nnvisr_core.backends.onnxruntime_backend import OnnxRuntimeBackend

    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07not a model")
    with pytest.raises(NnvisrError, match=f"cannot load model {path}"):
        prepare(path, fp16=True)
    assert prepare(path) is None
    with pytest.raises(NnvisrError, match=f"cannot load model {path}"):
        OnnxRuntimeBackend(path)


@pytest.mark.parametrize("offset", [0, 1, 5, 8, 11, 12, 13, 20])
def test_deform_scan_reads_in_chunks_and_finds_nodes_across_them(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, offset: int
) -> None:
    """The check for upstream nodes reads a chunk at a time (a model of any size costs one chunk); a name
    split between two chunks is still found."""
    monkeypatch.setattr(model_prep, "SCAN_CHUNK", 8)
    path = tmp_path / "m.onnx"
    path.write_bytes(b"x" * offset + b"DeformConv2d" + b"y" * 7)
    assert model_prep._may_hold_upstream_nodes(path)
    path.write_bytes(b"x" * offset + b"DeformConv2" + b"y" * 7)
    assert not model_prep._may_hold_upstream_nodes(path)
