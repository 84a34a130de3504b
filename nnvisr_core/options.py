"""Filter options: parsed from the filter, merged over a model's nnvisr.json.

The names follow the upstream NNVISR plugin. The filter hands over only the
options set on its command line, so a model package's nnvisr.json supplies the
others and the command line always wins.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable
from typing import Any

from . import log
from .errors import NnvisrError
from .log import LogFunction

BACKENDS = ("auto", "onnxruntime", "cuda", "tensorrt")
# (mean, std) per RGB channel: upstream NNVISR's defaults (docs/usage.md), and no normalisation.
UPSTREAM_NORM = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
PLAIN_NORM = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
PIXEL_PATHS = ("auto", "host", "model")
# Where a temporal model's scene cuts come from (scene_cuts.py).
SCENE_MODES = ("auto", "metadata", "off")
DEFAULT_SCENE_KEY = "lavfi.scd.time"  # scdet's, on the first frame of each scene


@dataclasses.dataclass
class Options:
    model: str | None = None
    model_path: str | None = None
    engine_path: str | None = None
    scale_factor: float | None = None
    scale_factor_h: float | None = None
    input_count: int = 1  # frames the network takes per window (upstream's meaning)
    feature_count: int = 64
    extraction_layers: int = 1
    interpolation: bool | None = None
    extra_frame: bool = False
    double_frame: bool = False
    batch_size_fusion: int = 1
    batch_size_extract: int | None = None
    use_fp16: bool = False
    low_mem: bool = False
    # None: not given; the model's contract decides (see Options.normalisation).
    norm_mean: tuple[float, float, float] | None = None
    norm_std: tuple[float, float, float] | None = None
    raw_norm: bool = False
    backend: str = "auto"
    # Where 8-bit planar RGB frames are converted: in nnvisr's C loops / numpy (host), or by
    # nodes merged into the network (model; see pixel_graph.py). auto: model on a GPU.
    pixels: str = "auto"
    device: int = 0
    threads: int = 0
    # None: not given (DEFAULT_SCENE_KEY); scene=auto then measures cuts itself when no scdet ran in front.
    scene_key: str | None = None
    scene_threshold: float = 0.0
    scene: str = "auto"
    alignment: int = 1  # the network takes sizes that are multiples of this
    # Run frames in tiles of WxH input pixels (tiling.py), each with tile_overlap pixels of context on
    # every side; or let max_memory (MiB) choose the tile. None / 0: whole frames.
    tile: str | None = None
    # 16 input pixels covers the receptive field of the bundled default model (two 3x3 layers per
    # pyramid level on two levels, the deformable alignment's learnt offsets, which stay within a
    # few pixels, and the fusion's 3x3 layers) and costs little against tiles of a few hundred pixels.
    tile_overlap: int = 16
    max_memory: int = 0

    @property
    def interpolating(self) -> bool:
        """Upstream's default: interpolation follows double_frame or extra_frame."""
        if self.interpolation is None:
            return self.double_frame or self.extra_frame
        return self.interpolation

    @property
    def scale_w(self) -> float | None:
        return self.scale_factor

    @property
    def scale_h(self) -> float | None:
        return self.scale_factor_h if self.scale_factor_h is not None else self.scale_factor

    @property
    def window_frames(self) -> int:
        """Frames the network takes per window."""
        return self.input_count

    @property
    def consumed(self) -> int:
        """Frames a window consumes (the paper's n): with extra_frame the last one is shared with the next window."""
        return self.input_count - (1 if self.extra_frame else 0)

    @property
    def output_frames(self) -> int:
        """Frames the network produces per window."""
        return 2 * self.consumed if self.double_frame else self.consumed

    @property
    def scene_metadata_key(self) -> str:
        return self.scene_key if self.scene_key is not None else DEFAULT_SCENE_KEY

    @property
    def norm_given(self) -> bool:
        return self.norm_mean is not None or self.norm_std is not None

    def normalisation(self, upstream_defaults: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) in effect. Upstream's two-stage contract defaults to ImageNet's statistics
        (upstream_defaults); nnvisr's single-stage contract to none (0 and 1)."""
        mean_default, std_default = UPSTREAM_NORM if upstream_defaults else PLAIN_NORM
        mean = self.norm_mean if self.norm_mean is not None else mean_default
        std = self.norm_std if self.norm_std is not None else std_default
        return mean, std


FIELDS = {field.name: field for field in dataclasses.fields(Options)}
# Keys a nnvisr.json may hold besides the options.
PACKAGE_KEYS = {"onnx", "description", "license", "name", "format", "any_colour", "yuv_levels", "task", "source"}
# Options a nnvisr.json may not set, and why: a model package, which may come from anywhere, must
# not choose which prebuilt TensorRT engines get loaded (a checksum proves a file intact, not who
# built it). Only the user's own command line names engine_path.
PACKAGE_IGNORED = {"engine_path": "engines are loaded only from the user's engine cache or a command-line engine_path"}


