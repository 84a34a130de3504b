"""YUV 4:2:0 variants of the bundled networks, in upstream NNVISR's YUV interface.

A yuv420p source then never goes through 8-bit RGB: extraction takes `y` [N,1,H,W] and `uv` [N,2,H/2,W/2] as the
filter's plain levels give them (luma black..white -> 0..1, neutral chroma -> 0.5), and fusion returns `h{k}_y` and
`h{k}_uv`. The variant is the RGB network between two 1x1 colour convolutions, initialised to the BT.709 matrix
(levels -> RGB in front, RGB -> levels behind), then fine-tuned end to end on YUV frames: the colour convolutions
train with the rest, so the network is no longer tied to the matrix it started from. Chroma is brought to full
resolution (bilinear) in front and back to 4:2:0 by a 2x2 mean behind.

Training frames follow the yuv420p pipeline a user has: photographs converted to 8-bit BT.709 limited-range YUV with
4:2:0 chroma (2x2 mean), rounded to codes; low resolution = the 2x2 mean of each plane's codes, rounded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from nets import MatchInterpFusion, PhaseOutput, bilinear_kernels, compose, shuffle_up, to_size
from torch import nn

KR, KB = 0.2126, 0.0722  # BT.709
KG = 1 - KR - KB


def levels_to_rgb_matrix() -> torch.Tensor:
    """[3,3]: (y, u - 0.5, v - 0.5) -> R'G'B' in 0..1 (E'Y, E'Cb, E'Cr of BT.709)."""
    return torch.tensor([
        [1.0, 0.0, 2 * (1 - KR)],
        [1.0, -2 * (1 - KB) * KB / KG, -2 * (1 - KR) * KR / KG],
        [1.0, 2 * (1 - KB), 0.0],
    ])


def colour_conv(matrix: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    layer = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        layer.weight.copy_(matrix.view(3, 3, 1, 1))
        layer.bias.copy_(bias)
    return layer


def to_rgb_conv() -> nn.Conv2d:
    matrix = levels_to_rgb_matrix()
    return colour_conv(matrix, -matrix[:, 1:].sum(1) * 0.5)  # the chroma's 0.5 offset folded into the bias


def to_levels_conv() -> nn.Conv2d:
    return colour_conv(torch.linalg.inv(levels_to_rgb_matrix()), torch.tensor([0.0, 0.5, 0.5]))


def upsample_chroma(uv: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """uv [N,2,ceil(H/2),ceil(W/2)] -> [N,2,H,W]."""
    full = F.interpolate(uv, scale_factor=2, mode="bilinear", align_corners=False)
    return full[:, :, : like.shape[2], : like.shape[3]]


def split_420(levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[N,3,H,W] (H, W even) -> y [N,1,H,W], uv [N,2,H/2,W/2] (2x2 mean)."""
    return levels[:, :1], F.avg_pool2d(levels[:, 1:], 2)


