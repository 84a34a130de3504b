"""Two-stage model folders with exactly upstream NNVISR's tensor interface, and their numpy reference.

The interface is what upstream's own tooling writes (cycmunet's export script with vs-NNVISR's
deform_conv2d helper, then onnxsim and the graph-surgeon pass): opset 13 plus the "custom" domain;
custom::DeformConv2d(input, offset, mask, weight, bias) with the attributes stride, padding, dilation,
deformable_groups, activation_type (-1: none; 3: a following LeakyRelu folded into the node, alpha its
slope), alpha and beta; the extract network takes rgb (or y and uv) and gives l0..l{L-1}, each level
half the size of the one above rounding up, listed smallest first as upstream's exporter lists them;
the fusion network takes f{2j}l{i} for j = 0..input_count-1 and gives h0..h{2n-1} (n = input_count - 1),
with _y / _uv suffixes for YUV. Files: {cs}/fe_n{input_count}_{s}x{s}_l{L}[_yuv1-1].onnx and ff_.

The networks are made so that numpy computes their output exactly:
- extract: l0 = a fixed 1x1 convolution of the frame whose first three output channels are the frame
  itself (R G B, or y and the nearest-upsampled u v); level i = 2x2 average pool (ceil) of level i-1.
- fusion, for each member j: S_j = sum over the DeformConv2d nodes t of
  act_t(DCNv2(l0_j; offset_t = conv1x1(l0_j), mask_t = sigmoid(conv1x1(l0_j)), weight_t, bias_t)),
  a deformable convolution with learned-looking, content-dependent offsets and masks as upstream's
  PCD alignment makes them; output k = nearest-upsample(sum_j mix[k, j] * S_j[:3] + out_bias), every
  (k, j) weight distinct, so a wrong window changes every output; for YUV, y from channel 0 upsampled
  by s and uv from channels 1, 2 upsampled by s/2.
- every output adds 100 x how far the members' features are from what the extract network makes of
  one frame (levels against the pool of the level above, channels 3.. against the frame): 0 for the
  right features, far off for levels or frames mixed up.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

UPSTREAM_OPSET = 13
STANDARD_OPSET = 19  # the standard-DeformConv twin, used only to check these builders against numpy
CUSTOM = "custom"
YUV_SUFFIX = "_yuv1-1"
PENALTY = 100.0
LEAKY_RELU = 3  # TensorRT ActivationType::kLEAKY_RELU, what upstream's exporter writes


@dataclasses.dataclass(frozen=True)
class Upstream:
    """A published upstream configuration: interpolation, extra_frame and double_frame all on."""

    input_count: int  # frames the network takes (upstream's meaning)
    scale: int
    levels: int
    features: int
    yuv: bool = False
    activations: tuple[int, ...] = (LEAKY_RELU, -1)  # activation_type of each DeformConv2d node
    deformable_groups: int = 2
    alpha: float = 0.1
    beta: float = 0.0
    seed: int = 0

    @property
    def consumed(self) -> int:
        return self.input_count - 1

    @property
    def outputs(self) -> int:
        return 2 * self.consumed

    @property
    def stem(self) -> str:
        return f"n{self.input_count}_{self.scale:g}x{self.scale:g}_l{self.levels}{YUV_SUFFIX if self.yuv else ''}"

    def options(self, norm: bool = False) -> str:
        """Upstream's published options, as a command line writes them."""
        text = (
            f"scale_factor={self.scale}:input_count={self.input_count}:feature_count={self.features}"
            f":extraction_layers={self.levels}:interpolation=1:extra_frame=1:double_frame=1"
        )
        if norm:
            text += ":norm_mean=0.485|0.456|0.406:norm_std=0.229|0.224|0.225"
        return text

    def manifest(self, norm: bool = False) -> dict:
        """The same options as nnvisr.json beside the colour folders."""
        values: dict = {
            "scale_factor": self.scale,
            "input_count": self.input_count,
            "feature_count": self.features,
            "extraction_layers": self.levels,
            "interpolation": True,
            "extra_frame": True,
            "double_frame": True,
        }
        if norm:
            values["norm_mean"] = [0.485, 0.456, 0.406]
            values["norm_std"] = [0.229, 0.224, 0.225]
        return values


# ---------------------------------------------------------------- weights


@dataclasses.dataclass(frozen=True)
class Deform:
    weight: np.ndarray  # [C, C, 3, 3]
    bias: np.ndarray  # [C]
    offset_weight: np.ndarray  # [dg*9*2, C] (1x1 convolution)
    offset_bias: np.ndarray
    mask_weight: np.ndarray  # [dg*9, C]
    mask_bias: np.ndarray
    activation: int
    alpha: float
    beta: float


