"""Hostile and unusual input at the filter's edge: frames that differ from the link, option values holding line
separators, command-line values equal to the defaults, a bridge that fails to load, frames lost when ffmpeg frees
the graph mid-stream. Each runs through ffmpeg."""

from __future__ import annotations

import json
import pathlib
import re
import signal

import numpy as np
import onnx_models
import pytest
from ffmpeg_run import count_frames, run
from size_change import SIZE_CHANGES, size_change_without_new_graph

MIX = np.array([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.9]])
BIAS = np.zeros(3)


@pytest.mark.parametrize("form", SIZE_CHANGES)
def test_frame_size_change_on_the_same_graph_is_refused(ffmpeg: pathlib.Path, tmp_path: pathlib.Path,
                                                        form: str) -> None:
    """The frames accepted before the change come out (three of them held in a batch), then one error line
    naming both sizes and the remedy, a non-zero exit and a valid file; nothing reads past a plane."""
    model = onnx_models.colour_mix(tmp_path / "m.onnx", MIX, BIAS, 2)
    args = size_change_without_new_graph(ffmpeg, tmp_path, form)
    args[-1] += f"nnvisr=model={model}:batch_size_fusion=3"
    out = tmp_path / "out.mkv"
    result = run(ffmpeg, [*args, "-c:v", "ffv1", str(out)])
    assert result.returncode > 0, result.stderr[-3000:]
    assert result.returncode != 128 + signal.SIGSEGV
    errors = [line for line in result.stderr.splitlines() if "the filter was configured for" in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert re.search(r"16x16 \w+ differs from the 64x48 \w+", errors[0]), errors[0]
    assert "-reinit_filter 0" in errors[0] and "scale=64:48" in errors[0]
    assert "Traceback" not in result.stderr and "frames lost" not in result.stderr
    assert count_frames(ffmpeg, out) == 4


SEPARATORS = ["\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def test_line_separators_stay_inside_a_value(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """scene_key=x<separator>batch_size_fusion=1000 is one value: no instance runs batches of 1000 (the core once
    split the options with str.splitlines())."""
    model = onnx_models.colour_mix(tmp_path / "m.onnx", MIX, BIAS)
    chain = ",".join(f"nnvisr=model={model}:scene_key=x{sep}batch_size_fusion=1000" for sep in SEPARATORS)
    result = run(ffmpeg, ["-v", "verbose", "-f", "lavfi", "-i", "testsrc2=s=16x12:r=10:d=0.3", "-vf", chain,
                          "-f", "null", "-"])
    assert result.returncode == 0, result.stderr[-3000:]
    # (ffmpeg may create the graph more than once)
    batches = re.findall(r"window 1 frames -> 1, batch (\d+)", result.stderr)
    assert batches and set(batches) == {"1"} and len(batches) % len(SEPARATORS) == 0, result.stderr[-3000:]
    # the whole value reached the core (av_log shows some separators as '?', text mode \r as \n)
    keys = re.findall(r"scene_key=x(.+?)batch_size_fusion=1000 \(command line\)", result.stderr, re.DOTALL)
    assert keys and len(keys) % len(SEPARATORS) == 0 and all(len(k) == 1 for k in keys), keys


# Options whose default a command line could not set over nnvisr.json: the package's value, the default.
DEFAULTS_OVER_PACKAGE = {
    "threads": (1, "0"),
    "backend": ("tensorrt", "auto"),
    "device": (3, "0"),
    "pixels": ("model", "auto"),
    "scene_threshold": (50, "0"),
}


def test_command_line_default_values_win_over_the_package(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    package = tmp_path / "pkg"
    onnx_models.colour_mix(package / "net.onnx", MIX, BIAS)
    config = {"onnx": "net.onnx", **{name: value for name, (value, _) in DEFAULTS_OVER_PACKAGE.items()}}
    (package / "nnvisr.json").write_text(json.dumps(config))
    source = ["-v", "verbose", "-f", "lavfi", "-i", "testsrc2=s=16x12:r=10:d=0.3"]

    # The package alone (its backend swapped for one that runs here): its pixels=model shows.
    control = run(ffmpeg, [*source, "-vf", f"nnvisr=model={package}:backend=onnxruntime", "-f", "null", "-"])
    assert control.returncode == 0, control.stderr[-3000:]
    assert "pixels: converted by the network" in control.stderr
    assert "threads=1 (nnvisr.json)" in control.stderr

    settings = ":".join(f"{name}={value}" for name, (_, value) in DEFAULTS_OVER_PACKAGE.items())
    result = run(ffmpeg, [*source, "-vf", f"nnvisr=model={package}:{settings}", "-f", "null", "-"])
    # backend=tensorrt from the package would fail here (no TensorRT), pixels=model would show
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pixels: converted by the network" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "options: " in line]
    assert lines, result.stderr[-3000:]
    for line in lines:
        for name, (_, value) in DEFAULTS_OVER_PACKAGE.items():
            assert re.search(rf"\b{name}={value}(\.0)? \(command line\)", line), line


def test_bridge_that_fails_to_load_says_why(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    not_a_library = tmp_path / "libfake.so"
    not_a_library.write_text("not an ELF file\n" * 256)
    for bridge, reason in ((tmp_path / "missing.so", "No such file or directory"), (not_a_library, "ELF")):
        result = run(ffmpeg, ["-f", "lavfi", "-i", "testsrc2=s=16x12:d=0.2", "-vf", f"nnvisr=bridge={bridge}",
                              "-f", "null", "-"])
        assert result.returncode > 0
        lines = [line for line in result.stderr.splitlines() if "Cannot load the nnvisr bridge" in line]
        assert len(lines) == 1, result.stderr[-2000:]
        assert str(bridge) in lines[0] and reason in lines[0] and "(null)" not in lines[0], lines[0]


def test_frames_lost_at_a_graph_re_creation_are_counted(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """ffmpeg frees the graph on a size change without flushing it: the batch not yet run is lost, and the
    filter says how many frames with one warning."""
    model = onnx_models.colour_mix(tmp_path / "m.onnx", MIX, BIAS)
    first, second = tmp_path / "a.nut", tmp_path / "b.nut"
    for path, size in ((first, "32x24"), (second, "40x30")):
        made = run(ffmpeg, ["-f", "lavfi", "-i", f"testsrc2=s={size}:r=10:d=0.7", "-c:v", "png", str(path)])
        assert made.returncode == 0, made.stderr
    (tmp_path / "list.txt").write_text(f"file '{first}'\nfile '{second}'\n")
    result = run(ffmpeg, [
        "-f", "concat", "-safe", "0", "-i", str(tmp_path / "list.txt"),
        "-vf", f"nnvisr=model={model}:batch_size_fusion=4,showinfo", "-f", "null", "-",
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    shown = len([line for line in result.stderr.splitlines() if "Parsed_showinfo" in line and " s:" in line])
    warnings = [line for line in result.stderr.splitlines() if "frames lost" in line]
    assert shown == 4 + 7  # the first graph ran one batch of 4 of its 7 frames; the second was flushed at EOF
    assert len(warnings) == 1, result.stderr[-3000:]
    assert "3 input frames lost" in warnings[0] and "frame size change" in warnings[0], warnings[0]


@pytest.mark.parametrize("output_args", [[], ["-t", "0.5"], ["-frames:v", "3"]], ids=["eof", "t", "frames"])
def test_no_loss_warning_when_the_output_asks_no_more(ffmpeg: pathlib.Path, tmp_path: pathlib.Path,
                                                      output_args: list[str]) -> None:
    model = onnx_models.colour_mix(tmp_path / "m.onnx", MIX, BIAS)
    result = run(ffmpeg, ["-f", "lavfi", "-i", "testsrc2=s=16x12:r=10:d=2", "-vf",
                          f"nnvisr=model={model}:batch_size_fusion=4", *output_args, "-f", "null", "-"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "frames lost" not in result.stderr and "frame lost" not in result.stderr
