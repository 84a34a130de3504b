"""The backend interface: a model's tensors, a dry run, and runs on fixed buffers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

import numpy as np


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
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One run with outputs allocated by the backend (dry runs, shape checks)."""
        ...

    def bind(self, feeds: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> Callable[[], None]:
        """A function that runs the model reading feeds and writing outputs in place."""
        ...
