"""Options: parsing what the filter sends, nnvisr.json defaults, validation."""

from __future__ import annotations

import os
import warnings

import pytest

from nnvisr_core import log
from nnvisr_core.errors import NnvisrError
from nnvisr_core.options import from_package, merge, parse_filter_options, parse_settings


def settings(text: str) -> dict:
    return parse_settings(text.split())


def test_filter_values_are_typed() -> None:
    values = settings("scale_factor=2.000000\ninterpolation=true\ninput_count=3\nnorm_mean=0.1|0.2|0.3\n")
    assert values == {"scale_factor": 2.0, "interpolation": True, "input_count": 3, "norm_mean": (0.1, 0.2, 0.3)}


def test_command_line_overrides_package() -> None:
    package = from_package({"onnx": "m.onnx", "scale_factor": 4, "batch_size_fusion": 2}, "pkg")
    options = merge(package, settings("scale_factor=2\n"))
    assert options.scale_factor == 2.0
    assert options.batch_size_fusion == 2
    assert options.scale_h == 2.0


def test_scale_h_follows_scale() -> None:
    options = merge({}, settings("scale_factor=1\nscale_factor_h=2\n"))
    assert (options.scale_w, options.scale_h) == (1.0, 2.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("double_frame=true\ninterpolation=false\n", "double_frame needs interpolation"),
        ("interpolation=true\nscale_factor=2\n", "scale_factor must be 1"),
        (
            "input_count=2\nbatch_size_fusion=2\nbatch_size_extract=6\n",
            r"multiple of batch_size_fusion\*\(input_count-extra_frame\) = 4",
        ),
        (
            "input_count=3\nextra_frame=1\nbatch_size_fusion=2\nbatch_size_extract=6\n",
            r"multiple of batch_size_fusion\*\(input_count-extra_frame\) = 4",
        ),
        ("norm_std=1|0|1\n", "norm_std must not contain 0"),
        ("extra_frame=1\n", "extra_frame=1 needs input_count >= 2"),
        ("input_count=1\nextra_frame=1\ninterpolation=1\n", "extra_frame=1 needs input_count >= 2"),
        ("backend=gpu\n", "backend must be one of"),
        ("norm_mean=1|2\n", "expected three numbers"),
        ("input_count=two\n", "option input_count: invalid value"),
        ("nonsense=1\n", "unknown option"),
    ],
)
def test_invalid_options(text: str, message: str) -> None:
    with pytest.raises(NnvisrError, match=message):
        merge({}, settings(text))


def test_interpolation_default_follows_upstream() -> None:
    assert merge({}, settings("input_count=2\nextra_frame=1\n")).interpolating
    assert not merge({}, settings("input_count=3\n")).interpolating


def test_window_sizes_count_as_upstream() -> None:
    """input_count is what the network takes; with extra_frame a window consumes one frame less."""
    options = merge({}, settings("input_count=4\nextra_frame=1\ndouble_frame=1\n"))
    assert (options.window_frames, options.consumed, options.output_frames) == (4, 3, 6)
    options = merge({}, settings("input_count=3\n"))
    assert (options.window_frames, options.consumed, options.output_frames) == (3, 3, 3)


def test_normalisation_defaults_follow_the_contract() -> None:
    options = merge({}, {})
    assert options.normalisation(upstream_defaults=True) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert options.normalisation(upstream_defaults=False) == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    given = merge({}, settings("norm_mean=0.1|0.2|0.3\n"))
    assert given.normalisation(upstream_defaults=True) == ((0.1, 0.2, 0.3), (0.229, 0.224, 0.225))


def test_package_rejects_unknown_keys() -> None:
    with pytest.raises(NnvisrError, match="unknown key 'scale'"):
        from_package({"onnx": "m.onnx", "scale": 2}, "pkg/nnvisr.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("batch_size_fusion=257\n", r"option batch_size_fusion=257 \(command line\) is out of range \[1, 256\]"),
        ("batch_size_extract=4097\n", r"batch_size_extract=4097 .* \[1, 4096\]"),
        ("scale_factor=0\n", r"scale_factor=0 .* \(0, 16\]"),
        ("threads=-1\n", r"threads=-1 .* \[0, 1024\]"),
        ("alignment=0\n", r"alignment=0 .* \[1, 1024\]"),
        ("device=65\n", r"device=65 .* \[0, 64\]"),
    ],
)
def test_limits_name_the_range_and_why(text: str, message: str) -> None:
    with pytest.raises(NnvisrError, match=message):
        settings(text)


def test_package_values_obey_the_same_limits() -> None:
    with pytest.raises(NnvisrError, match=r"batch_size_fusion=100000 \(from pkg/nnvisr.json\) is out of range"):
        from_package({"batch_size_fusion": 100000}, "pkg/nnvisr.json")


def test_threads_are_lowered_to_the_usable_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    messages: list[str] = []
    options = merge({"threads": 8}, {}, lambda level, text: messages.append(text))
    assert options.threads == 2
    assert messages == ["threads=8 is more than this process may use (2 CPUs); using 2"]
    assert merge({}, {"threads": 2}).threads == 2 and merge({}, {}).threads == 0


def test_python_warnings_reach_the_log_once() -> None:
    router = log.WarningRouter()
    messages: list[tuple[int, str]] = []
    router.current = lambda level, text: messages.append((level, text))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = router.show
        for _ in range(3):
            warnings.warn("invalid value", RuntimeWarning, stacklevel=1)
    assert len(messages) == 1
    assert messages[0][0] == log.WARNING and messages[0][1].startswith("RuntimeWarning: invalid value")


SEPARATORS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("separator", SEPARATORS, ids=[repr(s) for s in SEPARATORS])
def test_a_value_is_taken_whole(separator: str) -> None:
    """Pairs from the filter are never re-split: a line separator inside a value sets no other option."""
    value = f"x{separator}batch_size_fusion=1000"
    assert parse_filter_options([("scene_key", value)]) == {"scene_key": value}
    assert parse_settings([f"scene_key={value}"]) == {"scene_key": value}