class YuvExtract(nn.Module):
    def __init__(self, rgb_extract: nn.Module) -> None:
        super().__init__()
        self.to_rgb = to_rgb_conv()
        self.rgb = rgb_extract

    def forward(self, y: torch.Tensor, uv: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.rgb(self.to_rgb(torch.cat([y, upsample_chroma(uv, y)], 1)))


class YuvVsrFusion(nn.Module):
    """Outputs y, uv, y, uv, ...: one pair per member. The RGB fusion gives its output as sub-pixel phases
    (phases()): a 2x2 block of the output is the 4 phases of one input pixel, so the colour convolution runs on
    each phase at input resolution, the 4:2:0 chroma is the mean of the 4 phases, and only luma is shuffled to
    output size. The same outputs as converting the RGB output at full size and taking the 2x2 mean of its
    chroma.

    Exported, all of that after the reconstruction's features is one convolution (folded_tail()): training
    keeps the parameters it has always had, and the ONNX file keeps them as its initializers (export.py), so the
    package stays its own checkpoint while ONNX Runtime folds them once when it loads the file."""

    def __init__(self, rgb_fusion: PhaseOutput) -> None:
        super().__init__()
        self.rgb = rgb_fusion
        self.to_levels = to_levels_conv()

    def forward(self, *features: torch.Tensor) -> list[torch.Tensor]:
        if torch.onnx.is_in_onnx_export():
            return self.folded_forward(*features)
        out: list[torch.Tensor] = []
        for phases in self.rgb.phases(*features):
            n, _, h, w = phases.shape
            # channel c*4+k is colour c at phase k (pixel_shuffle's order): one 3-channel picture per phase
            per_phase = phases.view(n, 3, 4, h, w).transpose(1, 2).reshape(n * 4, 3, h, w)
            levels = self.to_levels(per_phase).view(n, 4, 3, h, w)
            out.extend((F.pixel_shuffle(levels[:, :, 0], 2), levels[:, :, 1:].mean(1)))
        return out

    def folded_forward(self, *features: torch.Tensor) -> list[torch.Tensor]:
        weight, bias, frame_weight = self.folded_tail()
        out: list[torch.Tensor] = []
        for x, level0 in zip(self.rgb.bodies(*features), features[0::2], strict=True):
            frame = F.pad(level0[:, :3], (1, 1, 1, 1), mode="replicate")
            planes = F.conv2d(x, weight, bias, padding=1) + F.conv2d(frame, frame_weight)
            out.extend((shuffle_up(planes[:, :4]), planes[:, 4:]))
        return out

    def folded_tail(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The tail, the bilinear phases, the colour convolution and the chroma mean are all linear, so they
        are one convolution of the reconstruction's features to 6 planes (luma's 4 phases, then U and V at
        input resolution) plus one of the border-repeated frame: their weight, bias and the frame's weight."""
        # [6 planes, 12 phase channels c*4+k]: luma phase k takes the luma row at phase k, U and V the mean of
        # their rows over the 4 phases
        matrix = self.to_levels.weight[:, :, 0, 0]
        phase_map = torch.cat([torch.kron(matrix[:1], torch.eye(4)), torch.kron(matrix[1:], torch.full((1, 4), 0.25))])
        tail = self.rgb.tail
        weight = torch.einsum("op,pihw->oihw", phase_map, tail.weight)
        levels_bias = self.to_levels.bias
        bias = phase_map @ tail.bias + torch.cat([levels_bias[:1].expand(4), levels_bias[1:]])
        frame_weight = torch.einsum("ock,khw->ochw", phase_map.view(6, 3, 4), bilinear_kernels(weight))
        return weight, bias, frame_weight


class YuvInterpFusion(nn.Module):
    def __init__(self, rgb_fusion: nn.Module) -> None:
        super().__init__()
        self.rgb = rgb_fusion
        self.to_levels = to_levels_conv()

    def forward(self, *features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return split_420(self.to_levels(self.rgb(*features)))


def repeat_chroma(uv: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """uv [N,2,ceil(H/2),ceil(W/2)] -> [N,2,H,W], each sample repeated 2x2: its 2x2 means are uv again."""
    full = F.interpolate(uv, scale_factor=2, mode="nearest")
    return full[:, :, : like.shape[2], : like.shape[3]]


class YuvPyramidExtract(nn.Module):
    """The frame pyramid of a 4:2:0 frame for the matching model. Level 0 is the frame in levels (Y, and the
    chroma repeated to full size only because every level has 3 channels: fusion takes Y from it). The
    coarser levels are R'G'B', as the RGB model's pyramid, since matching and the mask run on them; the
    colour matrix commutes with the 2x2 means, and level 1's means of the repeated chroma are the source's
    chroma itself."""

    def __init__(self, rgb_extract: nn.Module) -> None:
        super().__init__()
        self.to_rgb = to_rgb_conv()
        self.rgb = rgb_extract

    def forward(self, y: torch.Tensor, uv: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pyramid = self.rgb(torch.cat([y, repeat_chroma(uv, y)], 1))
        return (pyramid[0], *(self.to_rgb(level) for level in pyramid[1:]))


class YuvMatchInterpFusion(nn.Module):
    """The matching model on YuvPyramidExtract's levels, in 4:2:0 throughout: the decisions are the RGB
    model's (motion, fallback and mask at half resolution); luma is warped and blended at full resolution,
    chroma at its own half resolution with those very decisions, so no plane is resampled to another's size
    and back. Luma equals what the RGB model gives when its output is converted to levels (warping and
    blending are affine combinations, which commute with the colour matrix)."""

    def __init__(self, rgb_fusion: MatchInterpFusion) -> None:
        super().__init__()
        self.rgb = rgb_fusion
        self.to_levels = to_levels_conv()

    def forward(self, *features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        levels = self.rgb.levels
        motion, fallback, mask = self.rgb.decide(*features)
        a, b = features[0][:, :1], features[levels][:, :1]
        y = compose(a, b, *to_size(motion, fallback, mask, like=a))
        chroma_a, chroma_b = (self.to_levels(features[k])[:, 1:] for k in (1, levels + 1))
        return y, compose(chroma_a, chroma_b, motion, fallback, mask)


# ------------------------------------------------------------------ training frames


def rgb_to_codes(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """8-bit RGB in 0..1 [..., 3, H, W] -> BT.709 limited-range codes: Y [..., 1, H, W], UV [..., 2, H/2, W/2]
    (4:2:0 by the 2x2 mean of full-resolution chroma), rounded."""
    r, g, b = rgb.unbind(-3)
    luma = KR * r + KG * g + KB * b
    cb = (b - luma) / (2 * (1 - KB))
    cr = (r - luma) / (2 * (1 - KR))
    shape = rgb.shape[:-3]
    chroma = torch.stack([cb, cr], -3).flatten(0, -4) if shape else torch.stack([cb, cr], -3)[None]
    chroma = F.avg_pool2d(chroma, 2).reshape(*shape, 2, rgb.shape[-2] // 2, rgb.shape[-1] // 2)
    y = torch.round(16 + 219 * luma.unsqueeze(-3)).clamp(16, 235)
    uv = torch.round(128 + 224 * chroma).clamp(16, 240)
    return y, uv


def box_down_codes(codes: torch.Tensor) -> torch.Tensor:
    """[..., C, H, W] codes -> their 2x2 mean, rounded (the evaluation protocol's low resolution)."""
    shape = codes.shape
    return torch.round(F.avg_pool2d(codes.reshape(-1, *shape[-3:]), 2)).reshape(*shape[:-2], shape[-2] // 2,
                                                                                  shape[-1] // 2)


def codes_to_levels(y: torch.Tensor, uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The filter's plain levels for 8-bit limited range (nnvisr_core/yuv_norm.py levels())."""
    return (y - 16) / 219, (uv - 128) / 224 + 0.5
