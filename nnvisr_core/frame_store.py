"""The paper's Fig. 1 frame store: b windows of n frames (+1 shared) in b*n+1 slots.

Windows of n consumed frames plus the next frame (extra_frame) share that
frame with the following window, so a batch of b windows needs b*n+1
frames, not b*(n+1). Slots are ordered column-first so that member j of all
b windows is one contiguous run: the network's input f_j is a view of the
store, no gather copies. For n=3, b=2 the store holds frames 0 3 6 1 4 2 5:
f0 = [0 3], f3 = [3 6], f1 = [1 4], f2 = [2 5]. Without extra_frame the
store has b*n slots, f_j = slots [j*b, (j+1)*b).

Batches whose windows do not chain (a scene ends inside the batch, a short
last window recycles frames) do not fit the layout; the caller gathers them.
"""

from __future__ import annotations

from .scheduler import Window


class Fig1Layout:
    def __init__(self, batch: int, consumed: int, extra_frame: bool) -> None:
        self.batch = batch
        self.consumed = consumed
        self.extra_frame = extra_frame
        self.size = batch * consumed + (1 if extra_frame else 0)

    def slot(self, window: int, member: int) -> int:
        b, n = self.batch, self.consumed
        if not self.extra_frame:
            return member * b + window
        if member == 0:
            return window
        if member == n:
            return window + 1  # the next window's member 0
        return b + 1 + (member - 1) * b + window

    def member_slots(self, member: int, count: int) -> slice:
        """The contiguous slots holding member `member` of windows 0..count-1."""
        start = self.slot(0, member)
        return slice(start, start + count)

    def fits(self, windows: list[Window]) -> bool:
        """Windows chain as the layout needs: each one's extra frame is the next one's first."""
        width = self.consumed + (1 if self.extra_frame else 0)
        if not windows or len(windows) > self.batch or any(len(w.frames) != width for w in windows):
            return False
        if not self.extra_frame:
            return True
        return all(a.frames[-1] == b.frames[0] for a, b in zip(windows, windows[1:]))

    def assignment(self, windows: list[Window]) -> dict[int, int]:
        """slot -> input frame seq for these windows."""
        return {self.slot(i, j): seq for i, w in enumerate(windows) for j, seq in enumerate(w.frames)}


def contiguous_runs(slots: list[int]) -> list[tuple[int, int]]:
    """(start, length) of each run of consecutive slots in a sorted list."""
    runs: list[tuple[int, int]] = []
    for slot in slots:
        if runs and runs[-1][0] + runs[-1][1] == slot:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((slot, 1))
    return runs
