"""Inference backends behind one small interface (see base.Backend)."""

from __future__ import annotations

import pathlib

from .. import log
from ..errors import NnvisrError
from ..log import LogFunction
from .base import Backend, TensorInfo

__all__ = ["Backend", "TensorInfo", "open_backend"]


def open_backend(name: str, onnx_path: pathlib.Path, threads: int, device: int, logger: LogFunction) -> Backend:
    """Open the model on the backend the user asked for; auto takes the best available."""
    if name == "tensorrt":
        raise NnvisrError("backend=tensorrt is not available in this build yet; use backend=onnxruntime")
    from .onnxruntime_backend import OnnxRuntimeBackend

    backend = OnnxRuntimeBackend(onnx_path, threads=threads)
    logger(log.VERBOSE if name == "onnxruntime" else log.INFO, f"backend: {backend.description}")
    return backend
