"""Model packages and the single-stage contract, without ffmpeg."""

from __future__ import annotations

import pathlib

import numpy as np
import onnx_models
import pytest

from nnvisr_core import package
from nnvisr_core.backends.onnxruntime_backend import OnnxRuntimeBackend
from nnvisr_core.errors import NnvisrError
from nnvisr_core.network import describe_network


def test_bundled_default_package() -> None:
    """The default is two-stage (3-frame windows, x2) and serves every colour space from one folder of each
    family, its YUV networks on plain levels."""
    pkg = package.locate(None)
    assert isinstance(pkg, package.TwoStagePackage)
    assert pkg.config["scale_factor"] == 2 and pkg.config["input_count"] == 3
    assert pkg.folders == ["rgb_1_1", "yuv_1_1_1"] and pkg.any_colour and pkg.yuv_levels
    assert package.locate("interpolate").config["interpolation"] is True


def test_directory_with_one_onnx_file(tmp_path: pathlib.Path) -> None:
    onnx_models.scaled_wrong(tmp_path / "only.onnx")
    assert package.locate(str(tmp_path)).onnx_path == tmp_path / "only.onnx"


def test_model_path_is_upstream_layout(tmp_path: pathlib.Path) -> None:
    (tmp_path / "models" / "net" / "rgb_1_1").mkdir(parents=True)
    (tmp_path / "models" / "net" / "yuv_1_1_1").mkdir()
    (tmp_path / "models" / "net" / "notes").mkdir()
    pkg = package.locate("net", str(tmp_path))
    assert isinstance(pkg, package.TwoStagePackage)
    assert pkg.folders == ["rgb_1_1", "yuv_1_1_1"]
    with pytest.raises(NnvisrError, match="no folder"):
        package.locate("other", str(tmp_path))


def test_manifest_names_missing_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "nnvisr.json").write_text('{"onnx": "gone.onnx"}')
    with pytest.raises(NnvisrError, match="names gone.onnx, which is not in"):
        package.locate(str(tmp_path))


def test_several_onnx_files_need_a_manifest(tmp_path: pathlib.Path) -> None:
    onnx_models.scaled_wrong(tmp_path / "a.onnx")
    onnx_models.scaled_wrong(tmp_path / "b.onnx")
    with pytest.raises(NnvisrError, match="several .onnx files"):
        package.locate(str(tmp_path))


def test_rgb_and_yuv_contracts(tmp_path: pathlib.Path) -> None:
    rgb = describe_network(OnnxRuntimeBackend(onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3))))
    assert rgb.family == "rgb" and not rgb.temporal_in
    yuv = describe_network(OnnxRuntimeBackend(onnx_models.yuv_affine(tmp_path / "y.onnx", 1, 0, 1)))
    assert yuv.family == "yuv420"
    assert [t.name for t in yuv.outputs] == ["out_y", "out_uv"]


def test_one_frame_model_rejects_temporal_window(tmp_path: pathlib.Path) -> None:
    net = describe_network(OnnxRuntimeBackend(onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3))))
    with pytest.raises(NnvisrError, match="is \\[N,C,H,W\\] \\(one frame\\) but the options ask for 3"):
        net.check_window(3, 3)
