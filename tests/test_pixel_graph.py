"""pixels=model: pixel conversion merged into the network. The network then takes and gives
8-bit codes; its results must be those of the filter's own conversion (pixels=host), bit for bit,
since the merged nodes do the same float32 arithmetic in the same order."""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
import onnx_models
import onnxruntime as ort
import pytest
from ffmpeg_run import RAW, filter_raw, raw_to_rgb, rgb_to_raw

from nnvisr_core import pixel_graph, pixels

RNG = np.random.default_rng(17)
GBRP = pixels.lookup("gbrp")
NORMS = {
    "plain": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), False),
    "mean_std": ((0.4, 0.5, 0.6), (0.2, 0.3, 0.25), False),
    "raw": ((100.0, 120.0, 90.0), (50.0, 60.0, 55.0), True),
}


def host_path(session: ort.InferenceSession, codes: np.ndarray, norm: pixels.RgbNormalisation) -> np.ndarray:
    """codes [N,3,H,W] through pixels.read_rgb, the float network and pixels.write_rgb."""
    results = []
    for frame in codes:
        x = np.empty(frame.shape, np.float32)
        pixels.read_rgb(GBRP, [frame[1], frame[2], frame[0]], norm, x)
        y = session.run(None, {session.get_inputs()[0].name: x[None]})[0][0]
        planes = [np.empty(y.shape[1:], np.uint8) for _ in range(3)]
        pixels.write_rgb(GBRP, y, norm, planes)
        results.append(np.stack([planes[2], planes[0], planes[1]]))
    return np.stack(results)


@pytest.mark.parametrize("name", sorted(NORMS))
def test_merged_conversion_is_the_host_conversion(tmp_path: pathlib.Path, name: str) -> None:
    mean, std, raw = NORMS[name]
    norm = pixels.RgbNormalisation.create(GBRP, mean, std, raw)
    path = onnx_models.colour_mix(tmp_path / "m.onnx", RNG.random((3, 3)) * 1.2, RNG.random(3) - 0.5, 2)
    wrapped = pixel_graph.wrap_rgb(onnx.load(str(path)), ["frames"], ["enhanced"], norm)
    onnx.checker.check_model(wrapped, full_check=True)
    assert [i.name for i in wrapped.graph.input] == ["frames"]
    assert [o.name for o in wrapped.graph.output] == ["enhanced"]
    codes = RNG.integers(0, 256, (3, 3, 14, 22), dtype=np.uint8)
    session = ort.InferenceSession(wrapped.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"frames": codes})[0]
    assert got.dtype == np.uint8
    want = host_path(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), codes, norm)
    assert np.array_equal(got, want)
    assert {0, 255} <= set(np.unique(got))  # the mix overshoots: clamping was exercised


def test_temporal_tensors_broadcast_per_channel(tmp_path: pathlib.Path) -> None:
    """[N,T,3,H,W] in, [N,K,3,H,W] out: the per-channel constants must land on the channel axis."""
    norm = pixels.RgbNormalisation.create(GBRP, (0.1, 0.5, 0.9), (0.5, 0.25, 0.75), False)
    path = onnx_models.temporal_mix(tmp_path / "t.onnx", onnx_models.index_weights(2, 3))
    wrapped = pixel_graph.wrap_rgb(onnx.load(str(path)), ["x"], ["y"], norm)
    codes = RNG.integers(0, 256, (2, 3, 3, 6, 5), dtype=np.uint8)
    session = ort.InferenceSession(wrapped.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": codes})[0]
    x = (codes * norm.gain + norm.offset).astype(np.float32)
    y = np.einsum("ntchw,kt->nkchw", x, onnx_models.index_weights(2, 3))
    want = np.clip(np.rint((y - norm.offset) / norm.gain), 0, 255)
    assert np.abs(got.astype(int) - want).max() <= 1


def run_both(ffmpeg, tmp_path, frames, vf, fmt="gbrp", size=None, out_size=None):
    raw = RAW[fmt]
    height, width = frames.shape[-2:]
    results = {}
    for choice in ("host", "model"):
        data, log = filter_raw(ffmpeg, tmp_path, raw, rgb_to_raw(raw, frames), (width, height),
                               f"{vf}:pixels={choice}", input_args=("-v", "verbose"))
        assert ("converted by the network" in log) == (choice == "model"), log[-2000:]
        results[choice] = raw_to_rgb(raw, data, *(out_size or (width, height)))
    return results["host"], results["model"]


@pytest.mark.parametrize("fmt", ["gbrp", "rgb24"])
def test_ffmpeg_single_stage(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, fmt: str) -> None:
    """rgb24 input is handed over as gbrp (a lossless rearrangement by FFmpeg) and back."""
    model = onnx_models.colour_mix(tmp_path / "m.onnx", RNG.random((3, 3)), RNG.random(3) - 0.3, 2)
    frames = RNG.integers(0, 256, (4, 3, 10, 14))
    host, model_path = run_both(ffmpeg, tmp_path, frames, f"nnvisr=model={model}:norm_mean=0.2|0.3|0.4",
                                fmt, out_size=(28, 20))
    assert len(host) == 4 and np.array_equal(host, model_path)


def test_ffmpeg_padded_and_batched(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """A size the network cannot take is padded (codes replicated at the edges) and cropped back."""
    model = onnx_models.needs_multiple_of_4(tmp_path / "m4.onnx")
    frames = RNG.integers(0, 256, (5, 3, 9, 11))
    host, model_path = run_both(ffmpeg, tmp_path, frames, f"nnvisr=model={model}:alignment=4:batch_size_fusion=2")
    assert np.array_equal(host, frames) and np.array_equal(model_path, frames)


@pytest.mark.parametrize("model", ["default", "interpolate"])
def test_ffmpeg_bundled_two_stage(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, model: str) -> None:
    """Extraction takes codes, fusion gives codes, the store and pass-through frames in between."""
    frames = RNG.integers(0, 256, (7, 3, 18, 26))
    scale = 2 if model == "default" else 1
    host, model_path = run_both(ffmpeg, tmp_path, frames, f"nnvisr=model={model}:batch_size_fusion=2",
                                out_size=(26 * scale, 18 * scale))
    assert len(host) == (7 if model == "default" else 14)
    assert np.array_equal(host, model_path)
    if model == "interpolate":
        assert np.array_equal(model_path[0::2], frames)


def test_deeper_formats_stay_on_the_host(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """pixels=model takes 8-bit codes only: 10-bit frames are not cut down to 8 bits for it."""
    model = onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3))
    raw = RAW["gbrp10le"]
    frames = RNG.integers(0, 1024, (2, 3, 6, 8))
    data, log = filter_raw(ffmpeg, tmp_path, raw, rgb_to_raw(raw, frames), (8, 6), f"nnvisr=model={model}:pixels=model",
                           input_args=("-v", "verbose"))
    assert "converted by the network" not in log
    assert np.array_equal(raw_to_rgb(raw, data, 8, 6), frames)
