"""An ncnn network (.param + .bin) as one ONNX graph, optionally with what its program does around it.

The bare network: input "input" [N,C,H,W], output "output", N, H and W dynamic,
exactly what ncnn computes for the blob the network ends in. The programs that
ship these models (waifu2x-, Real-CUGAN-, Real-ESRGAN-ncnn-vulkan) pad each tile
before the network and cut the result after it; `Program` describes that, and
`build_onnx` puts it into the graph, so that a frame of any size gives what the
program gives for a frame processed as one tile.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .layers import LAYERS, GraphBuilder
from .reader import ConvertError, Layer, ModelBin

OPSET = 19
IR_VERSION = 9  # opset 19's IR version; newer would shut out older ONNX Runtime releases


@dataclasses.dataclass(frozen=True)
class Program:
    """The padding and cropping a model's own program applies around the network.

    prepadding: pixels added on every side; align: the padded size minus 2*prepadding is
    rounded up to a multiple of this by padding more at the bottom and right; border:
    "reflect" (mirror without repeating the edge) or "edge" (replicate); the network's
    output is cut to scale*H x scale*W starting at (0, 0) when the network removes the
    padding itself (crop_padding False), else at prepadding*scale; add_nearest_input:
    the program adds the nearest-upscaled input to the network's output (a residual network).
    """

    scale: int
    prepadding: int = 0
    align: int = 1
    border: str = "reflect"
    crop_padding: bool = False
    add_nearest_input: bool = False

    def describe(self) -> str:
        border = {"reflect": "mirrored", "edge": "replicated"}[self.border]
        text = f"input padded by {self.prepadding} {border} pixels"
        if self.align > 1:
            text += f" (and to a multiple of {self.align})"
        if self.add_nearest_input:
            text += ", nearest-upscaled input added to the output"
        return text


def final_blob(layers: list[Layer]) -> str:
    consumed = {blob for layer in layers for blob in layer.inputs}
    ends = [blob for layer in layers for blob in layer.outputs if blob not in consumed]
    if len(ends) != 1:
        raise ConvertError(f"the network must have exactly one output blob, it has {len(ends)}: {ends}")
    return ends[0]


def input_blob(layers: list[Layer]) -> str:
    inputs = [layer for layer in layers if layer.kind == "Input"]
    if len(inputs) != 1 or len(inputs[0].outputs) != 1:
        raise ConvertError(f"the network must have exactly one Input layer, it has {len(inputs)}")
    return inputs[0].outputs[0]


def check_layers(layers: list[Layer], source: str = "the network") -> None:
    """One line naming every layer type the converter does not know, before anything is read."""
    unknown = sorted({layer.kind for layer in layers if layer.kind not in LAYERS})
    if unknown:
        first = next(layer for layer in layers if layer.kind in unknown)
        raise ConvertError(f"{source}: ncnn layer type {', '.join(unknown)} is not supported "
                           f"(first at layer {first.name})")


def _pre(builder: GraphBuilder, program: Program) -> str:
    """Pad "input" as the program does; returns the padded tensor."""
    hint = "program"
    size = builder.add("Shape", ["input"], hint, start=2, end=4)  # [H, W]
    align = builder.ints(hint, [program.align, program.align])
    extra = builder.add("Mod", [builder.add("Sub", [align, builder.add("Mod", [size, align], hint)], hint), align],
                        hint)
    pad = builder.ints(hint, [program.prepadding, program.prepadding])
    begin = builder.ints(hint, [0, 0, program.prepadding, program.prepadding])
    end = builder.add("Concat", [builder.ints(hint, [0, 0]), builder.add("Add", [extra, pad], hint)], hint, axis=0)
    pads = builder.add("Concat", [begin, end], hint, axis=0)
    return builder.add("Pad", ["input", pads], hint, mode=program.border)


def _post(builder: GraphBuilder, program: Program, output: str) -> str:
    hint = "program"
    size = builder.add("Shape", ["input"], hint, start=2, end=4)
    scaled = builder.add("Mul", [size, builder.ints(hint, [program.scale, program.scale])], hint)
    offset = program.prepadding * program.scale if program.crop_padding else 0
    starts = builder.ints(hint, [offset, offset])
    ends = builder.add("Add", [scaled, starts], hint)
    result = builder.add("Slice", [output, starts, ends, builder.ints(hint, [2, 3])], hint)
    if program.add_nearest_input:
        scales = builder.constant(hint, np.array([1, 1, program.scale, program.scale], np.float32))
        nearest = builder.add("Resize", ["input", "", scales], hint, mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        result = builder.add("Add", [result, nearest], hint)
    return result


def build_onnx(layers: list[Layer], weights: ModelBin, name: str = "ncnn", program: Program | None = None) -> Any:
    """The ONNX model (opset 19) of an ncnn network: [N,C,H,W] "input" in, "output" out, N, H and W dynamic."""
    from onnx import TensorProto, helper

    input_blob(layers)
    check_layers(layers)
    builder = GraphBuilder(weights)
    if program is not None:
        builder.entry = _pre(builder, program)
    for layer in layers:
        LAYERS[layer.kind](builder, layer)
    weights.finish()
    final = builder.tensor(final_blob(layers))
    if final == "input":
        raise ConvertError("the network's output is its input: nothing to convert")
    if program is not None:
        final = _post(builder, program, final)
    producer = next(node for node in reversed(builder.nodes) if final in node.output)
    producer.output[list(producer.output).index(final)] = "output"
    for node in builder.nodes:  # a tensor read after being renamed (not the case for a graph's last node)
        node.input[:] = ["output" if value == final else value for value in node.input]
    channels = builder.in_channels or 3
    graph = helper.make_graph(
        builder.nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", channels, "H_out", "W_out"])],
        builder.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnvisr")
    model.ir_version = IR_VERSION
    return model


def convert_files(param_text: str, weights: bytes, name: str = "ncnn", program: Program | None = None,
                  source: str = "") -> tuple[Any, list[Layer]]:
    """Parse and convert one .param text and its .bin bytes."""
    from .reader import parse_param

    layers = parse_param(param_text, f"{source}.param" if source else ".param")
    check_layers(layers, source or "the network")
    model = build_onnx(layers, ModelBin(weights, f"{source}.bin" if source else ".bin"), name, program)
    return model, layers
