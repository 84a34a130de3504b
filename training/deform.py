"""Deformable convolution (DCNv2) in plain PyTorch, exported as ONNX DeformConv.

torchvision's deform_conv2d does not load beside the CPU build of torch these
machines install, so training uses this grid_sample formulation. It follows
ONNX DeformConv's definition exactly (offsets laid out as [group][kernel
position][dy, dx], bilinear sampling, zero outside the image, optional mask),
and export maps the custom op nnvisr::deform_conv2d onto that ONNX operator
(opset 19), which ONNX Runtime and TensorRT >= 10.1 run natively.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from onnxscript import opset19 as op
from torch import nn


def deform_conv2d(
    x: torch.Tensor, weight: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor,
    pad: int, offset_groups: int,
) -> torch.Tensor:
    """Stride 1, dilation 1, no weight groups: all this project's networks need."""
    n, c, h, w = x.shape
    kh, kw = weight.shape[2:]
    g, k = offset_groups, kh * kw
    off = offset.view(n, g, k, 2, h, w)
    ys = torch.arange(h, dtype=x.dtype, device=x.device).view(1, 1, 1, h, 1)
    xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, 1, 1, w)
    ky = (torch.arange(kh, dtype=x.dtype, device=x.device) - pad).repeat_interleave(kw).view(1, 1, k, 1, 1)
    kx = (torch.arange(kw, dtype=x.dtype, device=x.device) - pad).repeat(kh).view(1, 1, k, 1, 1)
    sample_y = ys + ky + off[:, :, :, 0]
    sample_x = xs + kx + off[:, :, :, 1]
    # align_corners=True puts -1 and 1 on the centres of the edge pixels, as DeformConv counts
    grid = torch.stack([sample_x * (2 / max(w - 1, 1)) - 1, sample_y * (2 / max(h - 1, 1)) - 1], dim=-1)
    source = x.view(n, g, 1, c // g, h, w).expand(n, g, k, c // g, h, w).reshape(n * g * k, c // g, h, w)
    sampled = F.grid_sample(source, grid.reshape(n * g * k, h, w, 2), mode="bilinear", padding_mode="zeros",
                            align_corners=True)
    sampled = sampled.view(n, g, k, c // g, h, w) * mask.view(n, g, k, 1, h, w)
    columns = sampled.permute(0, 1, 3, 2, 4, 5).reshape(n, c, k, h, w)
    out = torch.einsum("nckhw,ock->nohw", columns, weight.reshape(weight.shape[0], c, k))
    return out + bias.view(1, -1, 1, 1)


@torch.library.custom_op("nnvisr::deform_conv2d", mutates_args=())
def deform_conv2d_op(
    x: torch.Tensor, weight: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor,
    pad: int, offset_groups: int,
) -> torch.Tensor:
    return deform_conv2d(x, weight, offset, mask, bias, pad, offset_groups)


@deform_conv2d_op.register_fake
def _(x, weight, offset, mask, bias, pad, offset_groups):  # noqa: ANN001, ANN202
    return x.new_empty(x.shape[0], weight.shape[0], x.shape[2], x.shape[3])


def deform_conv2d_onnx(x, weight, offset, mask, bias, pad: int, offset_groups: int):  # noqa: ANN001, ANN201
    return op.DeformConv(x, weight, offset, bias, mask, pads=[pad, pad, pad, pad], offset_group=offset_groups)


ONNX_TRANSLATION = {torch.ops.nnvisr.deform_conv2d.default: deform_conv2d_onnx}


class DeformConv(nn.Module):
    """3x3 modulated deformable convolution; offsets and mask come from the caller."""

    exporting = False  # set while exporting: use the custom op that maps to ONNX DeformConv

    def __init__(self, in_channels: int, out_channels: int, offset_groups: int) -> None:
        super().__init__()
        self.offset_groups = offset_groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        function = deform_conv2d_op if DeformConv.exporting else deform_conv2d
        return function(x, self.weight, offset, mask, self.bias, 1, self.offset_groups)
