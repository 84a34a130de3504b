"""python -m nnvisr_core inspect: describes a model and checks it with dry runs."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import onnx_models


def inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nnvisr_core", "inspect", *args], capture_output=True, text=True, timeout=120, cwd="/"
    )


def test_bundled_model() -> None:
    result = inspect("--size", "40x30")
    assert result.returncode == 0, result.stderr
    assert "two-stage model in" in result.stdout and "rgb_1_1: fe_n3_2x2_l2.onnx + ff_n3_2x2_l2.onnx" in result.stdout
    assert "size check: 40x30 -> 80x60 (scale_factor=2, scale_factor_h=2)" in result.stdout


def test_temporal_model_options(tmp_path: pathlib.Path) -> None:
    model = onnx_models.temporal_mix(tmp_path / "t.onnx", onnx_models.index_weights(4, 3), 2)
    result = inspect(str(model), "input_count=3", "extra_frame=1", "double_frame=1")
    assert result.returncode == 0, result.stderr
    assert "window: 3 frames in (input_count=3, extra_frame=1: 2 consumed), 4 network frames out" in result.stdout


def test_invalid_model_is_one_error_line(tmp_path: pathlib.Path) -> None:
    model = onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3), 2)
    result = inspect(str(model), "scale_factor=3")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "expect 192x144" in result.stderr