@dataclasses.dataclass(frozen=True)
class Weights:
    embed: np.ndarray  # [C, 3]: l0 = embed @ frame; rows 0..2 the identity
    deforms: tuple[Deform, ...]
    mix: np.ndarray  # [outputs, input_count]
    out_bias: np.ndarray  # [3]


def index_mix(outputs: int, members: int) -> np.ndarray:
    """Rows summing to 1, a different weight for every (output, member) pair."""
    raw = np.arange(1, outputs * members + 1, dtype=np.float64).reshape(outputs, members) ** 1.5
    return raw / raw.sum(axis=1, keepdims=True)


def deform_weights(rng: np.random.Generator, channels: int, groups: int, activation: int, alpha: float,
                   beta: float, branches: int = 1) -> Deform:
    """A DeformConv2d near the identity (its share of it, when branches sum), with offsets of up to about
    two pixels and masks between about 0.3 and 0.95, both depending on the content."""
    taps = 9
    weight = rng.standard_normal((channels, channels, 3, 3)) * 0.3 / np.sqrt(9 * channels)
    weight[np.arange(channels), np.arange(channels), 1, 1] += 1.0 / branches
    return Deform(
        weight=weight,
        bias=rng.uniform(-0.2, 0.2, channels),
        offset_weight=rng.standard_normal((2 * groups * taps, channels)) * 0.5 / np.sqrt(channels),
        offset_bias=rng.uniform(-1.5, 1.5, 2 * groups * taps),
        mask_weight=rng.standard_normal((groups * taps, channels)) / np.sqrt(channels),
        mask_bias=rng.uniform(-0.5, 2.0, groups * taps),
        activation=activation,
        alpha=alpha,
        beta=beta,
    )


def weights(cfg: Upstream) -> Weights:
    rng = np.random.default_rng(1000 + cfg.seed)
    c, dg = cfg.features, cfg.deformable_groups
    assert c >= 3 and c % dg == 0
    embed = np.concatenate([np.eye(3), rng.uniform(-0.6, 0.6, (c - 3, 3))])
    deforms = tuple(
        deform_weights(rng, c, dg, kind, cfg.alpha, cfg.beta, len(cfg.activations)) for kind in cfg.activations
    )
    return Weights(embed, deforms, index_mix(cfg.outputs, cfg.input_count), np.array([0.05, -0.04, 0.03]))


# ---------------------------------------------------------------- ONNX


class _Graph:
    """Nodes and initialisers with generated names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, value, dtype=np.float32) -> str:
        name = self._name("const")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, domain: str | None = None,
           **attrs) -> str:
        output = output or self._name(op_type.lower())
        self.nodes.append(helper.make_node(
            op_type, inputs, [output], name=self._name(op_type), domain=domain, **attrs
        ))
        return output

    def deform(self, x: str, d: Deform, dg: int, standard: bool, output: str | None = None) -> str:
        """DCNv2 with offsets and mask computed from x, in upstream's node form (or the standard twin)."""
        offset = self.op("Conv", [x, self.const(d.offset_weight[:, :, None, None]), self.const(d.offset_bias)])
        mask = self.op("Sigmoid", [self.op("Conv", [x, self.const(d.mask_weight[:, :, None, None]),
                                                      self.const(d.mask_bias)])])
        weight, bias = self.const(d.weight), self.const(d.bias)
        if not standard:
            return self.op(
                "DeformConv2d", [x, offset, mask, weight, bias], output, domain=CUSTOM,
                stride=[1, 1], padding=[1, 1], dilation=[1, 1], deformable_groups=dg,
                activation_type=d.activation, alpha=d.alpha, beta=d.beta,
            )
        assert d.activation in (-1, LEAKY_RELU), "the standard twin knows what upstream's exporter writes"
        y = self.op("DeformConv", [x, weight, offset, bias, mask], None if d.activation != -1 else output,
                    kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1], group=1,
                    offset_group=dg)
        return self.op("LeakyRelu", [y], output, alpha=d.alpha) if d.activation == LEAKY_RELU else y


