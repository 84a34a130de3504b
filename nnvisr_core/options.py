"""Filter options: parsed from the filter, merged over a model's nnvisr.json.

The names follow the upstream NNVISR plugin. The filter hands over only the
options set on its command line, so a model package's nnvisr.json supplies the
others and the command line always wins.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

from .errors import NnvisrError

BACKENDS = ("auto", "onnxruntime", "cuda", "tensorrt")
PIXEL_PATHS = ("auto", "host", "model")


@dataclasses.dataclass
class Options:
    model: str | None = None
    model_path: str | None = None
    engine_path: str | None = None
    scale_factor: float | None = None
    scale_factor_h: float | None = None
    input_count: int = 1
    feature_count: int = 64
    extraction_layers: int = 1
    interpolation: bool | None = None
    extra_frame: bool = False
    double_frame: bool = False
    batch_size_fusion: int = 1
    batch_size_extract: int | None = None
    use_fp16: bool = False
    low_mem: bool = False
    norm_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    norm_std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    raw_norm: bool = False
    backend: str = "auto"
    # Where 8-bit planar RGB frames are converted: in nnvisr's C loops / numpy (host), or by
    # nodes merged into the network (model; see pixel_graph.py). auto: model on a GPU.
    pixels: str = "auto"
    device: int = 0
    threads: int = 0
    scene_key: str = "lavfi.scd.time"
    scene_threshold: float = 0.0
    alignment: int = 1  # the network takes sizes that are multiples of this

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
        return self.input_count + (1 if self.extra_frame else 0)

    @property
    def output_frames(self) -> int:
        """Frames the network produces per window."""
        return 2 * self.input_count if self.double_frame else self.input_count


FIELDS = {field.name: field for field in dataclasses.fields(Options)}
# Keys a nnvisr.json may hold besides the options.
PACKAGE_KEYS = {"onnx", "description", "license", "name", "format", "any_colour"}


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


def parse_filter_options(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Parse the (name, value) pairs the filter sends (only the options set on it); a value is taken whole."""
    values: dict[str, Any] = {}
    for name, value in pairs:
        if name not in FIELDS:
            raise NnvisrError(f"unknown option {name!r}")
        values[name] = _convert(name, value)
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


def from_package(config: dict[str, Any], source: str) -> dict[str, Any]:
    """Option defaults from a model's nnvisr.json."""
    values: dict[str, Any] = {}
    for name, value in config.items():
        if name in PACKAGE_KEYS:
            continue
        if name not in FIELDS:
            known = ", ".join(sorted(FIELDS))
            raise NnvisrError(f"{source}: unknown key {name!r} (options are: {known})")
        values[name] = _convert(name, value)
    return values


def merge(package: dict[str, Any], command_line: dict[str, Any]) -> Options:
    """The package's values under the command line's, then validated."""
    options = Options(**{**package, **command_line})
    validate(options)
    return options


def validate(options: Options) -> None:
    for name in ("scale_factor", "scale_factor_h"):
        value = getattr(options, name)
        if value is not None and not 0 < value <= 16:
            raise NnvisrError(f"option {name} must be in (0, 16], got {value}")
    if options.input_count < 1:
        raise NnvisrError(f"input_count must be at least 1, got {options.input_count}")
    if options.batch_size_fusion < 1:
        raise NnvisrError(f"batch_size_fusion must be at least 1, got {options.batch_size_fusion}")
    if options.double_frame and not options.interpolating:
        raise NnvisrError("double_frame needs interpolation")
    if options.interpolating and not options.double_frame and (options.scale_w, options.scale_h) not in (
        (None, None),
        (1.0, 1.0),
    ):
        raise NnvisrError("interpolation without double_frame keeps the size: scale_factor must be 1")
    extract = options.batch_size_extract
    unit = options.batch_size_fusion * options.input_count
    if extract is not None and (extract < unit or extract % unit):
        raise NnvisrError(
            f"batch_size_extract must be a multiple of batch_size_fusion*input_count = {unit}, got {extract}"
        )
    if options.backend not in BACKENDS:
        raise NnvisrError(f"backend must be one of {', '.join(BACKENDS)}, got {options.backend!r}")
    if options.pixels not in PIXEL_PATHS:
        raise NnvisrError(f"pixels must be one of {', '.join(PIXEL_PATHS)}, got {options.pixels!r}")
    if any(s == 0 for s in options.norm_std):
        raise NnvisrError("norm_std must not contain 0")
    if options.threads < 0:
        raise NnvisrError("threads must be >= 0")
    if not 1 <= options.alignment <= 1024:
        raise NnvisrError(f"alignment must be in [1, 1024], got {options.alignment}")
