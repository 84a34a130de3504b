"""Backend-owned memory: views by address, runs bound to them, copies within them, and the
two-stage feature store living there. On the CPU these are ONNX Runtime CPU allocations, so
this is the code the GPU path runs, with only the device type changed (see test_gpu.py)."""

from __future__ import annotations

import pathlib

import numpy as np
import onnx_models
import onnxruntime as ort
import pytest
import two_stage_models as tsm

from nnvisr_core.backends.device_memory import DeviceArray
from nnvisr_core.backends.onnxruntime_backend import OnnxRuntimeBackend
from nnvisr_core.errors import NnvisrError


@pytest.fixture(autouse=True)
def in_line_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about batches run in line (the CPU default), whatever NNVISR_OVERLAP says."""
    monkeypatch.setenv("NNVISR_OVERLAP", "0")

RNG = np.random.default_rng(11)


def test_views_are_address_arithmetic() -> None:
    array = DeviceArray(1000, (5, 3, 4), np.dtype(np.float32), "cuda", 0, None)
    assert array.row_bytes == 48 and array.nbytes == 240
    assert array[2].address == 1096 and array[2].shape == (3, 4)
    assert array[-1].address == 1192
    rows = array[1:4]
    assert rows.address == 1048 and rows.shape == (3, 3, 4) and len(rows) == 3
    assert rows[1].address == array[2].address
    assert array[4:2].shape == (0, 3, 4)
    with pytest.raises(ValueError, match="contiguous"):
        array[::2]
    with pytest.raises(IndexError):
        array[5]
    with pytest.raises(ValueError, match="cannot be viewed"):
        array.host_view()


def test_runs_bound_to_device_views(tmp_path: pathlib.Path) -> None:
    """Rows 1..2 of an input allocation into rows 2..3 of an output allocation, nothing else touched."""
    matrix, bias = RNG.random((3, 3)), RNG.random(3)
    path = onnx_models.colour_mix(tmp_path / "m.onnx", matrix, bias, 2)
    backend = OnnxRuntimeBackend(path, threads=1)
    frames = backend.device_empty((4, 3, 6, 5), np.float32)
    values = RNG.random((4, 3, 6, 5), np.float32)
    frames.host_view()[:] = values
    out = backend.device_empty((4, 3, 12, 10), np.float32)
    out.host_view()[:] = -7
    backend.bind({"frames": frames[1:3]}, {"enhanced": out[2:4]})()
    got = out.host_view()
    want = [onnx_models.colour_mix_reference(v.astype(np.float64), matrix, bias, 2) for v in values[1:3]]
    np.testing.assert_allclose(got[2:4], np.stack(want), atol=1e-5)
    assert (got[:2] == -7).all()


def test_copy_within_device_memory(tmp_path: pathlib.Path) -> None:
    backend = OnnxRuntimeBackend(onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3)))
    store = backend.device_empty((3, 2, 7, 9), np.float32)
    values = RNG.random((3, 2, 7, 9), np.float32)
    store.host_view()[:] = values
    backend.copy(store[0], store[2])
    got = store.host_view()
    assert np.array_equal(got[0], values[2]) and np.array_equal(got[1:], values[1:])
    fresh = RNG.random((2, 7, 9), np.float32)
    backend.upload(store[1], fresh)
    assert np.array_equal(backend.download(store[1]), fresh) and np.array_equal(got[1], fresh)
    assert np.array_equal(backend.download(store)[2], values[2])
    with pytest.raises(ValueError, match="copy between"):
        backend.copy(store[0], store[1:3])


def test_a_buffer_on_another_device_is_refused(tmp_path: pathlib.Path) -> None:
    backend = OnnxRuntimeBackend(onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3)))
    elsewhere = DeviceArray(4096, (1, 3, 4, 4), np.dtype(np.float32), "cuda", 0, None)
    with pytest.raises(NnvisrError, match="bound to a model on"):
        backend.bind({"frames": elsewhere}, {"enhanced": np.empty((1, 3, 4, 4), np.float32)})


def test_two_stage_store_lives_in_backend_memory(tmp_path: pathlib.Path) -> None:
    """The Fig. 1 store is the backends' own memory and fusion reads it in place: the outputs of a
    chained batch match the two networks run on host copies by ONNX Runtime."""
    spec = tsm.Spec(n=2, scale=1.0, levels=2, features=4, extra_frame=True, interpolation=False)
    processor = tsm.store_processor(tmp_path, spec, batch=2)
    frames = RNG.integers(0, 256, size=(5, 3, 12, 16), dtype=np.uint8)
    outputs = []
    for seq, frame in enumerate(frames):
        ready = processor.push([frame[1], frame[2], frame[0]], seq, seq, 1, None, 0)  # G B R planes
        for _ in range(ready):
            planes = [np.zeros((12, 16), np.uint8) for _ in range(3)]
            processor.pull(planes)
            outputs.append(np.stack([planes[2], planes[0], planes[1]]))
    assert len(outputs) == 4  # two windows of two output frames; the third window waits for frames
    runner = processor.runner
    assert all(isinstance(level, DeviceArray) and level.device == "cpu" for level in runner.store)
    assert runner.slot_seq[:5] == [0, 2, 4, 1, 3]  # frames 0..4 in the layout's slots, each extracted once
    folder = tmp_path / "models" / "net" / "rgb_1_1"
    (fe,), (ff,) = folder.glob("fe_*.onnx"), folder.glob("ff_*.onnx")
    extract, fusion = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (fe, ff))
    levels = extract.run(None, {"rgb": frames.astype(np.float32) / 255})
    for window, first in enumerate((0, 2)):
        feeds = {f"f{j}l{i}": level[first + j : first + j + 1] for j in range(3) for i, level in enumerate(levels)}
        names = [o.name for o in fusion.get_outputs()]
        expected = fusion.run(names, feeds)
        for k, name in enumerate(sorted(names)):
            want = np.clip(np.rint(expected[names.index(name)][0] * 255), 0, 255)
            assert np.abs(outputs[window * 2 + k].astype(int) - want).max() <= 1
