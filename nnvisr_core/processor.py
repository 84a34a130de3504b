"""One filter instance: model, frame store, batches and the output queue.

The filter pushes input frames and pulls output frames. Pixels are converted
to network tensors once, at push; windows from the scheduler are batched by
batch_size_fusion and run on preallocated buffers; outputs wait in a queue
until the filter pulls them into frames it allocated.
"""

from __future__ import annotations

import collections
import dataclasses
from fractions import Fraction

import numpy as np

from . import log, package, pixels
from .backends import Backend, open_backend
from .codec import FrameCodec, make_codec, plane_shapes
from .errors import NnvisrError
from .log import LogFunction
from .network import SingleStageNetwork, describe_network
from .options import Options, from_package, merge
from .scheduler import InputFrame, OutputFrame, Scheduler, Window, make_scheduler


@dataclasses.dataclass(frozen=True)
class LinkConfig:
    width: int
    height: int
    pix_fmt: str
    time_base: Fraction
    frame_rate: Fraction  # 0 when unknown


@dataclasses.dataclass(frozen=True)
class OutputLink:
    width: int
    height: int
    time_base: Fraction
    frame_rate: Fraction
    scene_key: str


@dataclasses.dataclass
class _Queued:
    tensors: list[np.ndarray]
    color_range: int
    spec: OutputFrame


def output_size(size: int, scale: float) -> int:
    """Upstream's rule: int(scale * size)."""
    return int(scale * size)


