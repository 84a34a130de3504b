"""Write the bundled placeholder model: x2 bicubic upscaling as one ONNX Resize.

It stands in as the default model until a trained network ships, so that
`-vf nnvisr` works out of the box. Run from the repository root:
python tools/make_placeholder_model.py
"""

from __future__ import annotations

import json
import pathlib

import onnx
from onnx import TensorProto, helper

TARGET = pathlib.Path(__file__).resolve().parent.parent / "nnvisr_core" / "models" / "default"


def build() -> onnx.ModelProto:
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0])
    resize = helper.make_node(
        "Resize",
        ["rgb", "", "scales"],
        ["out"],
        mode="cubic",
        cubic_coeff_a=-0.5,
        coordinate_transformation_mode="half_pixel",
    )
    graph = helper.make_graph(
        [resize],
        "bicubic_x2",
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3, "H2", "W2"])],
        initializer=[scales],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], producer_name="nnvisr")
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    onnx.save(build(), TARGET / "model.onnx")
    manifest = {
        "description": "placeholder: bicubic x2 upscaling (one ONNX Resize), until a trained model ships",
        "onnx": "model.onnx",
        "scale_factor": 2,
    }
    (TARGET / "nnvisr.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
