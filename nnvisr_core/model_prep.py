"""ONNX graph preparation before a backend loads a model.

- Upstream NNVISR models carry their own `custom::DeformConv2d` node (exported
  by upstream's deform_conv2d helper for its TensorRT plugin). It is rewritten
  to the standard ONNX `DeformConv` (opset 19), which ONNX Runtime (CPU and
  CUDA, from 1.25) and TensorRT (>= 10.1, through its ModulatedDeformConv2d
  plugin) implement, so upstream models run on every backend.
- use_fp16: an FP16 graph for the GPU backends (TensorRT 11 has no precision
  flags, so the precision must be in the graph), with float32 inputs and
  outputs and the numerically fragile ops kept in float32.
- pixels=model: pixel conversion nodes merged around the network
  (pixel_graph.py), after the FP16 conversion so that they stay in float32.
"""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING

from .errors import NnvisrError
from .fused_activation import fused_activation
from .pixel_graph import PixelIO, wrap_rgb

if TYPE_CHECKING:
    import onnx

# onnx is imported only when a graph must change: with the ml_dtypes it loads, it costs a few
# tenths of a second of every ffmpeg start otherwise.

DEFORM_OPSET = 19
UPSTREAM_DOMAIN = "custom"
UPSTREAM_DEFORM = "DeformConv2d"
# Ops whose float16 results drift too far (reductions, exponentials, resampling grids).
FP16_KEEP_FLOAT32 = ["Resize", "GridSample", "ReduceMean", "Softmax", "Exp", "Pow", "Sqrt", "Div"]


def _attributes(node: onnx.NodeProto) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _default_opset(model: onnx.ModelProto) -> int | None:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def _kernel_shape(model: onnx.ModelProto, weight: str) -> list[int] | None:
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == weight:
            return list(numpy_helper.to_array(init).shape[2:])
    return None


def _deform_attributes(node: onnx.NodeProto) -> dict:
    """The attributes of one custom::DeformConv2d node, checked against what upstream's helper exports."""
    where = f"DeformConv2d node {node.name!r}"
    if len(node.input) not in (4, 5) or not all(node.input[:4]) or len(node.output) != 1:
        raise NnvisrError(
            f"{where} has {len(node.input)} inputs and {len(node.output)} outputs; "
            "expected (x, offset, mask, weight[, bias]) -> one output"
        )
    attrs = _attributes(node)
    checked: dict = {"activation": fused_activation(node.name, attrs)}
    for name, default in (("stride", [1, 1]), ("padding", [0, 0]), ("dilation", [1, 1])):
        value = attrs.get(name, default)
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
            raise NnvisrError(f"{where}: attribute {name} must be two integers, got {value!r}")
        if min(value) < (0 if name == "padding" else 1):
            raise NnvisrError(f"{where}: attribute {name} {value} is out of range")
        checked[name] = value
    groups = attrs.get("deformable_groups", 1)
    if not isinstance(groups, int) or groups < 1:
        raise NnvisrError(f"{where}: attribute deformable_groups must be a positive integer, got {groups!r}")
    checked["deformable_groups"] = groups
    return checked


def _is_upstream_deform(node: onnx.NodeProto) -> bool:
    return node.domain == UPSTREAM_DOMAIN and node.op_type == UPSTREAM_DEFORM


def _standard_deform_conv(model: onnx.ModelProto, node: onnx.NodeProto) -> list[onnx.NodeProto]:
    """One custom::DeformConv2d as DeformConv, followed by the activation upstream's exporter fused into it."""
    from onnx import helper

    attrs = _deform_attributes(node)
    x, offset, mask, weight = list(node.input[:4])
    bias = node.input[4] if len(node.input) > 4 else ""
    pad_h, pad_w = attrs["padding"]
    new_attrs = {
        "strides": attrs["stride"],
        "pads": [pad_h, pad_w, pad_h, pad_w],
        "dilations": attrs["dilation"],
        "group": 1,
        "offset_group": attrs["deformable_groups"],
    }
    kernel = _kernel_shape(model, weight)
    if kernel:
        new_attrs["kernel_shape"] = kernel
    activation = attrs["activation"]
    output = node.output[0]
    convolved = f"{output}__before_activation" if activation else output
    deform = helper.make_node("DeformConv", [x, weight, offset, bias, mask], [convolved], name=node.name, **new_attrs)
    return [deform, *activation.nodes(convolved, output, model)] if activation else [deform]


def rewrite_upstream_deform_conv(model: onnx.ModelProto) -> bool:
    """custom::DeformConv2d(x, offset, mask, weight, bias) -> DeformConv(x, weight, offset, bias, mask)."""
    if not any(_is_upstream_deform(n) for n in model.graph.node):
        return False
    opset = _default_opset(model) or 1
    if opset < DEFORM_OPSET:
        # Lift the standard ops first so that every node keeps its meaning at opset 19.
        from onnx import version_converter

        try:
            model.CopyFrom(version_converter.convert_version(model, DEFORM_OPSET))
        except Exception as error:  # the converter raises plain RuntimeErrors
            raise NnvisrError(f"cannot convert the model from opset {opset} to {DEFORM_OPSET}: {error}") from None
    # Each node is replaced in place, by DeformConv and its activation, so the graph stays in topological order.
    nodes = []
    for node in model.graph.node:
        nodes += _standard_deform_conv(model, node) if _is_upstream_deform(node) else [node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if not any(n.domain == UPSTREAM_DOMAIN for n in model.graph.node):
        kept = [o for o in model.opset_import if o.domain != UPSTREAM_DOMAIN]
        del model.opset_import[:]
        model.opset_import.extend(kept)
    return True


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """FP16 weights and activations; inputs, outputs and fragile ops stay float32."""
    from onnxconverter_common import float16

    return float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=FP16_KEEP_FLOAT32)


def prepare(path: pathlib.Path, fp16: bool = False, pixel_io: PixelIO | None = None) -> bytes | None:
    """The model bytes a backend should load, or None when the file can be used as it is."""
    if not fp16 and pixel_io is None and not _may_hold_upstream_nodes(path):
        return None  # a broken file is reported by the backend that loads it
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as error:  # protobuf's DecodeError and friends
        raise NnvisrError(f"cannot load model {path}: {str(error).splitlines()[0] if str(error) else error}") from None
    changed = rewrite_upstream_deform_conv(model)
    if fp16:
        model = to_fp16(model)
        changed = True
    if pixel_io is not None:
        model = wrap_rgb(model, list(pixel_io.inputs), list(pixel_io.outputs), pixel_io.norm)
        changed = True
    return model.SerializeToString() if changed else None


SCAN_CHUNK = 1 << 20


def _may_hold_upstream_nodes(path: pathlib.Path) -> bool:
    """Whether the file could hold custom::DeformConv2d: protobuf stores op types as plain bytes.
    Read in chunks, so a model of any size costs one chunk of memory."""
    needle = UPSTREAM_DEFORM.encode()
    tail = b""
    try:
        with path.open("rb") as file:
            while chunk := file.read(SCAN_CHUNK):
                window = tail + chunk  # the end of what came before: a name split between chunks
                if needle in window:
                    return True
                tail = window[-(len(needle) - 1) :]
    except OSError:
        return True  # let onnx.load report it
    return False
