"""Options: parsing what the filter sends, nnvisr.json defaults, validation."""

from __future__ import annotations

import pytest

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
            r"multiple of batch_size_fusion\*input_count = 4",
        ),
        ("norm_std=1|0|1\n", "norm_std must not contain 0"),
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
    assert merge({}, settings("extra_frame=1\n")).interpolating
    assert not merge({}, settings("input_count=3\n")).interpolating


def test_window_sizes() -> None:
    options = merge({}, settings("input_count=3\nextra_frame=1\ndouble_frame=1\n"))
    assert options.window_frames == 4
    assert options.output_frames == 6


def test_package_rejects_unknown_keys() -> None:
    with pytest.raises(NnvisrError, match="unknown key 'scale'"):
        from_package({"onnx": "m.onnx", "scale": 2}, "pkg/nnvisr.json")


SEPARATORS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("separator", SEPARATORS, ids=[repr(s) for s in SEPARATORS])
def test_a_value_is_taken_whole(separator: str) -> None:
    """Pairs from the filter are never re-split: a line separator inside a value sets no other option."""
    value = f"x{separator}batch_size_fusion=1000"
    assert parse_filter_options([("scene_key", value)]) == {"scene_key": value}
    assert parse_settings([f"scene_key={value}"]) == {"scene_key": value}
