"""TensorRT (10.x and 11.x) with cuda-python: engines built once, cached, run on a CUDA stream.

Kept thin on purpose: what to build (profiles), where engines live and when a
cached one can be trusted are decided in trt_plan.py and engine_cache.py,
which need no TensorRT and are unit-tested; the graph given to TensorRT comes
from model_prep.py (DeformConv rewrite, FP16 graph for use_fp16, since
TensorRT 11 has no precision flags).

This module needs an NVIDIA GPU with the tensorrt and cuda-python packages
(pip install nnvisr[tensorrt]); it was written against their documented API
and could not be run where it was written (no GPU, and no TensorRT wheels on
that machine's package index): see README.
"""

from __future__ import annotations

import math
import pathlib
import weakref
from collections.abc import Callable

import numpy as np

from .. import log
from ..errors import NnvisrError
from ..log import LogFunction
from . import cuda_memory, engine_cache, trt_plan
from .base import Buffer, TensorInfo
from .device_memory import DeviceArray


def _import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise NnvisrError(
            "backend=tensorrt needs the tensorrt and cuda-python packages (pip install nnvisr[tensorrt])"
        ) from None
    cudart = cuda_memory.import_cudart()
    if cudart is None:
        raise NnvisrError("backend=tensorrt needs cuda-python (pip install cuda-python)")
    return trt, cudart


_check = cuda_memory.check


def _routed_logger(trt, logger: LogFunction):
    """A TensorRT logger writing to nnvisr's log (av_log) instead of stderr. Its errors come as warnings:
    a failure reaches the user as nnvisr's own error line, and TensorRT's say why, above it."""
    levels = {
        trt.ILogger.INTERNAL_ERROR: log.WARNING,
        trt.ILogger.ERROR: log.WARNING,
        trt.ILogger.WARNING: log.VERBOSE,
        trt.ILogger.INFO: log.DEBUG,
        trt.ILogger.VERBOSE: log.DEBUG,
    }

    class RoutedLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity, msg: str) -> None:  # noqa: ANN001 - TensorRT's severity enum
            logger(levels.get(severity, log.DEBUG), f"TensorRT: {msg}")

    return RoutedLogger()


_DTYPES = {"FLOAT": np.dtype(np.float32), "HALF": np.dtype(np.float16), "UINT8": np.dtype(np.uint8)}


