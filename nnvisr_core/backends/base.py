"""The backend interface: a model's tensors, a dry run, runs on fixed buffers, and the memory they live in."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

import numpy as np

from .device_memory import DeviceArray

# What a run reads and writes: host memory (numpy) or the backend's own (DeviceArray).
Buffer = np.ndarray | DeviceArray


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int | None, ...]  # None for a dynamic axis
    dtype: np.dtype

    @property
    def rank(self) -> int:
        return len(self.shape)


class Backend(Protocol):
    description: str
    device: tuple[str, int]  # where the model runs: ("cpu", 0) or ("cuda", n)
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One run with outputs allocated by the backend (dry runs, shape checks)."""
        ...

    def bind(self, feeds: dict[str, Buffer], outputs: dict[str, Buffer]) -> Callable[[], None]:
        """A function that runs the model reading feeds and writing outputs in place."""
        ...

    def host_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A host buffer that runs copy from and to fastest (page-locked on a GPU)."""
        ...

    def device_empty(self, shape: tuple[int, ...], dtype: np.dtype) -> DeviceArray:
        """A buffer in the memory the model runs in, for tensors that need not visit the host."""
        ...

    def copy(self, target: DeviceArray, source: DeviceArray) -> None:
        """Copy between two of this backend's buffers, in its memory."""
        ...

    def upload(self, target: DeviceArray, values: np.ndarray) -> None:
        """target[...] = values, from the host."""
        ...

    def download(self, source: DeviceArray) -> np.ndarray:
        """A host copy of source."""
        ...
