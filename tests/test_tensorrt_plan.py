"""The TensorRT backend's decisions that need no TensorRT: engine cache entries and profiles.

The backend itself needs an NVIDIA GPU with tensorrt and cuda-python; see the gpu-marked tests.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pathlib

import numpy as np
import pytest

from nnvisr_core.backends import engine_cache, trt_plan
from nnvisr_core.backends.base import TensorInfo

KEY = engine_cache.EngineKey(
    engine_cache.content_hash(b"onnx bytes"), "NVIDIA H100 80GB HBM3", "9.0", "10.13.0", "fp16",
    (("rgb", (1, 3, 16, 16), (4, 3, 720, 1280), (4, 3, 768, 1280)),),
)


def test_cache_round_trip(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "engines" / KEY.file_name("model")
    engine_cache.write(path, KEY, b"\x00engine\xff" * 100)
    assert engine_cache.read(path, KEY) == (b"\x00engine\xff" * 100, "valid")
    assert "sm90" in path.name and "trt10.13.0" in path.name and "fp16" in path.name


@pytest.mark.parametrize(
    "change",
    [
        {"onnx_sha256": engine_cache.content_hash(b"other model")},
        {"gpu_name": "NVIDIA H200"},
        {"compute_capability": "8.9"},
        {"tensorrt_version": "11.0.0"},
        {"precision": "fp32"},
        {"profile": (("rgb", (1, 3, 16, 16), (1, 3, 720, 1280), (1, 3, 768, 1280)),)},
    ],
)
def test_mismatched_entry_is_not_trusted(tmp_path: pathlib.Path, change: dict) -> None:
    path = tmp_path / "e.engine"
    engine_cache.write(path, KEY, b"engine")
    other = dataclasses.replace(KEY, **change)
    assert other.digest() != KEY.digest()
    data, why = engine_cache.read(path, other)
    assert data is None and "another model" in why


def test_truncated_or_corrupt_entry_is_rebuilt(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "e.engine"
    engine_cache.write(path, KEY, b"engine" * 50)
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])
    assert engine_cache.read(path, KEY) == (None, "truncated or corrupt")
    path.write_bytes(whole[:-1] + b"X")
    assert engine_cache.read(path, KEY)[0] is None
    path.write_bytes(b"garbage")
    assert engine_cache.read(path, KEY) == (None, "not an nnvisr engine file")
    assert engine_cache.read(tmp_path / "missing.engine", KEY) == (None, "not built yet")


def test_profile_spans_a_range_around_the_clip() -> None:
    tensor = TensorInfo("rgb", (None, 3, None, None), np.dtype(np.float32))
    low, opt, high = trt_plan.profile_for(tensor, (1, 3, 720, 1280), max_batch=4)
    assert low == (1, 3, 16, 16)
    assert opt == (4, 3, 720, 1280)
    assert high == (4, 3, 768, 1280)
    assert trt_plan.fits((low, opt, high), (2, 3, 540, 960))
    assert not trt_plan.fits((low, opt, high), (4, 3, 1080, 1920))


def test_static_axes_stay_static() -> None:
    tensor = TensorInfo("x", (1, 5, 3, None, None), np.dtype(np.float32))
    low, _, high = trt_plan.profile_for(tensor, (1, 5, 3, 100, 200))
    assert low == (1, 5, 3, 16, 16) and high == (1, 5, 3, 256, 256)


@pytest.mark.gpu
@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason="needs tensorrt, cuda-python and a GPU")
def test_tensorrt_matches_onnxruntime(tmp_path: pathlib.Path) -> None:
    import onnx_models
    import onnxruntime as ort

    from nnvisr_core import log
    from nnvisr_core.backends.tensorrt_backend import TensorRTBackend

    path = onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3) * 0.5, np.full(3, 0.1), 2)
    backend = TensorRTBackend(path, path.read_bytes(), 0, "fp32", tmp_path / "engines", False, log.silent)
    x = np.random.default_rng(0).random((2, 3, 64, 48), np.float32)
    got = backend.run({"frames": x})["enhanced"]
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"frames": x})[0]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_engines_live_in_the_users_cache_never_in_the_package(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A downloaded package's engines/ folder is never where engines come from."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert engine_cache.default_dir() == tmp_path / "cache" / "nnvisr" / "engines"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert engine_cache.default_dir() == tmp_path / "home" / ".cache" / "nnvisr" / "engines"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert engine_cache.default_dir() == tmp_path / "home" / ".cache" / "nnvisr" / "engines"
