#!/usr/bin/env python3
"""The bare backend loop the bench compares with: ONNX Runtime on the CPU, nothing around it.

    bare_loop.py MODEL FRAMES BATCH WIDTH HEIGHT THREADS

Opens the model as nnvisr's backend does (CPU provider, THREADS intra-op
threads, one inter-op thread), binds one fixed input and one fixed output
buffer of [BATCH, 3, HEIGHT, WIDTH] with IOBinding, and runs FRAMES/BATCH
times. There is no pixel conversion, no copy and no video: the best a
filter could do with this model. It prints `frame=N` lines as ffmpeg's
`-progress` does (at most every 50 ms), so that the bench measures it the same
way, start-up (imports, session creation, the first runs) left out alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort


def main(argv: list[str]) -> int:
    model, frames, batch, width, height, threads = argv[0], *map(int, argv[1:6])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).random((batch, 3, height, width), dtype=np.float32)
    y = np.empty_like(x)
    binding = session.io_binding()
    binding.bind_ortvalue_input(session.get_inputs()[0].name, ort.OrtValue.ortvalue_from_numpy(x))
    binding.bind_ortvalue_output(session.get_outputs()[0].name, ort.OrtValue.ortvalue_from_numpy(y))
    run_reporting(lambda: session.run_with_iobinding(binding), frames // batch, batch)
    return 0


def run_reporting(step: Callable[[], None], runs: int, frames_per_run: int) -> None:
    """step() runs times, printing the frame count as ffmpeg's -progress does (at most every 50 ms)
    for the bench to stamp, and once more at the end."""
    last = 0.0
    for run in range(runs):
        step()
        now = time.perf_counter()
        if now - last >= 0.05:
            print(f"frame={(run + 1) * frames_per_run}", flush=True)
            last = now
    print(f"frame={runs * frames_per_run}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
