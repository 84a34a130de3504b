"""Plans for the TensorRT backend that need no TensorRT: optimisation profiles.

One engine serves a range of sizes: the profile's optimum is the filter's
batch and the clip's size, its minimum is one window of a small frame, and
its maximum rounds the clip's size up to the next multiple of SIZE_STEP, so
clips of similar sizes (and a mid-stream change within the range) reuse the
engine, and the one-window dry run and a short last batch fit it too.
"""

from __future__ import annotations

from ..backends.base import TensorInfo

SIZE_STEP = 256
MIN_SIDE = 16


def round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def profile_for(
    tensor: TensorInfo, shape: tuple[int, ...], max_batch: int = 1
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) shapes for one input: batch 1..max_batch, H and W over a range around the clip's."""
    if len(shape) != tensor.rank:
        raise ValueError(f"{tensor.name}: shape {shape} does not match rank {tensor.rank}")
    opt_shape = list(shape)
    low, high = list(shape), list(shape)
    for axis, fixed in enumerate(tensor.shape):
        if fixed is not None:
            continue  # a static axis must stay as the model says
        if axis == 0:
            low[axis] = 1
            opt_shape[axis] = high[axis] = max(max_batch, shape[0])
        elif axis >= tensor.rank - 2:
            low[axis] = min(opt_shape[axis], MIN_SIDE)
            high[axis] = max(opt_shape[axis], round_up(opt_shape[axis], SIZE_STEP))
    return tuple(low), tuple(opt_shape), tuple(high)


def fits(profile: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]], shape: tuple[int, ...]) -> bool:
    low, _, high = profile
    return all(lo <= s <= hi for lo, s, hi in zip(low, shape, high))
