"""The Python side of the C bridge (ffmpeg_filter/nnvisr_bridge.h).

bind() registers the extern "Python" functions of the embedding library.
Every entry point turns exceptions into a logged error and -1: a Python error
never crashes or hangs ffmpeg. Frames cross as plane pointers wrapped by
numpy without copies.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
import traceback
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from . import log
from .colour import ColourInfo
from .errors import NnvisrError
from .options import parse_filter_options
from .processor import LinkConfig, Processor
from .scene_detect import LinkFormat

ABI_VERSION = 4

_instances: dict[int, _Instance] = {}
_handles = itertools.count(1)
# Frames held by instances freed before their input ended. ffmpeg frees a graph so when it re-creates it
# (a frame size change: the loss to report, by the new instance) and when an output needs no more frames
# (-frames:v, -t: no loss, and no new instance follows).
_lost_in_freed_graphs: list[int] = []


# Plane views kept per instance: FFmpeg's frame pools hand the same few buffers over again and again.
PLANE_CACHE_SIZE = 64


class _Instance:
    def __init__(self, logger: log.LogFunction) -> None:
        self.log = logger
        self.processor: Processor | None = None
        # (address, linesize, rows, elements, dtype) -> the numpy view _plane() makes of it
        self.planes: dict[tuple, np.ndarray] = {}


def _one_line(error: BaseException) -> str | None:
    """The error line for a failure the user can act on, None for a bug (reported with its traceback)."""
    if isinstance(error, NnvisrError):
        return str(error)
    if isinstance(error, MemoryError):
        # numpy says what it could not allocate ("Unable to allocate 2.26 TiB for an array with shape ...")
        what = f" ({error})" if str(error) else ""
        return f"out of memory{what}: a smaller batch_size_fusion, batch_size_extract or frame size needs less"
    if isinstance(error, RecursionError):
        return f"input nested too deeply to process ({error})"
    if isinstance(error, OSError):  # a file that vanished or became unreadable while in use, a full disk
        where = f": {error.filename}" if error.filename is not None else ""
        return f"{error.strerror or error}{where}"
    return None


def _report(logger: log.LogFunction, error: BaseException) -> None:
    details = "".join(traceback.format_exception(error)).rstrip()
    line = _one_line(error)
    if line is not None:
        logger(log.ERROR, line)
        logger(log.DEBUG, details)
    else:
        logger(log.ERROR, f"internal error: {type(error).__name__}: {error}\n{details}")


def _plane(ffi: Any, pointer: Any, linesize: int, rows: int, elements: int, dtype: np.dtype) -> np.ndarray:
    """A numpy view of one plane; a negative linesize walks the rows upwards."""
    stride = abs(linesize)
    start = pointer if linesize >= 0 else pointer + linesize * (rows - 1)
    raw = np.frombuffer(ffi.buffer(start, stride * rows), np.uint8).reshape(rows, stride)
    if linesize < 0:
        raw = raw[::-1]
    return raw.view(dtype)[:, :elements]


def bind(ffi: Any, lib: Any) -> None:
    # Inside ffmpeg, stdout may be the video (-f rawvideo -, a pipe to another program): whatever a
    # library prints goes to stderr instead, with ffmpeg's own messages.
    sys.stdout = sys.stderr
    log.warning_router.install()
    def make_logger(log_fn: Any, opaque: Any) -> log.LogFunction:
        def logger(level: int, message: str) -> None:
            lib.nnvisr_call_log(log_fn, opaque, level, message.encode("utf-8", "replace"))

        return logger

    def entry(function: Callable[..., int]) -> Callable[..., int]:
        """Run function(instance, ...) for a handle; log and return -1 on error."""

        @functools.wraps(function)  # def_extern binds by the function's name
        def wrapper(handle: int, *args: Any) -> int:
            instance = _instances.get(handle)
            if instance is None:
                return -1
            log.warning_router.current = instance.log
            try:
                return function(instance, *args)
            except BaseException as error:  # noqa: BLE001 - nothing may escape into C
                _report(instance.log, error)
                return -1

        return wrapper

    def planes_of(instance: _Instance, frame: Any, output: bool) -> list[np.ndarray]:
        """Views of the frame's planes; a view made before for the same memory and shape is reused
        (it covers the very bytes a new one would).

        The views are sized from the configured link: a frame of another size is refused, as is a
        plane whose rows are shorter than the pixels they must hold, so that nothing reads past it."""
        processor = instance.processor
        assert processor is not None
        width, height = processor.out_size if output else processor.in_size
        if (frame.width, frame.height) != (width, height):
            raise NnvisrError(
                f"{'output' if output else 'input'} frame {frame.width}x{frame.height} differs from the "
                f"configured {width}x{height}"
            )
        return cached_views(instance, frame.data, frame.linesize, processor.plane_shapes(output),
                            np.dtype(processor.fmt.dtype), f"a {width}x{height} frame")

    def cached_views(instance: _Instance, pointers: Any, linesizes: Any, shapes: list[tuple[int, int]],
                     dtype: np.dtype, what: str) -> list[np.ndarray]:
        """numpy views of the planes (rows, elements) at these pointers, made once per buffer: FFmpeg's
        frame pools hand the same buffers back, so the views are reused frame after frame."""
        cache = instance.planes
        views = []
        for i, (rows, elements) in enumerate(shapes):
            pointer, linesize = pointers[i], linesizes[i]
            key = (int(ffi.cast("uintptr_t", pointer)), linesize, rows, elements, dtype)
            view = cache.get(key)
            if view is None:
                if pointer == ffi.NULL or abs(linesize) < elements * dtype.itemsize:
                    raise NnvisrError(f"plane {i} of {what} is missing or its lines are too short")
                if len(cache) >= PLANE_CACHE_SIZE:
                    cache.clear()
                view = cache[key] = _plane(ffi, pointer, linesize, rows, elements, dtype)
            views.append(view)
        return views

    def link_planes_of(instance: _Instance, frame: Any) -> list[np.ndarray] | None:
        """Views of the planes the scene measure reads, of the frame as it came on the link; None when the
        measure reads none of this frame. Sized from the configured link format (planes_of checked the size)."""
        processor = instance.processor
        assert processor is not None and processor.cuts is not None
        wanted = processor.scene_planes_wanted()
        if not wanted:
            return None
        return cached_views(instance, frame.link_data, frame.link_linesize, processor.cuts.plane_shapes()[:wanted],
                            np.dtype(processor.cuts.plane_dtype()), "an input frame")

    def link_format(cfg: Any) -> LinkFormat:
        """The input link's own pixel format, as the filter described it."""
        planes = [i for i in range(4) if cfg.link_plane_bytes[i] > 0]
        flags = cfg.link_flags
        return LinkFormat(
            ffi.string(cfg.link_pix_fmt).decode(),
            cfg.link_depth,
            cfg.link_components,
            bool(flags & lib.NNVISR_FMT_RGB),
            bool(flags & lib.NNVISR_FMT_PLANAR),
            bool(flags & lib.NNVISR_FMT_FLOAT),
            bool(flags & lib.NNVISR_FMT_BIG_ENDIAN),
            tuple(cfg.link_plane_bytes[i] for i in planes),
            tuple(cfg.link_plane_rows[i] for i in planes),
        )

    def copy_key(destination: Any, key: str) -> None:
        """Into a char[] of the link configuration, cut to fit."""
        raw = os.fsencode(key)[: len(destination) - 1]
        ffi.memmove(destination, raw + b"\0", len(raw) + 1)

    def option_pairs(options: Any) -> list[tuple[str, str]]:
        """The NULL-terminated name, value, ... array of nnvisr_create(); values are file names or text.
        Bytes that are not UTF-8 (a file name in another encoding) survive as surrogates: os functions
        give the original bytes back, so such a model path opens."""
        strings = []
        while options[len(strings)] != ffi.NULL:
            strings.append(os.fsdecode(ffi.string(options[len(strings)])))
        if len(strings) % 2:
            raise NnvisrError(f"option {strings[-1]!r} has no value")
        return list(zip(strings[::2], strings[1::2]))

    @ffi.def_extern(error=0)
    def nnvisr_py_abi_version() -> int:
        return ABI_VERSION

    @ffi.def_extern(error=-1)
    def nnvisr_py_create(options: Any, log_fn: Any, opaque: Any, handle_out: Any) -> int:
        logger = make_logger(log_fn, opaque)
        instance = _Instance(logger)
        log.warning_router.current = logger
        try:
            instance.processor = Processor(parse_filter_options(option_pairs(options)), logger)
            if _lost_in_freed_graphs:
                lost = _lost_in_freed_graphs.pop(0)
                logger(
                    log.WARNING,
                    f"{lost} input frame{'s' * (lost > 1)} lost: ffmpeg re-created the filter graph mid-stream (as it "
                    "does on a frame size change) without flushing the previous one; -reinit_filter 0 with "
                    "scale=W:H in front of nnvisr keeps every frame",
                )
        except BaseException as error:  # noqa: BLE001
            _report(logger, error)
            return -1
        handle = next(_handles)
        _instances[handle] = instance
        handle_out[0] = handle
        return 0

    @ffi.def_extern(error=-1)
    @entry
    def nnvisr_py_pix_fmts(instance: _Instance, buf: Any, size: int) -> int:
        assert instance.processor is not None
        names = "|".join(instance.processor.pix_fmts()).encode()
        if len(names) >= size:
            raise NnvisrError("pixel format list too long")
        ffi.memmove(buf, names + b"\0", len(names) + 1)
        return 0

    @ffi.def_extern(error=-1)
    @entry
    def nnvisr_py_configure(instance: _Instance, cfg: Any) -> int:
        assert instance.processor is not None
        frame_rate = Fraction(cfg.fr_num, cfg.fr_den) if cfg.fr_num > 0 and cfg.fr_den > 0 else Fraction(0)
        link = LinkConfig(
            cfg.in_w,
            cfg.in_h,
            ffi.string(cfg.pix_fmt).decode(),
            Fraction(cfg.tb_num, cfg.tb_den),
            frame_rate,
            link_format(cfg) if cfg.link_pix_fmt != ffi.NULL else None,
            bool(cfg.same_format),
        )
        out = instance.processor.configure(link)
        cfg.out_w, cfg.out_h = out.width, out.height
        cfg.out_tb_num, cfg.out_tb_den = out.time_base.numerator, out.time_base.denominator
        cfg.out_fr_num, cfg.out_fr_den = out.frame_rate.numerator, out.frame_rate.denominator
        copy_key(cfg.scene_key, out.scene_key)
        copy_key(cfg.presence_key, out.presence_key)
        cfg.keep_sources = int(out.keep_sources)
        return 0

    @ffi.def_extern(error=-1)
    @entry
    def nnvisr_py_push(instance: _Instance, frame: Any) -> int:
        processor = instance.processor
        assert processor is not None
        scene = ffi.string(frame.scene_value).decode("utf-8", "replace") if frame.scene_value else None
        presence = ffi.string(frame.presence_value).decode("utf-8", "replace") if frame.presence_value else None
        planes = planes_of(instance, frame, output=False)
        return processor.push(
            planes,
            frame.seq,
            frame.pts,
            frame.duration,
            scene,
            frame.color_range,
            # read once: the processor keeps the first frame's
            ColourInfo(frame.color_primaries, frame.color_trc, frame.colorspace) if processor.colour is None else None,
            presence,
            link_planes_of(instance, frame) if processor.cuts is not None else None,
        )

    @ffi.def_extern(error=-1)
    @entry
    def nnvisr_py_flush(instance: _Instance, eof_pts: int, out_eof: Any) -> int:
        assert instance.processor is not None
        ready, out_eof[0] = instance.processor.flush(eof_pts)
        return ready

    @ffi.def_extern(error=-1)
    @entry
    def nnvisr_py_pull(instance: _Instance, frame: Any) -> int:
        assert instance.processor is not None
        spec = instance.processor.pull(planes_of(instance, frame, output=True))
        frame.pts, frame.duration, frame.seq = spec.pts, spec.duration, spec.source
        frame.is_source = int(instance.processor.is_source(spec))
        return 0

    @ffi.def_extern(error=-1)
    def nnvisr_py_destroy(handle: int) -> int:
        """Returns the number of input frames whose outputs were never pulled (the filter warns)."""
        instance = _instances.pop(handle, None)
        if instance is None or instance.processor is None:
            return 0
        lost = instance.processor.unfinished_inputs()
        if lost:
            _lost_in_freed_graphs.append(lost)
        try:
            instance.processor.close()
        except BaseException as error:  # noqa: BLE001
            _report(instance.log, error)
        return lost
