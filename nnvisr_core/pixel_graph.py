"""Pixel conversion as nodes of the network itself (pixels=model).

The network then takes the frame's 8-bit codes and gives 8-bit codes back:
the normalisation (x = code * gain + offset) runs before the first layer and
the inverse, clamp and rounding after the last, wherever the network runs.
On a GPU this moves a quarter of the bytes across the bus and takes the
per-pixel float work off the CPU; on the CPU it is the same arithmetic as
pixels.read_rgb / write_rgb, in the same order, so results are identical.

The graph keeps its tensor names: an input `rgb` becomes uint8 `rgb` feeding
the old graph through `rgb/normalised`; an output `h1` becomes uint8 `h1`
computed from the old `h1`, renamed `h1/network`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from .pixels import RgbNormalisation

if TYPE_CHECKING:
    import onnx

CODE_MAX = 255.0


@dataclasses.dataclass(frozen=True)
class PixelIO:
    """Which tensors of a network take or give codes, and the normalisation between codes and tensors."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    norm: RgbNormalisation = dataclasses.field(compare=False)


def _constant(model: onnx.ModelProto, name: str, values: np.ndarray) -> str:
    from onnx import numpy_helper

    model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(values, np.float32), name))
    return name


def _per_channel(values: np.ndarray, rank: int) -> np.ndarray:
    """[3,1,1] gains broadcast over [N,(T,)3,H,W]."""
    return values.reshape((1,) * (rank - 3) + (3, 1, 1))


def _rank(value: onnx.ValueInfoProto) -> int:
    return len(value.type.tensor_type.shape.dim)


def _rename_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def wrap_rgb(model: onnx.ModelProto, inputs: list[str], outputs: list[str], norm: RgbNormalisation) -> onnx.ModelProto:
    """A copy of model whose `inputs` and `outputs` (float32 RGB tensors) carry uint8 codes instead."""
    import onnx
    from onnx import TensorProto, helper

    wrapped = onnx.ModelProto()
    wrapped.CopyFrom(model)
    graph = wrapped.graph
    by_name = {v.name: v for v in graph.input}
    front: list[onnx.NodeProto] = []
    for name in inputs:
        value = by_name[name]
        rank = _rank(value)
        gain = _constant(wrapped, f"{name}/gain", _per_channel(norm.gain, rank))
        offset = _constant(wrapped, f"{name}/offset", _per_channel(norm.offset, rank))
        normalised = f"{name}/normalised"
        _rename_uses(graph, name, normalised)
        for output in graph.output:
            if output.name == name:
                raise ValueError(f"{name} is both an input and an output")
        front += [
            helper.make_node("Cast", [name], [f"{name}/float"], to=TensorProto.FLOAT, name=f"{name}/cast"),
            helper.make_node("Mul", [f"{name}/float", gain], [f"{name}/scaled"], name=f"{name}/mul"),
            helper.make_node("Add", [f"{name}/scaled", offset], [normalised], name=f"{name}/add"),
        ]
        value.type.tensor_type.elem_type = TensorProto.UINT8
    back: list[onnx.NodeProto] = []
    low = _constant(wrapped, "nnvisr/code_min", np.array(0.0))
    high = _constant(wrapped, "nnvisr/code_max", np.array(CODE_MAX))
    for value in graph.output:
        if value.name not in outputs:
            continue
        name, rank = value.name, _rank(value)
        inner = f"{name}/network"
        for node in graph.node:
            for i, produced in enumerate(node.output):
                if produced == name:
                    node.output[i] = inner
        _rename_uses(graph, name, inner)
        gain = _constant(wrapped, f"{name}/gain", _per_channel(norm.gain, rank))
        offset = _constant(wrapped, f"{name}/offset", _per_channel(norm.offset, rank))
        # write_rgb's order: (x - offset) / gain, clamp to the code range, round half to even.
        back += [
            helper.make_node("Sub", [inner, offset], [f"{name}/shifted"], name=f"{name}/sub"),
            helper.make_node("Div", [f"{name}/shifted", gain], [f"{name}/codes"], name=f"{name}/div"),
            helper.make_node("Clip", [f"{name}/codes", low, high], [f"{name}/clamped"], name=f"{name}/clip"),
            helper.make_node("Round", [f"{name}/clamped"], [f"{name}/rounded"], name=f"{name}/round"),
            helper.make_node("Cast", [f"{name}/rounded"], [name], to=TensorProto.UINT8, name=f"{name}/cast"),
        ]
        value.type.tensor_type.elem_type = TensorProto.UINT8
    nodes = front + list(graph.node) + back
    del graph.node[:]
    graph.node.extend(nodes)
    return wrapped
