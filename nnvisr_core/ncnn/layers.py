"""ncnn layers as ONNX nodes.

Every ncnn blob becomes an ONNX tensor in NCHW layout. A blob ncnn holds as a
1-D vector of C values (the output of global pooling or InnerProduct) is kept as
[N,C,1,1]: ncnn broadcasts such a vector per channel against a [C,H,W] blob,
which is what ONNX broadcasting does with [N,C,1,1]. Layer parameters follow
ncnn's ParamDict keys as each layer's load_param reads them; weights are read
from the .bin in the order each layer's load_model reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .reader import ConvertError, Layer, ModelBin


class GraphBuilder:
    """ONNX nodes and initializers for ncnn layers; ncnn blob names map to ONNX tensor names."""

    def __init__(self, weights: ModelBin, entry: str = "input") -> None:
        self.weights = weights
        self.entry = entry  # the tensor the Input layer's blob stands for
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: dict[str, str] = {}
        self.in_channels: int | None = None
        self._count = 0

    def tensor(self, blob: str) -> str:
        try:
            return self.names[blob]
        except KeyError:
            raise ConvertError(f"blob {blob} is used before a layer produces it") from None

    def unique(self, hint: str) -> str:
        self._count += 1
        return f"{hint}#{self._count}"

    def constant(self, hint: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.unique(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, hint: str, values: list[int]) -> str:
        return self.constant(hint, np.array(values, np.int64))

    def add(self, op: str, inputs: list[str], hint: str, **attributes: Any) -> str:
        """One node with one output; returns the output's name."""
        from onnx import helper

        output = self.unique(f"{hint}/{op}")
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def first_input(self, layer: Layer) -> str:
        if not layer.inputs:
            raise ConvertError(f"{layer.name}: {layer.kind} needs an input blob")
        return self.tensor(layer.inputs[0])

    def bind(self, layer: Layer, tensor: str) -> None:
        """The layer's (single) output blob is `tensor`."""
        for blob in layer.outputs:
            self.names[blob] = tensor


# --- activations ----------------------------------------------------------------------------------------------------


def activation(builder: GraphBuilder, layer: Layer, x: str, kind: int, params: tuple) -> str:
    """ncnn's fused activation (activation_type, activation_params) of Convolution, Deconvolution, InnerProduct."""
    hint = layer.name
    if kind == 0:
        return x
    if kind == 1:
        return builder.add("Relu", [x], hint)
    if kind == 2:
        return builder.add("LeakyRelu", [x], hint, alpha=float(params[0]) if params else 0.0)
    if kind == 3:
        low, high = (float(v) for v in params[:2])
        return builder.add("Clip", [x, builder.constant(hint, np.float32(low)),
                                    builder.constant(hint, np.float32(high))], hint)
    if kind == 4:
        return builder.add("Sigmoid", [x], hint)
    if kind == 5:
        return builder.add("Mish", [x], hint)
    if kind == 6:
        alpha, beta = (float(v) for v in params[:2])
        gate = builder.add("HardSigmoid", [x], hint, alpha=alpha, beta=beta)
        return builder.add("Mul", [x, gate], hint)
    raise ConvertError(f"{layer.name}: activation_type {kind} is not one ncnn defines")


def _fused_activation(builder: GraphBuilder, layer: Layer, x: str) -> str:
    params = layer.get(10, ())
    return activation(builder, layer, x, layer.get(9, 0), params if isinstance(params, tuple) else (params,))


# --- structure ------------------------------------------------------------------------------------------------------


def _input(builder: GraphBuilder, layer: Layer) -> None:
    builder.bind(layer, builder.entry)


def _alias(builder: GraphBuilder, layer: Layer) -> None:
    # Split copies references and Noop passes its input on: every output is the same tensor
    builder.bind(layer, builder.first_input(layer))


def _dropout(builder: GraphBuilder, layer: Layer) -> None:
    scale = float(layer.get(0, 1.0))
    x = builder.first_input(layer)
    if scale != 1.0:
        x = builder.add("Mul", [x, builder.constant(layer.name, np.float32(scale))], layer.name)
    builder.bind(layer, x)


