"""The scheduler against a slow, obviously correct reference, for random clips, cuts and flags."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_reference import reference

from nnvisr_core.scheduler import NOPTS, InputFrame, Layout, Scheduler, Window


def stream(pts: list[int], durations: list[int], cuts: set[int], layout: Layout) -> tuple[list[Window], int, int]:
    scheduler = Scheduler(layout)
    windows, most_held = [], 0
    for i, (p, d) in enumerate(zip(pts, durations)):
        windows += scheduler.push(InputFrame(i, p, d, i in cuts))
        most_held = max(most_held, i + 1 - min(scheduler.oldest_needed, i + 1))
    tail, eof = scheduler.flush(pts[-1] + durations[-1])
    return windows + tail, eof, most_held


layouts = st.builds(
    lambda n, extra, interp, double: Layout(n, extra, interp or double, double),
    st.integers(1, 5),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


@st.composite
def clips(draw):
    count = draw(st.integers(1, 40))
    steps = draw(st.lists(st.integers(1, 9), min_size=count, max_size=count))
    pts = [sum(steps[:i]) + 100 for i in range(count)]
    durations = [steps[i] for i in range(count)]
    cuts = set(draw(st.lists(st.integers(1, max(1, count - 1)), max_size=6))) if count > 1 else set()
    return pts, durations, cuts


@given(clip=clips(), layout=layouts)
@settings(max_examples=400, deadline=None)
def test_streaming_matches_reference(clip, layout: Layout) -> None:
    pts, durations, cuts = clip
    windows, eof, most_held = stream(pts, durations, cuts, layout)
    assert windows == reference(pts, durations, cuts, layout)

    outputs = [o for w in windows for o in w.outputs]
    # exact count: N in, N out (2N with interpolation)
    assert len(outputs) == len(pts) * (2 if layout.interpolation else 1)
    # every input frame is output in order, and times strictly increase
    assert [o.source for o in outputs] == sorted(o.source for o in outputs)
    assert all(a.pts < b.pts for a, b in zip(outputs, outputs[1:]))
    # no window spans a cut
    scene_of = [sum(1 for c in cuts if c <= i) for i in range(len(pts))]
    assert all(len({scene_of[f] for f in w.frames}) == 1 for w in windows)
    # every window has the network's frame count
    assert all(len(w.frames) == layout.consumed + layout.extra_frame for w in windows)
    # memory bounded by the window, not the clip
    assert most_held <= 2 * layout.consumed + 1
    assert eof == (pts[-1] + durations[-1]) * (2 if layout.interpolation else 1)


def test_interpolation_midpoints_are_exact_for_vfr() -> None:
    layout = Layout(1, True, True, False)
    windows, eof, _ = stream([0, 3, 10, 11], [3, 7, 1, 5], set(), layout)
    times = [(o.pts, o.duration) for w in windows for o in w.outputs]
    # half time base: frame k at 2*pts, intermediate at pts_k + pts_k+1, the last one extrapolated
    assert times == [(0, 3), (3, 3), (6, 7), (13, 7), (20, 1), (21, 1), (22, 5), (27, 5)]
    assert eof == 32


def test_scene_cut_frame_starts_a_window() -> None:
    """Upstream's defect 1: the first frame of a scene must not be fused alone."""
    layout = Layout(2, True, True, False)
    windows, _, _ = stream(list(range(6)), [1] * 6, {2}, layout)
    assert [w.frames for w in windows] == [(0, 1, 1), (2, 3, 4), (4, 5, 5)]


def test_missing_timestamps_follow_the_previous_frame() -> None:
    scheduler = Scheduler(Layout(1, False, False, False), fallback_duration=4)
    out = scheduler.push(InputFrame(0, NOPTS, 0)) + scheduler.push(InputFrame(1, NOPTS, 0))
    assert [o.pts for w in out for o in w.outputs] == [0, 4]
