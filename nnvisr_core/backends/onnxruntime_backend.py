"""ONNX Runtime on the CPU (the embedded default) or through its CUDA provider: IOBinding on fixed buffers.

Buffers are numpy arrays (host memory; page-locked on CUDA when cuda-python
is there) or DeviceArrays this backend allocated: those stay where the model
runs, and are bound by address, views included.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import math
import os
import pathlib
from collections.abc import Callable

import numpy as np

# ONNX Runtime (1.2x and later) starts telemetry when it is imported: it may upload where a network is,
# and it prints a coloured warning past ffmpeg's -v when it cannot store a device ID (HOME not
# writable). A filter has no business reporting on the user's runs: off, unless the user says otherwise.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # noqa: E402 - after the variable above, which it reads when imported

from .. import log
from ..errors import NnvisrError
from ..log import LogFunction
from ..options import usable_cpus
from . import cuda_memory
from .base import Buffer, TensorInfo
from .device_memory import DeviceArray

# ONNX Runtime's own log goes to stdout, where ffmpeg may be writing video (-f rawvideo -), and past
# ffmpeg's -v: keep it quiet, before anything creates its environment (this module is the only place
# nnvisr imports onnxruntime); what matters reaches the user through av_log as nnvisr's own messages.
ort.set_default_logger_severity(4)
if hasattr(ort, "disable_telemetry_events"):
    ort.disable_telemetry_events()

# ONNX Runtime's element type names -> numpy
_DTYPES = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(uint8)": np.dtype(np.uint8),  # pixels=model: the frame's codes
}


def _tensor_info(arg: ort.NodeArg) -> TensorInfo:
    if arg.type not in _DTYPES:
        raise NnvisrError(f"model tensor {arg.name} is {arg.type}; expected float, float16 or uint8")
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in arg.shape)
    return TensorInfo(arg.name, shape, _DTYPES[arg.type])


@functools.cache
def _preload_cuda_libraries() -> None:
    """CUDA and cuDNN from NVIDIA's pip packages (nvidia-cublas, nvidia-cudnn-cu13, ...), which are not on
    the loader's path: onnxruntime-gpu loads them itself when asked (1.21 and later)."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints what it could not find
                preload()
        except Exception:  # noqa: BLE001 - system-wide CUDA libraries may still be found by the provider
            pass


