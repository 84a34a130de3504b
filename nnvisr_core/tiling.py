"""Tiles: a large frame runs through the network one region at a time, so memory follows the tile.

The frame (padded to the alignment) is cut into tiles; each tile's region is the tile plus
tile_overlap pixels on every side, shifted inwards at the frame's edges so that every region has
the same size (the network is configured once, its buffers and bound runs are reused). Each region
runs through the whole model, and only the tile's core, scaled, is written to the output. An
output pixel then sees the same input as untiled whenever the network's receptive field fits in the
overlap: a region's own border (zero padding inside the network) is at least tile_overlap pixels
away from any core pixel, and at the frame's edges regions end where the frame does.

Region origins are multiples of a step, so that the network sees the same pixel grid as untiled:
the alignment (a network that takes multiples of N usually strides by N), the feature pyramid of
a two-stage model (level i is 2^i times smaller), 4:2:0 chroma, and non-integer scales (an origin
must map to a whole output pixel). Sizes that break this are refused with one line.

Two-stage models run their whole pipeline (extraction into the Fig. 1 store, fusion) per region:
one runner, sized for the region, serves every tile in turn and forgets its features between
tiles. Memory is then bounded by the region (features, batch buffers, ONNX Runtime's activations)
plus the full-size input frames and outputs the filter holds anyway. The cost: a frame that a batch
carries over from the previous one is extracted again per tile instead of copied.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from . import log
from .colour import ColourInfo
from .errors import NnvisrError
from .log import LogFunction
from .memory import tile_for_budget
from .scheduler import Window
from .single_stage import FrameLookup, OutputLookup, output_size

MAX_STEP = 4096


@dataclasses.dataclass(frozen=True)
class AxisTile:
    start: int  # the tile's core, input pixels [start, stop)
    stop: int
    origin: int  # where its region starts


def _scale_fraction(scale: float) -> Fraction:
    return Fraction(scale).limit_denominator(1000)


def grid_step(scale: float, subsampling: list[int], multiple: int) -> int:
    """The smallest origin step: a multiple of `multiple` and of every plane's subsampling, whose
    scaled position is a whole output pixel on every plane."""
    ratio = _scale_fraction(scale)
    base = math.lcm(multiple, *subsampling)
    for step in range(base, MAX_STEP + 1, base):
        scaled = ratio * step
        if scaled.denominator == 1 and all(scaled.numerator % sub == 0 for sub in subsampling):
            return step
    raise NnvisrError(f"tile=: the scale {float(ratio):g} puts no tile edge on a whole output pixel; use whole frames")


def plan_axis(size: int, tile: int, overlap: int, step: int, axis: str) -> tuple[int, list[AxisTile]]:
    """The region size and the tiles along one axis of `size` pixels."""
    if tile >= size:
        return size, [AxisTile(0, size, 0)]
    if tile % step:
        raise NnvisrError(
            f"tile=: the tile {axis} {tile} must be a multiple of {step} (alignment, feature pyramid, "
            f"chroma and scale of this model)"
        )
    overlap = -(-overlap // step) * step
    region = min(size, tile + 2 * overlap)
    if region < size and (size - region) % step:
        raise NnvisrError(
            f"tile=: the frame {axis} {size} must be a multiple of {step} to be tiled with this model "
            f"(or take a tile of the whole {axis})"
        )
    tiles = [
        AxisTile(start, min(start + tile, size), min(max(start - overlap, 0), size - region))
        for start in range(0, size, tile)
    ]
    return region, tiles


@dataclasses.dataclass(frozen=True)
class TilePlan:
    region: tuple[int, int]  # width, height of every region
    columns: list[AxisTile]
    rows: list[AxisTile]

    @property
    def count(self) -> int:
        return len(self.columns) * len(self.rows)


def make_plan(size: tuple[int, int], tile: tuple[int, int], overlap: int, steps: tuple[int, int]) -> TilePlan:
    region_w, columns = plan_axis(size[0], tile[0], overlap, steps[0], "width")
    region_h, rows = plan_axis(size[1], tile[1], overlap, steps[1], "height")
    return TilePlan((region_w, region_h), columns, rows)


def _plane_slices(
    col: AxisTile, row: AxisTile, scale: tuple[Fraction, Fraction], sub: tuple[int, int]
) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """(core in the full plane, core in the region's plane) on a plane subsampled by sub, at a scale."""

    def axis(tile: AxisTile, ratio: Fraction, factor: int) -> tuple[slice, slice]:
        start = int(ratio * tile.start) // factor
        stop = -(-int(ratio * tile.stop) // factor)  # the frame's last pixel rounds up like the plane's size
        origin = int(ratio * tile.origin) // factor
        return slice(start, stop), slice(start - origin, stop - origin)

    full_x, region_x = axis(col, scale[0], sub[0])
    full_y, region_y = axis(row, scale[1], sub[1])
    return (full_y, full_x), (region_y, region_x)


class TiledRunner:
    """A runner that runs another one region by region (see the module's doc).

    tile None: the tile is chosen at configure from the max_memory budget (memory.py)."""

    def __init__(
        self, inner, tile: tuple[int, int] | None, overlap: int, budget_mib: int, logger: LogFunction
    ) -> None:
        self.inner = inner
        self.log = logger
        self.tile = tile
        self.overlap = overlap
        self.budget_mib = budget_mib
        self.families = inner.families
        self.options = inner.options
        self.upstream_contract = inner.upstream_contract
        self.yuv_levels = inner.yuv_levels

    def on_gpu(self) -> bool:
        return self.inner.on_gpu()

    def input_slot(self, index: int) -> list[np.ndarray] | None:
        return None  # frames are cut into regions, never read straight into a batch

    def release(self, seqs: list[int]) -> None:
        self.inner.release(seqs)

    def forget(self) -> None:
        self.inner.forget()

    def grid(self) -> int:
        return self.inner.grid()

    def _steps(self, subsampling: list[tuple[int, int]], scale: tuple[float, float]) -> tuple[int, int]:
        multiple = math.lcm(self.options.alignment, self.inner.grid())
        return (
            grid_step(scale[0], [sub[0] for sub in subsampling], multiple),
            grid_step(scale[1], [sub[1] for sub in subsampling], multiple),
        )

    def configure(self, width: int, height: int, frame_shapes, shapes_of, codes=None) -> tuple[int, int]:
        options = self.options
        size = (width, height)
        # chroma planes of 4:2:0 frames are half the size
        subsampling = [
            (2 if s[-1] < frame_shapes[0][-1] else 1, 2 if s[-2] < frame_shapes[0][-2] else 1) for s in frame_shapes
        ]
        declared = options.scale_w is not None
        steps = self._steps(subsampling, (options.scale_w or 1.0, options.scale_h or 1.0))
        if self.tile is None:
            self.tile = tile_for_budget(
                self.inner, size, self.overlap, steps, self.budget_mib, frame_shapes, shapes_of, codes, self.log
            )
        plan = make_plan(size, self.tile, self.overlap, steps)
        self.inner.configure(*plan.region, shapes_of(*plan.region), shapes_of, codes)
        if not declared:
            # the dry run gave the model's scale: the grid may be finer than assumed
            steps = self._steps(subsampling, (options.scale_w, options.scale_h))
            checked = make_plan(size, self.tile, self.overlap, steps)
            if checked.region != plan.region:
                self.inner.configure(*checked.region, shapes_of(*checked.region), shapes_of, codes)
            plan = checked
        self.plan = plan
        self.log(
            log.VERBOSE,
            f"tiles: {len(plan.columns)}x{len(plan.rows)} of {self.tile[0]}x{self.tile[1]}, each run as a "
            f"{plan.region[0]}x{plan.region[1]} region (overlap {self.overlap})",
        )
        out_w, out_h = output_size(width, options.scale_w), output_size(height, options.scale_h)
        self.out_shapes = shapes_of(out_w, out_h)
        ratio = (_scale_fraction(options.scale_w), _scale_fraction(options.scale_h))
        # per tile: each plane's region crop of the input, and its core's place in the output and the region's output
        self.tiles = [
            (
                [self._region_crop(col, row, sub) for sub in subsampling],
                [_plane_slices(col, row, ratio, sub) for sub in subsampling],
            )
            for row in plan.rows
            for col in plan.columns
        ]
        self.outputs: list[list[np.ndarray]] | None = None
        return out_w, out_h

    def _region_crop(self, col: AxisTile, row: AxisTile, sub: tuple[int, int]) -> tuple[slice, slice]:
        width, height = self.plan.region
        x0, y0 = col.origin // sub[0], row.origin // sub[1]
        return slice(y0, y0 + -(-height // sub[1])), slice(x0, x0 + -(-width // sub[0]))

    def run(self, windows: list[Window], frame: FrameLookup, colour: ColourInfo) -> OutputLookup:
        frames_out = self.options.output_frames
        for crops, copies in self.tiles:
            self.inner.forget()  # the inner runner's features belong to the last region

            def region(seq: int, crops=crops) -> list[np.ndarray]:
                return [tensor[..., ys, xs] for tensor, (ys, xs) in zip(frame(seq), crops)]

            results = self.inner.run(windows, region, colour)
            if self.outputs is None:
                batch = self.options.batch_size_fusion
                self.outputs = [
                    [np.empty((batch, *shape), t.dtype) for t, shape in zip(results(0, 0), self.out_shapes)]
                    for _ in range(frames_out)
                ]
            for i in range(len(windows)):
                for k in range(frames_out):
                    for target, source, (full, part) in zip(self.outputs[k], results(i, k), copies):
                        target[i][(..., *full)] = source[(..., *part)]
        outputs = self.outputs
        assert outputs is not None
        return lambda i, k: [plane[i] for plane in outputs[k]]
