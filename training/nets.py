"""The bundled networks, in upstream NNVISR's two-stage layout (extract once per frame, fuse per window).

VSR x2 (n frames in, n frames out at twice the size): extraction keeps the
frame itself as the first 3 feature channels at level 0 and a half-resolution
level 1; fusion aligns every other member's level-1 features to each target,
merges them, brings them back to full resolution and adds a learned residual
to the bilinearly upscaled frame. The bundled default is VsrFusion (a
modulated deformable convolution whose offsets come from the pair);
LightVsrFusion (one flow per pixel, a 16-wide reconstruction: faster on a CPU,
lower scores) is train.py's --align flow. With n = 1 either, without the
alignment, is a single-frame network.

Interpolation (2 frames in, the middle one out), the bundled model: the frame
pyramid (PyramidExtract) and bilateral matching on it, coarse to fine, with a
fallback to blending where matching fails and a small learned occlusion mask
(MatchInterpFusion). The earlier learned-flow network (InterpExtract,
InterpFusion: flows estimated at the coarsest level of a feature pyramid,
refined level by level, both frames warped and blended by a predicted mask) is
kept as train.py's --arch flow. Both are symmetric in time by construction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from deform import DeformConv
from torch import nn


def conv(inputs: int, outputs: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inputs, outputs, 3, stride, 1)


def act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.1)


def zero(layer: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def bilinear_kernels(like: torch.Tensor) -> torch.Tensor:
    """[4,3,3]: the x2 bilinear upscale (align_corners=False) as one 3x3 kernel per sub-pixel phase, in
    pixel_shuffle's order, on the border-repeated frame."""
    taps = like.new_tensor([0.25, 0.75, 0.0]), like.new_tensor([0.0, 0.75, 0.25])  # phase 0 leans back, 1 forward
    return torch.stack([torch.outer(taps[dy], taps[dx]) for dy in (0, 1) for dx in (0, 1)])


def bilinear_phases(rgb: torch.Tensor) -> torch.Tensor:
    """The x2 bilinear upscale of rgb as its 4 sub-pixel phases per channel: a fixed depthwise convolution on the
    border-repeated frame, so that the residual is added before the one pixel shuffle instead of upscaling the
    frame at output resolution."""
    weight = bilinear_kernels(rgb).repeat(rgb.shape[1], 1, 1).unsqueeze(1)  # [4C, 1, 3, 3]
    return F.conv2d(F.pad(rgb, (1, 1, 1, 1), mode="replicate"), weight, groups=rgb.shape[1])


def shuffle_up(x: torch.Tensor) -> torch.Tensor:
    """F.pixel_shuffle(x, 2). Exported as a transposed convolution with one-hot 2x2 weights: the same values
    (each output is one input times 1 plus zeros), and ONNX Runtime runs it in about half the time of
    DepthToSpace."""
    if not torch.onnx.is_in_onnx_export():
        return F.pixel_shuffle(x, 2)
    channels = x.shape[1] // 4
    weight = torch.eye(4 * channels, dtype=x.dtype).view(4 * channels, channels, 2, 2)
    return F.conv_transpose2d(x, weight, stride=2)


class VsrExtract(nn.Module):
    """level1_channels below channels: level 1 computes that many and is padded with zero channels to
    channels, since upstream's contract has feature_count channels at every level."""

    def __init__(self, channels: int, level1_channels: int | None = None) -> None:
        super().__init__()
        self.first = conv(3, channels)
        self.second = conv(channels, channels - 3)
        self.down = conv(channels, level1_channels or channels, 2)
        self.padding = channels - (level1_channels or channels)

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        level0 = torch.cat([rgb, act(self.second(act(self.first(rgb))))], 1)
        level1 = act(self.down(level0))
        return level0, F.pad(level1, (0, 0, 0, 0, 0, self.padding)) if self.padding else level1


