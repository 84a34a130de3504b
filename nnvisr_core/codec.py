"""Frame codecs: one frame's planes <-> the network's per-frame tensors."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from . import log, pixels, yuv_norm
from .colour import ColourInfo
from .errors import NnvisrError
from .log import LogFunction
from .options import Options
from .pixels import PixelFormat

AVCOL_RANGE_JPEG = 2  # FFmpeg's full range; unspecified counts as limited


class FrameCodec(Protocol):
    dtype: np.dtype  # of the per-frame tensors

    def tensor_shapes(self, width: int, height: int) -> list[tuple[int, ...]]: ...

    def read(self, planes: list[np.ndarray], color_range: int, out: list[np.ndarray]) -> None: ...

    def write(self, tensors: list[np.ndarray], color_range: int, planes: list[np.ndarray]) -> None: ...

    def use_colour(self, colour: ColourInfo, logger: LogFunction) -> None: ...


def _scratch(cache: dict, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """float32 work arrays of these shapes, allocated once per shape: no allocation per frame."""
    key = tuple(shapes)
    if key not in cache:
        cache.clear()
        cache[key] = [np.empty(shape, np.float32) for shape in shapes]
    return cache[key]


class RgbCodec:
    dtype = np.dtype(np.float32)

    def __init__(self, fmt: PixelFormat, options: Options, upstream_contract: bool = False) -> None:
        self.fmt = fmt
        mean, std = options.normalisation(upstream_contract)
        self.norm = pixels.RgbNormalisation.create(fmt, mean, std, options.raw_norm)
        self.scratch: dict = {}

    def use_colour(self, colour: ColourInfo, logger: LogFunction) -> None:
        """RGB needs no colour description."""

    def tensor_shapes(self, width: int, height: int) -> list[tuple[int, ...]]:
        return [(3, height, width)]

    def read(self, planes: list[np.ndarray], color_range: int, out: list[np.ndarray]) -> None:
        pixels.read_rgb(self.fmt, planes, self.norm, out[0])

    def write(self, tensors: list[np.ndarray], color_range: int, planes: list[np.ndarray]) -> None:
        scratch = _scratch(self.scratch, [tensors[0].shape])[0]
        pixels.write_rgb(self.fmt, tensors[0], self.norm, planes, scratch)


class YuvCodec:
    """upstream_norm: upstream NNVISR's normalisation (its two-stage contract, or norm_mean/norm_std given),
    which depends on the frames' colour matrix; else plain levels (yuv_norm.py)."""

    dtype = np.dtype(np.float32)

    def __init__(self, fmt: PixelFormat, options: Options, upstream_norm: bool, levels: bool = False) -> None:
        self.fmt = fmt
        self.options = options
        # levels: the package's YUV networks take plain levels, whatever norm_mean/norm_std say (the RGB ones')
        self.upstream_norm = not levels and (upstream_norm or options.norm_given or options.raw_norm)
        self.upstream_defaults = upstream_norm
        self.matrix: tuple[float, float] | None = None
        self.norms: dict[bool, yuv_norm.YuvNormalisation] = {}
        self.scratch: dict = {}

    def use_colour(self, colour: ColourInfo, logger: LogFunction) -> None:
        """The first frame's colour matrix decides the normalisation, as upstream does."""
        if not self.upstream_norm or self.options.raw_norm:
            return
        matrix, warning = yuv_norm.matrix_of_frames(colour.matrix)
        if warning:
            logger(log.WARNING, warning)
        self.matrix = yuv_norm.matrix_coefficients(matrix, colour.primaries)
        self.norms.clear()

    def _norm(self, color_range: int) -> yuv_norm.YuvNormalisation:
        full_range = color_range == AVCOL_RANGE_JPEG
        norm = self.norms.get(full_range)
        if norm is None:
            if not self.upstream_norm:
                norm = yuv_norm.levels(self.fmt, full_range)
            else:
                mean, std = self.options.normalisation(self.upstream_defaults)
                matrix = self.matrix or yuv_norm.MATRIX_COEFFICIENTS[yuv_norm.MATRIX_BT709]
                norm = yuv_norm.upstream(self.fmt, full_range, matrix, mean, std, self.options.raw_norm)
            self.norms[full_range] = norm
        return norm

    def tensor_shapes(self, width: int, height: int) -> list[tuple[int, ...]]:
        chroma_w, chroma_h = pixels.chroma_size(width, height)
        return [(1, height, width), (2, chroma_h, chroma_w)]

    def read(self, planes: list[np.ndarray], color_range: int, out: list[np.ndarray]) -> None:
        pixels.read_yuv(self.fmt, planes, self._norm(color_range), out[0], out[1])

    def write(self, tensors: list[np.ndarray], color_range: int, planes: list[np.ndarray]) -> None:
        scratch = _scratch(self.scratch, [tensors[0].shape[1:], tensors[1].shape[1:]])
        pixels.write_yuv(self.fmt, tensors[0], tensors[1], self._norm(color_range), planes, scratch)


class CodeRgbCodec(RgbCodec):
    """pixels=model: tensors hold the frame's own 8-bit codes in R G B order; the network converts them.

    norm (RgbCodec's) is what the network's merged nodes apply (pixel_graph.wrap_rgb)."""

    dtype = np.dtype(np.uint8)

    def __init__(self, fmt: PixelFormat, options: Options, upstream_contract: bool = False) -> None:
        if not takes_codes(fmt):
            raise NnvisrError(f"pixels=model takes 8-bit planar RGB (gbrp), not {fmt.name}")
        super().__init__(fmt, options, upstream_contract)

    def read(self, planes: list[np.ndarray], color_range: int, out: list[np.ndarray]) -> None:
        for channel, plane in enumerate(self.fmt.rgb_planes):
            np.copyto(out[0][channel], planes[plane])

    def write(self, tensors: list[np.ndarray], color_range: int, planes: list[np.ndarray]) -> None:
        for channel, plane in enumerate(self.fmt.rgb_planes):
            np.copyto(planes[plane], tensors[0][channel])


def takes_codes(fmt: PixelFormat) -> bool:
    """Formats whose codes the network can take as they are (pixels=model)."""
    return fmt.family == pixels.RGB and not fmt.packed and not fmt.floating and fmt.depth == 8


def plane_shapes(fmt: PixelFormat, width: int, height: int) -> list[tuple[int, int]]:
    """(rows, elements per row) of each plane the codecs read and write."""
    if fmt.family == pixels.RGB:
        return [(height, width * 3)] if fmt.packed else [(height, width)] * 3
    chroma_w, chroma_h = pixels.chroma_size(width, height)
    return [(height, width), (chroma_h, chroma_w), (chroma_h, chroma_w)]


def make_codec(
    fmt: PixelFormat, family: str, options: Options, codes: bool = False, upstream_contract: bool = False,
    yuv_levels: bool = False,
) -> FrameCodec:
    """codes: the network converts pixels itself (pixels=model). upstream_contract: a model in upstream
    NNVISR's two-stage layout, whose normalisation defaults are upstream's. yuv_levels: its YUV networks take
    plain levels (nnvisr.json "yuv_levels")."""
    if fmt.family != family:
        raise NnvisrError(f"pixel format {fmt.name} does not suit a {family} model")
    if codes:
        return CodeRgbCodec(fmt, options, upstream_contract)
    if family == pixels.RGB:
        return RgbCodec(fmt, options, upstream_contract)
    return YuvCodec(fmt, options, upstream_contract, yuv_levels)
