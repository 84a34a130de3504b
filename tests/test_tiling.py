"""tile= / tile_overlap= / max_memory=: tiled output equals untiled when the receptive field fits.

The networks here are chains of 3x3 convolutions (zero padding), so their receptive field is
known: a core pixel is computed from the same inputs tiled and untiled exactly when the overlap
covers it. With an overlap smaller than the receptive field the region's zero border reaches the
core, and the outputs differ: the comparison can fail.
"""

from __future__ import annotations

import pathlib
import resource
import subprocess

import numpy as np
import onnx
import peak_rss
import pytest
from ffmpeg_run import RAW, filter_raw, raw_to_rgb, rgb_to_raw
from onnx import TensorProto, helper, numpy_helper

OPSET = 19
WIDTH, HEIGHT = 96, 64
RGB = RAW["rgb24"]


def _save(nodes: list, inputs: list, outputs: list, weights: list, path: pathlib.Path) -> pathlib.Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnvisr-tests")
    model.ir_version = 9
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def _value(name: str, channels: int, h: str = "H", w: str = "W") -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", channels, h, w])


def _conv(nodes: list, weights: list, rng: np.random.Generator, source: str, target: str, cin: int, cout: int) -> None:
    """A 3x3 convolution with zero padding that roughly keeps the mean (outputs stay in range)."""
    kernel = (1.0 / (9 * cin) + rng.normal(0, 0.3 / (9 * cin), (cout, cin, 3, 3))).astype(np.float32)
    weights.append(numpy_helper.from_array(kernel, f"{target}_w"))
    nodes.append(helper.make_node("Conv", [source, f"{target}_w"], [target], pads=[1, 1, 1, 1]))


def _upscale(nodes: list, weights: list, source: str, target: str) -> None:
    if not any(w.name == "x2" for w in weights):
        weights.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "x2"))
    nodes.append(helper.make_node("Resize", [source, "", "x2"], [target], mode="nearest"))


def conv_chain(path: pathlib.Path, layers: int, seed: int = 0) -> pathlib.Path:
    """Single stage, x2: `layers` 3x3 convolutions (receptive field: `layers` pixels each side), nearest x2."""
    rng = np.random.default_rng(seed)
    nodes: list = []
    weights: list = []
    source = "x"
    for i in range(layers):
        _conv(nodes, weights, rng, source, f"c{i}", 3, 3)
        source = f"c{i}"
    _upscale(nodes, weights, source, "y")
    return _save(nodes, [_value("x", 3)], [_value("y", 3, "H2", "W2")], weights, path)


