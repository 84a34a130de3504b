"""Read ncnn's model files: the text .param (layers and blobs) and the binary .bin (weights).

Both are read the way ncnn's own loaders read them (ParamDict::load_param and
ModelBinFromDataReader::load): a .param line is `type name n_in n_out in... out... key=value...`,
keys <= -23300 hold arrays (`-23300-k=count,v1,v2,...` is array parameter k), and a value is a float
when it has a '.' or an exponent. Weights are read in layer order, each layer taking what its
load_model reads.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

PARAM_MAGIC = 7767517
ARRAY_KEY_BASE = -23300  # ncnn writes array parameters as key -23300-id
FP16_TAG = 0x01306B47
INT8_TAG = 0x000D4B38
RAW_SCALED_TAG = 0x0002C056
QUANT_TABLE = 256  # entries of the float table before 8-bit indexed weights

ParamValue = int | float | tuple[int | float, ...]


class ConvertError(Exception):
    """A model the converter cannot read or represent."""


@dataclasses.dataclass(frozen=True)
class Layer:
    kind: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, ParamValue]

    def get(self, key: int, default: ParamValue) -> Any:
        return self.params.get(key, default)


# --- .param ---------------------------------------------------------------------------------------------------------


def _number(text: str) -> int | float:
    # ncnn's ParamDict reads a value as float when it has a '.' or an exponent
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _parse_params(items: list[str], where: str) -> dict[int, ParamValue]:
    params: dict[int, ParamValue] = {}
    for item in items:
        key_text, sep, value = item.partition("=")
        try:
            key = int(key_text)
            if not sep:
                raise ValueError
            if key <= ARRAY_KEY_BASE:
                count, *values = value.split(",")
                if int(count) != len(values):
                    raise ValueError
                params[ARRAY_KEY_BASE - key] = tuple(_number(v) for v in values)
            else:
                params[key] = _number(value)
        except ValueError:
            raise ConvertError(f"{where}: bad parameter {item!r}") from None
    return params


def parse_param(text: str, source: str = ".param") -> list[Layer]:
    """The layers of an ncnn .param file (text format), in file order."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != [str(PARAM_MAGIC)]:
        raise ConvertError(f"{source}: not an ncnn text .param file (magic {PARAM_MAGIC} missing)")
    try:
        layer_count, blob_count = (int(v) for v in lines[1])
    except (IndexError, ValueError):
        raise ConvertError(f"{source}: line 2 must hold the layer and blob counts") from None
    layers = [_parse_layer(fields, f"{source} line {number}") for number, fields in enumerate(lines[2:], 3)]
    if len(layers) != layer_count:
        raise ConvertError(f"{source}: header announces {layer_count} layers, found {len(layers)}")
    blobs = {blob for layer in layers for blob in layer.outputs}
    if len(blobs) != blob_count:
        raise ConvertError(f"{source}: header announces {blob_count} blobs, found {len(blobs)}")
    return layers


def _parse_layer(fields: list[str], where: str) -> Layer:
    try:
        kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
    except (IndexError, ValueError):
        raise ConvertError(f"{where}: expected 'type name inputs outputs ...'") from None
    blobs = fields[4 : 4 + n_in + n_out]
    if len(blobs) != n_in + n_out:
        raise ConvertError(f"{where}: {name} lists fewer blobs than its counts")
    params = _parse_params(fields[4 + n_in + n_out :], where)
    return Layer(kind, name, tuple(blobs[:n_in]), tuple(blobs[n_in:]), params)


# --- .bin -----------------------------------------------------------------------------------------------------------


def _align4(size: int) -> int:
    return (size + 3) & ~3


class ModelBin:
    """Sequential reader of an ncnn .bin, following ncnn's ModelBinFromDataReader::load.

    type 0 (weights) starts with a 4-byte tag: fp16, int8, scaled raw float32,
    quantized (a 256-entry float table, then 8-bit indices) or zero (raw float32).
    type 1 (biases, slopes) is raw float32 without a tag. Padded sizes round up to 4 bytes.
    """

    def __init__(self, data: bytes, source: str = ".bin") -> None:
        self.data = data
        self.offset = 0
        self.source = source

    def _take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ConvertError(f"{self.source}: ends at byte {len(self.data)}, {size} more needed at {self.offset}")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def _floats(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), "<f4").astype(np.float32)

    def load(self, count: int, kind: int) -> np.ndarray:
        if kind == 1:
            return self._floats(count)
        if kind != 0:
            raise ConvertError(f"{self.source}: weight type {kind} is not one ncnn layers use")
        flag = self._take(4)
        tag = int.from_bytes(flag, "little")
        if tag == FP16_TAG:
            half = np.frombuffer(self._take(_align4(2 * count)), "<f2")[:count]
            return half.astype(np.float32)
        if tag == INT8_TAG:
            raise ConvertError(f"{self.source}: int8-quantized weights are not supported")
        if tag == RAW_SCALED_TAG or sum(flag) == 0:
            return self._floats(count)
        table = self._floats(QUANT_TABLE)
        indices = np.frombuffer(self._take(_align4(count)), np.uint8)[:count]
        return table[indices]

    def finish(self) -> None:
        if self.offset != len(self.data):
            raise ConvertError(f"{self.source}: {len(self.data) - self.offset} bytes left after the last layer")