class Aligner(nn.Module):
    """Aligns a neighbour's half-resolution features to the target's."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.offset_body = conv(2 * channels, channels)
        self.offset_out = zero(conv(channels, 27 * groups))  # zero offsets: a plain convolution at first
        self.deform = DeformConv(channels, channels, groups)

    def forward(self, target: torch.Tensor, neighbour: torch.Tensor) -> torch.Tensor:
        out = self.offset_out(act(self.offset_body(torch.cat([target, neighbour], 1))))
        offset, mask = out[:, : 18 * self.groups], torch.sigmoid(out[:, 18 * self.groups:])
        return act(self.deform(neighbour, offset, mask))


class PhaseOutput(nn.Module):
    """An x2 network whose reconstruction ends in `tail`, a convolution to the output's 4 sub-pixel phases of
    R, G, B, added to those of the bilinear upscale; bodies() is what each network computes before it."""

    body: nn.ModuleList
    tail: nn.Conv2d

    def residual_body(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.body:
            x = x + act(layer(x))
        return x

    def bodies(self, *features: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def forward(self, *features: torch.Tensor) -> list[torch.Tensor]:
        """features: f0l0, f0l1, f1l0, f1l1, ...; one output per member."""
        return [shuffle_up(p) for p in self.phases(*features)]

    def phases(self, *features: torch.Tensor) -> list[torch.Tensor]:
        """Per member [N,12,H,W]: channel c*4+k is colour c at phase k (pixel_shuffle's order)."""
        return [self.tail(x) + bilinear_phases(level0[:, :3]) for x, level0 in zip(self.bodies(*features),
                                                                                     features[0::2], strict=True)]


class VsrFusion(PhaseOutput):
    """level1_channels below channels: the alignment takes only the first level1_channels of level 1 (VsrExtract
    computes that many and pads the rest with zeros), a cheaper deformable convolution."""

    def __init__(self, frames: int, channels: int, body: int, layers: int, groups: int = 1,
                 level1_channels: int | None = None) -> None:
        super().__init__()
        self.frames = frames
        self.level1_channels = level1_channels  # None: all of level 1
        aligned = level1_channels or channels
        if frames > 1:
            self.aligner = Aligner(aligned, groups)
            self.merge = conv(frames * aligned, channels)
            self.up = conv(channels, 4 * channels)
        self.head = conv(2 * channels if frames > 1 else channels, body)
        self.body = nn.ModuleList(conv(body, body) for _ in range(layers))
        self.tail = conv(body, 12)

    def bodies(self, *features: torch.Tensor) -> list[torch.Tensor]:
        """Per member the reconstruction's features [N,body,H,W], before the tail."""
        level0, level1 = features[0::2], features[1::2]
        if self.level1_channels:
            level1 = tuple(f[:, : self.level1_channels] for f in level1)  # VsrExtract's zero padding dropped
        outputs = []
        for j in range(self.frames):
            x = level0[j]
            if self.frames > 1:
                aligned = [level1[j]] + [self.aligner(level1[j], level1[k]) for k in range(self.frames) if k != j]
                half = act(self.merge(torch.cat(aligned, 1)))
                # activated before the shuffle (the same values): the activation fuses into the convolution
                up = shuffle_up(act(self.up(half)))[:, :, : x.shape[2], : x.shape[3]]  # odd sizes
                x = torch.cat([x, up], 1)
            outputs.append(self.residual_body(act(self.head(x))))
        return outputs


class FlowAligner(nn.Module):
    """Aligns a neighbour's half-resolution features to the target's: one flow and one weight per pixel
    (from the pair, zero flow at first), the neighbour warped along the flow, then a convolution. ONNX
    GridSample takes one sample per pixel where DeformConv takes nine, and ONNX Runtime runs DeformConv at
    a fraction of a convolution's rate."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.offset_body = conv(2 * channels, channels)
        self.offset_out = zero(conv(channels, 3))
        self.post = conv(channels, channels)

    def forward(self, target: torch.Tensor, neighbour: torch.Tensor) -> torch.Tensor:
        out = self.offset_out(act(self.offset_body(torch.cat([target, neighbour], 1))))
        flow, weight = out[:, :2], torch.sigmoid(out[:, 2:])
        return act(self.post(warp(neighbour, flow) * weight))


class LightVsrFusion(PhaseOutput):
    """VsrFusion's layout made cheap on a CPU (tried for the default: faster, but 0.5 dB lower; training/README.md).
    Each other member's level-1 features (their first level1_channels, fewer than level 0's) are aligned by
    FlowAligner and merged; the merge goes through the head's convolution at half resolution and joins the
    target's own head output by a bilinear resize (no pixel shuffle and crop at full resolution). The
    reconstruction is 16 channels wide, a whole block of ONNX Runtime's AVX-512 kernels (24 would run as 32).
    With frames = 1 it is the single-frame network of the same layout."""

    def __init__(self, frames: int, channels: int, level1_channels: int, body: int, layers: int) -> None:
        super().__init__()
        self.frames, self.level1_channels = frames, level1_channels
        if frames > 1:
            self.aligner = FlowAligner(level1_channels)
            self.merge = conv(frames * level1_channels, channels)
            self.head_up = conv(channels, body)
        self.head = conv(channels, body)
        self.body = nn.ModuleList(conv(body, body) for _ in range(layers))
        self.tail = conv(body, 12)

    def bodies(self, *features: torch.Tensor) -> list[torch.Tensor]:
        """features: f0l0, f0l1, f1l0, f1l1, ...; per member the reconstruction's features [N,body,H,W]."""
        level0 = features[0::2]
        level1 = [f[:, : self.level1_channels] for f in features[1::2]]  # VsrExtract's zero padding dropped
        outputs = []
        for j in range(self.frames):
            x = self.head(level0[j])
            if self.frames > 1:
                aligned = [level1[j]] + [self.aligner(level1[j], level1[k]) for k in range(self.frames) if k != j]
                half = self.head_up(act(self.merge(torch.cat(aligned, 1))))
                x = x + F.interpolate(half, size=x.shape[2:], mode="bilinear", align_corners=False)
            outputs.append(self.residual_body(act(x)))
        return outputs


