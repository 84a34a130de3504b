"""Bad input: one clear error line naming what is wrong, a non-zero exit, no crash."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import signal
import subprocess

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


# ---------------------------------------------------------------- failures that were tracebacks


def model_package(directory: pathlib.Path, manifest: bytes) -> pathlib.Path:
    import numpy as np

    onnx_models.colour_mix(directory / "m.onnx", np.eye(3), np.zeros(3))
    (directory / "nnvisr.json").write_bytes(manifest)
    return directory


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (b'{"onnx": "m.onnx", "description": "caf\xe9"}', "nnvisr.json: not UTF-8 text (byte 38)"),
        (b'{"onnx": "m.onnx", "x": ' + b"[" * 100000 + b"]" * 100000 + b"}", "nnvisr.json: JSON nested too deeply"),
        (b'{"onnx": "m.onnx", "threads": 1' + b"0" * 5000 + b"}", "nnvisr.json: invalid JSON"),
        (b'{"onnx": "m.onnx", "threads": 1' + b"0" * 50 + b"}", "option threads=a huge number"),
    ],
    ids=["latin1", "nested", "digits", "huge"],
)
def test_unreadable_manifest_is_one_line(
    ffmpeg: pathlib.Path, tmp_path: pathlib.Path, manifest: bytes, expected: str
) -> None:
    model = model_package(tmp_path, manifest)
    assert_clean_failure(run_filter(ffmpeg, f"nnvisr=model={model}"), expected)


def test_model_path_that_is_not_utf8_works(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """File names are bytes: one in Latin-1 reaches the filesystem as it was given."""
    folder = os.fsencode(tmp_path) + b"/mod\xe8le"
    os.mkdir(folder)
    model = model_package(pathlib.Path(os.fsdecode(folder)), b'{"onnx": "m.onnx"}')
    args = [str(ffmpeg), "-hide_banner", "-nostdin", *SOURCE, "-vf", b"nnvisr=model=" + os.fsencode(model),
            "-f", "null", "-"]
    result = subprocess.run(args, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    missing = subprocess.run([*args[:-5], "-vf", b"nnvisr=model=" + folder + b"-missing", "-f", "null", "-"],
                             capture_output=True, timeout=60)
    stderr = missing.stderr.decode("utf-8", "replace")
    assert missing.returncode > 0 and "Traceback" not in stderr
    assert len([line for line in stderr.splitlines() if "no such file or directory" in line]) == 1, stderr


def _without_file_access_checks(tmp_path: pathlib.Path) -> list[str]:
    """A command prefix that runs as root without the capabilities that skip file permissions (the
    tests run as root, for whom chmod 000 changes nothing); skips when there is none."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
    try:
        result = subprocess.run([*prefix, "cat", str(probe)], capture_output=True, timeout=10)
    except FileNotFoundError:
        pytest.skip("needs setpriv (util-linux)")
    finally:
        probe.unlink()
    if result.returncode == 0 and os.geteuid() == 0:
        pytest.skip("cannot drop the file access capabilities here")
    return prefix if os.geteuid() == 0 else []


@pytest.mark.parametrize("what", ["folder", "manifest", "onnx"])
def test_unreadable_model_is_one_line(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, what: str) -> None:
    prefix = _without_file_access_checks(tmp_path)
    (tmp_path / "pkg").mkdir()
    model = model_package(tmp_path / "pkg", b'{"onnx": "m.onnx"}')
    target = {"folder": model, "manifest": model / "nnvisr.json", "onnx": model / "m.onnx"}[what]
    target.chmod(0)
    try:
        command = [*prefix, str(ffmpeg), "-hide_banner", "-nostdin", *SOURCE, "-vf", f"nnvisr=model={model}",
                   "-f", "null", "-"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        target.chmod(0o755)
    expected = {"folder": "Permission denied", "manifest": "Permission denied", "onnx": f"cannot load model {model}"}
    assert_clean_failure(result, expected[what])


@pytest.mark.parametrize(
    ("inputs", "attributes", "expected"),
    [
        (["x", "offset", "mask"], {}, "DeformConv2d node 'dcn' has 3 inputs and 1 outputs"),
        (["x", "offset", "mask", "w", "b", "extra"], {}, "has 6 inputs"),
        (["x", "offset", "mask", "w", "b"], {"padding": [1, 1, 1]}, "attribute padding must be two integers"),
        (["x", "offset", "mask", "w", "b"], {"stride": [0, 1]}, "attribute stride [0, 1] is out of range"),
        (["x", "offset", "mask", "w", "b"], {"deformable_groups": 0}, "deformable_groups must be a positive"),
        (["x", "offset", "mask", "w", "b"], {"padding": "1"}, "attribute padding must be two integers"),
    ],
)
def test_malformed_upstream_deform_conv_is_one_line(
    ffmpeg: pathlib.Path, tmp_path: pathlib.Path, inputs: list[str], attributes: dict, expected: str
) -> None:
    model = onnx_models.upstream_deform_conv(tmp_path / "dcn.onnx", inputs, **attributes)
    assert_clean_failure(run_filter(ffmpeg, f"nnvisr=model={model}"), expected)


def test_out_of_memory_is_one_line(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """A batch of 256 x4 frames at 1080p needs about 100 GiB: one line saying so, under an address-space
    cap so that the result does not depend on the machine's memory or overcommit policy."""
    import numpy as np

    onnx_models.colour_mix(tmp_path / "x4.onnx", np.eye(3), np.zeros(3), 4)
    command = ["prlimit", "--as=12884901888", str(ffmpeg), "-hide_banner", "-nostdin", "-f", "lavfi", "-i",
               "testsrc2=s=1920x1080:r=5:d=0.2", "-vf",
               f"nnvisr=model={tmp_path / 'x4.onnx'}:batch_size_fusion=256:backend=onnxruntime", "-f", "null", "-"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert_clean_failure(result, "out of memory")
    line = next(line for line in result.stderr.splitlines() if "out of memory" in line)
    assert "GiB" in line and "batch_size_fusion" in line


@pytest.mark.parametrize("pix_fmt", ["rgb24", "gbrp"])
def test_nan_output_is_quiet_and_black(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, pix_fmt: str) -> None:
    """A network giving NaN: the lowest code, no Python warning on stderr (-v quiet means quiet)."""
    model = onnx_models.nan_output(tmp_path / "nan.onnx")
    result = subprocess.run(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-v", "quiet", *SOURCE, "-vf",
         f"format={pix_fmt},nnvisr=model={model}", "-f", "rawvideo", "-"],
        capture_output=True, timeout=60,
    )
    assert result.returncode == 0
    assert result.stderr == b""
    assert len(result.stdout) == 5 * 32 * 24 * 3 and not any(result.stdout)


def test_library_chatter_stays_out_of_stderr(ffmpeg: pathlib.Path) -> None:
    """With HOME unwritable, ONNX Runtime's telemetry once printed a coloured warning past -v error."""
    env = {**os.environ, "HOME": "/proc"}
    env.pop("ORT_DISABLE_TELEMETRY", None)
    result = run(ffmpeg, ["-v", "error", *SOURCE, "-vf", "nnvisr", "-f", "null", "-"], env=env)
    assert result.returncode == 0
    assert result.stderr == ""
