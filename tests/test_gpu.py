"""The GPU path on a real NVIDIA GPU, through ONNX Runtime's CUDA provider (onnxruntime-gpu).

Skipped, with the reason, where there is no CUDA device or no onnxruntime-gpu. What these
check is what the CPU tests check of the same code (test_device_memory.py, the bundled-model
tests), with the memory on the GPU: device buffers bound by address, copies between them, the
two-stage feature store on the device, page-locked host buffers, and whole ffmpeg runs whose
frames match the CPU backend's.
"""

from __future__ import annotations

import pathlib

import numpy as np
import onnx_models
import pytest
from ffmpeg_run import RAW, filter_raw, raw_to_rgb, rgb_to_raw

from nnvisr_core.backends import cuda_memory
from nnvisr_core.backends.onnxruntime_backend import OnnxRuntimeBackend, cuda_usable

RNG = np.random.default_rng(13)
FMT = RAW["rgb24"]


# cuda_usable: the backend's own probe, '' when the CUDA provider runs here, else why not.
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(bool(cuda_usable(0)), reason=cuda_usable(0) or "-")]


def test_device_views_copies_and_runs(tmp_path: pathlib.Path) -> None:
    matrix, bias = RNG.random((3, 3)), RNG.random(3)
    path = onnx_models.colour_mix(tmp_path / "m.onnx", matrix, bias, 2)
    gpu = OnnxRuntimeBackend(path, model_bytes=None, cuda_device=0)
    assert gpu.device == ("cuda", 0)
    values = RNG.random((4, 3, 30, 20), np.float32)
    frames = gpu.device_empty(values.shape, values.dtype)
    gpu.upload(frames, values)
    assert frames.device == "cuda"
    out = gpu.device_empty((4, 3, 60, 40), np.float32)
    gpu.bind({"frames": frames[1:3]}, {"enhanced": out[2:4]})()
    host = np.empty((2, 3, 60, 40), np.float32)
    gpu.bind({"frames": frames[1:3]}, {"enhanced": host})()  # device input, host output
    want = np.stack([onnx_models.colour_mix_reference(v.astype(np.float64), matrix, bias, 2) for v in values[1:3]])
    np.testing.assert_allclose(gpu.download(out)[2:4], want, atol=1e-4)
    np.testing.assert_allclose(host, want, atol=1e-4)
    gpu.copy(out[0], out[3])
    assert np.array_equal(gpu.download(out)[0], gpu.download(out)[3])


def test_host_buffers_are_page_locked(tmp_path: pathlib.Path) -> None:
    cudart = cuda_memory.import_cudart()
    if cudart is None:
        pytest.skip("needs cuda-python for page-locked buffers")
    gpu = OnnxRuntimeBackend(onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3)), cuda_device=0)
    buffer = gpu.host_empty((2, 3, 8, 8), np.float32)
    buffer[:] = 1.5
    attributes = cuda_memory.check(cudart.cudaPointerGetAttributes(buffer.ctypes.data), "attributes")
    assert attributes.type == cudart.cudaMemoryType.cudaMemoryTypeHost
    assert float(buffer.sum()) == 1.5 * buffer.size


@pytest.mark.parametrize("model", ["default", "interpolate"])
def test_ffmpeg_on_cuda_matches_the_cpu(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, model: str) -> None:
    """The bundled models (two-stage: feature store on the device) give the CPU's frames within 1 code value."""
    frames = RNG.integers(0, 256, size=(8, 3, 72, 96))
    outputs = {}
    for backend in ("onnxruntime", "cuda"):
        data, log = filter_raw(
            ffmpeg, tmp_path, FMT, rgb_to_raw(FMT, frames), (96, 72),
            f"nnvisr=model={model}:backend={backend}:batch_size_fusion=2", input_args=("-v", "verbose"),
        )
        if backend == "cuda":
            assert "CUDA device 0" in log
        outputs[backend] = data
    scale = 2 if model == "default" else 1
    cpu = raw_to_rgb(FMT, outputs["onnxruntime"], 96 * scale, 72 * scale).astype(int)
    gpu = raw_to_rgb(FMT, outputs["cuda"], 96 * scale, 72 * scale).astype(int)
    assert len(cpu) == len(gpu) == (8 if model == "default" else 16)
    worst = np.abs(cpu - gpu).max()
    assert worst <= 1, f"CUDA differs from the CPU by up to {worst} code values"


def test_ffmpeg_fp16_on_cuda_stays_close(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """use_fp16=1 runs the FP16 graph: not bit-exact, but within 45 dB PSNR of float32."""
    frames = RNG.integers(0, 256, size=(6, 3, 72, 96))
    results = []
    for fp16 in (0, 1):
        data, _ = filter_raw(ffmpeg, tmp_path, FMT, rgb_to_raw(FMT, frames), (96, 72),
                             f"nnvisr=backend=cuda:use_fp16={fp16}")
        results.append(raw_to_rgb(FMT, data, 192, 144).astype(float))
    mse = np.mean((results[0] - results[1]) ** 2)
    psnr = 10 * np.log10(255**2 / max(mse, 1e-12))
    assert psnr >= 45, f"fp16 is {psnr:.1f} dB from fp32"