def _memory_data(builder: GraphBuilder, layer: Layer) -> None:
    width, height, channels, depth = layer.get(0, 0), layer.get(1, 0), layer.get(2, 0), layer.get(11, 0)
    if depth or not width:
        raise ConvertError(f"{layer.name}: MemoryData of 4 dimensions or none is not supported")
    if channels:
        shape = (1, channels, max(height, 1), width)
    elif height:
        raise ConvertError(f"{layer.name}: a 2-D MemoryData blob is not supported")
    else:
        shape = (1, width, 1, 1)  # a 1-D blob broadcasts per channel, like a pooled vector
    count = int(np.prod(shape))
    builder.bind(layer, builder.constant(layer.name, builder.weights.load(count, 1).reshape(shape)))


def _onnx_axis(layer: Layer, axis: int) -> int:
    """ncnn's axis of a 3-D blob (0 = c, 1 = h, 2 = w, or negative) as an NCHW axis."""
    if axis < -3 or axis > 2:
        raise ConvertError(f"{layer.name}: axis {axis} does not exist in a 3-D blob")
    return axis + 1 if axis >= 0 else axis


def _concat(builder: GraphBuilder, layer: Layer) -> None:
    inputs = [builder.tensor(blob) for blob in layer.inputs]
    builder.bind(layer, builder.add("Concat", inputs, layer.name, axis=_onnx_axis(layer, layer.get(0, 0))))


def _slice(builder: GraphBuilder, layer: Layer) -> None:
    slices = layer.get(0, ())
    if not isinstance(slices, tuple) or len(slices) != len(layer.outputs) or layer.get(2, ()):
        raise ConvertError(f"{layer.name}: Slice needs one slice size per output (indices are not supported)")
    if sum(1 for size in slices if size == -233) > 1 or any(size < 1 and size != -233 for size in slices):
        raise ConvertError(f"{layer.name}: Slice sizes {slices} are not supported")
    x = builder.first_input(layer)
    axis = _onnx_axis(layer, layer.get(1, 0))
    start: list[Any] = [0]
    for index, (blob, size) in enumerate(zip(layer.outputs, slices)):
        last = index == len(slices) - 1
        if size == -233 and not last:
            raise ConvertError(f"{layer.name}: only the last Slice size may be -233 (the rest)")
        end = [np.iinfo(np.int64).max] if size == -233 or last else [start[0] + size]
        begin = builder.ints(layer.name, start)
        stop = builder.ints(layer.name, end)
        builder.names[blob] = builder.add("Slice", [x, begin, stop, builder.ints(layer.name, [axis])], layer.name)
        if not last:
            start = [start[0] + size]


def _crop(builder: GraphBuilder, layer: Layer) -> None:
    x = builder.first_input(layer)
    name = layer.name
    if 9 in layer.params:  # starts / ends / axes arrays
        starts, ends = layer.get(9, ()), layer.get(10, ())
        axes = layer.get(11, tuple(range(len(starts))))
        if not (len(starts) == len(ends) == len(axes)):
            raise ConvertError(f"{name}: Crop starts, ends and axes differ in length")
        big = np.iinfo(np.int64).max
        stops = [big if end == 2**31 - 1 else end for end in ends]  # INT_MAX: to the end
        builder.bind(layer, builder.add("Slice", [x, builder.ints(name, list(starts)), builder.ints(name, stops),
                                                  builder.ints(name, [_onnx_axis(layer, a) for a in axes])], name))
        return
    woffset, hoffset, coffset = layer.get(0, 0), layer.get(1, 0), layer.get(2, 0)
    if len(layer.inputs) == 2:
        # crop to the reference blob's height and width, from (hoffset, woffset) or centred (-233)
        if coffset or woffset == -233 or hoffset == -233:
            raise ConvertError(f"{name}: Crop with a channel offset or centring is not supported")
        reference = builder.add("Shape", [builder.tensor(layer.inputs[1])], name, start=2, end=4)
        offsets = builder.ints(name, [hoffset, woffset])
        ends = builder.add("Add", [reference, offsets], name)
        builder.bind(layer, builder.add("Slice", [x, offsets, ends, builder.ints(name, [2, 3])], name))
        return
    outw, outh, outc = layer.get(3, 0), layer.get(4, 0), layer.get(5, 0)
    woffset2, hoffset2, coffset2 = layer.get(6, 0), layer.get(7, 0), layer.get(8, 0)
    starts, stops = [coffset, hoffset, woffset], []
    for offset, size, tail in ((coffset, outc, coffset2), (hoffset, outh, hoffset2), (woffset, outw, woffset2)):
        if size == -233 or offset == -233:
            raise ConvertError(f"{name}: Crop of a size given at run time is not supported")
        stops.append(offset + size if size > 0 else (-tail if tail else np.iinfo(np.int64).max))
    builder.bind(layer, builder.add("Slice", [x, builder.ints(name, starts), builder.ints(name, stops),
                                              builder.ints(name, [1, 2, 3])], name))


