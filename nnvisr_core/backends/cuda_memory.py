"""CUDA through cuda-python, for what the GPU backends share: the runtime module and page-locked host memory.

Page-locked (pinned) host buffers let the GPU copy batches by DMA at full
bus speed, and are what asynchronous copies need; the batch buffers frames
are read into and outputs written from are allocated here on a GPU backend.
"""

from __future__ import annotations

import ctypes
import math
import weakref

import numpy as np

from ..errors import NnvisrError


def import_cudart():
    """cuda-python's runtime module (its location moved in cuda-python 12.6), or None."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python < 12.6
        except ImportError:
            return None
    return cudart


def check(result, what: str):
    """cuda-python returns (error, value...) tuples."""
    error, *values = result if isinstance(result, tuple) else (result,)
    if int(error) != 0:
        raise NnvisrError(f"CUDA error in {what}: {error}")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def pinned_empty(cudart, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised numpy array in page-locked memory, freed when the last view of it goes."""
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    nbytes = max(1, count * dtype.itemsize)
    address = check(cudart.cudaMallocHost(nbytes), "cudaMallocHost")
    buffer = (ctypes.c_byte * nbytes).from_address(int(address))
    weakref.finalize(buffer, cudart.cudaFreeHost, address)
    return np.frombuffer(buffer, dtype, count=count).reshape(shape)
