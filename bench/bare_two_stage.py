#!/usr/bin/env python3
"""The bare loop for a two-stage model on a GPU backend: the networks and nothing around them.

    bare_two_stage.py PACKAGE FRAMES BATCH WIDTH HEIGHT BACKEND [fp16]

Opens the package's fe_/ff_ networks with nnvisr's own backend classes
(BACKEND: cuda or tensorrt; fp16: the FP16 graph nnvisr builds for
use_fp16=1), keeps every tensor in device memory as the filter keeps its
feature store (the paper's Fig. 1 layout, b*n+1 slots per level), and per
batch runs what the filter runs for b windows of n frames: one extraction
of the b*n new frames into their slots, one fusion over the b windows. No
pixels cross to the host, nothing is converted: the best a filter could do
with this model on this backend. It prints `frame=N` lines as ffmpeg's
`-progress` does (at most every 50 ms), so bench/gpu.py measures both alike.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
from bare_loop import run_reporting

from nnvisr_core import log
from nnvisr_core.frame_store import Fig1Layout
from nnvisr_core.options import Options
from nnvisr_core.two_stage import level_sizes


def open_pair(package: pathlib.Path, backend: str, fp16: bool, batch_extract: int, batch: int):
    from nnvisr_core.backends import open_backend

    (folder,) = [p for p in package.iterdir() if p.is_dir() and (p.name.startswith("rgb") or p.name == "any")]
    (fe,), (ff,) = folder.glob("fe_*.onnx"), folder.glob("ff_*.onnx")
    options = Options()
    options.backend, options.use_fp16 = backend, fp16
    return open_backend(fe, options, log.silent, batch_extract), open_backend(ff, options, log.silent, batch)


def main(argv: list[str]) -> int:
    package = pathlib.Path(argv[0])
    frames, batch, width, height = map(int, argv[1:5])
    backend_name, fp16 = argv[5], len(argv) > 6 and argv[6] == "fp16"
    config = json.loads((package / "nnvisr.json").read_text())
    levels, channels = config["extraction_layers"], config["feature_count"]
    scale, extra = config["scale_factor"], bool(config.get("extra_frame", False))
    n = config["input_count"] - int(extra)  # frames each window consumes
    if config.get("interpolation") or config.get("double_frame"):
        raise SystemExit("bare_two_stage.py times VSR packages (one output frame per consumed frame)")
    extract, fusion = open_pair(package, backend_name, fp16, batch * n, batch)
    layout = Fig1Layout(batch, n, extra)
    sizes = level_sizes(width, height, levels)
    store = [extract.device_empty((layout.size, channels, h, w), np.float32) for w, h in sizes]
    rgb = extract.device_empty((batch * n, 3, height, width), np.float32)
    extract.upload(rgb, np.random.default_rng(1).random(rgb.shape, np.float32))
    outs = {
        f"h{k}": fusion.device_empty((batch, 3, int(height * scale), int(width * scale)), np.float32)
        for k in range(1, n + 1)
    }
    # Per batch the filter extracts the b*n frames it has not seen (with extra_frame, slot 0 holds
    # the frame carried from the last batch) and fuses the b windows as views of the store.
    first = 1 if extra else 0
    extract_run = extract.bind({"rgb": rgb}, {f"l{i}": store[i][first : first + batch * n] for i in range(levels)})
    members = n + (1 if extra else 0)
    feeds = {f"f{j}l{i}": store[i][layout.member_slots(j, batch)] for j in range(members) for i in range(levels)}
    fusion_run = fusion.bind(feeds, outs)

    def step() -> None:
        extract_run()
        fusion_run()

    run_reporting(step, frames // (batch * n), batch * n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