def _padding(builder: GraphBuilder, layer: Layer) -> None:
    top, bottom, left, right = (layer.get(key, 0) for key in range(4))
    mode = {0: "constant", 1: "edge", 2: "reflect"}.get(layer.get(4, 0))
    if mode is None or layer.get(6, 0) or layer.get(7, 0) or layer.get(8, 0):
        raise ConvertError(f"{layer.name}: Padding type {layer.get(4, 0)}, per-channel values or "
                           "channel padding is not supported")
    pads = builder.ints(layer.name, [0, 0, top, left, 0, 0, bottom, right])
    inputs = [builder.first_input(layer), pads]
    if mode == "constant":
        inputs.append(builder.constant(layer.name, np.float32(layer.get(5, 0.0))))
    builder.bind(layer, builder.add("Pad", inputs, layer.name, mode=mode))


def _pixel_shuffle(builder: GraphBuilder, layer: Layer) -> None:
    # mode 0 takes channel c*r*r + i*r + j (PyTorch's PixelShuffle, ONNX CRD); mode 1 is DCR
    mode = {0: "CRD", 1: "DCR"}.get(layer.get(1, 0))
    if mode is None:
        raise ConvertError(f"{layer.name}: PixelShuffle mode {layer.get(1, 0)} is unknown")
    builder.bind(layer, builder.add("DepthToSpace", [builder.first_input(layer)], layer.name,
                                    blocksize=layer.get(0, 1), mode=mode))


def _interp(builder: GraphBuilder, layer: Layer) -> None:
    if layer.get(3, 0) or layer.get(4, 0) or layer.get(5, 0) or len(layer.inputs) != 1:
        raise ConvertError(f"{layer.name}: only Interp with scale factors is supported")
    resize_type = layer.get(0, 0)
    align = "align_corners" if layer.get(6, 0) else "half_pixel"
    if resize_type == 1:
        # ncnn: source index = int(dst / scale), ONNX asymmetric + floor
        attributes: dict[str, Any] = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                                      "nearest_mode": "floor"}
    elif resize_type == 2:
        attributes = {"mode": "linear", "coordinate_transformation_mode": align}
    elif resize_type == 3:
        # ncnn's bicubic: Keys kernel a = -0.75, edge pixels repeated (ONNX exclude_outside=0)
        attributes = {"mode": "cubic", "cubic_coeff_a": -0.75, "exclude_outside": 0,
                      "coordinate_transformation_mode": align}
    else:
        raise ConvertError(f"{layer.name}: Interp resize_type {resize_type} is not supported")
    scales = builder.constant(layer.name, np.array([1.0, 1.0, layer.get(1, 1.0), layer.get(2, 1.0)], np.float32))
    builder.bind(layer, builder.add("Resize", [builder.first_input(layer), "", scales], layer.name, **attributes))


# --- arithmetic -----------------------------------------------------------------------------------------------------

# op_type -> (ONNX op, operands swapped)
BINARY_OPS = {0: ("Add", False), 1: ("Sub", False), 2: ("Mul", False), 3: ("Div", False), 4: ("Max", False),
              5: ("Min", False), 6: ("Pow", False), 7: ("Sub", True), 8: ("Div", True), 9: ("Pow", True)}


def _binary(builder: GraphBuilder, layer: Layer) -> None:
    op = BINARY_OPS.get(layer.get(0, 0))
    if op is None:
        raise ConvertError(f"{layer.name}: BinaryOp op_type {layer.get(0, 0)} is not supported")
    inputs = [builder.tensor(blob) for blob in layer.inputs]
    if layer.get(1, 0):  # with_scalar: the second operand is parameter 2
        inputs.append(builder.constant(layer.name, np.array([layer.get(2, 0.0)], np.float32)))
    if len(inputs) != 2:
        raise ConvertError(f"{layer.name}: BinaryOp needs two operands")
    name, swapped = op
    builder.bind(layer, builder.add(name, inputs[::-1] if swapped else inputs, layer.name))


