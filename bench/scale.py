#!/usr/bin/env python3
"""nnvisr-run's scaling: wall time of one job with 1 and 2 Ray workers, and the scan pass's share of it.

    .venv/bin/python bench/scale.py              # writes bench/SCALE.md
    .venv/bin/python bench/scale.py --frames 150 --output /tmp/s.md

A generated clip (scenes of FFmpeg's test sources, cut every 2 s) goes through the bundled default model (x2 VSR,
3-frame windows) with one thread per chunk (--cpus-per-chunk 1, so threads=1 in the filter), as nnvisr-run with
--workers 1 and --workers 2, and as one plain `ffmpeg -vf scdet,nnvisr=threads=1` run for reference. Wall times
include everything a user waits for: Ray's start, the scan, the chunks and the join. The scan pass is timed alone
with the same code nnvisr-run calls. Measured, never asserted; the machine's other load is not controlled.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FFMPEG = ROOT / ".venv" / "bin" / "ffmpeg"
FFPROBE = ROOT / ".venv" / "bin" / "ffprobe"
VF = "scdet,nnvisr=model=default"


def make_clip(path: pathlib.Path, frames: int, size: str) -> None:
    scene = 50  # frames per scene, 2 s at 25 fps
    count = -(-frames // scene)
    sources = []
    for index in range(count):
        kind = "testsrc" if index % 2 == 0 else "testsrc2"
        flip = ",hflip" if index % 4 >= 2 else ""
        sources += ["-f", "lavfi", "-i", f"{kind}=s={size}:r=25:d=2{flip}"]
    joined = "".join(f"[{i}]" for i in range(count)) + f"concat=n={count},trim=end_frame={frames},format=yuv420p[v]"
    subprocess.run([FFMPEG, "-v", "error", "-y", *sources, "-filter_complex", joined, "-map", "[v]", "-c:v", "ffv1",
                    str(path)], check=True)  # fmt: skip


def timed(command: list[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench/scale.py: {' '.join(map(str, command))} failed: {done.stderr.strip()[-500:]}")
    return time.monotonic() - started


def scan_seconds(clip: pathlib.Path, work: pathlib.Path) -> tuple[float, int, int]:
    from nnvisr_core.scale_out import graph, scan

    chain = graph.parse(VF)
    work.mkdir()
    started = time.monotonic()
    found = scan.scan(str(FFMPEG), str(FFPROBE), clip, chain, chain.options, work)
    return time.monotonic() - started, len(found.pts), len(found.cuts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="192x108")
    parser.add_argument("--chunk-seconds", default="2")
    parser.add_argument("--output", type=pathlib.Path, default=ROOT / "bench" / "SCALE.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as temporary:
        tmp = pathlib.Path(temporary)
        clip = tmp / "clip.mkv"
        make_clip(clip, args.frames, args.size)
        one_run = timed([FFMPEG, "-v", "error", "-y", "-i", clip, "-vf", VF + ":threads=1", "-threads", "1",
                         "-c:v", "ffv1", tmp / "plain.mkv"])  # fmt: skip
        scan_time, frames, cuts = scan_seconds(clip, tmp / "scan")
        walls = {}
        for workers in (1, 2):
            walls[workers] = timed([sys.executable, "-m", "nnvisr_core", "run", clip, tmp / f"out{workers}.mkv",
                                    "--vf", VF, "--workers", str(workers), "--cpus-per-chunk", "1",
                                    "--chunk-seconds", args.chunk_seconds, "-c:v", "ffv1"])  # fmt: skip
    load_after = os.getloadavg()[0]
    ratio = walls[1] / walls[2]
    command = f".venv/bin/python bench/scale.py --frames {args.frames} --size {args.size}"
    lines = [
        "# nnvisr-run scaling",
        "",
        f"Written by `{command}` (see the script's docstring for the method). Machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; 1-minute load average {load_before:.1f} "
        f"before and {load_after:.1f} after the runs (other work on the machine: with a load above the CPU count, "
        "a second worker gains only the share of the CPUs the machine gives it).",
        "",
        f"Clip: {frames} frames at {args.size}, {cuts} scenes (ffv1), through `{VF}` (x2 VSR, 3-frame windows), "
        f"one thread per chunk, chunks of about {args.chunk_seconds} s.",
        "",
        "| run | wall time |",
        "|---|---|",
        f"| one `ffmpeg -vf {VF}:threads=1` | {one_run:.1f} s |",
        f"| nnvisr-run, 1 worker | {walls[1]:.1f} s |",
        f"| nnvisr-run, 2 workers | {walls[2]:.1f} s |",
        f"| scan pass alone (scdet over the clip) | {scan_time:.2f} s |",
        "",
        f"2 workers against 1: {ratio:.2f}x faster. The scan pass is {100 * scan_time / walls[2]:.1f}% of the "
        f"2-worker job. nnvisr-run with 1 worker against one plain run: {walls[1] / one_run:.2f}x the time "
        "(Ray's start, the scan, each chunk's ffmpeg and model start, the join).",
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