def _value(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _save(g: _Graph, name: str, inputs: list, outputs: list, path: pathlib.Path, standard: bool) -> pathlib.Path:
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.inits)
    if standard:
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", STANDARD_OPSET)])
        model.ir_version = 9
        onnx.checker.check_model(model, full_check=True)
    else:
        # what torch.onnx.export writes for opset 13 with a custom-domain symbolic
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", UPSTREAM_OPSET), helper.make_opsetid(CUSTOM, 1)],
            producer_name="pytorch",
        )
        model.ir_version = 7
        onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def _pool(g: _Graph, x: str, output: str | None = None) -> str:
    return g.op("AveragePool", [x], output, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)


def _mean_abs(g: _Graph, x: str) -> str:
    return g.op("ReduceMean", [g.op("Abs", [x])], keepdims=0)


def extract_model(path: pathlib.Path, cfg: Upstream, w: Weights, standard: bool = False) -> pathlib.Path:
    """fe: rgb [N,3,H,W] (or y [N,1,H,W] + uv [N,2,ceil(H/2),ceil(W/2)]) -> l{L-1}..l0."""
    g = _Graph()
    if cfg.yuv:
        up = g.op("Resize", ["uv", "", g.const([1, 1, 2, 2])], mode="nearest")
        hw = g.op("Slice", [g.op("Shape", ["y"]), g.const([2], np.int64), g.const([4], np.int64)])
        cropped = g.op("Slice", [up, g.const([0, 0], np.int64), hw, g.const([2, 3], np.int64)])
        frame = g.op("Concat", ["y", cropped], axis=1)
        inputs = [_value("y", ["batch_size", 1, "input_height", "input_width"]),
                  _value("uv", ["batch_size", 2, "input_height_uv", "input_width_uv"])]
    else:
        frame = "rgb"
        inputs = [_value("rgb", ["batch_size", 3, "input_height", "input_width"])]
    level = g.op("Conv", [frame, g.const(w.embed[:, :, None, None])], "l0")
    for i in range(1, cfg.levels):
        level = _pool(g, level, f"l{i}")
    outputs = [_value(f"l{i}", ["batch_size", cfg.features, f"feature_height_{i}", f"feature_width_{i}"])
               for i in reversed(range(cfg.levels))]
    return _save(g, "fe", inputs, outputs, path, standard)


def fusion_model(path: pathlib.Path, cfg: Upstream, w: Weights, standard: bool = False) -> pathlib.Path:
    """ff: f{2j}l{i} for every member j and level i -> h0..h{2n-1} (h{k}_y, h{k}_uv for YUV)."""
    g = _Graph()
    c = cfg.features
    inputs, penalties, stacked = [], [], []
    for j in range(cfg.input_count):
        m = 2 * j
        for i in reversed(range(cfg.levels)):
            inputs.append(_value(f"f{m}l{i}", ["batch_size", c, f"feature_height_{i}", f"feature_width_{i}"]))
        l0 = f"f{m}l0"
        if c > 3:  # channels 3.. against what the extract network makes of channels 0..2
            residual = np.zeros((c - 3, c))
            residual[:, :3] = -w.embed[3:]
            residual[:, 3:] = np.eye(c - 3)
            penalties.append(_mean_abs(g, g.op("Conv", [l0, g.const(residual[:, :, None, None])])))
        for i in range(1, cfg.levels):  # each level against the pool of the level above
            penalties.append(_mean_abs(g, g.op("Sub", [_pool(g, f"f{m}l{i - 1}"), f"f{m}l{i}"])))
        branches = [g.deform(l0, d, cfg.deformable_groups, standard) for d in w.deforms]
        summed = g.op("Sum", branches)
        rgb = g.op("Slice", [summed, g.const([0], np.int64), g.const([3], np.int64), g.const([1], np.int64)])
        stacked.append(g.op("Unsqueeze", [rgb, g.const([1], np.int64)]))
    penalty = g.op("Mul", [g.op("Sum", penalties or [g.const(0.0)]), g.const(PENALTY)])
    mixed = g.op("Einsum", [g.op("Concat", stacked, axis=1), g.const(w.mix)], equation="nmchw,km->nkchw")
    mixed = g.op("Add", [mixed, g.const(w.out_bias.reshape(1, 1, 3, 1, 1))])

    def upsample(x: str, factor: float) -> str:
        return x if factor == 1 else g.op("Resize", [x, "", g.const([1, 1, 1, factor, factor])], mode="nearest")

    def channels(start: int, end: int) -> str:
        return g.op("Slice", [mixed, g.const([start], np.int64), g.const([end], np.int64), g.const([2], np.int64)])

    if cfg.yuv:
        planes = [("_y", upsample(channels(0, 1), cfg.scale), 1, ""),
                  ("_uv", upsample(channels(1, 3), cfg.scale / 2), 2, "_uv")]
    else:
        planes = [("", upsample(mixed, cfg.scale), 3, "")]
    outputs = []
    for k in range(cfg.outputs):
        for suffix, source, count, dims in planes:
            name = f"h{k}{suffix}"
            picked = g.op("Gather", [source, g.const(k, np.int64)], axis=1)
            g.op("Add", [picked, penalty], name)
            outputs.append(_value(name, ["batch_size", count, f"output_height{dims}", f"output_width{dims}"]))
    return _save(g, "ff", inputs, outputs, path, standard)


