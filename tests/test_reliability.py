"""Reliability: several instances, graph shapes, size changes, interrupts and failures mid-stream."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import time

import numpy as np
import onnx_models
from ffmpeg_run import RAW, filter_raw, raw_to_rgb, rgb_to_raw, run

MIX = np.array([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.9]])
BIAS = np.zeros(3)


def count_frames(ffmpeg: pathlib.Path, path: pathlib.Path) -> int:
    result = subprocess.run(
        [str(ffmpeg.parent / "ffprobe"), "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


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


def test_random_option_strings_never_crash(ffmpeg: pathlib.Path) -> None:
    rng = np.random.default_rng(7)
    names = ["scale_factor", "input_count", "batch_size_fusion", "norm_mean", "interpolation", "extra_frame",
             "double_frame", "threads", "alignment", "scene_threshold", "model", "backend", "feature_count"]
    values = ["0", "1", "2", "-1", "3.5", "abc", "1|2", "", "true", "1e9", "/nonexistent", "onnxruntime", "%s%n"]
    for _ in range(25):
        options = ":".join(f"{rng.choice(names)}={rng.choice(values)}" for _ in range(rng.integers(1, 4)))
        source = ["-f", "lavfi", "-i", "testsrc2=s=16x16:d=0.2"]
        result = run(ffmpeg, [*source, "-vf", f"nnvisr={options}", "-f", "null", "-"])
        assert result.returncode >= 0, f"nnvisr={options} crashed with signal {-result.returncode}"
        assert "internal error" not in result.stderr, f"nnvisr={options}: {result.stderr[-2000:]}"