def conv_two_stage(root: pathlib.Path, name: str, features: int = 4, seed: int = 0) -> pathlib.Path:
    """A two-stage x2 model, input_count=2, two pyramid levels, in upstream's layout.

    extract: l0 = conv(rgb), l1 = avgpool2(conv(l0)); fusion: h{k+1} = x2(conv(sum_j w[k,j] *
    (conv(f{j}l0) + x2(conv(f{j}l1))))). Receptive field: under 10 input pixels each side."""
    rng = np.random.default_rng(seed)
    folder = root / "models" / name / "rgb_1_1"
    nodes: list = []
    weights: list = []
    _conv(nodes, weights, rng, "rgb", "l0", 3, features)
    _conv(nodes, weights, rng, "l0", "pre1", features, features)
    nodes.append(helper.make_node("AveragePool", ["pre1"], ["l1"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1))
    _save(
        nodes, [_value("rgb", 3)], [_value("l0", features), _value("l1", features, "H1", "W1")], weights,
        folder / "fe_n2_2x2_l2.onnx",
    )
    nodes, weights = [], []
    for j in range(2):
        _conv(nodes, weights, rng, f"f{j}l0", f"a{j}", features, features)
        _conv(nodes, weights, rng, f"f{j}l1", f"b{j}", features, features)
        _upscale(nodes, weights, f"b{j}", f"bu{j}")
        nodes.append(helper.make_node("Add", [f"a{j}", f"bu{j}"], [f"m{j}"]))
    for k in range(2):
        mix = [0.7, 0.3] if k == 0 else [0.4, 0.6]
        for j in range(2):
            weights.append(numpy_helper.from_array(np.array(mix[j], np.float32), f"w{k}{j}"))
            nodes.append(helper.make_node("Mul", [f"m{j}", f"w{k}{j}"], [f"s{k}{j}"]))
        nodes.append(helper.make_node("Add", [f"s{k}0", f"s{k}1"], [f"s{k}"]))
        _conv(nodes, weights, rng, f"s{k}", f"o{k}", features, 3)
        _upscale(nodes, weights, f"o{k}", f"h{k + 1}")
    inputs = [_value(f"f{j}l{i}", features, f"H{i}", f"W{i}") for j in range(2) for i in range(2)]
    outputs = [_value(f"h{k + 1}", 3, "H2", "W2") for k in range(2)]
    _save(nodes, inputs, outputs, weights, folder / "ff_n2_2x2_l2.onnx")
    return root


def _frames(count: int, seed: int = 1) -> np.ndarray:
    """Smooth random frames: noise would make every border effect look alike."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (count, 3, HEIGHT // 8, WIDTH // 8))
    smooth = np.repeat(np.repeat(coarse, 8, axis=2), 8, axis=3)
    return np.clip(smooth + rng.integers(-20, 21, smooth.shape), 0, 255)


def _run(ffmpeg: pathlib.Path, tmp: pathlib.Path, frames: np.ndarray, vf: str) -> tuple[np.ndarray, str]:
    tmp.mkdir(exist_ok=True)
    data, log = filter_raw(ffmpeg, tmp, RGB, rgb_to_raw(RGB, frames), (WIDTH, HEIGHT), vf + ":threads=1")
    return raw_to_rgb(RGB, data, 2 * WIDTH, 2 * HEIGHT), log


def _max_diff(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape
    return int(np.abs(a - b).max())


@pytest.mark.parametrize("tile", ["32x32", "48x16", "40x24"])
def test_single_stage_tiles_equal_untiled(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, tile: str) -> None:
    model = conv_chain(tmp_path / "net.onnx", layers=4)
    frames = _frames(3)
    whole, _ = _run(ffmpeg, tmp_path / "whole", frames, f"nnvisr=model={model}")
    tiled, log = _run(ffmpeg, tmp_path / "tiled", frames, f"nnvisr=model={model}:tile={tile}:tile_overlap=4")
    assert len(whole) == len(tiled) == 3
    assert _max_diff(whole, tiled) <= 1


def test_overlap_below_the_receptive_field_differs(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = conv_chain(tmp_path / "net.onnx", layers=4)
    frames = _frames(3)
    whole, _ = _run(ffmpeg, tmp_path / "whole", frames, f"nnvisr=model={model}")
    tiled, _ = _run(ffmpeg, tmp_path / "tiled", frames, f"nnvisr=model={model}:tile=32x32:tile_overlap=2")
    assert _max_diff(whole, tiled) > 8


@pytest.mark.parametrize("batch", [1, 2])
def test_two_stage_tiles_equal_untiled(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, batch: int) -> None:
    root = conv_two_stage(tmp_path / "root", "net")
    base = (
        f"nnvisr=model_path={root}:model=net:input_count=2:scale_factor=2:feature_count=4:extraction_layers=2"
        f":batch_size_fusion={batch}"
    )
    frames = _frames(7)  # a short last window too
    whole, _ = _run(ffmpeg, tmp_path / "whole", frames, base)
    tiled, log = _run(ffmpeg, tmp_path / "tiled", frames, base + ":tile=32x32:tile_overlap=10")
    assert len(whole) == len(tiled) == 7
    assert _max_diff(whole, tiled) <= 1
    short, _ = _run(ffmpeg, tmp_path / "short", frames, base + ":tile=32x32:tile_overlap=2")
    assert _max_diff(whole, short) > 8


def _failure(ffmpeg: pathlib.Path, tmp: pathlib.Path, vf: str) -> str:
    source = tmp / "in.raw"
    source.write_bytes(rgb_to_raw(RGB, _frames(2)))
    result = subprocess.run(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
         f"{WIDTH}x{HEIGHT}", "-i", str(source), "-vf", vf, "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    # nnvisr's own lines (lavfi adds "Failed to configure output pad on Parsed_nnvisr_0")
    lines = [line for line in result.stderr.splitlines() if "nnvisr" in line and "output pad" not in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_tile_off_the_pyramid_grid_is_one_line(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Level 1 of a two-level pyramid is half the size: a tile of odd width cannot start on its grid."""
    root = conv_two_stage(tmp_path / "root", "net")
    vf = f"nnvisr=model_path={root}:model=net:input_count=2:scale_factor=2:feature_count=4:extraction_layers=2"
    line = _failure(ffmpeg, tmp_path, vf + ":tile=33x32")
    assert "tile width 33 must be a multiple of 2" in line


def test_bad_tile_and_too_small_budget(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = conv_chain(tmp_path / "net.onnx", layers=1)
    assert "expected WxH" in _failure(ffmpeg, tmp_path, f"nnvisr=model={model}:tile=big")
    line = _failure(ffmpeg, tmp_path, f"nnvisr=model={model}:max_memory=1")
    assert "max_memory=1 MiB is too small for 96x64 frames" in line


# ---------------------------------------------------------------- the bundled model's memory


def _run_measured(ffmpeg: pathlib.Path, vf: str, size: str) -> tuple[float, int, str]:
    """Peak RSS (MiB) of ffmpeg running three frames of testsrc2 through vf: ffmpeg's own, not the test
    runner's (tools/peak_rss.py says why that needs care)."""
    peak, status, _, stderr = peak_rss.run(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-v", "verbose", "-f", "lavfi", "-i",
         f"testsrc2=s={size}:r=10:d=0.3", "-vf", vf, "-f", "null", "-"], timeout=600,
    )  # fmt: skip
    return peak, status, stderr.decode(errors="replace")


@pytest.mark.default_build  # the memory is the Python side's, the same on every series
def test_tiles_bound_the_default_models_memory(ffmpeg: pathlib.Path) -> None:
    """At 1280x720 the default model's untiled peak is several times the tiled one (tiles of 160x96), and
    max_memory=1000 keeps the peak under its budget (10 % slack) where the untiled run needs far more."""
    whole, status, log = _run_measured(ffmpeg, "nnvisr", "1280x720")
    assert status == 0, log[-2000:]
    tiled, status, log = _run_measured(ffmpeg, "nnvisr=tile=160x96", "1280x720")
    assert status == 0, log[-2000:]
    assert "tiles: 8x8 of 160x96" in log
    assert tiled < 0.5 * whole, (tiled, whole, _nnvisr_lines(log))
    budget, status, log = _run_measured(ffmpeg, "nnvisr=max_memory=1000", "1280x720")
    assert status == 0, log[-2000:]
    assert "max_memory=1000: tile" in log
    assert whole > 1500 and budget < 1000 * 1.1, (budget, whole, _nnvisr_lines(log))


def _nnvisr_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "nnvisr" in line]


