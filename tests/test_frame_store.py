"""The Fig. 1 frame store layout, and that two-stage runs use it."""

from __future__ import annotations

import pathlib

import numpy as np
import two_stage_models as tsm

from nnvisr_core.frame_store import Fig1Layout, contiguous_runs
from nnvisr_core.scheduler import Window


def test_papers_example_order() -> None:
    """n=3, b=2 with extra frame: memory order 0 3 6 1 4 2 5 (paper, Fig. 1)."""
    layout = Fig1Layout(batch=2, consumed=3, extra_frame=True)
    windows = [Window((0, 1, 2, 3), ()), Window((3, 4, 5, 6), ())]
    assert layout.size == 7
    assignment = layout.assignment(windows)
    assert [assignment[slot] for slot in range(7)] == [0, 3, 6, 1, 4, 2, 5]
    for member, frames in enumerate([(0, 3), (1, 4), (2, 5), (3, 6)]):
        slots = layout.member_slots(member, 2)
        assert tuple(assignment[s] for s in range(slots.start, slots.stop)) == frames


def test_windows_that_do_not_chain_do_not_fit() -> None:
    layout = Fig1Layout(batch=2, consumed=2, extra_frame=True)
    assert layout.fits([Window((0, 1, 2), ()), Window((2, 3, 4), ())])
    assert not layout.fits([Window((0, 1, 1), ()), Window((2, 3, 4), ())])  # scene cut between them
    assert Fig1Layout(2, 2, False).fits([Window((4, 5), ()), Window((5, 6), ())])  # recycled, no sharing


def test_runs() -> None:
    assert contiguous_runs([1, 2, 3, 5, 7, 8]) == [(1, 3), (5, 1), (7, 2)]


def test_two_stage_batches_use_the_store_and_extract_each_frame_once(tmp_path: pathlib.Path) -> None:
    spec = tsm.Spec(n=2, scale=1.0, levels=2, features=4, extra_frame=True, interpolation=True)
    processor = tsm.store_processor(tmp_path, spec, batch=3)
    runner = processor.runner
    extracted: list[int] = []
    original = runner._bound_store_extract

    def counting(first_slot: int, count: int):
        extracted.append(count)
        return original(first_slot, count)

    runner._bound_store_extract = counting
    frame = [np.full((12, 16), 50, np.uint8)] * 3
    ready = 0
    for seq in range(13):  # one scene: 6 windows of 2 frames, then the last one
        ready += processor.push(frame, seq, seq, 1, None, 0)
        for _ in range(ready):
            processor.pull([np.zeros((12, 16), np.uint8) for _ in range(3)])
        ready = 0
    # two full batches of 3 windows in the store: frames 0-6, then 7-12 (frame 6 carried over):
    # every frame extracted once, in runs of at most batch_size_extract = b*n = 6
    assert sum(extracted) == 13
    assert max(extracted) <= 6
