"""Tensors that live in a backend's own memory, known by address.

The two-stage feature store is one of these: extraction writes its levels
into it and fusion reads them from it, so on a GPU the features never cross
to the host. Views along the first axis (store slots, batch positions) are
plain address arithmetic, which is why an allocation must be C-contiguous.
On the CPU the same arrays are ONNX Runtime CPU allocations, so the CPU path
runs (and tests) exactly the code the GPU path runs.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class DeviceArray:
    address: int
    shape: tuple[int, ...]
    dtype: np.dtype
    device: str  # "cpu" or "cuda", as ONNX Runtime names them
    device_id: int
    owner: object = dataclasses.field(repr=False, compare=False)  # keeps the allocation alive

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def row_bytes(self) -> int:
        return math.prod(self.shape[1:]) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: int | slice) -> DeviceArray:
        """Row `key` (dropping the first axis) or rows key.start..key.stop (keeping it)."""
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise ValueError("device arrays take contiguous views only")
            stop = max(start, stop)
            return dataclasses.replace(
                self, address=self.address + start * self.row_bytes, shape=(stop - start, *self.shape[1:])
            )
        index = key + self.shape[0] if key < 0 else key
        if not 0 <= index < self.shape[0]:
            raise IndexError(f"row {key} of a device array of {self.shape[0]} rows")
        return dataclasses.replace(self, address=self.address + index * self.row_bytes, shape=self.shape[1:])

    def host_view(self) -> np.ndarray:
        """The array as numpy, for CPU memory only (tests, debugging)."""
        if self.device != "cpu":
            raise ValueError(f"{self.device} memory cannot be viewed from the host")
        import ctypes

        buffer = (ctypes.c_byte * self.nbytes).from_address(self.address)
        return np.frombuffer(buffer, self.dtype).reshape(self.shape)