def x16(path: pathlib.Path) -> pathlib.Path:
    """Nearest x16: at 1080p its one output is 6 GiB of float32."""
    weights = [numpy_helper.from_array(np.array([1, 1, 16, 16], np.float32), "x16")]
    nodes = [helper.make_node("Resize", ["x", "", "x16"], ["y"], mode="nearest")]
    return _save(nodes, [_value("x", 3)], [_value("y", 3, "H2", "W2")], weights, path)


@pytest.mark.default_build  # the allocations that fail are the Python side's
@pytest.mark.parametrize("case", ["batch", "x16"])
def test_out_of_memory_is_one_line(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, case: str) -> None:
    """Under a 6 GiB address-space cap: batch_size_fusion=256 of the default model at 1080p (numpy cannot
    allocate the batch), an x16 model at 1080p (ONNX Runtime cannot allocate the output)."""
    limit = 6 << 30
    vf = "nnvisr=batch_size_fusion=256" if case == "batch" else f"nnvisr=model={x16(tmp_path / 'x16.onnx')}"

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
         "testsrc2=s=1920x1080:r=10:d=0.1", "-vf", vf, "-f", "null", "-"],
        capture_output=True, text=True, timeout=300, preexec_fn=cap,
    )
    assert result.returncode != 0 and result.returncode > 0, result.returncode
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "out of memory" in line]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "1920x1080" in lines[0] and "tile=" in lines[0] and "batch_size_fusion" in lines[0]
