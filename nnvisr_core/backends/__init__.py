"""Inference backends behind one small interface (see base.Backend).

backend=onnxruntime: ONNX Runtime on the CPU (the embedded default).
backend=cuda: ONNX Runtime's CUDA execution provider (onnxruntime-gpu).
backend=tensorrt: TensorRT with cuda-python.
backend=auto: TensorRT, then ONNX Runtime CUDA, then the CPU; the choice is logged.
"""

from __future__ import annotations

import importlib.util
import pathlib

from .. import log
from ..errors import NnvisrError
from ..log import LogFunction
from ..model_prep import prepare
from ..options import Options
from ..pixel_graph import PixelIO
from .base import Backend, TensorInfo

__all__ = ["Backend", "TensorInfo", "gpu_expected", "open_backend"]


def _cuda_provider_available() -> bool:
    from .onnxruntime_backend import ort  # imported there, with its log quietened before any use

    return "CUDAExecutionProvider" in ort.get_available_providers()


def gpu_expected(options: Options) -> bool:
    """Whether the model will run on a GPU, as far as can be told before it is opened."""
    if options.backend in ("cuda", "tensorrt"):
        return True
    if options.backend != "auto":
        return False
    # A GPU library installed is not a GPU present: ask the CUDA provider, or the CUDA runtime.
    if _cuda_provider_available():
        from .onnxruntime_backend import cuda_usable

        return cuda_usable(options.device) == ""
    if importlib.util.find_spec("tensorrt") is not None:
        from .cuda_memory import import_cudart

        cudart = import_cudart()
        if cudart is None:
            return False
        error, count = cudart.cudaGetDeviceCount()
        return int(error) == 0 and count > options.device
    return False


def _open_tensorrt(
    path: pathlib.Path, options: Options, logger: LogFunction, max_batch: int, pixel_io: PixelIO | None
) -> Backend:
    from .tensorrt_backend import TensorRTBackend

    model = prepare(path, fp16=options.use_fp16, pixel_io=pixel_io) or path.read_bytes()
    engine_dir = pathlib.Path(options.engine_path).expanduser() if options.engine_path else None
    precision = "fp16" if options.use_fp16 else "fp32"
    return TensorRTBackend(path, model, options.device, precision, engine_dir, options.low_mem, logger, max_batch)


def _open_onnxruntime(
    path: pathlib.Path, options: Options, logger: LogFunction, cuda: bool, pixel_io: PixelIO | None
) -> Backend:
    from .onnxruntime_backend import OnnxRuntimeBackend

    model = prepare(path, fp16=options.use_fp16 and cuda, pixel_io=pixel_io)
    return OnnxRuntimeBackend(path, options.threads, model, options.device if cuda else None, logger)


def open_backend(
    path: pathlib.Path, options: Options, logger: LogFunction, max_batch: int = 1, pixel_io: PixelIO | None = None
) -> Backend:
    """Open the model on the backend the user asked for; auto takes the best available.

    max_batch: the most windows (or frames) one run takes, for engines built ahead;
    pixel_io: tensors that take or give 8-bit codes (pixels=model)."""
    name = options.backend
    if options.use_fp16 and name == "onnxruntime":
        logger(log.WARNING, "use_fp16 is for GPU backends; the CPU runs the model in float32")
    if name == "tensorrt":
        backend = _open_tensorrt(path, options, logger, max_batch, pixel_io)
    elif name == "cuda":
        if not _cuda_provider_available():
            raise NnvisrError("backend=cuda needs onnxruntime-gpu with a CUDA device (pip install nnvisr[cuda])")
        backend = _open_onnxruntime(path, options, logger, True, pixel_io)
    elif name == "onnxruntime":
        backend = _open_onnxruntime(path, options, logger, False, pixel_io)
    else:
        backend = _auto(path, options, logger, max_batch, pixel_io)
    logger(log.VERBOSE if name != "auto" else log.INFO, f"backend: {backend.description}")
    return backend


def _auto(
    path: pathlib.Path, options: Options, logger: LogFunction, max_batch: int, pixel_io: PixelIO | None
) -> Backend:
    if importlib.util.find_spec("tensorrt") is not None:
        try:
            return _open_tensorrt(path, options, logger, max_batch, pixel_io)
        except NnvisrError as error:
            logger(log.VERBOSE, f"backend=auto: TensorRT not usable: {error}")
    if _cuda_provider_available():
        try:
            return _open_onnxruntime(path, options, logger, True, pixel_io)
        except NnvisrError as error:
            logger(log.VERBOSE, f"backend=auto: ONNX Runtime CUDA not usable: {error}")
    return _open_onnxruntime(path, options, logger, False, pixel_io)