def write_package(root: pathlib.Path, name: str, cfg: Upstream, cs_folders: list[str], *,
                  manifest: dict | None = None, standard: bool = False) -> pathlib.Path:
    """{root}/models/{name}/{cs}/fe_{stem}.onnx and ff_{stem}.onnx for each colour folder; returns the model folder."""
    w = weights(cfg)
    folder = pathlib.Path(root) / "models" / name
    for cs in cs_folders:
        extract_model(folder / cs / f"fe_{cfg.stem}.onnx", cfg, w, standard)
        fusion_model(folder / cs / f"ff_{cfg.stem}.onnx", cfg, w, standard)
    if manifest is not None:
        (folder / "nnvisr.json").write_text(json.dumps(manifest))
    return folder


def single_stage_deform_model(path: pathlib.Path, deform: Deform) -> pathlib.Path:
    """A single-stage RGB model x [N,3,H,W] -> y: one custom::DeformConv2d with its fused activation."""
    g = _Graph()
    g.deform("x", deform, 1, standard=False, output="y")
    return _save(g, "dcn", [_value("x", ["batch_size", 3, "height", "width"])],
                 [_value("y", ["batch_size", 3, "height", "width"])], path, standard=False)


def single_stage_reference(deform: Deform, x: np.ndarray) -> np.ndarray:
    """x [3,H,W] (normalised) -> act(DCNv2(x))."""
    offset = _conv1x1(x, deform.offset_weight, deform.offset_bias)
    mask = 1 / (1 + np.exp(-_conv1x1(x, deform.mask_weight, deform.mask_bias)))
    convolved = deform_conv(x, offset, mask, deform.weight, deform.bias, 1)
    return activation(deform.activation, deform.alpha, deform.beta, convolved)


# ---------------------------------------------------------------- numpy reference


