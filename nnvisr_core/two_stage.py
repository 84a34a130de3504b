"""Two-stage models in upstream NNVISR's layout: feature extraction, then fusion.

Extraction runs once per frame (at most batch_size_extract frames per run).
Features live in the paper's Fig. 1 store (frame_store.py): b*n+1 slots per
level, extraction writes straight into them and fusion reads f{m}l{i} as views,
so a frame shared by two windows is extracted once and a batch copies only the
one frame it carries over. The store is allocated by the backend in the memory
the networks run in (device_empty): on a GPU the features never visit the
host. Batches that do not chain (a scene ends inside the batch) keep
per-frame features on the host and gather them instead.

Tensors, as upstream's code binds them:
- extract: rgb [N,3,H,W] (or y [N,1,H,W] + uv [N,2,H/2,W/2]) -> l0..l{L-1}
  [N,C,Hi,Wi], H0 = H, Hi = ceil(H(i-1)/2);
- fusion: f{m}l{i}, m = j (2j when interpolating) for member j -> outputs
  h{k} (double_frame), h{2j+1} (interpolation), h{j+1} (otherwise), with
  _y/_uv suffixes for YUV models.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import numpy as np

from . import log
from .backends import Backend, gpu_expected, open_backend
from .colour import ColourInfo, choose_folder, family_of_folder
from .errors import NnvisrError
from .frame_store import Fig1Layout, contiguous_runs
from .log import LogFunction
from .options import Options
from .package import inside
from .pixel_graph import PixelIO
from .pixels import RGB, YUV420, RgbNormalisation
from .scheduler import Window
from .single_stage import FrameLookup, OutputLookup, output_size


def file_names(options: Options, family: str) -> tuple[str, str]:
    """fe_n{input_count}_{sw}x{sh}_l{L}[_yuv1-1].onnx and the ff_ twin; scales printed like C++ floats."""
    suffix = "_yuv1-1" if family == YUV420 else ""
    stem = f"n{options.input_count}_{options.scale_w:g}x{options.scale_h:g}_l{options.extraction_layers}{suffix}"
    return f"fe_{stem}.onnx", f"ff_{stem}.onnx"


def level_sizes(width: int, height: int, levels: int) -> list[tuple[int, int]]:
    sizes = [(width, height)]
    for _ in range(levels - 1):
        w, h = sizes[-1]
        sizes.append(((w + 1) // 2, (h + 1) // 2))
    return sizes


class TwoStageRunner:
    upstream_contract = True

    def __init__(
        self, directory: pathlib.Path, folders: list[str], options: Options, logger: LogFunction,
        any_colour: bool = False, yuv_levels: bool = False,
    ) -> None:
        if options.scale_w is None:
            raise NnvisrError("two-stage models need scale_factor (it is part of their file names)")
        self.directory = directory
        self.folders = folders
        self.any_colour = any_colour
        self.yuv_levels = yuv_levels
        self.options = options
        self.log = logger
        self.families = sorted({f for f in map(family_of_folder, folders) if f})
        self.extract: Backend | None = None
        self.features: dict[int, list[np.ndarray]] = {}
        self.spare: list[list[np.ndarray]] = []

    # ------------------------------------------------------------ names

    def member_inputs(self, member: int) -> list[str]:
        m = 2 * member if self.options.interpolating else member
        return [f"f{m}l{i}" for i in range(self.options.extraction_layers)]

    def output_names(self, k: int) -> list[str]:
        options = self.options
        if options.double_frame:
            index = k
        elif options.interpolating:
            index = 2 * k + 1
        else:
            index = k + 1
        if self.family == YUV420:
            return [f"h{index}_y", f"h{index}_uv"]
        return [f"h{index}"]

    # ------------------------------------------------------------ set-up

    def on_gpu(self) -> bool:
        """The networks load at the first frame; until then, the backend's expected device."""
        if self.extract is not None:
            return self.extract.device[0] != "cpu"
        return gpu_expected(self.options)

    def configure(
        self, width: int, height: int, frame_shapes: list[tuple[int, ...]], shapes_of,
        codes: RgbNormalisation | None = None,
    ) -> tuple[int, int]:
        """The output size follows from the declared scale; the networks load at the first frame.

        codes: frames are 8-bit codes, which extraction takes and fusion gives (pixels=model)."""
        self.codes = codes
        self.size = (width, height)
        self.extract = None  # (re)loaded for this size at the first frame
        self.frame_shapes = frame_shapes
        self.family = YUV420 if len(frame_shapes) == 2 else RGB
        out_w, out_h = output_size(width, self.options.scale_w), output_size(height, self.options.scale_h)
        self.out_shapes = shapes_of(out_w, out_h)
        return out_w, out_h

    def _load(self, colour: ColourInfo) -> None:
        folder, warnings = choose_folder(self.folders, self.family, colour, str(self.directory), self.any_colour)
        for warning in warnings:
            self.log(log.WARNING, warning)
        self.load_folder(folder)

    def load_folder(self, folder: str) -> None:
        """Open and check the networks of one colour folder (after configure)."""
        fe_name, ff_name = file_names(self.options, self.family)
        paths = [inside(self.directory, f"{folder}/{name}", f"{folder}/{name}") for name in (fe_name, ff_name)]
        for path in paths:
            if not path.is_file():
                raise NnvisrError(f"two-stage model file {path.name} is missing from {path.parent}")
        options = self.options
        batch_extract = options.batch_size_extract or options.batch_size_fusion * options.consumed
        extract_io = fusion_io = None
        if self.codes is not None:
            if self.family != RGB:
                raise NnvisrError("pixels=model needs an RGB model")
            outputs = tuple(name for k in range(options.output_frames) for name in self.output_names(k))
            extract_io, fusion_io = PixelIO(("rgb",), (), self.codes), PixelIO((), outputs, self.codes)
        self.extract = open_backend(paths[0], options, self.log, batch_extract, extract_io)
        self.fusion = open_backend(paths[1], options, self.log, options.batch_size_fusion, fusion_io)
        self.log(log.VERBOSE, f"two-stage model {folder}/{fe_name} + {ff_name}")
        self._check_tensors()
        self._dry_run()
        self._allocate()

    def _check_tensors(self) -> None:
        assert self.extract is not None
        options = self.options
        want_in = ["y", "uv"] if self.family == YUV420 else ["rgb"]
        levels = [f"l{i}" for i in range(options.extraction_layers)]
        members = options.window_frames
        fusion_in = [name for j in range(members) for name in self.member_inputs(j)]
        fusion_out = [name for k in range(options.output_frames) for name in self.output_names(k)]
        checks = [
            ("extract model inputs", want_in, self.extract.inputs),
            ("extract model outputs", levels, self.extract.outputs),
            ("fusion model inputs", fusion_in, self.fusion.inputs),
            ("fusion model outputs", fusion_out, self.fusion.outputs),
        ]
        for what, wanted, tensors in checks:
            names = [t.name for t in tensors]
            missing = [n for n in wanted if n not in names]
            if missing:
                raise NnvisrError(
                    f"{what}: missing {', '.join(missing)} (expected {', '.join(wanted)}; found {', '.join(names)})"
                )
        for tensor in [*self.extract.inputs, *self.fusion.inputs]:
            if tensor.rank == 4 and (tensor.shape[2] is not None or tensor.shape[3] is not None):
                raise NnvisrError(
                    f"tensor {tensor.name} takes a fixed shape {list(tensor.shape)}; its H and W must be dynamic"
                )
        for tensor in [*self.extract.outputs, *self.fusion.inputs]:
            if tensor.name in fusion_in + levels and tensor.rank == 4 and tensor.shape[1] not in (
                None,
                options.feature_count,
            ):
                raise NnvisrError(
                    f"tensor {tensor.name} has {tensor.shape[1]} channels but feature_count={options.feature_count}"
                )

    def _dry_run(self) -> None:
        """One frame through both networks: shapes must follow the contract."""
        assert self.extract is not None
        options = self.options
        by_name = {t.name: t for t in self.extract.inputs}
        names = ["y", "uv"] if self.family == YUV420 else ["rgb"]
        feeds = {n: np.zeros((1, *s), by_name[n].dtype) for n, s in zip(names, self.frame_shapes)}
        levels = self.extract.run(feeds)
        sizes = level_sizes(*self.size, options.extraction_layers)
        for i, (w, h) in enumerate(sizes):
            got = tuple(levels[f"l{i}"].shape)
            want = (1, options.feature_count, h, w)
            if got != want:
                raise NnvisrError(
                    f"extract output l{i} has shape {list(got)}; expected {list(want)} "
                    f"(feature_count={options.feature_count}, level sizes halve rounding up)"
                )
        self.level_shapes = [(options.feature_count, h, w) for w, h in sizes]
        fusion_feeds = {}
        for j in range(options.window_frames):
            for i, name in enumerate(self.member_inputs(j)):
                fusion_feeds[name] = levels[f"l{i}"].astype(self._dtype(self.fusion, name))
        results = self.fusion.run(fusion_feeds)
        for k in range(options.output_frames):
            for name, shape in zip(self.output_names(k), self.out_shapes):
                got = tuple(results[name].shape)
                if got != (1, *shape):
                    raise NnvisrError(
                        f"fusion output {name} has shape {list(got)}; scale_factor={options.scale_w:g} "
                        f"scale_factor_h={options.scale_h:g} expect {[1, *shape]}"
                    )

    @staticmethod
    def _dtype(backend: Backend, name: str) -> np.dtype:
        return next(t.dtype for t in backend.inputs if t.name == name)

    def _allocate(self) -> None:
        assert self.extract is not None
        options = self.options
        batch = options.batch_size_fusion
        self.batch_extract = options.batch_size_extract or batch * options.consumed
        names = ["y", "uv"] if self.family == YUV420 else ["rgb"]
        extract, fusion = self.extract, self.fusion
        self.extract_in = {
            n: extract.host_empty((self.batch_extract, *s), self._dtype(extract, n))
            for n, s in zip(names, self.frame_shapes)
        }
        self.extract_out = {
            f"l{i}": extract.host_empty((self.batch_extract, *s), np.float32) for i, s in enumerate(self.level_shapes)
        }
        self.fusion_in = {
            name: fusion.host_empty((batch, *self.level_shapes[i]), self._dtype(fusion, name))
            for j in range(options.window_frames)
            for i, name in enumerate(self.member_inputs(j))
        }
        out_dtypes = {t.name: t.dtype for t in fusion.outputs}
        self.fusion_out = {
            name: fusion.host_empty((batch, *shape), out_dtypes[name])
            for k in range(options.output_frames)
            for name, shape in zip(self.output_names(k), self.out_shapes)
        }
        self.bound_extract: dict[int, Callable[[], None]] = {}
        self.bound_fusion: dict[int, Callable[[], None]] = {}
        self.layout = Fig1Layout(batch, options.consumed, options.extra_frame)
        dtypes = {self._dtype(self.fusion, name) for name in self.fusion_in} | {
            t.dtype for t in self.extract.outputs
        }
        # The store's arrays are both extraction outputs and fusion inputs: one dtype, one device.
        self.store = (
            [extract.device_empty((self.layout.size, *s), np.float32) for s in self.level_shapes]
            if dtypes == {np.dtype(np.float32)} and extract.device == fusion.device
            else None
        )
        self.slot_seq: list[int | None] = [None] * self.layout.size
        self.bound_store: dict[tuple, Callable[[], None]] = {}

    # ------------------------------------------------------------ running

    def _bound(self, cache: dict, backend: Backend, feeds: dict, outs: dict, count: int) -> Callable[[], None]:
        if count not in cache:
            cache[count] = backend.bind(
                {n: b[:count] for n, b in feeds.items()}, {n: b[:count] for n, b in outs.items()}
            )
        return cache[count]

    def _extract(self, seqs: list[int], frame: FrameLookup) -> None:
        assert self.extract is not None
        for start in range(0, len(seqs), self.batch_extract):
            chunk = seqs[start : start + self.batch_extract]
            for i, seq in enumerate(chunk):
                for buffer, tensor in zip(self.extract_in.values(), frame(seq)):
                    np.copyto(buffer[i], tensor, casting="unsafe")
            self._bound(self.bound_extract, self.extract, self.extract_in, self.extract_out, len(chunk))()
            for i, seq in enumerate(chunk):
                levels = self.spare.pop() if self.spare else [np.empty(s, np.float32) for s in self.level_shapes]
                for level, buffer in zip(levels, self.extract_out.values()):
                    np.copyto(level, buffer[i])
                self.features[seq] = levels

    def run(self, windows: list[Window], frame: FrameLookup, colour: ColourInfo) -> OutputLookup:
        if self.extract is None:
            self._load(colour)
        if self.store is not None and self.layout.fits(windows):
            return self._run_in_store(windows, frame)
        return self._run_gathered(windows, frame)

    def _run_in_store(self, windows: list[Window], frame: FrameLookup) -> OutputLookup:
        assert self.extract is not None and self.store is not None
        needed = self.layout.assignment(windows)
        first = needed[0]
        if self.slot_seq[0] != first and first in self.slot_seq:
            # the frame carried from the last batch: one copy instead of an extraction
            carried = self.slot_seq.index(first)
            for level in self.store:
                self.extract.copy(level[0], level[carried])
            self.slot_seq[0] = first
        todo = sorted(slot for slot, seq in needed.items() if self.slot_seq[slot] != seq)
        for start, length in contiguous_runs(todo):
            for offset in range(0, length, self.batch_extract):
                first_slot = start + offset
                count = min(self.batch_extract, length - offset)
                for i in range(count):
                    for buffer, tensor in zip(self.extract_in.values(), frame(needed[first_slot + i])):
                        np.copyto(buffer[i], tensor, casting="unsafe")
                self._bound_store_extract(first_slot, count)()
                for i in range(count):
                    self.slot_seq[first_slot + i] = needed[first_slot + i]
        self._bound_store_fusion(len(windows))()
        return lambda i, k: [self.fusion_out[name][i] for name in self.output_names(k)]

    def _bound_store_extract(self, first_slot: int, count: int) -> Callable[[], None]:
        """Extraction writing its levels straight into store slots first_slot.."""
        key = ("extract", first_slot, count)
        if key not in self.bound_store:
            assert self.extract is not None and self.store is not None
            feeds = {n: b[:count] for n, b in self.extract_in.items()}
            outs = {f"l{i}": level[first_slot : first_slot + count] for i, level in enumerate(self.store)}
            self.bound_store[key] = self.extract.bind(feeds, outs)
        return self.bound_store[key]

    def _bound_store_fusion(self, count: int) -> Callable[[], None]:
        """Fusion reading each member's levels as views of the store."""
        key = ("fusion", count)
        if key not in self.bound_store:
            assert self.store is not None
            feeds = {
                name: self.store[i][self.layout.member_slots(j, count)]
                for j in range(self.options.window_frames)
                for i, name in enumerate(self.member_inputs(j))
            }
            outs = {n: b[:count] for n, b in self.fusion_out.items()}
            self.bound_store[key] = self.fusion.bind(feeds, outs)
        return self.bound_store[key]

    def _run_gathered(self, windows: list[Window], frame: FrameLookup) -> OutputLookup:
        todo = list(dict.fromkeys(s for w in windows for s in w.frames if s not in self.features))
        self._extract(todo, frame)
        for i, window in enumerate(windows):
            for j, seq in enumerate(window.frames):
                for name, level in zip(self.member_inputs(j), self.features[seq]):
                    np.copyto(self.fusion_in[name][i], level, casting="unsafe")
        self._bound(self.bound_fusion, self.fusion, self.fusion_in, self.fusion_out, len(windows))()
        return lambda i, k: [self.fusion_out[name][i] for name in self.output_names(k)]

    def input_slot(self, index: int) -> list[np.ndarray] | None:
        """Frames go to the extraction network through the frame store, never straight to a batch."""
        return None

    def grid(self) -> int:
        """Level i of the pyramid is 2^i times smaller: tiles start on multiples of the smallest's pixel."""
        return 2 ** (self.options.extraction_layers - 1)

    def forget(self) -> None:
        """Drop every kept feature (the next run is of another region of the frames)."""
        self.release(list(self.features))
        if self.extract is not None:
            self.slot_seq = [None] * self.layout.size

    def release(self, seqs: list[int]) -> None:
        for seq in seqs:
            levels = self.features.pop(seq, None)
            if levels is not None:
                self.spare.append(levels)
