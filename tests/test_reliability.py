"""Reliability: several instances, graph shapes, size changes, interrupts and failures mid-stream."""

from __future__ import annotations

import json
import pathlib
import re
import signal
import subprocess
import tempfile
import time

import numpy as np
import onnx_models
from ffmpeg_run import RAW, count_frames, filter_raw, raw_to_rgb, rgb_to_raw, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnvisr_core.options import FIELDS, PACKAGE_KEYS

MIX = np.array([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.9]])
BIAS = np.zeros(3)


def test_two_instances_in_one_graph(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Two filters share one interpreter; chained they apply the network twice."""
    model = onnx_models.colour_mix(tmp_path / "m.onnx", MIX, BIAS)
    fmt = RAW["gbrp"]
    codes = np.random.default_rng(1).integers(0, 256, (3, 3, 12, 16))
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (16, 12),
                         f"nnvisr=model={model},nnvisr=model={model}:batch_size_fusion=2")
    once = np.clip(np.rint(np.einsum("ck,fkhw->fchw", MIX, codes / 255) * 255), 0, 255)
    twice = np.clip(np.rint(np.einsum("ck,fkhw->fchw", MIX, once / 255) * 255), 0, 255)
    assert np.abs(raw_to_rgb(fmt, data, 16, 12) - twice).max() <= 1


def test_two_temporal_instances_chained(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Chained filters that both hold frames back: every frame comes out and ffmpeg ends (the EOF that
    arrives with the last frames once stayed pending in the second one, and ffmpeg aborted)."""
    model = onnx_models.temporal_mix(tmp_path / "t.onnx", onnx_models.index_weights(2, 2))
    fmt = RAW["gbrp"]
    codes = np.random.default_rng(2).integers(0, 256, (5, 3, 12, 16))
    vf = f"nnvisr=model={model}:input_count=2"
    once, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (16, 12), vf)
    twice, _ = filter_raw(ffmpeg, tmp_path, fmt, once, (16, 12), vf)
    chained, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (16, 12), f"{vf},{vf}")
    assert len(chained) == len(codes) * 3 * 12 * 16
    assert chained == twice