class InterpExtract(nn.Module):
    def __init__(self, channels: int, levels: int = 3) -> None:
        super().__init__()
        self.first = conv(3, channels - 3)
        self.downs = nn.ModuleList(conv(channels, channels, 2) for _ in range(levels - 1))

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        levels = [torch.cat([rgb, act(self.first(rgb))], 1)]
        for down in self.downs:
            levels.append(act(down(levels[-1])))
        return tuple(levels)


def warp(x: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Samples x at (pixel + flow); flow [N,2,H,W] as (dx, dy) in pixels."""
    _, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype).view(1, h, 1)
    xs = torch.arange(w, dtype=x.dtype).view(1, 1, w)
    gx = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    gy = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    return F.grid_sample(x, torch.stack([gx, gy], -1), mode=mode, padding_mode="border", align_corners=True)


def up_flow(flow: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    size = like.shape[2:]
    scale = size[1] / flow.shape[3]
    return F.interpolate(flow, size=size, mode="bilinear", align_corners=False) * scale


def antisymmetric(net: nn.Module, a: torch.Tensor, b: torch.Tensor, flow: torch.Tensor | None = None,
                  shared: torch.Tensor | None = None) -> torch.Tensor:
    """(net(a, b, flow, shared) - net(b, a, -flow, shared)) / 2, both orders in one batch: swapping the frames
    negates the result exactly. shared: inputs that do not change with the order of the frames."""
    forward, backward = [a, b], [b, a]
    if flow is not None:
        forward.append(flow)
        backward.append(-flow)
    if shared is not None:
        forward.append(shared)
        backward.append(shared)
    out = net(torch.cat([torch.cat(forward, 1), torch.cat(backward, 1)]))
    return (out[: len(a)] - out[len(a):]) / 2


class InterpFusion(nn.Module):
    """Symmetric in time by construction: every estimator runs on (frame 0, frame 2) and on the reversed
    pair, and the halves are combined so that swapping the frames swaps the roles exactly. Flows assume
    linear motion (the flow to frame 2 is minus the flow to frame 0), so two identical frames give zero
    flow, an even blend and that very frame back: static content is never disturbed."""

    def __init__(self, channels: int, width: int, levels: int = 3) -> None:
        super().__init__()
        self.levels = levels
        self.coarse = nn.Sequential(conv(2 * channels, width), nn.LeakyReLU(0.1), conv(width, width), nn.LeakyReLU(0.1),
                                    conv(width, width), nn.LeakyReLU(0.1), zero(conv(width, 2)))
        self.refines = nn.ModuleList(
            nn.Sequential(conv(2 * channels + 2, width), nn.LeakyReLU(0.1), conv(width, width), nn.LeakyReLU(0.1),
                          zero(conv(width, 2)))
            for _ in range(levels - 2))
        self.blend = nn.Sequential(conv(2 * channels + 2, channels), nn.LeakyReLU(0.1), conv(channels, channels),
                                   nn.LeakyReLU(0.1), zero(conv(channels, 1)))

    def forward(self, *features: torch.Tensor) -> torch.Tensor:
        """features: f0l0 .. f0l{L-1}, then f2l0 .. f2l{L-1}."""
        first, last = features[: self.levels], features[self.levels:]
        # flow from the middle frame's grid to frame 0, from the coarsest level; to frame 2 it is the opposite
        flow = antisymmetric(self.coarse, first[-1], last[-1])
        for level, refine in zip(range(self.levels - 2, 0, -1), self.refines, strict=True):
            flow = up_flow(flow, first[level])
            flow = flow + antisymmetric(refine, warp(first[level], flow), warp(last[level], -flow), flow)
        flow = up_flow(flow, first[0])
        warped0, warped2 = warp(first[0], flow), warp(last[0], -flow)
        weight = torch.sigmoid(antisymmetric(self.blend, warped0, warped2, flow))
        return weight * warped0[:, :3] + (1 - weight) * warped2[:, :3]


class PyramidExtract(nn.Module):
    """The frame at `levels` scales, each the 2x2 mean of the one before (sizes halve rounding up: an odd
    side is padded by repeating its last row or column). Nothing to learn: matching happens in fusion."""

    def __init__(self, levels: int) -> None:
        super().__init__()
        self.levels = levels

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pyramid = [rgb]
        for _ in range(self.levels - 1):
            x = pyramid[-1]
            x = F.pad(x, (0, x.shape[3] % 2, 0, x.shape[2] % 2), mode="replicate")
            pyramid.append(F.avg_pool2d(x, 2))
        return tuple(pyramid)


def box(x: torch.Tensor, size: int) -> torch.Tensor:
    """Mean over a size x size window (windows cut at the border average what is inside). Spelled as
    separable depthwise sums divided by the window's pixel count, not as AveragePool without padding:
    ONNX Runtime runs these about 4x faster at these sizes."""
    column = x.new_ones(x.shape[1], 1, size, 1)
    row = column.transpose(2, 3)
    pad = size // 2

    def sums(t: torch.Tensor, channels: int) -> torch.Tensor:
        t = F.conv2d(t, column[:channels], padding=(pad, 0), groups=channels)
        return F.conv2d(t, row[:channels], padding=(0, pad), groups=channels)

    return sums(x, x.shape[1]) / sums(torch.ones_like(x[:1, :1]), 1)


def channel_softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over dim 1, spelled out: ONNX Runtime's Softmax over the channels of an NCHW tensor is about
    10x slower than these element-wise steps."""
    weights = torch.exp(x - x.amax(1, keepdim=True))
    return weights / weights.sum(1, keepdim=True)


def shifted(x: torch.Tensor, dx: int, dy: int, reach: int) -> torch.Tensor:
    """x sampled at (pixel + (dx, dy)), |dx|, |dy| <= reach; the border repeats outside the frame."""
    h, w = x.shape[2], x.shape[3]
    padded = F.pad(x, (reach, reach, reach, reach), mode="replicate")
    return padded[:, :, reach + dy: reach + dy + h, reach + dx: reach + dx + w]


class BilateralMatch(nn.Module):
    """The symmetric motion v at each pixel of the middle frame: the displacement d in [-reach, reach]^2 for
    which first(x - d) and last(x + d) agree best over a window (minterpolate's bilateral block matching,
    made soft: a softmax over the window costs weights the candidates, so v is sub-pixel and the whole is
    differentiable). Swapping the frames gives exactly -v: cost(d) of (a, b) is cost(-d) of (b, a)."""

    def __init__(self, reach: int, window: int, temperature: float) -> None:
        super().__init__()
        self.reach, self.window = reach, window
        self.candidates = [(dx, dy) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)]
        # the weighted sum of candidates as a 1x1 convolution: [2, K, 1, 1]
        self.register_buffer("displacements", torch.tensor(self.candidates, dtype=torch.float32).t()[:, :, None, None],
                             persistent=False)
        # -1/temperature, used as it is so that the exported graph names it (a package is its own checkpoint)
        self.sharpness = nn.Parameter(torch.tensor(-1 / temperature))

    def forward(self, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        r = self.reach
        costs = torch.cat([(shifted(first, -dx, -dy, r) - shifted(last, dx, dy, r)).abs().mean(1, keepdim=True)
                           for dx, dy in self.candidates], 1)
        weights = channel_softmax(box(costs, self.window) * self.sharpness)
        return F.conv2d(weights, self.displacements)


class MatchInterpFusion(nn.Module):
    """Interpolation by bilateral matching on the frame pyramid (PyramidExtract), coarse to fine: a full
    search at the coarsest level, then at each finer level the motion so far is doubled, both frames are
    warped by it and a one-pixel search refines it. Both frames warped by the final motion are averaged,
    and where that agrees less well than the frames themselves (a cut the scene detection missed, a flat or
    static area, a failed match) the output falls back to blending the unwarped frames. A small network,
    zero at the start, weights the two warped frames (occlusions); it is antisymmetric in time as
    InterpFusion's estimators are, so swapping the frames swaps the roles exactly, and two identical frames
    give that frame back (zero motion, both warps equal). Matching and the decisions run down to half
    resolution (level 1); only the final warps (bicubic) and the blend run at full resolution."""

    def __init__(self, levels: int = 5, reach: int = 3, window: int = 13, temperature: float = 0.02,
                 fallback_window: int = 9, fallback_temperature: float = 0.01, width: int = 16) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError("the decisions run at level 1: at least 2 levels")
        self.levels, self.fallback_window = levels, fallback_window
        self.coarse = BilateralMatch(reach, window, temperature)
        self.refine = BilateralMatch(1, window, temperature)
        self.fallback_sharpness = nn.Parameter(torch.tensor(1 / fallback_temperature))
        # the mask is the difference of the head's outputs for the pair and the swapped pair: a bias would cancel
        self.head = nn.Sequential(conv(3 + 3 + 2 + 2, width), nn.LeakyReLU(0.1), conv(width, width),
                                  nn.LeakyReLU(0.1), nn.Conv2d(width, 1, 3, 1, 1, bias=False))
        nn.init.zeros_(self.head[-1].weight)

    def decide(self, *features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The motion, fallback and mask at half resolution (level 1), from levels 1 and coarser only."""
        first, last = features[: self.levels], features[self.levels:]
        motion = self.coarse(first[-1], last[-1])
        for level in range(self.levels - 2, 0, -1):
            motion = up_flow(motion, first[level])
            motion = motion + self.refine(warp(first[level], -motion), warp(last[level], motion))
        a, b = first[1], last[1]
        warped_a, warped_b = warp(a, -motion), warp(b, motion)
        matched = box((warped_a - warped_b).abs().mean(1, keepdim=True), self.fallback_window)
        still = box((a - b).abs().mean(1, keepdim=True), self.fallback_window)
        fallback = torch.sigmoid((matched - still) * self.fallback_sharpness)
        # swapped frames give 1 - mask
        mask = torch.sigmoid(antisymmetric(self.head, warped_a, warped_b, -motion, torch.cat([matched, still], 1)))
        return motion, fallback, mask

    def forward(self, *features: torch.Tensor) -> torch.Tensor:
        """features: f0l0 .. f0l{L-1}, then f2l0 .. f2l{L-1}; level 0 is the frame."""
        a, b = features[0], features[self.levels]
        return compose(a, b, *to_size(*self.decide(*features), like=a))


def to_size(motion: torch.Tensor, fallback: torch.Tensor, mask: torch.Tensor,
            like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Half-resolution decisions brought to like's resolution (bilinear; the motion scaled with it)."""
    fallback, mask = (F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)
                      for x in (fallback, mask))
    return up_flow(motion, like), fallback, mask


def compose(a: torch.Tensor, b: torch.Tensor, motion: torch.Tensor, fallback: torch.Tensor,
            mask: torch.Tensor) -> torch.Tensor:
    """The in-between frame from the two frames and the decisions at their resolution: both frames warped
    (bicubic) and weighted by the mask, blended unwarped where matching failed."""
    warped_a, warped_b = warp(a, -motion, "bicubic"), warp(b, motion, "bicubic")
    moved = mask * warped_a + (1 - mask) * warped_b
    return fallback * (a + b) / 2 + (1 - fallback) * moved
