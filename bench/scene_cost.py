#!/usr/bin/env python3
"""What the filter's own scene detection (scene=auto without scdet in front) costs.

    .venv/bin/python bench/scene_cost.py            # writes the scene detection section of bench/RESULTS.md
    .venv/bin/python bench/scene_cost.py --rounds 1 --output /tmp/r.md

Two figures, on 640x360 yuv420p testsrc2 frames (the input the filter measures, before its conversion to the
model's RGB):
 - fps of `ffmpeg -vf nnvisr` (the bundled default model) with scene=auto, which measures every frame, against
   scene=off, which measures none, timed as bench/run.py times its runs (start-up excluded, medians over
   interleaved rounds);
 - the measure alone (nnvisr_core.scene_detect.SceneMeasure.score, one frame against the one before), in a loop.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import run as cpu_bench  # bench/run.py: the timing method

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
HEADING = "## Scene detection cost"
MARK = "<!-- written by bench/scene_cost.py -->"
WIDTH, HEIGHT = 640, 360


def input_file(ffmpeg: Path, work: Path) -> Path:
    path = work / f"scene_{WIDTH}x{HEIGHT}.yuv"
    if not path.is_file():
        subprocess.run(
            [str(ffmpeg), "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s={WIDTH}x{HEIGHT}:r=25",
             "-frames:v", str(cpu_bench.INPUT_FRAMES), "-pix_fmt", "yuv420p", "-f", "rawvideo", "-y", str(path)],
            check=True,
        )  # fmt: skip
    return path


def config(ffmpeg: Path, source: Path, scene: str, threads: int) -> cpu_bench.Config:
    argv = [
        str(ffmpeg), "-nostdin", "-v", "error", "-stream_loop", "-1",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-framerate", "25", "-i", str(source),
        "-frames:v", "{frames}", "-vf", f"nnvisr=scene={scene}:threads={threads}", "-f", "null", "-",
        "-progress", "pipe:1", "-stats_period", "0.05",
    ]  # fmt: skip
    return cpu_bench.Config(f"default model, scene={scene}", argv)


def measure_alone(repeats: int = 200) -> float:
    """Seconds per frame of SceneMeasure.score on 640x360 yuv420p (luma only), median of 5 loops."""
    sys.path.insert(0, str(REPO))
    from nnvisr_core.scene_detect import LinkFormat, SceneMeasure

    fmt = LinkFormat("yuv420p", 8, 3, False, True, False, False, (WIDTH, WIDTH // 2, WIDTH // 2),
                     (HEIGHT, HEIGHT // 2, HEIGHT // 2))  # fmt: skip
    rng = np.random.default_rng(1)
    frames = [[rng.integers(0, 256, (HEIGHT, WIDTH), np.uint8)] for _ in range(2)]
    measure = SceneMeasure(fmt)
    loops = []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(repeats):
            measure.score(frames[i % 2])
        loops.append((time.perf_counter() - start) / repeats)
    return statistics.median(loops)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ffmpeg", type=Path, default=REPO / ".venv" / "bin" / "ffmpeg")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=48, help="frames per run to start with (doubled if too short)")
    parser.add_argument("--tries", type=int, default=cpu_bench.MAX_TRIES,
                        help="runs of a round at most, while other load disturbs them (bench/run.py's rule)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nnvisr-bench")
    args = parser.parse_args(argv)
    cpu_bench.MAX_TRIES = max(1, args.tries)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)  # as bench/run.py (root only)
    except OSError:
        pass
    args.work.mkdir(parents=True, exist_ok=True)
    source = input_file(args.ffmpeg, args.work)
    configs = [config(args.ffmpeg, source, scene, args.threads) for scene in ("auto", "off")]
    per = cpu_bench.steady_fps(configs, args.frames, args.rounds, print)
    auto, off = (cpu_bench.fps(per[c.name]) for c in configs)
    alone = measure_alone()
    rows = [[c.name, f"{cpu_bench.fps(per[c.name]):.2f}", cpu_bench.spread(per[c.name])] for c in configs]
    command = " ".join(filter(None, [".venv/bin/python bench/scene_cost.py", shlex.join(sys.argv[1:] or [])]))
    lines = [
        HEADING,
        "",
        MARK,
        f"`{command}`, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}: the bundled default model on "
        f"{WIDTH}x{HEIGHT} yuv420p testsrc2 frames, {args.threads} threads, {args.rounds} rounds "
        f"({cpu_bench.disturbed_runs[0]} runs disturbed by other load, more than 3% of a CPU taken by other "
        f"processes; {cpu_bench.disturbed_runs[1]} of the {2 * args.rounds} figures are from a disturbed run).",
        "",
        *cpu_bench.table(["scene", "fps (median)", "fps range"], rows),
        "",
        f"- scene=auto / scene=off: {auto / off:.3f}",
        f"- the measure alone (SceneMeasure.score, luma of one {WIDTH}x{HEIGHT} frame against the previous): "
        f"{alone * 1e6:.0f} µs per frame, {alone * off:.2%} of a frame's time at scene=off",
        "",
        "Commands (`{frames}` = frames per run):",
        "",
        # (paths inside the repository relative to it: the commands run from its root)
        *[f"    {shlex.join(c.argv).replace(f'{REPO}/', '')}" for c in configs],
        "",
    ]
    print("\n".join(lines))
    cpu_bench.write_section(args.output, HEADING, lines)
    print(f"bench/scene_cost.py: wrote the scene detection section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
