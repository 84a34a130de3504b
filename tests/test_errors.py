"""Bad input: one clear error line naming what is wrong, a non-zero exit, no crash."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import signal

import onnx_models
import onnxruntime as ort
import pytest
from ffmpeg_run import run

SOURCE = ["-f", "lavfi", "-i", "testsrc2=s=32x24:r=5:d=1"]


def run_filter(ffmpeg: pathlib.Path, vf: str, env: dict | None = None):
    return run(ffmpeg, [*SOURCE, "-vf", vf, "-f", "null", "-"], env=env)


def assert_clean_failure(result, expected: str) -> None:
    assert result.returncode > 0, f"exit status {result.returncode}: crashed or succeeded\n{result.stderr[-2000:]}"
    assert result.returncode != 128 + signal.SIGSEGV
    lines = [line for line in result.stderr.splitlines() if expected in line]
    assert len(lines) == 1, f"expected one line with {expected!r}:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr


def test_missing_model_directory(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    result = run_filter(ffmpeg, f"nnvisr=model={tmp_path}/nowhere")
    assert_clean_failure(result, f"model {tmp_path}/nowhere: no such file or directory")


def test_directory_without_model(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    result = run_filter(ffmpeg, f"nnvisr=model={tmp_path}")
    assert_clean_failure(result, "holds neither nnvisr.json nor an .onnx file")


def test_broken_onnx(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07this is not a protobuf" * 10)
    result = run_filter(ffmpeg, f"nnvisr=model={broken}")
    assert_clean_failure(result, f"cannot load model {broken}")


def test_broken_manifest(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    onnx_models.scaled_wrong(tmp_path / "m.onnx")
    (tmp_path / "nnvisr.json").write_text('{"onnx": "m.onnx", "scale_factr": 2}')
    result = run_filter(ffmpeg, f"nnvisr=model={tmp_path}")
    assert_clean_failure(result, "unknown key 'scale_factr'")


def test_unknown_option(ffmpeg: pathlib.Path) -> None:
    result = run_filter(ffmpeg, "nnvisr=scale_factr=2")
    assert result.returncode > 0
    assert "scale_factr" in result.stderr
    assert "Traceback" not in result.stderr


def test_output_not_matching_scale(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = onnx_models.scaled_wrong(tmp_path / "x1.onnx")
    result = run_filter(ffmpeg, f"nnvisr=model={model}:scale_factor=2")
    assert_clean_failure(
        result, "model output y is 32x24 for a 32x24 input; scale_factor=2 scale_factor_h=2 expect 64x48"
    )


def test_wrong_input_rank(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = onnx_models.rank3(tmp_path / "rank3.onnx")
    result = run_filter(ffmpeg, f"nnvisr=model={model}")
    assert_clean_failure(result, "model tensor x has rank 3")


def test_wrong_tensor_count(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = onnx_models.two_inputs(tmp_path / "two.onnx")
    result = run_filter(ffmpeg, f"nnvisr=model={model}")
    assert_clean_failure(result, "a single-stage model needs one input and one output")


def test_fixed_size_model(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = onnx_models.colour_mix(tmp_path / "fixed.onnx", *onnx_models_identity(), input_shape=[1, 3, 16, 16])
    result = run_filter(ffmpeg, f"nnvisr=model={model}")
    assert_clean_failure(result, "takes a fixed shape [1, 3, 16, 16]")


def test_bad_norm_option(ffmpeg: pathlib.Path) -> None:
    result = run_filter(ffmpeg, "nnvisr=norm_mean=0.5|x|0.5")
    assert_clean_failure(result, "option norm_mean: expected three numbers")


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_tensorrt_unavailable(ffmpeg: pathlib.Path) -> None:
    result = run_filter(ffmpeg, "nnvisr=backend=tensorrt")
    assert_clean_failure(result, "backend=tensorrt needs the tensorrt and cuda-python packages")


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA is available here")
def test_cuda_unavailable(ffmpeg: pathlib.Path) -> None:
    result = run_filter(ffmpeg, "nnvisr=backend=cuda")
    assert_clean_failure(result, "backend=cuda needs onnxruntime-gpu with a CUDA device")


def test_auto_falls_back_to_the_cpu_and_says_so(ffmpeg: pathlib.Path) -> None:
    result = run_filter(ffmpeg, "nnvisr=backend=auto")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "backend: onnxruntime" in result.stderr and "CPU" in result.stderr


def test_missing_bridge(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    env = {**os.environ, "NNVISR_BRIDGE": str(tmp_path / "libnnvisr_bridge.so")}
    result = run_filter(ffmpeg, "nnvisr", env=env)
    assert_clean_failure(result, "Cannot load the nnvisr bridge")


def test_filters_without_nnvisr_never_load_python(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    env = {**os.environ, "NNVISR_BRIDGE": str(tmp_path / "missing.so")}
    result = run(ffmpeg, [*SOURCE, "-vf", "hflip", "-f", "null", "-"], env=env)
    assert result.returncode == 0, result.stderr[-2000:]


def onnx_models_identity():
    import numpy as np

    return np.eye(3), np.zeros(3)


@pytest.mark.parametrize("pix_fmt", ["yuv422p", "gray", "rgba"])
def test_other_formats_are_converted_by_ffmpeg(ffmpeg: pathlib.Path, pix_fmt: str) -> None:
    """Formats the model does not take are converted by the filter graph, not rejected."""
    result = run(ffmpeg, [*SOURCE, "-vf", f"format={pix_fmt},nnvisr", "-f", "null", "-"])
    assert result.returncode == 0, result.stderr[-2000:]