class Processor:
    def __init__(self, command_line: dict, logger: LogFunction) -> None:
        self.log = logger
        pkg = package.locate(command_line.get("model"), command_line.get("model_path"))
        self.options: Options = merge(from_package(pkg.config, pkg.source), command_line)
        self.backend: Backend = open_backend(
            self.options.backend, pkg.onnx_path, self.options.threads, self.options.device, logger
        )
        self.network: SingleStageNetwork = describe_network(self.backend)
        self.network.check_window(self.options.window_frames, self.options.output_frames)
        self.codec: FrameCodec | None = None
        self.queue: collections.deque[_Queued] = collections.deque()
        self.pending: list[Window] = []
        self.store: dict[int, tuple[list[np.ndarray], int]] = {}
        self.spare: list[list[np.ndarray]] = []

    # ------------------------------------------------------------ set-up

    def pix_fmts(self) -> list[str]:
        return pixels.formats_of_family(self.network.family)

    def configure(self, link: LinkConfig) -> OutputLink:
        fmt = pixels.lookup(link.pix_fmt)
        self.fmt = fmt
        self.codec = make_codec(fmt, self.network.family, self.options)
        self.in_size = (link.width, link.height)
        self.frame_shapes = self.codec.tensor_shapes(link.width, link.height)
        out_w, out_h = self._output_size(link)
        self.out_size = (out_w, out_h)
        self._allocate(out_w, out_h)
        self.scheduler: Scheduler = make_scheduler(self.options, link.time_base, link.frame_rate)
        temporal = self.options.window_frames > 1 or self.options.interpolating
        # Image models need no scene cuts: the filter then skips the metadata lookup.
        scene_key = self.options.scene_key if temporal else ""
        time_base, frame_rate = link.time_base, link.frame_rate
        if self.options.interpolating:
            time_base, frame_rate = time_base / 2, frame_rate * 2
        self.log(
            log.VERBOSE,
            f"{link.width}x{link.height} {link.pix_fmt} -> {out_w}x{out_h}, window {self.options.window_frames} "
            f"frames -> {self.options.output_frames}, batch {self.options.batch_size_fusion}",
        )
        return OutputLink(out_w, out_h, time_base, frame_rate, scene_key)

    def _input_shape(self, index: int, batch: int) -> tuple[int, ...]:
        shape = self.frame_shapes[index]
        if self.network.temporal_in:
            return (batch, self.options.window_frames, *shape)
        return (batch, *shape)

    def _output_size(self, link: LinkConfig) -> tuple[int, int]:
        """Check the model against the clip with one dry run; infer the scale if none is declared."""
        for tensor, shape in zip(self.network.inputs, (self._input_shape(i, 1) for i in range(len(self.frame_shapes)))):
            for axis, (want, have) in enumerate(zip(tensor.shape, shape)):
                if want is not None and want != have and axis != 0:
                    raise NnvisrError(
                        f"model input {tensor.name} takes a fixed shape {list(tensor.shape)}; "
                        f"this clip needs {list(shape)} (the model's H and W must be dynamic)"
                    )
            if tensor.shape[0] not in (None, 1) or (
                tensor.shape[0] == 1 and self.options.batch_size_fusion > 1
            ):
                raise NnvisrError(
                    f"model input {tensor.name} has a fixed batch axis of {tensor.shape[0]}; "
                    f"batch_size_fusion={self.options.batch_size_fusion} needs it dynamic"
                )
        feeds = {
            t.name: np.zeros(self._input_shape(i, 1), t.dtype) for i, t in enumerate(self.network.inputs)
        }
        results = self.backend.run(feeds)
        main = self.network.outputs[0]
        got = results[main.name].shape
        got_w, got_h = got[-1], got[-2]
        scale_w, scale_h = self.options.scale_w, self.options.scale_h
        if scale_w is None:
            # No scale declared: take the model's word for it.
            self.options.scale_factor = got_w / link.width
            self.options.scale_factor_h = got_h / link.height
            scale_w, scale_h = self.options.scale_factor, self.options.scale_factor_h
        want_w = output_size(link.width, scale_w)
        want_h = output_size(link.height, scale_h)
        if (got_w, got_h) != (want_w, want_h):
            raise NnvisrError(
                f"model output {main.name} is {got_w}x{got_h} for a {link.width}x{link.height} input; "
                f"scale_factor={scale_w:g} scale_factor_h={scale_h:g} expect {want_w}x{want_h}"
            )
        self.out_frame_shapes = self.codec.tensor_shapes(want_w, want_h)
        for tensor, shape in zip(self.network.outputs, self.out_frame_shapes):
            have = results[tensor.name].shape
            frames = (self.options.output_frames,) if self.network.temporal_out else ()
            if tuple(have) != (1, *frames, *shape):
                raise NnvisrError(
                    f"model output {tensor.name} has shape {list(have)}; expected {[1, *frames, *shape]}"
                )
        return want_w, want_h

    def _allocate(self, out_w: int, out_h: int) -> None:
        batch = self.options.batch_size_fusion
        self.in_buffers = [
            np.empty(self._input_shape(i, batch), t.dtype) for i, t in enumerate(self.network.inputs)
        ]
        frames = (self.options.output_frames,) if self.network.temporal_out else ()
        self.out_buffers = [
            np.empty((batch, *frames, *shape), t.dtype)
            for t, shape in zip(self.network.outputs, self.out_frame_shapes)
        ]
        self.runners: dict[int, object] = {}

    def _runner(self, count: int):
        """A bound run over the first count windows of the batch buffers."""
        if count not in self.runners:
            feeds = {t.name: b[:count] for t, b in zip(self.network.inputs, self.in_buffers)}
            outs = {t.name: b[:count] for t, b in zip(self.network.outputs, self.out_buffers)}
            self.runners[count] = self.backend.bind(feeds, outs)
        return self.runners[count]

    # ------------------------------------------------------------ frames

    def _frame_tensors(self) -> list[np.ndarray]:
        if self.spare:
            return self.spare.pop()
        return [np.empty(shape, np.float32) for shape in self.frame_shapes]

    def push(
        self, planes: list[np.ndarray], seq: int, pts: int, duration: int, scene: str | None, color_range: int
    ) -> int:
        """Take one input frame; returns how many output frames are ready."""
        assert self.codec is not None, "push before configure"
        tensors = self._frame_tensors()
        self.codec.read(planes, color_range, tensors)
        self.store[seq] = (tensors, color_range)
        windows = self.scheduler.push(InputFrame(seq, pts, duration, self._scene_start(scene)))
        self._schedule(windows, final=False)
        return len(self.queue)

    def _scene_start(self, value: str | None) -> bool:
        """scdet sets its key only on a scene's first frame; a score key needs the threshold."""
        if value is None:
            return False
        if self.options.scene_threshold <= 0:
            return True
        try:
            return float(value) >= self.options.scene_threshold
        except ValueError:
            return False

    def flush(self, eof_pts: int) -> tuple[int, int]:
        windows, out_eof = self.scheduler.flush(eof_pts)
        self._schedule(windows, final=True)
        return len(self.queue), out_eof

    def _schedule(self, windows: list[Window], final: bool) -> None:
        self.pending.extend(windows)
        batch = self.options.batch_size_fusion
        while len(self.pending) >= batch or (final and self.pending):
            count = min(batch, len(self.pending))
            self._run_batch(self.pending[:count])
            del self.pending[:count]

    def _run_batch(self, windows: list[Window]) -> None:
        if self.queue:
            # The filter pulls every ready frame before it pushes again, so the
            # output buffers are free; keep queued views safe all the same.
            for item in self.queue:
                item.tensors = [t.copy() for t in item.tensors]
        temporal = self.network.temporal_in
        for i, window in enumerate(windows):
            for t, seq in enumerate(window.frames):
                tensors, _ = self.store[seq]
                for buffer, tensor in zip(self.in_buffers, tensors):
                    np.copyto(buffer[i, t] if temporal else buffer[i], tensor, casting="unsafe")
        self._runner(len(windows))()
        for i, window in enumerate(windows):
            for spec in window.outputs:
                _, color_range = self.store[spec.source]
                if spec.network_index is None:
                    tensors = self.store[spec.source][0]
                elif self.network.temporal_out:
                    tensors = [b[i, spec.network_index] for b in self.out_buffers]
                else:
                    tensors = [b[i] for b in self.out_buffers]
                self.queue.append(_Queued(tensors, color_range, spec))
        waiting = [seq for window in self.pending[len(windows):] for seq in window.frames]
        self._release(before=min([self.scheduler.oldest_needed, *waiting]))

    def _release(self, before: int) -> None:
        passed_through = {id(t) for item in self.queue for t in item.tensors}
        for seq in [s for s in self.store if s < before]:
            tensors, _ = self.store.pop(seq)
            if not any(id(t) in passed_through for t in tensors):
                self.spare.append(tensors)

    def pull(self, planes: list[np.ndarray]) -> OutputFrame:
        if not self.queue:
            raise NnvisrError("no output frame is ready (the filter pulled too many)")
        assert self.codec is not None
        item = self.queue.popleft()
        tensors = [t.astype(np.float32, copy=False) for t in item.tensors]
        self.codec.write(tensors, item.color_range, planes)
        return item.spec

    def plane_shapes(self, output: bool) -> list[tuple[int, int]]:
        width, height = self.out_size if output else self.in_size
        return plane_shapes(self.fmt, width, height)