class TensorRTBackend:
    def __init__(
        self,
        onnx_path: pathlib.Path,
        model_bytes: bytes,
        device: int,
        precision: str,
        engine_dir: pathlib.Path | None,
        low_mem: bool,
        logger: LogFunction,
        max_batch: int = 1,
    ) -> None:
        trt, cudart = _import_tensorrt()
        self.trt, self.cudart, self.log = trt, cudart, logger
        count = _check(cudart.cudaGetDeviceCount(), "cudaGetDeviceCount")
        if device >= count:
            raise NnvisrError(f"device={device}: this machine has {count} CUDA device(s)")
        _check(cudart.cudaSetDevice(device), "cudaSetDevice")
        props = _check(cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
        self.gpu_name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
        self.capability = f"{props.major}.{props.minor}"
        self.trt_logger = _routed_logger(trt, logger)
        trt.init_libnvinfer_plugins(self.trt_logger, "")  # DeformConv -> ModulatedDeformConv2d plugin
        self.onnx_path, self.model_bytes = onnx_path, model_bytes
        self.precision, self.low_mem, self.max_batch = precision, low_mem, max_batch
        self.engine_dir = engine_dir or engine_cache.default_dir()
        self.inputs, self.outputs = self._describe()
        self.stream = _check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        self.device = ("cuda", device)
        self.engine = None
        self.description = (
            f"TensorRT {trt.__version__} on {self.gpu_name} (sm {self.capability}), {precision}, model {onnx_path.name}"
        )

    # ------------------------------------------------------------ engines

    def _parse(self, builder):
        trt = self.trt
        flags = 0
        if self.precision == "fp16" and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
            flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, self.trt_logger)
        if not parser.parse(self.model_bytes):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise NnvisrError(f"TensorRT cannot parse {self.onnx_path.name}: {errors}")
        return network

    def _describe(self) -> tuple[list[TensorInfo], list[TensorInfo]]:
        builder = self.trt.Builder(self.trt_logger)
        network = self._parse(builder)

        def info(tensor) -> TensorInfo:
            shape = tuple(d if d >= 0 else None for d in tensor.shape)
            return TensorInfo(tensor.name, shape, _DTYPES.get(tensor.dtype.name, np.dtype(np.float32)))

        inputs = [info(network.get_input(i)) for i in range(network.num_inputs)]
        outputs = [info(network.get_output(i)) for i in range(network.num_outputs)]
        return inputs, outputs

    def _engine_for(self, shapes: dict[str, tuple[int, ...]]):
        profile = tuple(
            (t.name, *trt_plan.profile_for(t, shapes[t.name], self.max_batch)) for t in self.inputs
        )
        key = engine_cache.EngineKey(
            engine_cache.content_hash(self.model_bytes), self.gpu_name, self.capability,
            self.trt.__version__, self.precision, profile,
        )
        path = self.engine_dir / key.file_name(self.onnx_path.stem)
        data, why = engine_cache.read(path, key)
        if data is None:
            self.log(log.INFO, f"building TensorRT engine {path.name} ({why}); this takes a while once")
            data = self._build(profile)
            engine_cache.write(path, key, data)
        runtime = self.trt.Runtime(self.trt_logger)
        engine = runtime.deserialize_cuda_engine(data)
        if engine is None:
            raise NnvisrError(f"TensorRT could not load engine {path}; delete it to rebuild")
        self.profile = {name: (low, high) for name, low, _, high in profile}
        return engine

    def _build(self, profile) -> bytes:
        trt = self.trt
        builder = trt.Builder(self.trt_logger)
        network = self._parse(builder)
        config = builder.create_builder_config()
        if self.low_mem:
            config.builder_optimization_level = 1
        shapes = builder.create_optimization_profile()
        for name, low, opt, high in profile:
            shapes.set_shape(name, low, opt, high)
        config.add_optimization_profile(shapes)
        timing_path = self.engine_dir / f"timing-{self.gpu_name.replace(' ', '-')}-trt{trt.__version__}.cache"
        timing = config.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
        config.set_timing_cache(timing, ignore_mismatch=True)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise NnvisrError(f"TensorRT could not build an engine for {self.onnx_path.name}")
        self.engine_dir.mkdir(parents=True, exist_ok=True)
        timing_path.write_bytes(bytes(config.get_timing_cache().serialize()))
        return bytes(serialized)

    # ------------------------------------------------------------ running

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs: dict[str, np.ndarray] = {}
        runner = self.bind(feeds, outputs, allocate_outputs=True)
        runner()
        return outputs

    def bind(
        self, feeds: dict[str, Buffer], outputs: dict[str, Buffer], allocate_outputs: bool = False
    ) -> Callable[[], None]:
        """A run on these buffers: device arrays are bound by address; host arrays get a device twin
        and are copied on the stream (asynchronously when they are page-locked, see host_empty), so
        a run is uploads, one enqueue, downloads and one synchronisation."""
        cudart = self.cudart
        shapes = {name: tuple(array.shape) for name, array in feeds.items()}
        if self.engine is None or not all(trt_plan.fits(self._profile_of(n), s) for n, s in shapes.items()):
            self.engine = self._engine_for(shapes)
            self.context = self.engine.create_execution_context()
        context = self.context
        for name, shape in shapes.items():
            context.set_input_shape(name, shape)
        if allocate_outputs:
            for tensor in self.outputs:
                outputs[tensor.name] = np.empty(tuple(context.get_tensor_shape(tensor.name)), tensor.dtype)
        copies_in, copies_out, keep = [], [], []
        for arrays, copies in ((feeds, copies_in), (outputs, copies_out)):
            for name, array in arrays.items():
                if isinstance(array, DeviceArray):
                    context.set_tensor_address(name, array.address)
                    keep.append(array)
                    continue
                if not array.flags.c_contiguous:
                    raise NnvisrError(f"TensorRT binds contiguous host buffers only ({name})")
                twin = self.device_empty(array.shape, array.dtype)
                keep.append(twin)
                context.set_tensor_address(name, twin.address)
                copies.append((twin.address, array))
        stream = self.stream
        to_device, to_host = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost

        def run() -> None:
            for device, array in copies_in:
                _check(cudart.cudaMemcpyAsync(device, array.ctypes.data, array.nbytes, to_device, stream), "upload")
            if not context.execute_async_v3(stream):
                raise NnvisrError("TensorRT failed to run the engine")
            for device, array in copies_out:
                _check(cudart.cudaMemcpyAsync(array.ctypes.data, device, array.nbytes, to_host, stream), "download")
            _check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize")
            _ = keep

        return run

    # ------------------------------------------------------------ memory

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return cuda_memory.pinned_empty(self.cudart, shape, dtype)

    def device_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        dtype = np.dtype(dtype)
        nbytes = max(1, math.prod(shape) * dtype.itemsize)
        address = int(_check(self.cudart.cudaMalloc(nbytes), "cudaMalloc"))
        owner = _DeviceAllocation(self.cudart, address)
        return DeviceArray(address, tuple(shape), dtype, "cuda", self.device[1], owner)

    def copy(self, target: DeviceArray, source: DeviceArray) -> None:
        """On this backend's stream, finished before it returns: the other network's stream reads it next."""
        cudart = self.cudart
        kind = cudart.cudaMemcpyKind.cudaMemcpyDeviceToDevice
        _check(cudart.cudaMemcpyAsync(target.address, source.address, source.nbytes, kind, self.stream), "copy")
        _check(cudart.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")

    def upload(self, target: DeviceArray, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, target.dtype)
        if values.shape != target.shape:
            raise ValueError(f"host array {values.shape} for a device array {target.shape}")
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        _check(self.cudart.cudaMemcpy(target.address, values.ctypes.data, target.nbytes, kind), "upload")

    def download(self, source: DeviceArray) -> np.ndarray:
        values = np.empty(source.shape, source.dtype)
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        _check(self.cudart.cudaMemcpy(values.ctypes.data, source.address, source.nbytes, kind), "download")
        return values

    def _profile_of(self, name: str):
        low, high = self.profile[name]
        return low, low, high


class _DeviceAllocation:
    """Owns one cudaMalloc block; freed with the last DeviceArray that views it."""

    def __init__(self, cudart, address: int) -> None:
        self.address = address
        weakref.finalize(self, cudart.cudaFree, address)