def _eltwise(builder: GraphBuilder, layer: Layer) -> None:
    inputs = [builder.tensor(blob) for blob in layer.inputs]
    op_type, coeffs = layer.get(0, 0), layer.get(1, ())
    if op_type == 1 and coeffs:
        if len(coeffs) != len(inputs):
            raise ConvertError(f"{layer.name}: Eltwise has {len(coeffs)} coefficients for {len(inputs)} inputs")
        inputs = [x if c == 1 else builder.add("Mul", [x, builder.constant(layer.name, np.float32(c))], layer.name)
                  for x, c in zip(inputs, coeffs)]
    op = {0: "Mul", 1: "Sum", 2: "Max"}.get(op_type)
    if op is None:
        raise ConvertError(f"{layer.name}: Eltwise op_type {op_type} is not supported")
    builder.bind(layer, builder.add(op, inputs, layer.name) if len(inputs) > 1 else inputs[0])


def _scale(builder: GraphBuilder, layer: Layer) -> None:
    x = builder.first_input(layer)
    size = layer.get(0, 0)
    if size == -233:  # the scale comes from the second input, one value per channel
        if len(layer.inputs) != 2:
            raise ConvertError(f"{layer.name}: Scale with scale_data_size -233 needs two inputs")
        x = builder.add("Mul", [x, builder.tensor(layer.inputs[1])], layer.name)
    else:
        scale = builder.weights.load(size, 1).reshape(1, size, 1, 1)
        x = builder.add("Mul", [x, builder.constant(layer.name, scale)], layer.name)
    if layer.get(1, 0):
        if size == -233:
            raise ConvertError(f"{layer.name}: Scale with a bias and a scale input is not supported")
        bias = builder.weights.load(size, 1).reshape(1, size, 1, 1)
        x = builder.add("Add", [x, builder.constant(layer.name, bias)], layer.name)
    builder.bind(layer, x)


UNARY_OPS = {0: "Abs", 1: "Neg", 2: "Floor", 3: "Ceil", 5: "Sqrt", 7: "Exp", 8: "Log", 9: "Sin", 10: "Cos",
             11: "Tan", 12: "Asin", 13: "Acos", 14: "Atan", 15: "Reciprocal", 16: "Tanh", 18: "Round"}


def _unary(builder: GraphBuilder, layer: Layer) -> None:
    x, op_type = builder.first_input(layer), layer.get(0, 0)
    if op_type == 4:  # square
        builder.bind(layer, builder.add("Mul", [x, x], layer.name))
    elif op_type == 6:  # rsqrt
        builder.bind(layer, builder.add("Reciprocal", [builder.add("Sqrt", [x], layer.name)], layer.name))
    elif op_type in UNARY_OPS:
        builder.bind(layer, builder.add(UNARY_OPS[op_type], [x], layer.name))
    else:
        raise ConvertError(f"{layer.name}: UnaryOp op_type {op_type} is not supported")


def _simple(op: str, **attributes: Any) -> Callable[[GraphBuilder, Layer], None]:
    def handler(builder: GraphBuilder, layer: Layer) -> None:
        builder.bind(layer, builder.add(op, [builder.first_input(layer)], layer.name, **attributes))

    return handler


def _relu(builder: GraphBuilder, layer: Layer) -> None:
    slope = float(layer.get(0, 0.0))
    x = builder.first_input(layer)
    builder.bind(layer, builder.add("LeakyRelu", [x], layer.name, alpha=slope) if slope
                 else builder.add("Relu", [x], layer.name))


def _swish(builder: GraphBuilder, layer: Layer) -> None:
    x = builder.first_input(layer)
    builder.bind(layer, builder.add("Mul", [x, builder.add("Sigmoid", [x], layer.name)], layer.name))


def _clip(builder: GraphBuilder, layer: Layer) -> None:
    builder.bind(layer, activation(builder, layer, builder.first_input(layer), 3,
                                   (layer.get(0, -3.4e38), layer.get(1, 3.4e38))))


def _hard_swish(builder: GraphBuilder, layer: Layer) -> None:
    builder.bind(layer, activation(builder, layer, builder.first_input(layer), 6,
                                   (layer.get(0, 0.2), layer.get(1, 0.5))))


