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
from .base import Backend, TensorInfo

__all__ = ["Backend", "TensorInfo", "open_backend"]


def _cuda_provider_available() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def _open_tensorrt(path: pathlib.Path, options: Options, logger: LogFunction, max_batch: int) -> Backend:
    from .tensorrt_backend import TensorRTBackend

    model = prepare(path, fp16=options.use_fp16) or path.read_bytes()
    engine_dir = pathlib.Path(options.engine_path).expanduser() if options.engine_path else None
    precision = "fp16" if options.use_fp16 else "fp32"
    return TensorRTBackend(path, model, options.device, precision, engine_dir, options.low_mem, logger, max_batch)


def _open_onnxruntime(path: pathlib.Path, options: Options, logger: LogFunction, cuda: bool) -> Backend:
    from .onnxruntime_backend import OnnxRuntimeBackend

    model = prepare(path, fp16=options.use_fp16 and cuda)
    return OnnxRuntimeBackend(path, options.threads, model, options.device if cuda else None, logger)


def open_backend(path: pathlib.Path, options: Options, logger: LogFunction, max_batch: int = 1) -> Backend:
    """Open the model on the backend the user asked for; auto takes the best available.

    max_batch: the most windows (or frames) one run takes, for engines built ahead."""
    name = options.backend
    if options.use_fp16 and name == "onnxruntime":
        logger(log.WARNING, "use_fp16 is for GPU backends; the CPU runs the model in float32")
    if name == "tensorrt":
        backend = _open_tensorrt(path, options, logger, max_batch)
    elif name == "cuda":
        if not _cuda_provider_available():
            raise NnvisrError("backend=cuda needs onnxruntime-gpu with a CUDA device (pip install nnvisr[cuda])")
        backend = _open_onnxruntime(path, options, logger, cuda=True)
    elif name == "onnxruntime":
        backend = _open_onnxruntime(path, options, logger, cuda=False)
    else:
        backend = _auto(path, options, logger, max_batch)
    logger(log.VERBOSE if name != "auto" else log.INFO, f"backend: {backend.description}")
    return backend


def _auto(path: pathlib.Path, options: Options, logger: LogFunction, max_batch: int) -> Backend:
    if importlib.util.find_spec("tensorrt") is not None:
        try:
            return _open_tensorrt(path, options, logger, max_batch)
        except NnvisrError as error:
            logger(log.VERBOSE, f"backend=auto: TensorRT not usable: {error}")
    if _cuda_provider_available():
        try:
            return _open_onnxruntime(path, options, logger, cuda=True)
        except NnvisrError as error:
            logger(log.VERBOSE, f"backend=auto: ONNX Runtime CUDA not usable: {error}")
    return _open_onnxruntime(path, options, logger, cuda=False)
