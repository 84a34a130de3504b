"""Memory: the tile a max_memory budget allows, and out of memory as one line with its remedy.

The budget is checked against a measurement, not a formula: the activations ONNX Runtime keeps in
its arena depend on the network's layers and dwarf the buffers the filter allocates (about 3.2 KiB
per input pixel for the bundled default model, against under 0.5 KiB of buffers). A probe runs the
model once on a small region and reads how much the process grew; everything the probe allocated is
counted as growing with the region, so the estimate errs on the safe side.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

import numpy as np

from . import log
from .colour import ColourInfo, family_of_folder
from .errors import NnvisrError
from .options import Options
from .scheduler import Window

MIB = 1 << 20
PROBE_SIDE = 256  # pixels: large enough that the activations outweigh the noise of the heap
ALLOCATION_FAILURES = ("bad_alloc", "failed to allocate memory", "out of memory")


def resident_bytes() -> int:
    """The process's resident set now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _size_text(count: int) -> str:
    return f"{count / (1 << 30):.1f} GiB" if count >= 1 << 30 else f"{count / MIB:.0f} MiB"


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def _tensor_bytes(shapes: list[tuple[int, ...]], itemsize: int = 4) -> int:
    return sum(math.prod(shape) for shape in shapes) * itemsize


def held_bytes(options: Options, frame_shapes: list[tuple[int, ...]], out_shapes: list[tuple[int, ...]]) -> int:
    """What stays full-size however the frame is tiled: the input frames of a batch of windows (and
    the next window's) and the outputs of a batch, in the runner's buffers and the queue."""
    frames = options.window_frames * (options.batch_size_fusion + 1)
    outputs = 2 * options.batch_size_fusion * options.output_frames
    return frames * _tensor_bytes(frame_shapes) + outputs * _tensor_bytes(out_shapes)


def _probe_windows(options: Options) -> list[Window]:
    """A batch of chained windows, as a clip's first batch."""
    consumed = options.consumed
    return [
        Window(tuple(range(i * consumed, i * consumed + options.window_frames)), ())
        for i in range(options.batch_size_fusion)
    ]


def measure_per_pixel(runner, region: tuple[int, int], shapes_of, codes) -> float:
    """Bytes the process grows by per region pixel when the model runs a batch on a region."""
    before = resident_bytes()
    runner.configure(*region, shapes_of(*region), shapes_of, codes)
    if getattr(runner, "extract", False) is None:
        # a two-stage model loads at the first frame, for its colour; any folder of its family will do
        folder = next(f for f in runner.folders if family_of_folder(f) == runner.family)
        runner.load_folder(folder)
    zeros = [np.zeros(shape, np.uint8 if codes is not None else np.float32) for shape in shapes_of(*region)]
    runner.run(_probe_windows(runner.options), lambda seq: zeros, ColourInfo(1, 1, 1))
    runner.forget()
    return max(resident_bytes() - before, 1) / (region[0] * region[1])


def tile_for_budget(
    runner, size: tuple[int, int], overlap: int, steps: tuple[int, int], budget_mib: int,
    frame_shapes: list[tuple[int, ...]], shapes_of, codes, logger: log.LogFunction,
) -> tuple[int, int]:
    """The largest tile, of the frame's shape, whose estimate fits in budget_mib."""
    options = runner.options
    width, height = size
    base = resident_bytes()
    probe = (min(width, _round_up(PROBE_SIDE, steps[0])), min(height, _round_up(PROBE_SIDE, steps[1])))
    per_pixel = measure_per_pixel(runner, probe, shapes_of, codes)
    out_shapes = shapes_of(int(width * (options.scale_w or 1)), int(height * (options.scale_h or 1)))
    fixed = base + held_bytes(options, frame_shapes, out_shapes)
    budget = budget_mib * MIB
    for parts in range(1, max(width // steps[0], height // steps[1]) + 1):
        tile = (_round_up(-(-width // parts), steps[0]), _round_up(-(-height // parts), steps[1]))
        margins = (2 * _round_up(overlap, steps[0]), 2 * _round_up(overlap, steps[1]))
        region = (min(width, tile[0] + margins[0]), min(height, tile[1] + margins[1]))
        estimate = fixed + per_pixel * region[0] * region[1]
        if estimate <= budget:
            logger(
                log.VERBOSE,
                f"max_memory={budget_mib}: tile {tile[0]}x{tile[1]} (region {region[0]}x{region[1]}), estimate "
                f"{estimate / MIB:.0f} MiB ({per_pixel / 1024:.1f} KiB per region pixel measured)",
            )
            return tile
        if region[0] * region[1] <= 4 * overlap * overlap:
            break  # tiles would be mostly overlap
    raise NnvisrError(
        f"max_memory={budget_mib} MiB is too small for {width}x{height} frames with this model: "
        f"{fixed / MIB:.0f} MiB before any tile (process, model, full-size frames and outputs) and "
        f"{per_pixel / 1024:.1f} KiB per tile pixel measured; raise max_memory or lower batch_size_fusion"
    )


def is_out_of_memory(error: BaseException) -> bool:
    """numpy's MemoryError, or ONNX Runtime's failed allocation (its own exception types, or the
    backend's one line quoting it)."""
    if isinstance(error, MemoryError):
        return True
    library = type(error).__module__.startswith("onnxruntime") or isinstance(error, NnvisrError)
    return library and any(s in str(error).lower() for s in ALLOCATION_FAILURES)


@contextlib.contextmanager
def reported(what: str, options: Options | None, size: tuple[int, int] | None, shapes_of=None) -> Iterator[None]:
    """Turn running out of memory into one line: the size, an estimate, and the options that lower it."""
    try:
        yield
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        if options is None or size is None or shapes_of is None:
            raise NnvisrError(f"out of memory {what}; a smaller batch_size_fusion needs less") from None
        out = (int(size[0] * (options.scale_w or 1)), int(size[1] * (options.scale_h or 1)))
        buffers = held_bytes(options, shapes_of(*size), shapes_of(*out))
        output = f"output {out[0]}x{out[1]}" if options.scale_w is not None else "the model's scale not known yet"
        raise NnvisrError(
            f"out of memory {what} {size[0]}x{size[1]} frames ({output}): a batch's frames and "
            f"outputs take about {_size_text(buffers)}, which a smaller batch_size_fusion (now "
            f"{options.batch_size_fusion}) lowers; the network's activations grow with the frame (about 3 KiB per "
            f"pixel for the bundled model), which tile=WxH or max_memory=MiB bound"
        ) from None
