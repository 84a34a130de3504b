"""The per-frame path of the processor: its shortcuts give the results of the plain path, bit for bit."""

from __future__ import annotations

import pathlib
from fractions import Fraction

import numpy as np
import pytest
from onnx_models import colour_mix, index_weights, temporal_mix

from nnvisr_core import pixels, yuv_norm
from nnvisr_core.options import parse_settings
from nnvisr_core.processor import LinkConfig, Processor


@pytest.fixture(autouse=True)
def in_line_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about batches run in line (the CPU default), whatever NNVISR_OVERLAP says."""
    monkeypatch.setenv("NNVISR_OVERLAP", "0")

MATRIX = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.1, 0.6]])
BIAS = np.array([0.05, -0.02, 0.01])


def _run(model: pathlib.Path, options: str, pix_fmt: str, frames: list[list[np.ndarray]], direct: bool):
    processor = Processor(parse_settings([f"model={model}", "backend=onnxruntime", *options.split()]), lambda *a: None)
    width, height = frames[0][0].shape[1] // (3 if pix_fmt == "rgb24" else 1), frames[0][0].shape[0]
    processor.configure(LinkConfig(width, height, pix_fmt, Fraction(1, 25), Fraction(25)))
    if not direct:
        processor.direct = False  # every frame through a tensor of its own, copied into the batch
    out_shapes = processor.plane_shapes(output=True)
    outputs = []
    for seq, planes in enumerate(frames):
        ready = processor.push(planes, seq, seq, 1, None, 1)
        for _ in range(ready):
            outputs.append([np.zeros(shape, planes[0].dtype) for shape in out_shapes])
            processor.pull(outputs[-1])
    ready, _ = processor.flush(len(frames))
    for _ in range(ready):
        outputs.append([np.zeros(shape, frames[0][0].dtype) for shape in out_shapes])
        processor.pull(outputs[-1])
    return processor, outputs


@pytest.mark.parametrize("pix_fmt", ["rgb24", "gbrp10"])
@pytest.mark.parametrize("options", ["batch_size_fusion=1", "batch_size_fusion=3", "batch_size_fusion=4\nalignment=4"])
def test_frames_read_into_the_batch_match_the_copied_path(tmp_path: pathlib.Path, pix_fmt: str, options: str) -> None:
    """Single-frame windows are read straight into the batch input; results equal the per-frame store's."""
    model = colour_mix(tmp_path / "mix.onnx", MATRIX, BIAS, scale=2)
    fmt = pixels.lookup(pix_fmt)
    rng = np.random.default_rng(5)
    width, height = 13, 7
    shapes = [(height, width * 3)] if fmt.packed else [(height, width)] * 3
    frames = [[rng.integers(0, fmt.max_code + 1, shape).astype(fmt.dtype) for shape in shapes] for _ in range(10)]
    fast, fast_out = _run(model, options, pix_fmt, frames, direct=True)
    assert fast.direct and fast.borrowed == set() and not fast.store
    _, plain_out = _run(model, options, pix_fmt, frames, direct=False)
    assert len(fast_out) == len(plain_out) == len(frames)
    for a, b in zip(fast_out, plain_out):
        for plane_a, plane_b in zip(a, b):
            assert plane_a.tobytes() == plane_b.tobytes()


def test_one_frame_windows_of_a_temporal_model_are_read_in_place(tmp_path: pathlib.Path) -> None:
    """[N,1,3,H,W] models take single-frame windows too: read into [i, 0] of the batch."""
    model = temporal_mix(tmp_path / "t.onnx", index_weights(1, 1), scale=2)
    rng = np.random.default_rng(6)
    frames = [[rng.integers(0, 256, (6, 24)).astype(np.uint8)] for _ in range(7)]
    fast, fast_out = _run(model, "input_count=1 batch_size_fusion=3", "rgb24", frames, direct=True)
    assert fast.direct
    _, plain_out = _run(model, "input_count=1 batch_size_fusion=3", "rgb24", frames, direct=False)
    assert [p.tobytes() for f in fast_out for p in f] == [p.tobytes() for f in plain_out for p in f]


def test_interpolation_keeps_the_per_frame_store(tmp_path: pathlib.Path) -> None:
    """Windows of two frames, inputs passed through: frames need tensors of their own."""
    model = temporal_mix(tmp_path / "t.onnx", index_weights(1, 2))
    settings = [f"model={model}", "backend=onnxruntime", "interpolation=1", "input_count=2", "extra_frame=1"]
    processor = Processor(parse_settings(settings), lambda *a: None)
    processor.configure(LinkConfig(8, 6, "rgb24", Fraction(1, 25), Fraction(25)))
    assert not processor.direct


@pytest.mark.parametrize("name", ["rgb24", "gbrp", "gbrp16", "gbrpf32", "yuv420p", "yuv420p10"])
def test_writes_with_scratch_equal_writes_without(name: str) -> None:
    fmt = pixels.lookup(name)
    rng = np.random.default_rng(9)
    height, width = 5, 11
    if fmt.family == pixels.RGB:
        norm = pixels.RgbNormalisation.create(fmt, (0.4, 0.5, 0.6), (0.2, 0.3, 0.25), raw=False)
        tensor = rng.normal(0.5, 1.0, (3, height, width)).astype(np.float32)
        shapes = [(height, width * 3)] if fmt.packed else [(height, width)] * 3
        with_scratch = [np.zeros(s, fmt.dtype) for s in shapes]
        without = [np.zeros(s, fmt.dtype) for s in shapes]
        pixels.write_rgb(fmt, tensor, norm, with_scratch, np.full((3, height, width), np.nan, np.float32))
        pixels.write_rgb(fmt, tensor, norm, without)
    else:
        y = rng.normal(0.5, 0.6, (1, height, width)).astype(np.float32)
        uv = rng.normal(0.5, 0.6, (2, 3, 6)).astype(np.float32)
        shapes = [(height, width), (3, 6), (3, 6)]
        with_scratch = [np.zeros(s, fmt.dtype) for s in shapes]
        without = [np.zeros(s, fmt.dtype) for s in shapes]
        scratch = [np.empty((height, width), np.float32), np.empty((3, 6), np.float32)]
        norm = yuv_norm.levels(fmt, False)
        pixels.write_yuv(fmt, y, uv, norm, with_scratch, scratch)
        pixels.write_yuv(fmt, y, uv, norm, without)
    for a, b in zip(with_scratch, without):
        assert a.tobytes() == b.tobytes()
