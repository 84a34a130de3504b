"""Confinement: a model package reads no file outside itself, and chooses no TensorRT engines."""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import numpy as np
import onnx_models
import pytest
from ffmpeg_run import run
from test_limits import assert_one_error, run_filter

from nnvisr_core.options import from_package

ROOT = pathlib.Path(__file__).resolve().parent.parent


def single_stage(directory: pathlib.Path, onnx_name: str) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "nnvisr.json").write_text(json.dumps({"onnx": onnx_name}))
    return directory


@pytest.mark.parametrize("onnx_name", ["/etc/passwd", "../outside.onnx", "sub/../../outside.onnx"])
def test_onnx_named_outside_the_package_is_refused(
    ffmpeg: pathlib.Path, tmp_path: pathlib.Path, onnx_name: str
) -> None:
    onnx_models.colour_mix(tmp_path / "outside.onnx", np.eye(3), np.zeros(3))
    package = single_stage(tmp_path / "pkg", onnx_name)
    result = run_filter(ffmpeg, f"nnvisr=model={package}")
    assert_one_error(result, f"outside the model package {package}: refused")


def test_symlink_out_of_the_package_is_refused(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    onnx_models.colour_mix(tmp_path / "outside.onnx", np.eye(3), np.zeros(3))
    package = single_stage(tmp_path / "pkg", "m.onnx")
    (package / "m.onnx").symlink_to(tmp_path / "outside.onnx")
    assert_one_error(run_filter(ffmpeg, f"nnvisr=model={package}"), "m.onnx, which resolves to")
    # without nnvisr.json, the one .onnx file the folder holds: the same rule
    (package / "nnvisr.json").unlink()
    assert_one_error(run_filter(ffmpeg, f"nnvisr=model={package}"), "outside the model package")


def test_symlinks_inside_the_package_are_fine(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The rule is about where a file resolves, not about links: a link within the package, and a
    package folder that is itself a link, both work."""
    real = single_stage(tmp_path / "real", "m.onnx")
    onnx_models.colour_mix(real / "weights" / "v1.onnx", np.eye(3), np.zeros(3))
    (real / "m.onnx").symlink_to("weights/v1.onnx")
    (tmp_path / "link").symlink_to(real)
    for package in (real, tmp_path / "link"):
        result = run_filter(ffmpeg, f"nnvisr=model={package}")
        assert result.returncode == 0, result.stderr[-3000:]


def test_two_stage_colour_folder_linked_out_is_refused(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    bundled = ROOT / "nnvisr_core" / "models" / "default"
    package = tmp_path / "pkg"
    package.mkdir()
    shutil.copy(bundled / "nnvisr.json", package / "nnvisr.json")
    (package / "rgb_1_1").symlink_to(bundled / "rgb_1_1")
    result = run_filter(ffmpeg, f"nnvisr=model={package}")
    assert_one_error(result, "outside the model package")


def test_engine_path_in_nnvisr_json_is_ignored(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Engines come from the user's cache or a command-line engine_path, never from the package's say."""
    package = single_stage(tmp_path / "pkg", "m.onnx")
    onnx_models.colour_mix(package / "m.onnx", np.eye(3), np.zeros(3))
    (package / "nnvisr.json").write_text(json.dumps({"onnx": "m.onnx", "engine_path": "engines"}))
    result = run(ffmpeg, ["-v", "warning", "-f", "lavfi", "-i", "testsrc2=s=32x24:r=5:d=0.2",
                          "-vf", f"nnvisr=model={package}", "-f", "null", "-"])
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if "engine_path is ignored" in line]
    assert lines, result.stderr  # (ffmpeg 7.1 and later create the filter twice: once to probe the graph)
    assert "engine_path" not in from_package({"engine_path": "/tmp/x", "threads": 1}, "pkg/nnvisr.json")
    assert os.path.isdir(package)  # nothing was made in the package
    assert not (package / "engines").exists()
