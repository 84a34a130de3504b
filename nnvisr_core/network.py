"""The single-stage model contract: which tensors a model has and what they mean.

RGB models: exactly one input and one output, any names, [N,C,H,W] for one
frame per window or [N,T,C,H,W] for T frames; output [N,C,H',W'] or
[N,K,C,H',W']. YUV 4:2:0 models: inputs y [N,(T,)1,H,W] and uv
[N,(T,)2,⌈H/2⌉,⌈W/2⌉], two outputs named *_y and *_uv (ONNX names are
unique in a graph, so outputs cannot reuse the input names).
"""

from __future__ import annotations

import dataclasses

from .backends import Backend, TensorInfo
from .errors import NnvisrError
from .pixels import RGB, YUV420


@dataclasses.dataclass(frozen=True)
class SingleStageNetwork:
    family: str  # pixels.RGB or pixels.YUV420
    inputs: list[TensorInfo]  # in frame-tensor order: [rgb] or [y, uv]
    outputs: list[TensorInfo]
    temporal_in: bool  # inputs carry a T axis
    temporal_out: bool  # outputs carry a K axis

    def check_window(self, frames_in: int, frames_out: int) -> None:
        """The T and K axes must agree with the options' window."""
        if not self.temporal_in and frames_in != 1:
            raise NnvisrError(
                f"model input {self.inputs[0].name} is [N,C,H,W] (one frame) but the options ask for "
                f"{frames_in} frames per window; its input must be [N,T,C,H,W]"
            )
        if not self.temporal_out and frames_out != 1:
            raise NnvisrError(
                f"model output {self.outputs[0].name} is [N,C,H,W] (one frame) but the options ask for "
                f"{frames_out} output frames per window; its output must be [N,K,C,H,W]"
            )
        for tensor, count, axis in [(t, frames_in, "T") for t in self.inputs] + [
            (t, frames_out, "K") for t in self.outputs
        ]:
            if tensor.rank == 5 and tensor.shape[1] not in (None, count):
                raise NnvisrError(
                    f"model tensor {tensor.name} has {axis}={tensor.shape[1]} frames but the options "
                    f"(input_count, extra_frame, double_frame) give {count}"
                )


def _describe(tensors: list[TensorInfo]) -> str:
    return ", ".join(f"{t.name}{list(d if d else '?' for d in t.shape)}" for t in tensors) or "none"


def _check_rank(tensor: TensorInfo, channels: int) -> bool:
    if tensor.rank not in (4, 5):
        raise NnvisrError(
            f"model tensor {tensor.name} has rank {tensor.rank} {list(tensor.shape)}: "
            f"expected [N,C,H,W] or [N,T,C,H,W]"
        )
    found = tensor.shape[-3]
    if found not in (None, channels):
        raise NnvisrError(f"model tensor {tensor.name} has {found} channels, expected {channels}")
    return tensor.rank == 5


def describe_network(backend: Backend) -> SingleStageNetwork:
    inputs, outputs = backend.inputs, backend.outputs
    by_name_in = {t.name: t for t in inputs}
    out_y = [t for t in outputs if t.name == "y" or t.name.endswith("_y")]
    out_uv = [t for t in outputs if t.name == "uv" or t.name.endswith("_uv")]
    if set(by_name_in) == {"y", "uv"} and len(outputs) == 2 and len(out_y) == 1 and len(out_uv) == 1:
        family = YUV420
        ins = [by_name_in["y"], by_name_in["uv"]]
        outs = [out_y[0], out_uv[0]]
        channels = (1, 2)
    elif len(inputs) == 1 and len(outputs) == 1:
        family = RGB
        ins, outs = list(inputs), list(outputs)
        channels = (3,)
    else:
        raise NnvisrError(
            "a single-stage model needs one input and one output (RGB), or inputs y, uv and outputs "
            f"*_y, *_uv (YUV 4:2:0); this one has inputs {_describe(inputs)} and outputs {_describe(outputs)}"
        )
    temporal_in = {_check_rank(t, c) for t, c in zip(ins, channels)}
    temporal_out = {_check_rank(t, c) for t, c in zip(outs, channels)}
    if len(temporal_in) != 1 or len(temporal_out) != 1:
        raise NnvisrError("model tensors y and uv must have the same rank")
    return SingleStageNetwork(family, ins, outs, temporal_in.pop(), temporal_out.pop())
