"""Single-stage models: one network takes a window of frames and gives its output frames."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .backends import Backend
from .colour import ColourInfo
from .errors import NnvisrError
from .network import describe_network
from .options import Options, check_limit
from .pixel_graph import PixelIO
from .pixels import RGB, RgbNormalisation
from .scheduler import Window

# Opens the model again with pixel conversion merged in (pixels=model).
Reopen = Callable[[PixelIO], Backend]

FrameLookup = Callable[[int], list[np.ndarray]]
OutputLookup = Callable[[int, int], list[np.ndarray]]


def output_size(size: int, scale: float) -> int:
    """Upstream's rule: int(scale * size)."""
    return int(scale * size)


class SingleStageRunner:
    upstream_contract = False  # nnvisr's own contract: no normalisation unless asked
    yuv_levels = False  # YUV models take plain levels unless norm_mean/norm_std are given

    def __init__(self, backend: Backend, options: Options, reopen: Reopen | None = None) -> None:
        self.backend = backend
        self.options = options
        self.reopen = reopen
        self.network = describe_network(backend)
        self.network.check_window(options.window_frames, options.output_frames)
        self.families = [self.network.family]

    def on_gpu(self) -> bool:
        return self.backend.device[0] != "cpu"

    def _input_shape(self, index: int, batch: int) -> tuple[int, ...]:
        shape = self.frame_shapes[index]
        if self.network.temporal_in:
            return (batch, self.options.window_frames, *shape)
        return (batch, *shape)

    def configure(
        self, width: int, height: int, frame_shapes: list[tuple[int, ...]], shapes_of,
        codes: RgbNormalisation | None = None,
    ) -> tuple[int, int]:
        """Check the model against the clip with one dry run; infer the scale if none is declared.

        shapes_of(w, h) gives the per-frame tensor shapes of a w x h frame; codes: frames are
        8-bit codes and the network converts them with this normalisation (pixels=model)."""
        self.frame_shapes = frame_shapes
        options = self.options
        if codes is not None:
            if self.reopen is None or self.network.family != RGB:
                raise NnvisrError("pixels=model needs an RGB model")
            io = PixelIO((self.network.inputs[0].name,), (self.network.outputs[0].name,), codes)
            self.backend = self.reopen(io)
            self.network = describe_network(self.backend)
        for i, tensor in enumerate(self.network.inputs):
            shape = self._input_shape(i, 1)
            for axis, (want, have) in enumerate(zip(tensor.shape, shape)):
                if axis and want is not None and want != have:
                    raise NnvisrError(
                        f"model input {tensor.name} takes a fixed shape {list(tensor.shape)}; "
                        f"this clip needs {list(shape)} (the model's H and W must be dynamic)"
                    )
            if tensor.shape[0] not in (None, 1) or (tensor.shape[0] == 1 and options.batch_size_fusion > 1):
                raise NnvisrError(
                    f"model input {tensor.name} has a fixed batch axis of {tensor.shape[0]}; "
                    f"batch_size_fusion={options.batch_size_fusion} needs it dynamic"
                )
        feeds = {t.name: np.zeros(self._input_shape(i, 1), t.dtype) for i, t in enumerate(self.network.inputs)}
        results = self.backend.run(feeds)
        main = self.network.outputs[0]
        got_w, got_h = results[main.name].shape[-1], results[main.name].shape[-2]
        if options.scale_w is None:
            # No scale declared: take the model's word for it.
            options.scale_factor, options.scale_factor_h = got_w / width, got_h / height
            for name in ("scale_factor", "scale_factor_h"):
                check_limit(name, getattr(options, name), f"taken from the model's {got_w}x{got_h} output")
        want_w, want_h = output_size(width, options.scale_w), output_size(height, options.scale_h)
        if (got_w, got_h) != (want_w, want_h):
            raise NnvisrError(
                f"model output {main.name} is {got_w}x{got_h} for a {width}x{height} input; "
                f"scale_factor={options.scale_w:g} scale_factor_h={options.scale_h:g} expect {want_w}x{want_h}"
            )
        frames = (options.output_frames,) if self.network.temporal_out else ()
        out_shapes = shapes_of(want_w, want_h)
        for tensor, shape in zip(self.network.outputs, out_shapes):
            have = tuple(results[tensor.name].shape)
            if have != (1, *frames, *shape):
                raise NnvisrError(f"model output {tensor.name} has shape {list(have)}; expected {[1, *frames, *shape]}")
        batch = options.batch_size_fusion
        host_empty = self.backend.host_empty
        self.in_buffers = [host_empty(self._input_shape(i, batch), t.dtype) for i, t in enumerate(self.network.inputs)]
        self.out_buffers = [
            host_empty((batch, *frames, *shape), t.dtype) for t, shape in zip(self.network.outputs, out_shapes)
        ]
        self.bound: dict[int, Callable[[], None]] = {}
        # Frames that are whole windows can be read straight into their batch position (see input_slot).
        frame_dtype = np.uint8 if codes is not None else np.float32
        direct = options.window_frames == 1 and all(b.dtype == frame_dtype for b in self.in_buffers)
        self.slots = (
            [[b[i, 0] if self.network.temporal_in else b[i] for b in self.in_buffers] for i in range(batch)]
            if direct
            else None
        )
        return want_w, want_h

    def input_slot(self, index: int) -> list[np.ndarray] | None:
        """The per-frame tensors at batch position index of the input buffers, when windows are single frames.

        The processor reads the frame that will be the index-th window of the next batch straight into
        them, and run() finds it in place: no per-frame tensor, no copy. None: frames need their own store."""
        return self.slots[index] if self.slots is not None else None

    def _bound(self, count: int) -> Callable[[], None]:
        """A run over the first count windows of the batch buffers."""
        if count not in self.bound:
            feeds = {t.name: b[:count] for t, b in zip(self.network.inputs, self.in_buffers)}
            outs = {t.name: b[:count] for t, b in zip(self.network.outputs, self.out_buffers)}
            self.bound[count] = self.backend.bind(feeds, outs)
        return self.bound[count]

    def run(self, windows: list[Window], frame: FrameLookup, colour: ColourInfo) -> OutputLookup:
        temporal_in = self.network.temporal_in
        slots = self.slots
        for i, window in enumerate(windows):
            for t, seq in enumerate(window.frames):
                tensors = frame(seq)
                if slots is not None and tensors[0] is slots[i][0]:
                    continue  # read in place by the processor
                for buffer, tensor in zip(self.in_buffers, tensors):
                    np.copyto(buffer[i, t] if temporal_in else buffer[i], tensor, casting="unsafe")
        self._bound(len(windows))()
        if self.network.temporal_out:
            return lambda i, k: [b[i, k] for b in self.out_buffers]
        return lambda i, k: [b[i] for b in self.out_buffers]

    def release(self, seqs: list[int]) -> None:
        """Single-stage runners keep nothing per frame."""

    def forget(self) -> None:
        """Nothing is kept between runs."""

    def grid(self) -> int:
        """Any origin: what the network strides by is declared as alignment."""
        return 1