def test_split_and_overlay(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    upscale = onnx_models.colour_mix(tmp_path / "up.onnx", MIX, BIAS, 2)
    same = onnx_models.colour_mix(tmp_path / "same.onnx", MIX, BIAS, 1)
    result = run(ffmpeg, [
        "-f", "lavfi", "-i", "testsrc2=s=32x24:r=10:d=1",
        "-filter_complex",
        f"split[a][b];[a]nnvisr=model={upscale}[up];[b]scale=64:48,nnvisr=model={same}[same];"
        "[up][same]overlay=shortest=1",
        "-c:v", "ffv1", str(tmp_path / "out.mkv"),
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    assert count_frames(ffmpeg, tmp_path / "out.mkv") == 10


def test_resolution_change_mid_stream(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """ffmpeg re-initialises the graph when the input size changes; every frame comes out."""
    model = onnx_models.colour_mix(tmp_path / "m.onnx", MIX, BIAS, 2)
    first, second = tmp_path / "a.nut", tmp_path / "b.nut"
    for path, size in ((first, "32x24"), (second, "40x30")):
        made = run(ffmpeg, ["-f", "lavfi", "-i", f"testsrc2=s={size}:r=10:d=0.5", "-c:v", "png", str(path)])
        assert made.returncode == 0, made.stderr
    (tmp_path / "list.txt").write_text(f"file '{first}'\nfile '{second}'\n")
    result = run(ffmpeg, [
        "-f", "concat", "-safe", "0", "-i", str(tmp_path / "list.txt"),
        "-vf", f"nnvisr=model={model},showinfo", "-f", "null", "-",
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    infos = [line for line in result.stderr.splitlines() if "Parsed_showinfo" in line and " s:" in line]
    sizes = [line.split(" s:")[1].split()[0] for line in infos]
    assert sizes == ["64x48"] * 5 + ["80x60"] * 5


def test_time_limit_cuts_short(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = onnx_models.colour_mix(tmp_path / "m.onnx", MIX, BIAS)
    result = run(ffmpeg, [
        "-f", "lavfi", "-i", "testsrc2=s=32x24:r=10:d=5", "-t", "1.2",
        "-vf", f"nnvisr=model={model}:batch_size_fusion=4", "-c:v", "ffv1", str(tmp_path / "out.mkv"),
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    assert count_frames(ffmpeg, tmp_path / "out.mkv") == 12


def test_empty_input(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = onnx_models.colour_mix(tmp_path / "m.onnx", MIX, BIAS)
    (tmp_path / "empty.raw").write_bytes(b"")
    result = run(ffmpeg, [
        "-f", "rawvideo", "-pix_fmt", "gbrp", "-s", "16x16", "-i", str(tmp_path / "empty.raw"),
        "-vf", f"nnvisr=model={model}", "-f", "null", "-",
    ])
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_model_failing_mid_stream_keeps_what_was_written(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The network fails on the first bright frame: one error line, a non-zero exit, no hang, and the
    frames written before it stay readable."""
    model = onnx_models.fails_on_bright(tmp_path / "bright.onnx")
    frames = np.full((30, 3, 24, 32), 40)
    frames[20:] = 220
    fmt = RAW["gbrp"]
    (tmp_path / "in.raw").write_bytes(rgb_to_raw(fmt, frames))
    out = tmp_path / "out.mkv"
    result = run(ffmpeg, [
        "-f", "rawvideo", "-pix_fmt", "gbrp", "-s", "32x24", "-r", "10", "-i", str(tmp_path / "in.raw"),
        "-vf", f"nnvisr=model={model}", "-c:v", "ffv1", str(out),
    ])
    assert result.returncode > 0
    assert len([line for line in result.stderr.splitlines() if "the model failed to run" in line]) == 1
    assert "Traceback" not in result.stderr
    assert 1 <= count_frames(ffmpeg, out) <= 20


def test_sigint_ends_cleanly_with_a_valid_file(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = onnx_models.colour_mix(tmp_path / "m.onnx", MIX, BIAS, 2)
    out = tmp_path / "out.mkv"
    process = subprocess.Popen(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-y", "-re", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=60",
         "-vf", f"nnvisr=model={model}", "-c:v", "ffv1", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(2.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode in (0, 255), stderr[-2000:]
    assert 20 <= count_frames(ffmpeg, out) < 1500


# ---------------------------------------------------------------- fuzzing: options and nnvisr.json

# What FFmpeg itself logs in the filter's name: libavutil parsing option values (before nnvisr runs), and
# libavfilter when config_props fails (after nnvisr's line).
FFMPEG_OWN_LINES = re.compile(
    r"\[Eval @|Unable to parse option value|Value \S+ for parameter '\w+' out of range"
    r"|Failed to configure output pad on"
)
FUZZ_SOURCE = ["-f", "lavfi", "-i", "testsrc2=s=16x16:r=5:d=0.4"]
OPTION_NAMES = sorted(FIELDS) + ["nonsense"]
ODD_VALUES = ["0", "1", "-1", "2", "3.5", "abc", "1|2", "1|2|3", "", "true", "1e9", "1e400", "nan", "inf", "257",
              "4097", "100000", "/nonexistent", "../x", "onnxruntime", "auto", "host", "model", "%s%n"]
option_values = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.integers(-(10**6), 10**6).map(str),
    st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=10),
)
json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(ODD_VALUES), st.text(max_size=10),
)
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


def assert_one_clean_line(result: subprocess.CompletedProcess, what: str) -> None:
    """No signal, no traceback, at most one error line from the filter."""
    assert result.returncode >= 0, f"{what} died of signal {-result.returncode}"
    assert "Traceback" not in result.stderr, f"{what}: {result.stderr[-3000:]}"
    assert "internal error" not in result.stderr, f"{what}: {result.stderr[-3000:]}"
    lines = [
        line for line in result.stderr.splitlines()
        if re.match(r"\[(Parsed_)?nnvisr(_\d+)? @", line) and not FFMPEG_OWN_LINES.search(line)
    ]
    assert len(lines) <= 1, f"{what}: {result.stderr[-3000:]}"


def _fuzz_run(ffmpeg: pathlib.Path, vf: str) -> subprocess.CompletedProcess:
    return run(ffmpeg, ["-v", "error", *FUZZ_SOURCE, "-vf", vf, "-f", "null", "-"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(OPTION_NAMES), option_values), min_size=1, max_size=3))
def test_fuzzed_option_strings_fail_cleanly(ffmpeg: pathlib.Path, options: list[tuple[str, str]]) -> None:
    vf = "nnvisr=" + ":".join(f"{name}={value}" for name, value in options)
    assert_one_clean_line(_fuzz_run(ffmpeg, vf), vf)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(st.sampled_from([*OPTION_NAMES, *PACKAGE_KEYS]), json_values, max_size=4),
    st.sampled_from(["m.onnx", None, "../m.onnx", "missing.onnx", 3]),
)
def test_fuzzed_nnvisr_json_fails_cleanly(ffmpeg: pathlib.Path, config: dict, onnx_name: object) -> None:
    with tempfile.TemporaryDirectory() as folder:
        package = pathlib.Path(folder)
        onnx_models.colour_mix(package / "m.onnx", MIX, BIAS)
        manifest = {**config, "onnx": onnx_name} if onnx_name is not None else config
        (package / "nnvisr.json").write_text(json.dumps(manifest))
        assert_one_clean_line(_fuzz_run(ffmpeg, f"nnvisr=model={package}"), json.dumps(manifest))