def _prelu(builder: GraphBuilder, layer: Layer) -> None:
    count = layer.get(0, 0)
    slopes = builder.weights.load(count, 1)
    # [C,1,1] broadcasts over H and W of [N,C,H,W]; a single slope is a scalar
    shape = (count, 1, 1) if count > 1 else (1,)
    slope = builder.constant(layer.name, slopes.reshape(shape))
    builder.bind(layer, builder.add("PRelu", [builder.first_input(layer), slope], layer.name))


# --- weighted layers ------------------------------------------------------------------------------------------------


def _pads(layer: Layer) -> list[int]:
    """ONNX pads [top, left, bottom, right] from ncnn's pad_left (4), pad_right (15), pad_top (14), pad_bottom (16)."""
    left = layer.get(4, 0)
    top = layer.get(14, left)
    pads = [top, left, layer.get(16, top), layer.get(15, left)]
    if min(pads) < 0:
        raise ConvertError(f"{layer.name}: automatic ('same') padding {min(pads)} is not supported")
    return pads


def _kernel(layer: Layer) -> tuple[int, int, int, int, int]:
    """(out channels, kernel h, kernel w, weight count, group)."""
    out_channels, kernel_w = layer.get(0, 0), layer.get(1, 0)
    kernel_h = layer.get(11, kernel_w)
    group = layer.get(7, 1) if layer.kind.endswith("DepthWise") else 1
    size = layer.get(6, 0)
    if out_channels <= 0 or kernel_w <= 0 or size % (out_channels * kernel_w * kernel_h):
        raise ConvertError(f"{layer.name}: weight_data_size {size} does not fit {out_channels}x?x{kernel_h}x{kernel_w}")
    if group < 1 or out_channels % group:
        raise ConvertError(f"{layer.name}: group {group} does not divide {out_channels} outputs")
    return out_channels, kernel_h, kernel_w, size, group


def _convolution(builder: GraphBuilder, layer: Layer) -> None:
    out_channels, kernel_h, kernel_w, size, group = _kernel(layer)
    for key, what in ((8, "int8 quantization"), (18, "a non-zero pad_value"), (19, "dynamic weights")):
        if layer.get(key, 0):
            raise ConvertError(f"{layer.name}: {what} is not supported")
    pads = _pads(layer)
    per_group_in = size // (out_channels * kernel_w * kernel_h)
    if builder.in_channels is None:
        builder.in_channels = per_group_in * group
    # ncnn stores the kernel as [out][in/group][kh][kw], ONNX's layout
    weight = builder.weights.load(size, 0).reshape(out_channels, per_group_in, kernel_h, kernel_w)
    inputs = [builder.first_input(layer), builder.constant(f"{layer.name}.weight", weight)]
    if layer.get(5, 0):
        inputs.append(builder.constant(f"{layer.name}.bias", builder.weights.load(out_channels, 1)))
    y = builder.add(
        "Conv", inputs, layer.name,
        kernel_shape=[kernel_h, kernel_w], pads=pads, group=group,
        strides=[layer.get(13, layer.get(3, 1)), layer.get(3, 1)],
        dilations=[layer.get(12, layer.get(2, 1)), layer.get(2, 1)],
    )
    builder.bind(layer, _fused_activation(builder, layer, y))


