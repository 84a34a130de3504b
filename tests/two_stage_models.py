"""Tiny upstream-NNVISR-style two-stage model folders (extract + fusion), with a numpy reference.

Layout written: {root}/models/{name}/{cs}/fe_{stem}.onnx and ff_{stem}.onnx, with
stem = n{n}_{sw:g}x{sh:g}_l{L}{sfx} (sfx "_yuv1-1" for yuv_* colour folders).

The networks reveal what they were fed:
- extract: l0 holds the frame itself in its first three channels (RGB, or
  y and nearest-upsampled uv for YUV) and the mean of those three in every
  other channel; level i is a 2x2 average pool (ceil mode) of level i-1, so
  level shapes follow H_i = ceil(H_{i-1} / 2).
- fusion: output k = nearest-upsample(sum_j weights[k, j] * member j's frame),
  with the frame read back from l0 (uv from every second pixel of l0's
  upsampled chroma). Every input of every level is consumed: each output
  adds 100 * the mean absolute inconsistency between a level and the pool of
  the level above, and between l0's extra channels and its channel mean. For
  features the extract network made for one frame that term is exactly 0;
  features mixed up between frames or levels shift the output.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 19
YUV_SUFFIX = "_yuv1-1"
BIG = 1 << 30  # a Slice end meaning "to the end"
PENALTY = 100.0


@dataclasses.dataclass(frozen=True)
class Spec:
    """The options a two-stage model folder is made for."""

    n: int  # frames a window consumes: input_count - extra_frame
    scale: float = 1  # scale_factor
    levels: int = 1  # extraction_layers
    features: int = 4  # feature_count
    extra_frame: bool = False
    interpolation: bool = False
    double_frame: bool = False
    scale_h: float | None = None  # scale_factor_h, default scale

    @property
    def sh(self) -> float:
        return self.scale if self.scale_h is None else self.scale_h

    @property
    def members(self) -> int:
        """Window members: frames the fusion network takes (upstream's input_count)."""
        return self.n + (1 if self.extra_frame else 0)

    @property
    def input_count(self) -> int:
        return self.members

    @property
    def outputs(self) -> int:
        return 2 * self.n if self.double_frame else self.n

    @property
    def member_ids(self) -> list[int]:
        """m of each member's inputs f{m}l{i}."""
        return [2 * j if self.interpolation else j for j in range(self.members)]

    @property
    def output_ids(self) -> list[int]:
        """k of h{k} for each network output, in network-output order."""
        if self.double_frame:
            return list(range(2 * self.n))
        if self.interpolation:
            return [2 * j + 1 for j in range(self.n)]
        return [j + 1 for j in range(self.n)]

    def stem(self, yuv: bool) -> str:
        return f"n{self.input_count}_{self.scale:g}x{self.sh:g}_l{self.levels}{YUV_SUFFIX if yuv else ''}"

    def filter_options(self) -> str:
        """The nnvisr options naming this layout (without model_path/model); the networks take levels
        (no normalisation), not upstream's default ImageNet statistics."""
        return (
            f"input_count={self.input_count}:norm_mean=0|0|0:norm_std=1|1|1:extra_frame={int(self.extra_frame)}:interpolation={int(self.interpolation)}"
            f":double_frame={int(self.double_frame)}:scale_factor={self.scale:g}:feature_count={self.features}"
            f":extraction_layers={self.levels}"
            + (f":scale_factor_h={self.scale_h:g}" if self.scale_h is not None else "")
        )

    def manifest(self) -> dict:
        """The same options as nnvisr.json values."""
        values = {
            "input_count": self.input_count,
            "norm_mean": [0, 0, 0],
            "norm_std": [1, 1, 1],
            "scale_factor": self.scale,
            "feature_count": self.features,
            "extraction_layers": self.levels,
            "extra_frame": self.extra_frame,
            "interpolation": self.interpolation,
            "double_frame": self.double_frame,
        }
        if self.scale_h is not None:
            values["scale_factor_h"] = self.scale_h
        return values


# ---------------------------------------------------------------- ONNX


def _save(graph: onnx.GraphProto, path: pathlib.Path) -> pathlib.Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnvisr-tests")
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def _value(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _ints(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _pool(nodes: list, source: str, target: str) -> None:
    nodes.append(
        helper.make_node("AveragePool", [source], [target], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    )


def extract_model(path: pathlib.Path, spec: Spec, yuv: bool, output_names: list[str] | None = None) -> pathlib.Path:
    """fe: rgb [N,3,H,W] (or y [N,1,H,W], uv [N,2,Hc,Wc]) -> l0..l{L-1} [N,C,H_i,W_i]."""
    c, levels = spec.features, spec.levels
    assert c >= 3, "the first three channels of l0 hold the frame"
    names = output_names or [f"l{i}" for i in range(levels)]
    inits = [_ints("axis1", [1])]
    nodes = []
    if yuv:
        inits += [
            numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "up2"),
            _ints("zeros2", [0, 0]),
            _ints("axes23", [2, 3]),
        ]
        nodes += [
            helper.make_node("Resize", ["uv", "", "up2"], ["uv_up"], mode="nearest"),
            helper.make_node("Shape", ["y"], ["hw"], start=2),
            helper.make_node("Slice", ["uv_up", "zeros2", "hw", "axes23"], ["uv_full"]),
            helper.make_node("Concat", ["y", "uv_full"], ["frame"], axis=1),
        ]
        inputs = [_value("y", ["N", 1, "H", "W"]), _value("uv", ["N", 2, "Hc", "Wc"])]
    else:
        nodes.append(helper.make_node("Identity", ["rgb"], ["frame"]))
        inputs = [_value("rgb", ["N", 3, "H", "W"])]
    nodes.append(helper.make_node("ReduceMean", ["frame", "axis1"], ["mean"], keepdims=1))
    nodes.append(helper.make_node("Concat", ["frame"] + ["mean"] * (c - 3), ["pyramid0"], axis=1))
    for i in range(1, levels):
        _pool(nodes, f"pyramid{i - 1}", f"pyramid{i}")
    for i, name in enumerate(names):
        nodes.append(helper.make_node("Identity", [f"pyramid{i}"], [name]))
    outputs = [_value(name, ["N", c, f"H{i}", f"W{i}"]) for i, name in enumerate(names)]
    graph = helper.make_graph(nodes, "nnvisr_extract", inputs, outputs, initializer=inits)
    return _save(graph, path)


def fusion_model(
    path: pathlib.Path,
    spec: Spec,
    weights: np.ndarray,
    yuv: bool,
    input_features: int | None = None,
    actual_scale: tuple[float, float] | None = None,
    reverse_bindings: bool = False,
    y_gain: float = 1.0,
    y_offset: float = 0.0,
    uv_gain: float = 1.0,
) -> pathlib.Path:
    """ff: f{m}l{i} [N,C,H_i,W_i] for every member and level -> h{k} (or h{k}_y, h{k}_uv).

    input_features declares another C on the inputs (a broken package); actual_scale makes
    the network scale by something else than the file name says; reverse_bindings lists the
    graph inputs and outputs in reverse order (names, not positions, must bind them); the
    gains apply y*y_gain + y_offset and (uv - 0.5)*uv_gain + 0.5 after mixing (YUV only).
    """
    k_count, w_count = weights.shape
    assert (k_count, w_count) == (spec.outputs, spec.members), "weights are [outputs, members]"
    c = input_features or spec.features
    sw, sh = actual_scale or (spec.scale, spec.sh)
    inits = [
        numpy_helper.from_array(weights.astype(np.float32), "w"),
        numpy_helper.from_array(np.array([1, 1, 1, sh, sw], np.float32), "up"),
        numpy_helper.from_array(np.array(PENALTY, np.float32), "penalty_gain"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        _ints("axis1", [1]),
        _ints("c0", [0]),
        _ints("c1", [1]),
        _ints("c3", [3]),
        _ints("big", [BIG]),
        _ints("uv_starts", [1, 0, 0]),
        _ints("uv_ends", [3, BIG, BIG]),
        _ints("uv_axes", [1, 2, 3]),
        _ints("uv_steps", [1, 2, 2]),
    ]
    nodes = []
    inputs = []
    terms = []
    planes = ["y", "uv"] if yuv else ["rgb"]
    stacked: dict[str, list[str]] = {p: [] for p in planes}
    for j, m in enumerate(spec.member_ids):
        for i in range(spec.levels):
            inputs.append(_value(f"f{m}l{i}", ["N", c, f"H{i}", f"W{i}"]))
        l0 = f"f{m}l0"
        nodes.append(helper.make_node("Slice", [l0, "c0", "c3", "axis1"], [f"frame{j}"]))
        if yuv:
            nodes.append(helper.make_node("Slice", [l0, "c0", "c1", "axis1"], [f"y{j}"]))
            nodes.append(helper.make_node("Slice", [l0, "uv_starts", "uv_ends", "uv_axes", "uv_steps"], [f"uv{j}"]))
        else:
            nodes.append(helper.make_node("Identity", [f"frame{j}"], [f"rgb{j}"]))
        for p in planes:
            nodes.append(helper.make_node("Unsqueeze", [f"{p}{j}", "axis1"], [f"{p}{j}_t"]))
            stacked[p].append(f"{p}{j}_t")
        # consistency of l0's extra channels with its channel mean
        if c > 3:
            nodes += [
                helper.make_node("ReduceMean", [f"frame{j}", "axis1"], [f"mean{j}"], keepdims=1),
                helper.make_node("Slice", [l0, "c3", "big", "axis1"], [f"rest{j}"]),
                helper.make_node("Sub", [f"rest{j}", f"mean{j}"], [f"dc{j}"]),
                helper.make_node("Abs", [f"dc{j}"], [f"adc{j}"]),
                helper.make_node("ReduceMean", [f"adc{j}"], [f"tc{j}"], keepdims=0),
            ]
            terms.append(f"tc{j}")
        # consistency of each level with the pool of the level above
        for i in range(1, spec.levels):
            _pool(nodes, f"f{m}l{i - 1}", f"pool{j}_{i}")
            nodes += [
                helper.make_node("Sub", [f"pool{j}_{i}", f"f{m}l{i}"], [f"d{j}_{i}"]),
                helper.make_node("Abs", [f"d{j}_{i}"], [f"ad{j}_{i}"]),
                helper.make_node("ReduceMean", [f"ad{j}_{i}"], [f"t{j}_{i}"], keepdims=0),
            ]
            terms.append(f"t{j}_{i}")
    nodes.append(helper.make_node("Sum", terms or ["zero"], ["inconsistency"]))
    nodes.append(helper.make_node("Mul", ["inconsistency", "penalty_gain"], ["penalty"]))
    if yuv:
        inits += [
            numpy_helper.from_array(np.array(y_gain, np.float32), "yg"),
            numpy_helper.from_array(np.array(y_offset, np.float32), "yo"),
            numpy_helper.from_array(np.array(uv_gain, np.float32), "ug"),
            numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        ]
    inits += [numpy_helper.from_array(np.array(index, np.int64), f"index{index}") for index in range(k_count)]
    outputs = []
    for p in planes:
        nodes += [
            helper.make_node("Concat", stacked[p], [f"{p}_stack"], axis=1),
            helper.make_node("Einsum", [f"{p}_stack", "w"], [f"{p}_mixed"], equation="ntchw,kt->nkchw"),
            helper.make_node("Resize", [f"{p}_mixed", "", "up"], [f"{p}_up"], mode="nearest"),
        ]
        if p == "y":
            nodes += [
                helper.make_node("Mul", ["y_up", "yg"], ["y_gained"]),
                helper.make_node("Add", ["y_gained", "yo"], ["y_final"]),
            ]
        elif p == "uv":
            nodes += [
                helper.make_node("Sub", ["uv_up", "half"], ["uv_centred"]),
                helper.make_node("Mul", ["uv_centred", "ug"], ["uv_gained"]),
                helper.make_node("Add", ["uv_gained", "half"], ["uv_final"]),
            ]
        else:
            nodes.append(helper.make_node("Identity", ["rgb_up"], ["rgb_final"]))
        channels = {"y": 1, "uv": 2, "rgb": 3}[p]
        for index, k in enumerate(spec.output_ids):
            name = f"h{k}_{p}" if yuv else f"h{k}"
            nodes += [
                helper.make_node("Gather", [f"{p}_final", f"index{index}"], [f"{name}_raw"], axis=1),
                helper.make_node("Add", [f"{name}_raw", "penalty"], [name]),
            ]
            outputs.append(_value(name, ["N", channels, f"O{p}H", f"O{p}W"]))
    if reverse_bindings:
        inputs, outputs = inputs[::-1], outputs[::-1]
    graph = helper.make_graph(nodes, "nnvisr_fusion", inputs, outputs, initializer=inits)
    return _save(graph, path)


def write_two_stage(
    root: pathlib.Path,
    name: str,
    cs_folders: list[str],
    spec: Spec,
    weights: np.ndarray,
    *,
    manifest: dict | None = None,
    skip: tuple[str, ...] = (),
    extract_outputs: list[str] | None = None,
    fusion_features: int | None = None,
    fusion_scale: tuple[float, float] | None = None,
    reverse_bindings: bool = False,
    yuv_gains: tuple[float, float, float] = (1.0, 0.0, 1.0),
) -> pathlib.Path:
    """Write the fe/ff pair into {root}/models/{name}/{cs}/ for each colour folder; returns the model folder.

    Folders named yuv_* get the YUV 4:2:0 networks and the "_yuv1-1" file suffix. skip may hold
    "fe" and/or "ff" to leave a file out; the other keywords break the package on purpose
    (see fusion_model) or write nnvisr.json.
    """
    folder = pathlib.Path(root) / "models" / name
    for cs in cs_folders:
        yuv = cs.startswith("yuv")
        stem = spec.stem(yuv)
        if "fe" not in skip:
            extract_model(folder / cs / f"fe_{stem}.onnx", spec, yuv, extract_outputs)
        if "ff" not in skip:
            y_gain, y_offset, uv_gain = yuv_gains
            fusion_model(
                folder / cs / f"ff_{stem}.onnx", spec, weights, yuv, fusion_features, fusion_scale, reverse_bindings,
                y_gain, y_offset, uv_gain,
            )
        (folder / cs).mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (folder / "nnvisr.json").write_text(json.dumps(manifest))
    return folder


def index_weights(frames_out: int, frames_in: int, seed: int = 0) -> np.ndarray:
    """Weights summing to 1 per output, different for every (output, input) pair (and seed)."""
    raw = np.arange(1, frames_out * frames_in + 1, dtype=np.float64).reshape(frames_out, frames_in) ** (1.5 + seed)
    return raw / raw.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- numpy reference


def pool_ceil(x: np.ndarray) -> np.ndarray:
    """2x2 average pool with ceil mode over the last two axes; edge windows average their valid pixels."""
    h, w = x.shape[-2:]
    padded = np.full((*x.shape[:-2], h + h % 2, w + w % 2), np.nan)
    padded[..., :h, :w] = x
    blocks = padded.reshape(*x.shape[:-2], (h + 1) // 2, 2, (w + 1) // 2, 2)
    return np.nanmean(blocks, axis=(-3, -1))


def up_nearest(x: np.ndarray, sw: int, sh: int) -> np.ndarray:
    return x.repeat(sh, axis=-2).repeat(sw, axis=-1)


def extract_reference_rgb(rgb: np.ndarray, features: int, levels: int) -> list[np.ndarray]:
    """rgb [3,H,W] in [0,1] -> l0..l{L-1}, each [C,H_i,W_i]."""
    mean = rgb.mean(axis=0, keepdims=True)
    out = [np.concatenate([rgb] + [mean] * (features - 3), axis=0)]
    for _ in range(1, levels):
        out.append(pool_ceil(out[-1]))
    return out


def extract_reference_yuv(y: np.ndarray, uv: np.ndarray, features: int, levels: int) -> list[np.ndarray]:
    """y [1,H,W], uv [2,ceil(H/2),ceil(W/2)] -> l0..l{L-1}."""
    h, w = y.shape[-2:]
    frame = np.concatenate([y, up_nearest(uv, 2, 2)[:, :h, :w]], axis=0)
    return extract_reference_rgb(frame, features, levels)


def mix_reference(frames: list[np.ndarray], weights: np.ndarray, k: int, scale: tuple[int, int]) -> np.ndarray:
    """Network output k (network-output order) for the window's frames (any planes [c,h,w])."""
    mixed = sum(weights[k, j] * frame for j, frame in enumerate(frames))
    return up_nearest(mixed, *scale)


def store_processor(root: pathlib.Path, spec: Spec, batch: int):
    """A Processor on the CPU over a two-stage package of index-weight networks, configured for
    16x12 gbrp at 25 fps: the frame-store tests drive it frame by frame."""
    from fractions import Fraction

    from nnvisr_core import log
    from nnvisr_core.processor import LinkConfig, Processor

    write_two_stage(root, "net", ["rgb_1_1"], spec, index_weights(spec.outputs, spec.members))
    # scene=off: random frames would be scene cuts to scdet's measure, and these tests follow whole windows
    command_line = {"model_path": str(root), "model": "net", "batch_size_fusion": batch, "backend": "onnxruntime",
                    "scene": "off", **spec.manifest()}
    processor = Processor(command_line, log.silent)
    processor.configure(LinkConfig(16, 12, "gbrp", Fraction(1, 25), Fraction(25)))
    return processor
