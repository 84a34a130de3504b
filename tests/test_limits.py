"""Option limits: one table (options.LIMITS) for the command line and nnvisr.json alike, mirrored by the
C option table; thread counts follow the CPUs the process may use; scales and output sizes bounded."""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import shutil
import signal
import subprocess

import numpy as np
import onnx_models
import pytest
from ffmpeg_run import run

from nnvisr_core.options import LIMITS, MAX_OUTPUT_SIDE

SOURCE = ["-f", "lavfi", "-i", "testsrc2=s=32x24:r=5:d=0.4"]


def run_filter(ffmpeg: pathlib.Path, vf: str, level: str = "error", prefix: tuple[str, ...] = ()):
    command = [*prefix, str(ffmpeg), "-hide_banner", "-nostdin", "-v", level, *SOURCE, "-vf", vf, "-f", "null", "-"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def assert_one_error(result, expected: str) -> None:
    assert result.returncode > 0, f"exit status {result.returncode}\n{result.stderr[-2000:]}"
    assert result.returncode != 128 + signal.SIGSEGV
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if expected in line]
    assert len(lines) == 1, f"expected one line with {expected!r}:\n{result.stderr[-3000:]}"


def package(tmp_path: pathlib.Path, config: dict, scale: int = 1) -> pathlib.Path:
    """A single-frame model package (a per-pixel colour mix) with this nnvisr.json."""
    onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3), scale)
    (tmp_path / "nnvisr.json").write_text(json.dumps({"onnx": "m.onnx", **config}))
    return tmp_path


def _c_ranges(ffmpeg: pathlib.Path) -> dict[str, tuple[float, float]]:
    """(min, max) of each option, from ffmpeg -h filter=nnvisr ("(from 0 to 1024)")."""
    result = run(ffmpeg, ["-h", "filter=nnvisr"])
    assert result.returncode == 0, result.stderr
    ranges = {}
    for line in result.stdout.splitlines():
        match = re.match(r"\s+(\w+)\s+<\w+>.*\(from (\S+) to (\S+)\)", line)
        if match:
            ranges[match[1]] = tuple(math.inf if v == "DBL_MAX" else float(v) for v in (match[2], match[3]))
    return ranges


def test_c_option_table_mirrors_the_limits(ffmpeg: pathlib.Path) -> None:
    """The C table's bounds are the Python table's, with one sentinel below the range meaning 'from the
    model' (-1, or 0 for the scales, which must be above 0)."""
    ranges = _c_ranges(ffmpeg)
    for name, limit in LIMITS.items():
        assert name in ranges, f"{name} not in the C option table"
        low, high = ranges[name]
        assert high == limit.high, (name, high)
        if limit.low_open:
            assert low == limit.low, (name, low)
        else:
            assert low in (limit.low, -1), (name, low)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (name, value)
        for name, limit in LIMITS.items()
        for value in ([limit.high * 10 + 1] if math.isfinite(limit.high) else []) + [limit.low - 1]
    ],
)
def test_nnvisr_json_values_obey_the_limits(
    ffmpeg: pathlib.Path, tmp_path: pathlib.Path, name: str, value: float
) -> None:
    """What the command line cannot set, nnvisr.json cannot either: one line naming the range and why."""
    if name in ("scale_factor", "scale_factor_h") and value < 0:
        value = 0.0  # the scales exclude their lower bound itself
    model = package(tmp_path, {name: int(value)})
    result = run_filter(ffmpeg, f"nnvisr=model={model}")
    assert_one_error(result, f"(from {model}/nnvisr.json) is out of range")
    assert f"option {name}=" in result.stderr
    assert LIMITS[name].why in result.stderr


def test_huge_thread_count_in_nnvisr_json_is_refused_at_once(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """"threads": 100000 once hung session creation, memory growing."""
    model = package(tmp_path, {"threads": 100000})
    result = run_filter(ffmpeg, f"nnvisr=model={model}")
    assert_one_error(result, "option threads=100000")
    assert "[0, 1024]" in result.stderr


@pytest.mark.parametrize("where", ["command line", "nnvisr.json"])
def test_threads_above_the_usable_cpus_are_lowered(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, where: str) -> None:
    """taskset -c 0: one CPU usable; threads=4 runs with 1, and says so."""
    if shutil.which("taskset") is None:
        pytest.skip("needs taskset")
    if where == "command line":
        vf = f"nnvisr=model={package(tmp_path, {})}:threads=4:backend=onnxruntime"
    else:
        vf = f"nnvisr=model={package(tmp_path, {'threads': 4})}:backend=onnxruntime"
    result = run_filter(ffmpeg, vf, "verbose", ("taskset", "-c", "0"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "threads=4 is more than this process may use (1 CPU); using 1" in result.stderr
    assert "CPU, 1 threads" in result.stderr


def test_default_thread_count_follows_cpu_affinity(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    if shutil.which("taskset") is None:
        pytest.skip("needs taskset")
    vf = f"nnvisr=model={package(tmp_path, {})}:backend=onnxruntime"
    result = run_filter(ffmpeg, vf, "verbose", ("taskset", "-c", "0"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CPU, 1 threads" in result.stderr
    if len(os.sched_getaffinity(0)) > 1:
        everywhere = run_filter(ffmpeg, vf, "verbose")
        assert f"CPU, {len(os.sched_getaffinity(0))} threads" in everywhere.stderr


def test_scale_taken_from_the_model_is_range_checked(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """An x64 model once made 2048x1536 from 32x24 with exit status 0."""
    model = onnx_models.colour_mix(tmp_path / "x64.onnx", np.eye(3), np.zeros(3), 64)
    result = run_filter(ffmpeg, f"nnvisr=model={model}")
    assert_one_error(result, "option scale_factor=64 (taken from the model's 2048x1536 output) is out of range (0, 16]")


def test_output_size_is_bounded(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """A legal scale on a wide frame: refused before any tensor of that size is made."""
    width = MAX_OUTPUT_SIDE // 16 + 8
    model = package(tmp_path, {"scale_factor": 16})
    command = [str(ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
               f"testsrc2=s={width}x16:r=5:d=0.2", "-vf", f"nnvisr=model={model}", "-f", "null", "-"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert_one_error(result, f"output size {width * 16}x256 (from {width}x16) is too large")