def activation(kind: int, alpha: float, beta: float, x: np.ndarray) -> np.ndarray:
    """TensorRT's ActivationType by number (-1: none), as its documentation defines each."""
    from math import erf, sqrt

    if kind == -1:
        return x
    if kind == 0:  # RELU
        return np.maximum(x, 0)
    if kind == 1:  # SIGMOID
        return 1 / (1 + np.exp(-x))
    if kind == 2:  # TANH
        return np.tanh(x)
    if kind == 3:  # LEAKY_RELU
        return np.where(x >= 0, x, alpha * x)
    if kind == 4:  # ELU
        return np.where(x >= 0, x, alpha * (np.exp(x) - 1))
    if kind == 5:  # SELU
        return np.where(x >= 0, beta * x, beta * (alpha * np.exp(x) - alpha))
    if kind == 6:  # SOFTSIGN
        return x / (1 + np.abs(x))
    if kind == 7:  # SOFTPLUS
        return alpha * np.log(np.exp(beta * x) + 1)
    if kind == 8:  # CLIP
        return np.clip(x, alpha, beta)
    if kind == 9:  # HARD_SIGMOID
        return np.clip(alpha * x + beta, 0, 1)
    if kind == 10:  # SCALED_TANH
        return alpha * np.tanh(beta * x)
    if kind == 11:  # THRESHOLDED_RELU (as TensorRT's ONNX parser maps ONNX ThresholdedRelu to it)
        return np.where(x > alpha, x, 0.0)
    if kind == 12:  # GELU_ERF
        return 0.5 * x * (1 + np.vectorize(erf)(x / sqrt(2)))
    if kind == 13:  # GELU_TANH
        return 0.5 * x * (1 + np.tanh(sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    raise ValueError(f"activation_type {kind} is not TensorRT's")


def _bilinear(x: np.ndarray, py: np.ndarray, px: np.ndarray) -> np.ndarray:
    """x [c,H,W] sampled at (py, px) [H',W'], zero outside the frame."""
    _, height, width = x.shape
    y0, x0 = np.floor(py).astype(int), np.floor(px).astype(int)
    out = np.zeros((x.shape[0], *py.shape))
    for yy in (y0, y0 + 1):
        for xx in (x0, x0 + 1):
            inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            weight = (1 - np.abs(py - yy)) * (1 - np.abs(px - xx)) * inside
            out += weight * x[:, np.clip(yy, 0, height - 1), np.clip(xx, 0, width - 1)]
    return out


def deform_conv(x: np.ndarray, offset: np.ndarray, mask: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                groups: int, pad: int = 1) -> np.ndarray:
    """DCNv2 by its definition (stride 1, dilation 1): x [C,H,W]; offset [groups*kh*kw*2, H, W] laid
    out (group, tap, (dy, dx)); mask [groups*kh*kw, H, W]; bilinear samples, zero outside, times the mask."""
    channels, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    per_group = channels // groups
    ys, xs = np.mgrid[0:height, 0:width]
    offset = offset.reshape(groups, kh * kw, 2, height, width)
    mask = mask.reshape(groups, kh * kw, height, width)
    columns = np.zeros((channels, kh * kw, height, width))
    for group in range(groups):
        part = slice(group * per_group, (group + 1) * per_group)
        for tap in range(kh * kw):
            ky, kx = divmod(tap, kw)
            py = ys - pad + ky + offset[group, tap, 0]
            px = xs - pad + kx + offset[group, tap, 1]
            columns[part, tap] = _bilinear(x[part], py, px) * mask[group, tap]
    return np.einsum("ock,ckhw->ohw", weight.reshape(out_channels, channels, kh * kw), columns) + bias[:, None, None]


def _conv1x1(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    out = np.einsum("oc,chw->ohw", weight, x)
    return out if bias is None else out + bias[:, None, None]


def _pool_ceil(x: np.ndarray) -> np.ndarray:
    """2x2 average pool with ceil mode; windows past the edge average their pixels inside."""
    h, w = x.shape[-2:]
    padded = np.full((*x.shape[:-2], h + h % 2, w + w % 2), np.nan)
    padded[..., :h, :w] = x
    return np.nanmean(padded.reshape(*x.shape[:-2], (h + 1) // 2, 2, (w + 1) // 2, 2), axis=(-3, -1))


def _up(x: np.ndarray, factor: int) -> np.ndarray:
    return x.repeat(factor, axis=-2).repeat(factor, axis=-1)


def frame_planes(cfg: Upstream, planes: list[np.ndarray]) -> np.ndarray:
    """The network's view of one frame as [3,H,W]: R G B, or y with u v nearest-upsampled to its size."""
    if not cfg.yuv:
        return np.stack(planes)
    y, u, v = planes
    h, w = y.shape
    return np.stack([y, _up(u, 2)[:h, :w], _up(v, 2)[:h, :w]])


def extract_reference(cfg: Upstream, w: Weights, frame: np.ndarray) -> list[np.ndarray]:
    """frame [3,H,W] (normalised) -> l0..l{L-1}."""
    levels = [_conv1x1(frame, w.embed)]
    for _ in range(1, cfg.levels):
        levels.append(_pool_ceil(levels[-1]))
    return levels


def member_reference(cfg: Upstream, w: Weights, l0: np.ndarray) -> np.ndarray:
    """S_j[:3]: the summed DeformConv2d branches of one member, first three channels."""
    total = 0
    for d in w.deforms:
        offset = _conv1x1(l0, d.offset_weight, d.offset_bias)
        mask = 1 / (1 + np.exp(-_conv1x1(l0, d.mask_weight, d.mask_bias)))
        convolved = deform_conv(l0, offset, mask, d.weight, d.bias, cfg.deformable_groups)
        total = total + activation(d.activation, d.alpha, d.beta, convolved)
    return total[:3]


def fusion_reference(cfg: Upstream, w: Weights, members: list[np.ndarray], k: int) -> list[np.ndarray]:
    """Output h{k} of a window whose members' S_j[:3] are given: [R, G, B] or [Y, U, V] planes."""
    mixed = sum(w.mix[k, j] * s for j, s in enumerate(members)) + w.out_bias[:, None, None]
    if not cfg.yuv:
        return list(_up(mixed, cfg.scale))
    return [_up(mixed[0], cfg.scale), *_up(mixed[1:], cfg.scale // 2)]


def without_activations(cfg: Upstream) -> Upstream:
    """The same configuration with every fused activation dropped: what a rewrite that forgets them runs."""
    return dataclasses.replace(cfg, activations=tuple(-1 for _ in cfg.activations))
