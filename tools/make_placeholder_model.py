"""Write the bundled placeholder model: x2 bicubic upscaling as a small convolution.

It stands in as the default model until a trained network ships, so that
`-vf nnvisr` works out of the box. ONNX Runtime's cubic Resize is slow on the
CPU (0.7 s for a 720p frame here), so the same filter is written as an edge
pad, a 5x5 convolution giving the four output phases and a DepthToSpace; the
script checks that it equals Resize(cubic, a=-0.5, half_pixel).
Run from the repository root: python tools/make_placeholder_model.py
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

TARGET = pathlib.Path(__file__).resolve().parent.parent / "nnvisr_core" / "models" / "default"


# Keys cubic kernel (a = -0.5) at the four source taps of each x2 output phase.
EVEN = [-0.0234375, 0.2265625, 0.8671875, -0.0703125, 0.0]
ODD = [0.0, -0.0703125, 0.8671875, 0.2265625, -0.0234375]


def _model(nodes: list, initializers: list, name: str) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3, "H2", "W2"])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], producer_name="nnvisr")
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def build() -> onnx.ModelProto:
    phases = [np.outer(row, col) for row in (EVEN, ODD) for col in (EVEN, ODD)]  # (y, x) phase order
    weights = np.stack([phases] * 3).reshape(12, 1, 5, 5).astype(np.float32)
    initializers = [
        numpy_helper.from_array(weights, "phases"),
        numpy_helper.from_array(np.array([0, 0, 2, 2, 0, 0, 2, 2], np.int64), "pads"),
    ]
    nodes = [
        helper.make_node("Pad", ["rgb", "pads"], ["padded"], mode="edge"),
        helper.make_node("Conv", ["padded", "phases"], ["phased"], group=3),
        helper.make_node("DepthToSpace", ["phased"], ["out"], blocksize=2, mode="CRD"),
    ]
    return _model(nodes, initializers, "bicubic_x2")


def resize_reference() -> onnx.ModelProto:
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    node = helper.make_node(
        "Resize", ["rgb", "", "scales"], ["out"], mode="cubic", cubic_coeff_a=-0.5,
        coordinate_transformation_mode="half_pixel",
    )
    return _model([node], [scales], "resize_cubic_x2")


def check(model: onnx.ModelProto) -> None:
    """The convolution must equal ONNX Resize(cubic) on random frames."""
    x = np.random.default_rng(0).random((2, 3, 13, 17), np.float32)
    outputs = []
    for m in (model, resize_reference()):
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {"rgb": x})[0])
    worst = float(np.abs(outputs[0] - outputs[1]).max())
    assert worst < 1e-5, f"convolution differs from Resize by {worst}"


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    model = build()
    check(model)
    onnx.save(model, TARGET / "model.onnx")
    manifest = {
        "description": "placeholder: bicubic x2 upscaling (a fixed convolution), until a trained model ships",
        "onnx": "model.onnx",
        "scale_factor": 2,
    }
    (TARGET / "nnvisr.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