def _deconvolution(builder: GraphBuilder, layer: Layer) -> None:
    out_channels, kernel_h, kernel_w, size, group = _kernel(layer)
    for key, what in ((18, "output_pad_right"), (19, "output_pad_bottom"), (20, "output_w"), (21, "output_h"),
                      (28, "dynamic weights")):
        if layer.get(key, 0):
            raise ConvertError(f"{layer.name}: Deconvolution with {what} is not supported")
    pads = _pads(layer)
    per_group_in = size // (out_channels * kernel_w * kernel_h)
    in_channels = per_group_in * group
    # ncnn: [out][in/group][kh][kw] per group (a PyTorch ConvTranspose kernel, in and out swapped);
    # ONNX ConvTranspose: [in][out/group][kh][kw]
    weight = builder.weights.load(size, 0).reshape(group, out_channels // group, per_group_in, kernel_h, kernel_w)
    weight = weight.transpose(0, 2, 1, 3, 4).reshape(in_channels, out_channels // group, kernel_h, kernel_w)
    inputs = [builder.first_input(layer), builder.constant(f"{layer.name}.weight", weight)]
    if layer.get(5, 0):
        inputs.append(builder.constant(f"{layer.name}.bias", builder.weights.load(out_channels, 1)))
    y = builder.add(
        "ConvTranspose", inputs, layer.name,
        kernel_shape=[kernel_h, kernel_w], pads=pads, group=group,
        strides=[layer.get(13, layer.get(3, 1)), layer.get(3, 1)],
        dilations=[layer.get(12, layer.get(2, 1)), layer.get(2, 1)],
    )
    builder.bind(layer, _fused_activation(builder, layer, y))


def _inner_product(builder: GraphBuilder, layer: Layer) -> None:
    out_channels, size = layer.get(0, 0), layer.get(2, 0)
    if layer.get(8, 0):
        raise ConvertError(f"{layer.name}: int8 quantization is not supported")
    if out_channels <= 0 or size % out_channels:
        raise ConvertError(f"{layer.name}: weight_data_size {size} does not fit {out_channels} outputs")
    # ncnn flattens its input (c, h, w order, as ONNX Flatten does with NCHW) and gives a 1-D blob,
    # kept here as [N,out,1,1]
    weight = builder.weights.load(size, 0).reshape(out_channels, size // out_channels)
    inputs = [builder.add("Flatten", [builder.first_input(layer)], layer.name, axis=1),
              builder.constant(f"{layer.name}.weight", weight)]
    if layer.get(1, 0):
        inputs.append(builder.constant(f"{layer.name}.bias", builder.weights.load(out_channels, 1)))
    y = builder.add("Gemm", inputs, layer.name, transB=1)
    y = builder.add("Reshape", [y, builder.ints(layer.name, [0, -1, 1, 1])], layer.name)
    builder.bind(layer, _fused_activation(builder, layer, y))


def _pooling(builder: GraphBuilder, layer: Layer) -> None:
    pooling_type, x = layer.get(0, 0), builder.first_input(layer)
    if pooling_type not in (0, 1):
        raise ConvertError(f"{layer.name}: pooling_type {pooling_type} is not supported")
    if layer.get(4, 0):  # global pooling: ncnn gives a 1-D blob of C values, kept as [N,C,1,1]
        op = "GlobalMaxPool" if pooling_type == 0 else "GlobalAveragePool"
        builder.bind(layer, builder.add(op, [x], layer.name))
        return
    if layer.get(5, 0) != 1 or layer.get(7, 0):
        raise ConvertError(f"{layer.name}: only global pooling and 'valid' pad_mode pooling are supported")
    kernel_w = layer.get(1, 0)
    stride_w = layer.get(2, 1)
    pad_left = layer.get(3, 0)
    pads = [layer.get(13, pad_left), pad_left, layer.get(15, layer.get(13, pad_left)), layer.get(14, pad_left)]
    attributes: dict[str, Any] = {"kernel_shape": [layer.get(11, kernel_w), kernel_w],
                                  "strides": [layer.get(12, stride_w), stride_w], "pads": pads}
    if pooling_type == 1:
        attributes["count_include_pad"] = layer.get(6, 0)
    builder.bind(layer, builder.add("MaxPool" if pooling_type == 0 else "AveragePool", [x], layer.name,
                                    **attributes))


LAYERS: dict[str, Callable[[GraphBuilder, Layer], None]] = {
    "Input": _input,
    "Split": _alias,
    "Noop": _alias,
    "Dropout": _dropout,
    "MemoryData": _memory_data,
    "Concat": _concat,
    "Slice": _slice,
    "Crop": _crop,
    "Padding": _padding,
    "PixelShuffle": _pixel_shuffle,
    "Interp": _interp,
    "BinaryOp": _binary,
    "Eltwise": _eltwise,
    "Scale": _scale,
    "UnaryOp": _unary,
    "AbsVal": _simple("Abs"),
    "TanH": _simple("Tanh"),
    "Sigmoid": _simple("Sigmoid"),
    "Mish": _simple("Mish"),
    "ELU": lambda b, layer: b.bind(layer, b.add("Elu", [b.first_input(layer)], layer.name,
                                                alpha=float(layer.get(0, 0.1)))),
    "ReLU": _relu,
    "Swish": _swish,
    "Clip": _clip,
    "HardSwish": _hard_swish,
    "PReLU": _prelu,
    "Convolution": _convolution,
    "ConvolutionDepthWise": _convolution,
    "Deconvolution": _deconvolution,
    "DeconvolutionDepthWise": _deconvolution,
    "InnerProduct": _inner_product,
    "Pooling": _pooling,
}
