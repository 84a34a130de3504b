"""ONNX Runtime on the CPU, the embedded default: IOBinding on preallocated buffers."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import numpy as np
import onnxruntime as ort

from ..errors import NnvisrError
from .base import TensorInfo

# ONNX Runtime's element type names -> numpy
_DTYPES = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
}


def _tensor_info(arg: ort.NodeArg) -> TensorInfo:
    if arg.type not in _DTYPES:
        raise NnvisrError(f"model tensor {arg.name} is {arg.type}; expected float or float16")
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in arg.shape)
    return TensorInfo(arg.name, shape, _DTYPES[arg.type])


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


class OnnxRuntimeBackend:
    """ONNX Runtime on the CPU, or on an NVIDIA GPU through the CUDA execution provider (cuda_device)."""

    def __init__(
        self,
        onnx_path: pathlib.Path,
        threads: int = 0,
        model_bytes: bytes | None = None,
        cuda_device: int | None = None,
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads if threads > 0 else (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only; ours go through av_log
        if cuda_device is None:
            providers: list = ["CPUExecutionProvider"]
            where = f"CPU, {options.intra_op_num_threads} threads"
        else:
            providers = [("CUDAExecutionProvider", {"device_id": cuda_device}), "CPUExecutionProvider"]
            where = f"CUDA device {cuda_device}"
        try:
            source = model_bytes if model_bytes is not None else str(onnx_path)
            self.session = ort.InferenceSession(source, options, providers=providers)
        except Exception as error:  # ORT raises its own exception types for bad files
            raise NnvisrError(f"cannot load model {onnx_path}: {_first_line(error)}") from None
        if cuda_device is not None and "CUDAExecutionProvider" not in self.session.get_providers():
            raise NnvisrError(f"onnxruntime could not use CUDA device {cuda_device} (is onnxruntime-gpu installed?)")
        self.inputs = [_tensor_info(a) for a in self.session.get_inputs()]
        self.outputs = [_tensor_info(a) for a in self.session.get_outputs()]
        self.description = f"onnxruntime {ort.__version__} {where}, model {onnx_path.name}"

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o.name for o in self.outputs]
        try:
            results = self.session.run(names, feeds)
        except Exception as error:
            raise NnvisrError(f"the model failed to run: {_first_line(error)}") from None
        return dict(zip(names, results))

    def bind(self, feeds: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> Callable[[], None]:
        binding = self.session.io_binding()
        # OrtValues over numpy memory: no copies; the arrays must stay alive.
        keep = []
        for name, array in feeds.items():
            value = ort.OrtValue.ortvalue_from_numpy(array)
            keep.append(value)
            binding.bind_ortvalue_input(name, value)
        for name, array in outputs.items():
            value = ort.OrtValue.ortvalue_from_numpy(array)
            keep.append(value)
            binding.bind_ortvalue_output(name, value)
        session = self.session

        def run() -> None:
            try:
                session.run_with_iobinding(binding)
            except Exception as error:
                raise NnvisrError(f"the model failed to run: {_first_line(error)}") from None
            _ = keep

        return run