@functools.cache
def _identity_model(dtype: np.dtype) -> bytes:
    """y = x over a flat tensor: device copies and the CUDA probe. onnx is imported only here, since
    importing it slows every start (see model_prep)."""
    from onnx import helper

    element = helper.np_dtype_to_tensor_dtype(dtype)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "copy",
        [helper.make_tensor_value_info("x", element, ["n"])],
        [helper.make_tensor_value_info("y", element, ["n"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9  # opset 19's: what every ONNX Runtime from 1.16 reads, whatever onnx made it
    return model.SerializeToString()


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _model_source(path: pathlib.Path) -> str | bytes:
    """The file name for ONNX Runtime, or the file's bytes when the name is not UTF-8 (ONNX Runtime
    takes names only as UTF-8 text; os.fsdecode keeps other bytes as surrogates)."""
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return path.read_bytes()
    return name


class OnnxRuntimeBackend:
    """ONNX Runtime on the CPU, or on an NVIDIA GPU through the CUDA execution provider (cuda_device)."""

    def __init__(
        self,
        onnx_path: pathlib.Path,
        threads: int = 0,
        model_bytes: bytes | None = None,
        cuda_device: int | None = None,
        logger: LogFunction = log.silent,
    ) -> None:
        options = ort.SessionOptions()
        # 0: one thread per CPU this process may run on (taskset, a container's cpuset), not per CPU present
        options.intra_op_num_threads = threads if threads > 0 else usable_cpus()
        options.inter_op_num_threads = 1
        options.log_severity_level = 4  # fatal only: a failure reaches the user as nnvisr's own line
        # The pool threads spin while a run lasts (quick hand-offs between its many small operators) but stop
        # when it returns: extraction's pool spinning on through fusion's run took a core from it (the
        # interpolation model's YUV networks ran 10-25% faster in ffmpeg with this), and the encoder's
        # threads get the cores between runs.
        options.add_session_config_entry("session.force_spinning_stop", "1")
        if cuda_device is None:
            providers: list = ["CPUExecutionProvider"]
            where = f"CPU, {options.intra_op_num_threads} threads"
        else:
            _preload_cuda_libraries()
            providers = [("CUDAExecutionProvider", {"device_id": cuda_device}), "CPUExecutionProvider"]
            where = f"CUDA device {cuda_device}"
        try:
            source = model_bytes if model_bytes is not None else _model_source(onnx_path)
            self.session = ort.InferenceSession(source, options, providers=providers)
        except Exception as error:  # ORT raises its own exception types for bad files
            raise NnvisrError(f"cannot load model {onnx_path}: {_first_line(error)}") from None
        if cuda_device is not None and "CUDAExecutionProvider" not in self.session.get_providers():
            raise NnvisrError(f"onnxruntime could not use CUDA device {cuda_device} (is onnxruntime-gpu installed?)")
        self.inputs = [_tensor_info(a) for a in self.session.get_inputs()]
        self.outputs = [_tensor_info(a) for a in self.session.get_outputs()]
        self.description = f"onnxruntime {ort.__version__} {where}, model {onnx_path.name}"
        self.options, self.providers = options, providers
        self.device = ("cpu", 0) if cuda_device is None else ("cuda", cuda_device)
        self.cudart = cuda_memory.import_cudart() if cuda_device is not None else None
        if cuda_device is not None and self.cudart is None:
            logger(log.VERBOSE, "cuda-python is not installed: host buffers are pageable, copies slower")
        self.copiers: dict[np.dtype, tuple[ort.InferenceSession, ort.IOBinding]] = {}

    def _bind_one(self, binding: ort.IOBinding, name: str, buffer: Buffer, is_input: bool) -> object:
        """Bind one buffer; returns what must stay alive as long as the binding."""
        if isinstance(buffer, DeviceArray):
            self._check_device(buffer)
            bind = binding.bind_input if is_input else binding.bind_output
            bind(name, buffer.device, buffer.device_id, buffer.dtype.type, list(buffer.shape), buffer.address)
            return buffer
        value = ort.OrtValue.ortvalue_from_numpy(buffer)
        (binding.bind_ortvalue_input if is_input else binding.bind_ortvalue_output)(name, value)
        return value

    def _check_device(self, buffer: DeviceArray) -> None:
        if (buffer.device, buffer.device_id) != self.device:
            raise NnvisrError(f"a {buffer.device}:{buffer.device_id} buffer bound to a model on {self.device}")

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o.name for o in self.outputs]
        try:
            results = self.session.run(names, feeds)
        except Exception as error:
            raise NnvisrError(f"the model failed to run: {_first_line(error)}") from None
        return dict(zip(names, results))

    # ------------------------------------------------------------ memory

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A host buffer for batches: page-locked on CUDA (when cuda-python is there), else plain."""
        if self.cudart is not None:
            return cuda_memory.pinned_empty(self.cudart, shape, dtype)
        return np.empty(shape, dtype)

    def device_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        """An uninitialised tensor in the memory the model runs in."""
        device, device_id = self.device
        value = ort.OrtValue.ortvalue_from_shape_and_type(list(shape), np.dtype(dtype).type, device, device_id)
        return DeviceArray(value.data_ptr(), tuple(shape), np.dtype(dtype), device, device_id, value)

    def copy(self, target: DeviceArray, source: DeviceArray) -> None:
        """target[...] = source[...] where both live: a memmove on the CPU, else an Identity graph on
        this session's providers (ONNX Runtime's Python API has no device-to-device copy)."""
        if target.shape != source.shape or target.dtype != source.dtype:
            raise ValueError(f"copy between {source.shape} {source.dtype} and {target.shape} {target.dtype}")
        if source.address == target.address:
            return
        if self.device[0] == "cpu":
            ctypes.memmove(target.address, source.address, source.nbytes)
            return
        session, binding = self._copier(source.dtype)
        flat = (math.prod(source.shape),)
        binding.bind_input("x", source.device, source.device_id, source.dtype.type, flat, source.address)
        binding.bind_output("y", target.device, target.device_id, target.dtype.type, flat, target.address)
        session.run_with_iobinding(binding)

    def upload(self, target: DeviceArray, values: np.ndarray) -> None:
        """target[...] = values, from the host."""
        self._copy_flat(target, np.ascontiguousarray(values, target.dtype), to_host=False)

    def download(self, source: DeviceArray) -> np.ndarray:
        """A host copy of source."""
        values = np.empty(source.shape, source.dtype)
        self._copy_flat(source, values, to_host=True)
        return values

    def _copy_flat(self, array: DeviceArray, host: np.ndarray, to_host: bool) -> None:
        if host.shape != array.shape:
            raise ValueError(f"host array {host.shape} for a device array {array.shape}")
        session, binding = self._copier(array.dtype)
        flat = [math.prod(array.shape)]
        ends = [(array.device, array.device_id, array.address), ("cpu", 0, host.ctypes.data)]
        (src_device, src_id, src), (dst_device, dst_id, dst) = ends[::-1] if not to_host else ends
        binding.bind_input("x", src_device, src_id, array.dtype.type, flat, src)
        binding.bind_output("y", dst_device, dst_id, array.dtype.type, flat, dst)
        session.run_with_iobinding(binding)

    def _copier(self, dtype: np.dtype) -> tuple[ort.InferenceSession, ort.IOBinding]:
        if dtype not in self.copiers:
            session = ort.InferenceSession(_identity_model(dtype), self.options, providers=self.providers)
            self.copiers[dtype] = (session, session.io_binding())
        return self.copiers[dtype]

    # ------------------------------------------------------------ running

    def bind(self, feeds: dict[str, Buffer], outputs: dict[str, Buffer]) -> Callable[[], None]:
        binding = self.session.io_binding()
        # OrtValues over numpy memory, device arrays by address: no copies; the buffers must stay alive.
        keep = [self._bind_one(binding, name, buffer, True) for name, buffer in feeds.items()]
        keep += [self._bind_one(binding, name, buffer, False) for name, buffer in outputs.items()]
        session = self.session

        def run() -> None:
            try:
                session.run_with_iobinding(binding)
            except Exception as error:
                raise NnvisrError(f"the model failed to run: {_first_line(error)}") from None
            _ = keep

        return run


@functools.cache
def cuda_usable(device: int = 0) -> str:
    """'' when the CUDA provider runs on this device, else why not (one session of an Identity graph)."""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "needs onnxruntime-gpu (pip install .[cuda])"
    _preload_cuda_libraries()
    try:
        session = ort.InferenceSession(
            _identity_model(np.dtype(np.float32)), providers=[("CUDAExecutionProvider", {"device_id": device})]
        )
    except Exception as error:  # no driver, no device, CUDA libraries missing
        return _first_line(error)
    if "CUDAExecutionProvider" not in session.get_providers():
        return "no usable CUDA device (driver or CUDA libraries missing)"
    return ""