@dataclasses.dataclass(frozen=True)
class Limit:
    """The range an option's value must lie in, and why. low_open: low itself is excluded."""

    low: float
    high: float
    why: str
    low_open: bool = False

    def admits(self, value: float) -> bool:
        return (self.low < value if self.low_open else self.low <= value) and value <= self.high

    def text(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"


# Every numeric option's range, for the command line and nnvisr.json alike. The C option table
# (ffmpeg_filter/vf_nnvisr.c) mirrors these bounds, with -1 (or 0 for the scales) below the range
# meaning "not set: from the model" (tests/test_limits.py checks that they agree).
_SCALE_WHY = "memory and time grow with the square of the scale"
LIMITS: dict[str, Limit] = {
    "scale_factor": Limit(0, 16, _SCALE_WHY, low_open=True),
    "scale_factor_h": Limit(0, 16, _SCALE_WHY, low_open=True),
    "input_count": Limit(1, 64, "every frame of a window is held in memory"),
    "feature_count": Limit(1, 4096, "every feature level holds this many channels per frame"),
    "extraction_layers": Limit(1, 16, "each level halves the size: 16 levels take any frame down to one pixel"),
    "batch_size_fusion": Limit(1, 256, "a batch's tensors grow with it, and larger batches run no faster"),
    "batch_size_extract": Limit(1, 4096, "a batch's tensors grow with it, and larger batches run no faster"),
    "device": Limit(0, 64, "it is the index of a GPU"),
    "threads": Limit(0, 1024, "0 uses every CPU the process may use; more threads than CPUs only slow it down"),
    "scene_threshold": Limit(0, math.inf, "a score threshold; 0 means the key marks a new scene by its presence"),
    "alignment": Limit(1, 1024, "frames are padded up to a multiple of it"),
    "tile_overlap": Limit(0, 1024, "each tile's region grows by it on every side"),
    "max_memory": Limit(0, 1000000, "a budget in MiB (up to about a terabyte); 0 means none"),
}
# Output frames: at most 16384 pixels a side and 16384x8192 in all. That is 16K video, more than
# any encoder level takes, and within FFmpeg's own frame limit (av_image_check_size); one float32
# RGB frame of that size is already 1.5 GiB. A larger size is a wrong scale, not a video.
MAX_OUTPUT_SIDE = 16384
MAX_OUTPUT_PIXELS = 16384 * 8192


def check_limit(name: str, value: float, origin: str = "") -> None:
    """Refuse a value outside its option's range, naming the range and why it is there."""
    limit = LIMITS.get(name)
    if limit is None or limit.admits(value):
        return
    where = f" ({origin})" if origin else ""
    shown = f"{value:g}" if isinstance(value, float) or abs(value) < 10**15 else "a huge number"
    raise NnvisrError(f"option {name}={shown}{where} is out of range {limit.text()}: {limit.why}")


def check_output_size(width: int, height: int, in_width: int, in_height: int) -> None:
    if width <= MAX_OUTPUT_SIDE and height <= MAX_OUTPUT_SIDE and width * height <= MAX_OUTPUT_PIXELS:
        return
    raise NnvisrError(
        f"output size {width}x{height} (from {in_width}x{in_height}) is too large: at most {MAX_OUTPUT_SIDE} "
        f"pixels a side and {MAX_OUTPUT_SIDE}x{MAX_OUTPUT_PIXELS // MAX_OUTPUT_SIDE} in all; check the scale"
    )


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, as taskset or a container's cpuset sets it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise NnvisrError(f"option {name}: expected a boolean, got {value!r}")


def _to_triple(name: str, value: Any) -> tuple[float, float, float]:
    if isinstance(value, str):
        parts = [p for p in value.replace("|", " ").replace(",", " ").split() if p]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [value]
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise NnvisrError(f"option {name}: expected three numbers as 'r|g|b', got {value!r}") from None
    if len(numbers) == 1:
        numbers *= 3
    if len(numbers) != 3 or not all(math.isfinite(n) for n in numbers):
        raise NnvisrError(f"option {name}: expected three numbers as 'r|g|b', got {value!r}")
    return (numbers[0], numbers[1], numbers[2])


def _convert(name: str, value: Any) -> Any:
    field = FIELDS[name]
    kind = str(field.type)
    try:
        if "tuple" in kind:
            return _to_triple(name, value)
        if "bool" in kind:
            return _to_bool(name, value)
        if "float" in kind:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if "int" in kind:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        return str(value)
    except (TypeError, ValueError):
        raise NnvisrError(f"option {name}: invalid value {value!r}") from None


def _checked(name: str, value: Any, origin: str) -> Any:
    converted = _convert(name, value)
    if isinstance(converted, (int, float)) and not isinstance(converted, bool):
        check_limit(name, converted, origin)
    return converted


def parse_filter_options(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Parse the (name, value) pairs the filter sends (only the options set on it); a value is taken whole."""
    values: dict[str, Any] = {}
    for name, value in pairs:
        if name not in FIELDS:
            raise NnvisrError(f"unknown option {name!r}")
        values[name] = _checked(name, value, "command line")
    return values


def parse_settings(settings: Iterable[str]) -> dict[str, Any]:
    """Parse 'name=value' settings, one option each (a value may hold '=' or any other character)."""
    pairs = []
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep:
            raise NnvisrError(f"expected name=value, got {setting!r}")
        pairs.append((name, value))
    return parse_filter_options(pairs)


def from_package(config: dict[str, Any], source: str, logger: LogFunction = log.silent) -> dict[str, Any]:
    """Option defaults from a model's nnvisr.json."""
    values: dict[str, Any] = {}
    for name, value in config.items():
        if name in PACKAGE_KEYS:
            continue
        if name in PACKAGE_IGNORED:
            logger(log.WARNING, f"{source}: {name} is ignored ({PACKAGE_IGNORED[name]})")
            continue
        if name not in FIELDS:
            known = ", ".join(sorted(FIELDS))
            raise NnvisrError(f"{source}: unknown key {name!r} (options are: {known})")
        values[name] = _checked(name, value, f"from {source}")
    return values


def merge(package: dict[str, Any], command_line: dict[str, Any], logger: LogFunction = log.silent) -> Options:
    """The package's values under the command line's, then validated."""
    options = Options(**{**package, **command_line})
    validate(options, logger)
    return options


def validate(options: Options, logger: LogFunction = log.silent) -> None:
    """Check the options together; a thread count above the usable CPUs is lowered to them, with a warning."""
    for name in LIMITS:
        value = getattr(options, name)
        if value is not None:
            check_limit(name, value)
    if options.extra_frame and options.input_count < 2:
        raise NnvisrError(
            f"extra_frame=1 needs input_count >= 2 (input_count counts the frames the network takes, the last one "
            f"shared with the next window), got {options.input_count}"
        )
    if options.double_frame and not options.interpolating:
        raise NnvisrError("double_frame needs interpolation")
    if options.interpolating and not options.double_frame and (options.scale_w, options.scale_h) not in (
        (None, None),
        (1.0, 1.0),
    ):
        raise NnvisrError("interpolation without double_frame keeps the size: scale_factor must be 1")
    extract = options.batch_size_extract
    unit = options.batch_size_fusion * options.consumed
    if extract is not None and (extract < unit or extract % unit):
        raise NnvisrError(
            f"batch_size_extract must be a multiple of batch_size_fusion*(input_count-extra_frame) = {unit}, "
            f"got {extract}"
        )
    if options.backend not in BACKENDS:
        raise NnvisrError(f"backend must be one of {', '.join(BACKENDS)}, got {options.backend!r}")
    if options.pixels not in PIXEL_PATHS:
        raise NnvisrError(f"pixels must be one of {', '.join(PIXEL_PATHS)}, got {options.pixels!r}")
    if options.scene not in SCENE_MODES:
        raise NnvisrError(f"scene must be one of {', '.join(SCENE_MODES)}, got {options.scene!r}")
    if options.norm_std is not None and any(s == 0 for s in options.norm_std):
        raise NnvisrError("norm_std must not contain 0")
    cpus = usable_cpus()
    if options.threads > cpus:
        # Clamped rather than refused: a nnvisr.json or a script written for a larger machine still runs.
        usable = f"{cpus} CPU{'s' * (cpus != 1)}"
        logger(log.WARNING, f"threads={options.threads} is more than this process may use ({usable}); using {cpus}")
        options.threads = cpus
    if options.tile is not None:
        tile_size(options)


def tile_size(options: Options) -> tuple[int, int] | None:
    """tile=WxH as (W, H); None when frames are not tiled by size."""
    if options.tile is None:
        return None
    width, sep, height = options.tile.lower().partition("x")
    if sep and width.isdigit() and height.isdigit() and all(16 <= int(s) <= 65536 for s in (width, height)):
        return int(width), int(height)
    raise NnvisrError(f"option tile: expected WxH with sides in [16, 65536], got {options.tile!r}")
