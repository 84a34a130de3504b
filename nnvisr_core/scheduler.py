"""Frame grouping: which input frames feed each network run, and what comes out.

Pure Python with no FFmpeg, engine or GPU dependency. The processor feeds it
frame descriptions and gets back windows; each window names its input frames
and its output frames (a network output, or an input frame passed through)
with their timestamps.

The rules (NNVISR paper, section 3.3), per scene:
- consumed frames are cut into groups of n = input_count - extra_frame; a
  window is the group, plus the next frame with extra_frame (the network takes
  input_count frames); windows never cross a scene cut;
- the extra frame of a scene's last group is the scene's last frame again;
- a short last group is filled with frames of the previous group (recycled),
  and only the frames not yet output are output;
- a scene shorter than n repeats its last frame to fill the window.
Each input frame gives one output frame, or two with interpolation: the frame
at its own time and an intermediate at the exact midpoint to the next input
frame (in a time base halved, so the midpoint is an integer); after the last
frame the intermediate extrapolates that frame's duration.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from .options import Options

NOPTS = -(1 << 63)  # FFmpeg's AV_NOPTS_VALUE


@dataclasses.dataclass(frozen=True)
class InputFrame:
    seq: int
    pts: int
    duration: int
    scene_start: bool = False


@dataclasses.dataclass(frozen=True)
class OutputFrame:
    network_index: int | None  # which of the window's network outputs; None: pass source through
    source: int  # seq of the input frame passed through, or whose properties it carries
    pts: int
    duration: int


@dataclasses.dataclass(frozen=True)
class Window:
    frames: tuple[int, ...]  # seqs of the frames fed to the network, in order
    outputs: tuple[OutputFrame, ...]


@dataclasses.dataclass(frozen=True)
class Layout:
    """What a window looks like for a set of flags."""

    consumed: int  # n
    extra_frame: bool
    interpolation: bool
    double_frame: bool

    @classmethod
    def from_options(cls, options: Options) -> Layout:
        return cls(options.consumed, options.extra_frame, options.interpolating, options.double_frame)

    @property
    def needs_next_frame(self) -> bool:
        """A group is final only once the frame after it is known (content or midpoint time)."""
        return self.extra_frame or self.interpolation

    @property
    def frames_per_output(self) -> int:
        return 2 if self.interpolation else 1


def default_duration(time_base: Fraction, frame_rate: Fraction) -> int:
    """One frame's duration in time base units, for frames that carry none."""
    if frame_rate > 0 and time_base > 0:
        return max(1, round(1 / (frame_rate * time_base)))
    return 1


class Scheduler:
    """Streams windows as frames arrive; memory bounded by the window size."""

    def __init__(self, layout: Layout, fallback_duration: int = 1) -> None:
        self.layout = layout
        self.fallback_duration = fallback_duration
        self.scene: list[InputFrame] = []  # current scene, from recycle reach on
        self.scene_length = 0  # frames seen in the current scene
        self.next_group = 0  # index into self.scene of the next group to consume
        self.last_pts: int | None = None

    # ------------------------------------------------------------ public

    @property
    def oldest_needed(self) -> int:
        """Input frames before this seq are in no future window."""
        return self.scene[0].seq if self.scene else 1 << 62

    def push(self, frame: InputFrame) -> list[Window]:
        frame = self._with_pts(frame)
        windows: list[Window] = []
        if frame.scene_start and self.scene:
            windows += self._close_scene(frame)
        self.scene.append(frame)
        self.scene_length += 1
        windows += self._full_groups()
        return windows

    def flush(self, eof_pts: int) -> tuple[list[Window], int]:
        windows = self._close_scene(None) if self.scene else []
        if eof_pts == NOPTS:
            return windows, NOPTS
        return windows, eof_pts * self.layout.frames_per_output

    # ------------------------------------------------------------ details

    def _with_pts(self, frame: InputFrame) -> InputFrame:
        """Frames without a pts follow the previous one; interpolation needs numbers."""
        pts = frame.pts
        if pts == NOPTS:
            pts = 0 if self.last_pts is None else self.last_pts + self.fallback_duration
        self.last_pts = pts
        duration = frame.duration if frame.duration > 0 else 0
        return dataclasses.replace(frame, pts=pts, duration=duration)

    def _full_groups(self) -> list[Window]:
        n = self.layout.consumed
        lookahead = 1 if self.layout.needs_next_frame else 0
        windows = []
        while self.next_group + n + lookahead <= len(self.scene):
            group = self.scene[self.next_group : self.next_group + n]
            following = self.scene[self.next_group + n] if lookahead else None
            windows.append(self._window(group, following, range(n), following))
            self.next_group += n
            self._trim()
        return windows

    def _close_scene(self, next_scene_frame: InputFrame | None) -> list[Window]:
        """End of a scene at a cut (next_scene_frame) or at the end of the clip (None)."""
        n = self.layout.consumed
        windows = []
        remaining = len(self.scene) - self.next_group
        if remaining == n:
            # a full group that waited for the frame after it
            group = self.scene[self.next_group :]
            windows.append(self._window(group, None, range(n), next_scene_frame))
        elif remaining > 0:
            if self.scene_length >= n:
                # recycle: the scene's last n frames, outputs for the new ones only
                group = self.scene[-n:]
                windows.append(self._window(group, None, range(n - remaining, n), next_scene_frame))
            else:
                # a scene shorter than a window: repeat its last frame
                group = self.scene + [self.scene[-1]] * (n - remaining)
                windows.append(self._window(group, None, range(remaining), next_scene_frame))
        self.scene = []
        self.scene_length = 0
        self.next_group = 0
        return windows

    def _trim(self) -> None:
        """Keep the frames a recycled last window may reach back to (n-1 before the next group)."""
        keep_from = max(0, self.next_group - (self.layout.consumed - 1))
        if keep_from:
            del self.scene[:keep_from]
            self.next_group -= keep_from

    def _window(
        self,
        group: list[InputFrame],
        extra: InputFrame | None,
        new_positions: range,
        after_group: InputFrame | None,
    ) -> Window:
        """group: the n consumed frames; extra: the frame after them in this scene, if any;
        after_group: the frame that follows the group in the stream (for midpoint times)."""
        frames = [f.seq for f in group]
        if self.layout.extra_frame:
            frames.append((extra or group[-1]).seq)
        outputs: list[OutputFrame] = []
        for position in new_positions:
            frame = group[position]
            following = group[position + 1] if position + 1 < len(group) else after_group
            if following is not None and following.seq == frame.seq:
                following = after_group  # a repeated padding frame is not the frame after
            outputs += self._outputs_of(position, frame, following)
        return Window(tuple(frames), tuple(outputs))

    def _outputs_of(self, position: int, frame: InputFrame, following: InputFrame | None) -> list[OutputFrame]:
        layout = self.layout
        if not layout.interpolation:
            return [OutputFrame(position, frame.seq, frame.pts, frame.duration)]
        if following is not None:
            step = following.pts - frame.pts
        else:
            step = frame.duration or self.fallback_duration
        start = 2 * frame.pts
        middle = start + step
        first_index = 2 * position if layout.double_frame else None
        second_index = 2 * position + 1 if layout.double_frame else position
        return [
            OutputFrame(first_index, frame.seq, start, step),
            OutputFrame(second_index, frame.seq, middle, step),
        ]


def make_scheduler(
    options: Options, time_base: Fraction = Fraction(1), frame_rate: Fraction = Fraction(0)
) -> Scheduler:
    return Scheduler(Layout.from_options(options), default_duration(time_base, frame_rate))
