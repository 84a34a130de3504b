"""The bundled networks, in upstream NNVISR's two-stage layout (extract once per frame, fuse per window).

VSR x2 (n frames in, n frames out at twice the size): extraction keeps the
frame itself as the first 3 feature channels at level 0 and a half-resolution
level 1; fusion aligns every other member's level-1 features to each target
with a modulated deformable convolution whose offsets come from the pair,
merges them, brings them back to full resolution and adds a learned residual
to the bilinearly upscaled frame. With n = 1 the same network, without the
alignment, is the single-frame baseline.

Interpolation (2 frames in, the middle one out): a pyramid of L levels; the
flow from the middle frame to both sides is estimated at the coarsest,
refined level by level, and both frames are warped (ONNX GridSample) and blended by a
predicted mask; every estimate is made symmetric in time (InterpFusion).
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


class VsrExtract(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = conv(3, channels)
        self.second = conv(channels, channels - 3)
        self.down = conv(channels, channels, 2)

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        level0 = torch.cat([rgb, act(self.second(act(self.first(rgb))))], 1)
        return level0, act(self.down(level0))


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


class VsrFusion(nn.Module):
    def __init__(self, frames: int, channels: int, body: int, layers: int, groups: int = 1) -> None:
        super().__init__()
        self.frames = frames
        if frames > 1:
            self.aligner = Aligner(channels, groups)
            self.merge = conv(frames * channels, channels)
            self.up = conv(channels, 4 * channels)
        self.head = conv(2 * channels if frames > 1 else channels, body)
        self.body = nn.ModuleList(conv(body, body) for _ in range(layers))
        self.tail = conv(body, 12)

    def forward(self, *features: torch.Tensor) -> list[torch.Tensor]:
        """features: f0l0, f0l1, f1l0, f1l1, ...; one output per member."""
        level0, level1 = features[0::2], features[1::2]
        outputs = []
        for j in range(self.frames):
            x = level0[j]
            if self.frames > 1:
                aligned = [level1[j]] + [self.aligner(level1[j], level1[k]) for k in range(self.frames) if k != j]
                half = act(self.merge(torch.cat(aligned, 1)))
                up = act(F.pixel_shuffle(self.up(half), 2))[:, :, : x.shape[2], : x.shape[3]]  # odd sizes
                x = torch.cat([x, up], 1)
            x = act(self.head(x))
            for layer in self.body:
                x = x + act(layer(x))
            base = F.interpolate(level0[j][:, :3], scale_factor=2, mode="bilinear", align_corners=False)
            outputs.append(F.pixel_shuffle(self.tail(x), 2) + base)
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


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Samples x at (pixel + flow); flow [N,2,H,W] as (dx, dy) in pixels."""
    _, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype).view(1, h, 1)
    xs = torch.arange(w, dtype=x.dtype).view(1, 1, w)
    gx = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    gy = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    return F.grid_sample(x, torch.stack([gx, gy], -1), mode="bilinear", padding_mode="border", align_corners=True)


def up_flow(flow: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    size = like.shape[2:]
    scale = size[1] / flow.shape[3]
    return F.interpolate(flow, size=size, mode="bilinear", align_corners=False) * scale


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

    @staticmethod
    def antisymmetric(net: nn.Module, a: torch.Tensor, b: torch.Tensor, flow: torch.Tensor | None = None
                      ) -> torch.Tensor:
        """(net(a, b, flow) - net(b, a, -flow)) / 2, both orders in one batch."""
        forward, backward = [a, b], [b, a]
        if flow is not None:
            forward.append(flow)
            backward.append(-flow)
        out = net(torch.cat([torch.cat(forward, 1), torch.cat(backward, 1)]))
        return (out[: len(a)] - out[len(a):]) / 2

    def forward(self, *features: torch.Tensor) -> torch.Tensor:
        """features: f0l0 .. f0l{L-1}, then f2l0 .. f2l{L-1}."""
        first, last = features[: self.levels], features[self.levels:]
        # flow from the middle frame's grid to frame 0, from the coarsest level; to frame 2 it is the opposite
        flow = self.antisymmetric(self.coarse, first[-1], last[-1])
        for level, refine in zip(range(self.levels - 2, 0, -1), self.refines, strict=True):
            flow = up_flow(flow, first[level])
            flow = flow + self.antisymmetric(refine, warp(first[level], flow), warp(last[level], -flow), flow)
        flow = up_flow(flow, first[0])
        warped0, warped2 = warp(first[0], flow), warp(last[0], -flow)
        weight = torch.sigmoid(self.antisymmetric(self.blend, warped0, warped2, flow))
        return weight * warped0[:, :3] + (1 - weight) * warped2[:, :3]
