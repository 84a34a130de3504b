"""A slow, obviously correct scheduler: whole clip at once, scene by scene, from the rules as written."""

from __future__ import annotations

from nnvisr_core.scheduler import Layout, OutputFrame, Window


def reference(pts: list[int], durations: list[int], cuts: set[int], layout: Layout) -> list[Window]:
    """Whole-clip windows, computed scene by scene from the rules as written."""
    count, n = len(pts), layout.consumed
    starts = sorted({0, *cuts})
    scenes = [(s, e) for s, e in zip(starts, starts[1:] + [count])]
    windows = []
    for s, e in scenes:
        length = e - s
        for g in range(s, e, n):
            group = list(range(g, min(g + n, e)))
            if len(group) == n:
                consumed, new = group, list(range(n))
                extra = g + n if g + n < e else e - 1
            elif length >= n:
                consumed, new = list(range(e - n, e)), list(range(n - len(group), n))
                extra = e - 1
            else:
                consumed, new = group + [e - 1] * (n - length), list(range(length))
                extra = e - 1
            frames = tuple(consumed + ([extra] if layout.extra_frame else []))
            outputs = []
            for j in new:
                f = consumed[j]
                if not layout.interpolation:
                    outputs.append(OutputFrame(j, f, pts[f], durations[f]))
                    continue
                step = pts[f + 1] - pts[f] if f + 1 < count else durations[f]
                first, second = (2 * j, 2 * j + 1) if layout.double_frame else (None, j)
                outputs.append(OutputFrame(first, f, 2 * pts[f], step))
                outputs.append(OutputFrame(second, f, 2 * pts[f] + step, step))
            windows.append(Window(frames, tuple(outputs)))
    return windows
