"""One filter instance: model, frame store, batches and the output queue.

The filter pushes input frames and pulls output frames. Pixels are converted
to network tensors once, at push; windows from the scheduler are batched by
batch_size_fusion and handed to the model's runner (single- or two-stage);
outputs wait in a queue until the filter pulls them into frames it allocated.

On a GPU, batches overlap (overlap=True): a worker thread runs each batch
(copies into the batch buffers, uploads, the networks, downloads, a copy of
the outputs) while the filter's thread goes on. Submitting batch k waits for
batch k-1 and queues its outputs, so batch k runs while the filter writes out
k-1's frames and ffmpeg reads and decodes the next ones. The output lags by
exactly one batch, as if the window were longer: the filter graph sees the
same deterministic behaviour as with a temporal model (never outputs that
become ready between its calls). Frames are released only once the batch
that reads them is collected. Outputs are identical.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import os
from fractions import Fraction
from typing import Protocol

import numpy as np

from . import log, memory, package, pixels
from .backends import open_backend
from .codec import CodeRgbCodec, FrameCodec, make_codec, plane_shapes, takes_codes
from .colour import ColourInfo
from .errors import NnvisrError
from .log import LogFunction
from .options import Options, check_output_size, from_package, merge, tile_size
from .scene_cuts import SceneCuts
from .scene_detect import LinkFormat
from .scheduler import InputFrame, OutputFrame, Scheduler, Window, make_scheduler
from .single_stage import FrameLookup, OutputLookup, SingleStageRunner, output_size
from .tiling import TiledRunner
from .two_stage import TwoStageRunner


class Runner(Protocol):
    families: list[str]
    # Upstream NNVISR's contract (two-stage layout): its normalisation defaults apply.
    upstream_contract: bool
    # A two-stage package whose YUV networks take plain levels (nnvisr.json "yuv_levels").
    yuv_levels: bool

    def on_gpu(self) -> bool:
        """Whether the networks run (or are expected to run) on a GPU."""
        ...

    def configure(
        self, width: int, height: int, frame_shapes: list[tuple[int, ...]], shapes_of,
        codes: pixels.RgbNormalisation | None = None,
    ) -> tuple[int, int]:
        """Check the model against the clip; returns the output size. codes: see pixels=model."""
        ...

    def run(self, windows: list[Window], frame: FrameLookup, colour: ColourInfo) -> OutputLookup:
        """Run a batch of windows; the result maps (window, network output) to its tensors."""
        ...

    def release(self, seqs: list[int]) -> None:
        """Forget what the runner keeps for these input frames."""
        ...

    def input_slot(self, index: int) -> list[np.ndarray] | None:
        """Tensors at batch position index that a single-frame window can be read into, or None."""
        ...

    def forget(self) -> None:
        """Drop what the runner keeps between runs (the next run is of another tile's region)."""
        ...

    def grid(self) -> int:
        """Tile regions start on multiples of this (besides the alignment), see tiling.py."""
        ...


@dataclasses.dataclass(frozen=True)
class LinkConfig:
    width: int
    height: int
    pix_fmt: str
    time_base: Fraction
    frame_rate: Fraction  # 0 when unknown
    # The link's own format, before any conversion to pix_fmt (scene cuts are measured in it); None: pix_fmt.
    link_format: LinkFormat | None = None
    # The output link has the input link's pixel format: an input frame can go out as it is.
    same_format: bool = False


@dataclasses.dataclass(frozen=True)
class OutputLink:
    width: int
    height: int
    time_base: Fraction
    frame_rate: Fraction
    scene_key: str  # metadata keys the filter hands over with each frame, "" for none
    presence_key: str
    # Some outputs are input frames unchanged (interpolation): the filter keeps its input frames and sends
    # those itself, to the bit, whatever the model's format and normalisation would make of them.
    keep_sources: bool = False


MAX_IN_FLIGHT = 1  # batches still running when the filter gets control back


def overlap_default(runner: Runner) -> bool:
    """Batches overlap on a GPU, where the host's work can hide behind the device's; NNVISR_OVERLAP=0/1 decides."""
    forced = os.environ.get("NNVISR_OVERLAP")
    if forced in ("0", "1"):
        return forced == "1"
    return runner.on_gpu()


@dataclasses.dataclass
class _InFlight:
    windows: list[Window]
    future: concurrent.futures.Future
    release_before: int  # input frames older than this are free once the batch is collected


@dataclasses.dataclass
class _Queued:
    tensors: list[np.ndarray]
    color_range: int
    spec: OutputFrame


def _crop(shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The region of a padded [C, H, W] tensor that holds a frame of this shape."""
    return tuple(slice(0, size) for size in shape)


def _replicate_edges(tensor: np.ndarray, crop: tuple[slice, ...]) -> None:
    height, width = crop[-2].stop, crop[-1].stop
    tensor[..., :height, width:] = tensor[..., :height, width - 1 : width]
    tensor[..., height:, :] = tensor[..., height - 1 : height, :]


def model_link_format(fmt: pixels.PixelFormat, width: int, height: int) -> LinkFormat:
    """A model format as a link format: for frames pushed in the model's format itself."""
    shapes = plane_shapes(fmt, width, height)
    itemsize = np.dtype(fmt.dtype).itemsize
    return LinkFormat(
        fmt.name, fmt.depth, 3, fmt.family == pixels.RGB, not fmt.packed, fmt.floating, False,
        tuple(samples * itemsize for _, samples in shapes), tuple(rows for rows, _ in shapes),
    )


def open_model(command_line: dict, logger: LogFunction) -> tuple[Options, Runner]:
    pkg = package.locate(command_line.get("model"), command_line.get("model_path"))
    # (config is empty for a bare .onnx file, which has no manifest to name)
    from_json = from_package(pkg.config, f"{pkg.source}/{package.MANIFEST}", logger)
    options = merge(from_json, command_line, logger)
    origins = {**dict.fromkeys(from_json, "nnvisr.json"), **dict.fromkeys(command_line, "command line")}
    if origins:
        logger(log.VERBOSE, "options: " + ", ".join(f"{n}={getattr(options, n)} ({o})" for n, o in origins.items()))
    runner: Runner
    if isinstance(pkg, package.TwoStagePackage):
        runner = TwoStageRunner(pkg.directory, pkg.folders, options, logger, pkg.any_colour, pkg.yuv_levels)
    else:
        backend = open_backend(pkg.onnx_path, options, logger, options.batch_size_fusion)

        def reopen(pixel_io):
            return open_backend(pkg.onnx_path, options, logger, options.batch_size_fusion, pixel_io)

        runner = SingleStageRunner(backend, options, reopen)
    if options.tile is not None or options.max_memory:
        runner = TiledRunner(runner, tile_size(options), options.tile_overlap, options.max_memory, logger)
    return options, runner


def codes_wanted(options: Options, runner: Runner) -> bool:
    """pixels=model, or auto on a GPU: 8-bit RGB then goes to the network as codes (gbrp)."""
    return options.pixels == "model" or (options.pixels == "auto" and runner.on_gpu())


class Processor:
    def __init__(self, command_line: dict, logger: LogFunction) -> None:
        self.log = logger
        with memory.reported("loading the model", None, None):
            self.options, self.runner = open_model(command_line, logger)
        self.codec: FrameCodec | None = None
        self.colour: ColourInfo | None = None
        self.queue: collections.deque[_Queued] = collections.deque()
        self.pending: list[Window] = []
        self.store: dict[int, tuple[list[np.ndarray], int]] = {}
        self.spare: list[list[np.ndarray]] = []
        # Input frames held in the runner's batch buffers rather than in tensors of their own.
        self.borrowed: set[int] = set()
        self.in_flight: collections.deque[_InFlight] = collections.deque()
        self.worker: concurrent.futures.ThreadPoolExecutor | None = None
        # input frames pushed (first and last seq) and the newest one whose outputs were pulled
        self.first_pushed: int | None = None
        self.last_pushed = -1
        self.last_pulled = -1
        self.keep_sources = False  # set at configure: see OutputLink
        # Where scene cuts come from: only temporal models have any (set at configure).
        self.cuts: SceneCuts | None = None

    # ------------------------------------------------------------ set-up

    def pix_fmts(self) -> list[str]:
        names = [name for family in self.runner.families for name in pixels.formats_of_family(family)]
        if codes_wanted(self.options, self.runner) and pixels.RGB in self.runner.families:
            # gbrp first, and no packed rgb24: FFmpeg then hands 8-bit RGB over as the planes the
            # network's own conversion takes; deeper formats still come as they are.
            codes = [n for n in names if takes_codes(pixels.FORMATS[n])]
            names = codes + [n for n in names if n not in codes and not pixels.FORMATS[n].packed]
        return names

    def _tensor_shapes(self, width: int, height: int) -> list[tuple[int, ...]]:
        return self.codec.tensor_shapes(width, height) if self.codec is not None else [(3, height, width)]

    def configure(self, link: LinkConfig) -> OutputLink:
        with memory.reported("setting up for", self.options, (link.width, link.height), self._tensor_shapes):
            return self._configure(link)

    def _configure(self, link: LinkConfig) -> OutputLink:
        fmt = pixels.lookup(link.pix_fmt)
        self.fmt = fmt
        codes = codes_wanted(self.options, self.runner) and takes_codes(fmt)
        self.codec = codec = make_codec(
            fmt, fmt.family, self.options, codes, self.runner.upstream_contract, self.runner.yuv_levels
        )
        norm = codec.norm if isinstance(codec, CodeRgbCodec) else None
        self.in_size = (link.width, link.height)
        # Sizes the network cannot take are padded by edge replication and cropped back.
        padded_w, padded_h = (-(-size // self.options.alignment) * self.options.alignment for size in self.in_size)
        self.frame_shapes = self.codec.tensor_shapes(padded_w, padded_h)
        self.frame_crop = [_crop(shape) for shape in self.codec.tensor_shapes(link.width, link.height)]
        if self.options.scale_w is not None:  # else the model's dry run tells (and checks) the scale
            self._check_output_size(link)
        self.runner.configure(padded_w, padded_h, self.frame_shapes, self.codec.tensor_shapes, norm)
        if norm is not None:
            self.log(log.VERBOSE, "pixels: converted by the network (8-bit codes in and out)")
        self.out_size = self._check_output_size(link)
        self.out_crop = [_crop(shape) for shape in self.codec.tensor_shapes(*self.out_size)]
        # (rows, elements) of each plane of input (False) and output (True) frames
        self._plane_shapes = {False: plane_shapes(fmt, *self.in_size), True: plane_shapes(fmt, *self.out_size)}
        self.padded = (padded_w, padded_h) != self.in_size
        if self.padded:
            self.log(log.VERBOSE, f"padding {link.width}x{link.height} to {padded_w}x{padded_h} for the network")
        self.scheduler: Scheduler = make_scheduler(self.options, link.time_base, link.frame_rate)
        self.overlap = overlap_default(self.runner)
        if self.overlap and self.worker is None:
            self.worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="nnvisr-batch")
        if self.overlap:
            self.log(log.VERBOSE, f"batches overlap: a worker runs them, up to {MAX_IN_FLIGHT} in flight")
        # When every frame is a window of its own and is not passed through, each push gives exactly
        # one window, the next of the pending batch: its pixels can go straight to its batch position.
        self.direct = (
            not self.overlap  # the worker may be reading the batch buffers while the next frames arrive
            and self.options.window_frames == 1
            and not self.options.interpolating
            and self.runner.input_slot(0) is not None
        )
        temporal = self.options.window_frames > 1 or self.options.interpolating
        # Image models need no scene cuts: nothing is measured, and the filter skips the metadata lookup.
        self.cuts = None
        if temporal:
            self.cuts = SceneCuts(
                self.options.scene,
                self.options.scene_metadata_key,
                self.options.scene_key is not None,
                self.options.scene_threshold,
                link.link_format or model_link_format(fmt, link.width, link.height),
                self.log,
            )
        scene_key, presence_key = self.cuts.keys if self.cuts is not None else ("", "")
        time_base, frame_rate = link.time_base, link.frame_rate
        if self.options.interpolating:
            time_base, frame_rate = time_base / 2, frame_rate * 2
        out_w, out_h = self.out_size
        self.log(
            log.VERBOSE,
            f"{link.width}x{link.height} {link.pix_fmt} -> {out_w}x{out_h}, window {self.options.window_frames} "
            f"frames -> {self.options.output_frames}, batch {self.options.batch_size_fusion}",
        )
        self.keep_sources = (
            link.same_format and self.options.interpolating and not self.options.double_frame
            and self.out_size == self.in_size
        )
        return OutputLink(out_w, out_h, time_base, frame_rate, scene_key, presence_key, self.keep_sources)

    def _check_output_size(self, link: LinkConfig) -> tuple[int, int]:
        assert self.options.scale_w is not None and self.options.scale_h is not None
        width = output_size(link.width, self.options.scale_w)
        height = output_size(link.height, self.options.scale_h)
        check_output_size(width, height, link.width, link.height)
        return width, height

    # ------------------------------------------------------------ frames

    def _frame_tensors(self) -> list[np.ndarray]:
        if self.spare:
            return self.spare.pop()
        assert self.codec is not None
        return [np.empty(shape, self.codec.dtype) for shape in self.frame_shapes]

    def push(
        self,
        planes: list[np.ndarray],
        seq: int,
        pts: int,
        duration: int,
        scene: str | None,
        color_range: int,
        colour: ColourInfo | None = None,
        presence: str | None = None,
        link_planes: list[np.ndarray] | None = None,
    ) -> int:
        """Take one input frame; returns how many output frames are ready.

        scene, presence: the values of the scene and presence keys on the frame (None when absent).
        link_planes: the frame's planes as they came on the link (scene_planes_wanted() of them), when the
        link's format is not the model's; None: planes themselves."""
        with memory.reported("running", self.options, self.in_size, self._tensor_shapes):
            self._check_planes(planes, output=False)
            scene_start = self._scene_start(scene, presence, planes if link_planes is None else link_planes)
            return self._push(planes, seq, pts, duration, scene_start, color_range, colour)

    def scene_planes_wanted(self) -> int:
        """How many of the link frame's planes the next push needs for its scene cuts."""
        return self.cuts.planes_wanted if self.cuts is not None else 0

    def _scene_start(self, scene: str | None, presence: str | None, planes: list[np.ndarray]) -> bool:
        if self.cuts is None:
            return False
        return self.cuts.starts_scene(scene, presence, planes[: self.cuts.planes_wanted])

    def _push(
        self,
        planes: list[np.ndarray],
        seq: int,
        pts: int,
        duration: int,
        scene_start: bool,
        color_range: int,
        colour: ColourInfo | None,
    ) -> int:
        assert self.codec is not None, "push before configure"
        if self.first_pushed is None:
            self.first_pushed = seq
        self.last_pushed = seq
        if self.colour is None:
            self.colour = colour or ColourInfo(2, 2, 2)
            self.codec.use_colour(self.colour, self.log)
        tensors = self.runner.input_slot(len(self.pending)) if self.direct else None
        if tensors is None:
            tensors = self._frame_tensors()
        else:
            self.borrowed.add(seq)
        self.codec.read(planes, color_range, [t[crop] for t, crop in zip(tensors, self.frame_crop)])
        if self.padded:
            for tensor, crop in zip(tensors, self.frame_crop):
                _replicate_edges(tensor, crop)
        self.store[seq] = (tensors, color_range)
        windows = self.scheduler.push(InputFrame(seq, pts, duration, scene_start))
        self._schedule(windows, final=False)
        return len(self.queue)

    def flush(self, eof_pts: int) -> tuple[int, int]:
        with memory.reported("running", self.options, self.in_size, self._tensor_shapes):
            return self._flush(eof_pts)

    def _flush(self, eof_pts: int) -> tuple[int, int]:
        windows, out_eof = self.scheduler.flush(eof_pts)
        self._schedule(windows, final=True)
        self._collect(wait=True, drain=True)
        return len(self.queue), out_eof

    def _schedule(self, windows: list[Window], final: bool) -> None:
        self.pending.extend(windows)
        batch = self.options.batch_size_fusion
        while len(self.pending) >= batch or (final and self.pending):
            count = min(batch, len(self.pending))
            self._run_batch(self.pending[:count])
            del self.pending[:count]

    def _run_batch(self, windows: list[Window]) -> None:
        if self.overlap:
            self._submit(windows)
            return
        if self.queue:
            # The filter pulls every ready frame before it pushes again, so the
            # output buffers are free; keep queued views safe all the same.
            for item in self.queue:
                item.tensors = [t.copy() for t in item.tensors]
        assert self.colour is not None
        outputs = self.runner.run(windows, lambda seq: self.store[seq][0], self.colour)
        for i, window in enumerate(windows):
            for spec in window.outputs:
                tensors, color_range = self.store[spec.source]
                if spec.network_index is not None:
                    tensors = outputs(i, spec.network_index)
                self.queue.append(_Queued(tensors, color_range, spec))
        waiting = [seq for window in self.pending[len(windows) :] for seq in window.frames]
        self._release(before=min([self.scheduler.oldest_needed, *waiting]))

    # ------------------------------------------------------------ overlapped batches

    def _submit(self, windows: list[Window]) -> None:
        assert self.worker is not None and self.colour is not None
        waiting = [seq for window in self.pending[len(windows) :] for seq in window.frames]
        # Frames of windows not yet submitted, those the scheduler may still use and those pushed
        # later (read by later batches) stay.
        before = min([self.scheduler.oldest_needed, *waiting, max(self.store) + 1])
        inputs = {seq: self.store[seq][0] for window in windows for seq in window.frames}
        future = self.worker.submit(self._run_on_worker, list(windows), inputs, self.colour)
        self.in_flight.append(_InFlight(list(windows), future, before))
        while len(self.in_flight) > MAX_IN_FLIGHT:
            count = len(self.in_flight)
            self._collect(wait=True)
            if len(self.in_flight) == count:
                break  # the oldest failed: it is raised once the filter has taken what is ready

    def _run_on_worker(self, windows: list[Window], inputs: dict, colour: ColourInfo) -> list[list[list[np.ndarray]]]:
        """Runs on the worker: the batch, and copies of its outputs (the next batch reuses the buffers)."""
        outputs = self.runner.run(windows, inputs.__getitem__, colour)
        copies: list[list[list[np.ndarray]]] = []
        for i, window in enumerate(windows):
            copies.append([
                [t.copy() for t in outputs(i, spec.network_index)] if spec.network_index is not None else []
                for spec in window.outputs
            ])
        return copies

    def close(self) -> None:
        """Stop the worker (the filter is being freed); batches in flight are dropped after they finish."""
        if self.worker is not None:
            self.worker.shutdown(wait=True)
            self.worker = None
        self.in_flight.clear()

    def _collect(self, wait: bool, drain: bool = False) -> None:
        """Queue the outputs of the oldest batch (wait) or of all (drain), waiting for them.

        A failed batch is raised here, on the filter's thread; while outputs of earlier batches are
        still queued it waits (unless draining), so that the filter writes them out first."""
        while self.in_flight and (wait or drain):
            head = self.in_flight[0]
            if not drain and self.queue and head.future.exception() is not None:
                return
            self.in_flight.popleft()
            wait = False
            results = head.future.result()
            for window, window_outputs in zip(head.windows, results):
                for spec, tensors in zip(window.outputs, window_outputs):
                    stored, color_range = self.store[spec.source]
                    self.queue.append(_Queued(tensors if spec.network_index is not None else stored, color_range, spec))
            # and the frames of the batches still in flight
            later = [seq for batch in self.in_flight for window in batch.windows for seq in window.frames]
            self._release(before=min([head.release_before, *later]))

    def _release(self, before: int) -> None:
        passed_through = {id(t) for item in self.queue for t in item.tensors}
        done = [s for s in self.store if s < before]
        for seq in done:
            tensors, _ = self.store.pop(seq)
            if seq in self.borrowed:
                self.borrowed.discard(seq)
            elif not any(id(t) in passed_through for t in tensors):
                self.spare.append(tensors)
        self.runner.release(done)

    def pull(self, planes: list[np.ndarray]) -> OutputFrame:
        """The next output frame, written into planes unless it is an input frame the filter sends itself
        (spec.network_index None with keep_sources: see is_source())."""
        if not self.queue:
            raise NnvisrError("no output frame is ready (the filter pulled too many)")
        assert self.codec is not None
        self._check_planes(planes, output=True)
        item = self.queue.popleft()
        if self.is_source(item.spec):
            self.last_pulled = max(self.last_pulled, item.spec.source)
            return item.spec
        tensors = [t[crop].astype(self.codec.dtype, copy=False) for t, crop in zip(item.tensors, self.out_crop)]
        self.codec.write(tensors, item.color_range, planes)
        self.last_pulled = max(self.last_pulled, item.spec.source)
        return item.spec

    def is_source(self, spec: OutputFrame) -> bool:
        """Whether this output is input frame spec.source unchanged, for the filter to send."""
        return self.keep_sources and spec.network_index is None

    def _check_planes(self, planes: list[np.ndarray], output: bool) -> None:
        """The pixel kernels trust the planes' shapes to be the configured ones: nothing may be read or written past
        a plane of another size."""
        expected = self._plane_shapes[output]
        if len(planes) != len(expected) or any(p.shape[:2] != shape for p, shape in zip(planes, expected)):
            width, height = self.out_size if output else self.in_size
            raise NnvisrError(
                f"{'output' if output else 'input'} planes {[p.shape for p in planes]} are not those of the "
                f"configured {width}x{height} {self.fmt.name}"
            )

    def unfinished_inputs(self) -> int:
        """Input frames pushed whose outputs were not all pulled: those lost if the filter is freed now."""
        if self.first_pushed is None:
            return 0
        return self.last_pushed - max(self.last_pulled, self.first_pushed - 1)

    def plane_shapes(self, output: bool) -> list[tuple[int, int]]:
        return self._plane_shapes[output]
