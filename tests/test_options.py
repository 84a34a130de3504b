"""Options: parsing what the filter sends, nnvisr.json defaults, validation."""

from __future__ import annotations

import pytest

from nnvisr_core.errors import NnvisrError
from nnvisr_core.options import from_package, merge, parse_filter_options


def test_filter_values_are_typed() -> None:
    values = parse_filter_options("scale_factor=2.000000\ninterpolation=true\ninput_count=3\nnorm_mean=0.1|0.2|0.3\n")
    assert values == {"scale_factor": 2.0, "interpolation": True, "input_count": 3, "norm_mean": (0.1, 0.2, 0.3)}


def test_command_line_overrides_package() -> None:
    package = from_package({"onnx": "m.onnx", "scale_factor": 4, "batch_size_fusion": 2}, "pkg")
    options = merge(package, parse_filter_options("scale_factor=2\n"))
    assert options.scale_factor == 2.0
    assert options.batch_size_fusion == 2
    assert options.scale_h == 2.0


def test_scale_h_follows_scale() -> None:
    options = merge({}, parse_filter_options("scale_factor=1\nscale_factor_h=2\n"))
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
        merge({}, parse_filter_options(text))


def test_interpolation_default_follows_upstream() -> None:
    assert merge({}, parse_filter_options("input_count=2\nextra_frame=1\n")).interpolating
    assert not merge({}, parse_filter_options("input_count=3\n")).interpolating


def test_window_sizes_count_as_upstream() -> None:
    """input_count is what the network takes; with extra_frame a window consumes one frame less."""
    options = merge({}, parse_filter_options("input_count=4\nextra_frame=1\ndouble_frame=1\n"))
    assert (options.window_frames, options.consumed, options.output_frames) == (4, 3, 6)
    options = merge({}, parse_filter_options("input_count=3\n"))
    assert (options.window_frames, options.consumed, options.output_frames) == (3, 3, 3)


def test_normalisation_defaults_follow_the_contract() -> None:
    options = merge({}, {})
    assert options.normalisation(upstream_defaults=True) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert options.normalisation(upstream_defaults=False) == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    given = merge({}, parse_filter_options("norm_mean=0.1|0.2|0.3\n"))
    assert given.normalisation(upstream_defaults=True) == ((0.1, 0.2, 0.3), (0.229, 0.224, 0.225))


def test_package_rejects_unknown_keys() -> None:
    with pytest.raises(NnvisrError, match="unknown key 'scale'"):
        from_package({"onnx": "m.onnx", "scale": 2}, "pkg/nnvisr.json")
