#!/usr/bin/env python3
"""Peak memory of the bundled default model, whole frames against tiles and a max_memory budget.

    .venv/bin/python bench/memory.py                       # 1280x720 and 1920x1080, writes bench/MEMORY.md
    .venv/bin/python bench/memory.py --sizes 640x360 --output /tmp/m.md

Each configuration is one ffmpeg run on six frames of testsrc2 (two windows of the default model's three frames)
into -f null; the figure is the process's peak resident set (ru_maxrss from wait4, as /usr/bin/time -v reports it)
and its wall time. The tiled outputs are compared with the whole-frame output (largest difference in code values)
on the same frames, written as rgb24.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
FFMPEG = BENCH.parent / ".venv" / "bin" / "ffmpeg"
CONFIGS = {
    "1280x720": ["nnvisr", "nnvisr=tile=640x360", "nnvisr=tile=320x180", "nnvisr=max_memory=1000"],
    "1920x1080": ["nnvisr", "nnvisr=tile=640x360", "nnvisr=tile=320x180", "nnvisr=max_memory=1500"],
}


def command(size: str, vf: str, target: str) -> list[str]:
    return [
        str(FFMPEG), "-hide_banner", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i",
        f"testsrc2=s={size}:r=10:d=0.6", "-vf", vf, "-f", "rawvideo", "-pix_fmt", "rgb24", target,
    ]


def measure(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one run."""
    start = time.monotonic()
    process = subprocess.Popen(args)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}")
    return usage.ru_maxrss / 1024, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=list(CONFIGS))
    parser.add_argument("--output", type=Path, default=BENCH / "MEMORY.md")
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in options.sizes:
            whole = None
            for vf in CONFIGS.get(size, ["nnvisr", "nnvisr=tile=320x180"]):
                target = str(Path(tmp) / "out.raw")
                args = command(size, vf, target)
                rss, wall = measure(args)
                frames = np.fromfile(target, np.uint8).astype(np.int16)
                if whole is None:
                    whole, diff = frames, "-"
                else:
                    diff = str(int(np.abs(frames - whole).max()))
                shown = " ".join(a if " " not in a else repr(a) for a in args[1:]).replace(target, "out.raw")
                rows.append(f"| {size} | `{vf}` | {rss:.0f} | {wall:.1f} | {diff} | `ffmpeg {shown}` |")
                print(rows[-1], file=sys.stderr)
    text = "\n".join([
        "# Memory of the default model",
        "",
        "Written by `bench/memory.py`. Peak RSS of the whole ffmpeg process (ru_maxrss), six frames of testsrc2,",
        "ONNX Runtime on the CPU; `max diff` is the largest difference from the whole-frame output in code values.",
        "",
        "| input | filter | peak RSS (MiB) | wall (s) | max diff | command |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ])
    options.output.write_text(text)


if __name__ == "__main__":
    main()
