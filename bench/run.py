#!/usr/bin/env python3
"""nnvisr's performance and reliability bench: one script, one run, one machine.

    .venv/bin/python bench/run.py                 # full run, writes bench/RESULTS.md
    .venv/bin/python bench/run.py --quick         # fewer rounds and sizes, for a smoke test
    .venv/bin/python bench/run.py --no-peer       # skip FFmpeg 9.0's dnn_processing

What it measures (every figure is a ratio or a difference against a baseline
run in this same script):
 (1) fps of `ffmpeg -vf nnvisr` on a 4-layer 32-channel 3x3 conv net at
     320x176 rgb24, against the same model in a bare ONNX Runtime loop
     (bench/bare_loop.py: IOBinding on fixed buffers, same batch, size and
     threads) and against FFmpeg 9.0's dnn_processing (ONNX Runtime backend,
     built by bench/build_peer.py) on the identical .onnx file;
 (2) the per-frame cost of the C -> Python -> C path: nnvisr with an identity
     model minus ffmpeg with `-vf null`, same input;
 (3) peak RSS and its growth over a 3000-frame run;
 (4) fps against resolution and batch size, nnvisr against the bare loop.

Start-up is excluded by per-frame timestamps: ffmpeg reports its frame count
every 50 ms (`-progress pipe:1 -stats_period 0.05`), the bare loop likewise,
and the bench stamps each report as it arrives. The clock starts 1 s after the
first frame came out; the rest of the run is cut into 0.5 s windows and the
median of their rates is the run's speed (robust to a short disturbance). The
configurations of one round run interleaved and the figure is the median over
the rounds, so that a slow spell of the machine hits all of them alike; a run
during which other processes took more than 3% of a CPU is run again.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import models  # noqa: E402

FRAME_RATE = 25
INPUT_FRAMES = 48  # frames in each raw input file, looped with -stream_loop


# ------------------------------------------------------------ machine


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_family() -> str:
    fields = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if ":" in line:
            key, value = (s.strip() for s in line.split(":", 1))
            fields.setdefault(key, value)
        if not line.strip() and fields:
            break
    return f"family {fields.get('cpu family', '?')} model {fields.get('model', '?')}"


def first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "unavailable"
    return out.splitlines()[0] if out else "unavailable"


def machine_lines(ffmpeg: Path, peer: Path | None) -> list[str]:
    import numpy
    import onnxruntime

    commit = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO), "diff", "--quiet", "HEAD", "--", "nnvisr_core", "ffmpeg_filter"])
    lines = [
        f"- CPU: {cpu_model()} ({cpu_family()}), {os.cpu_count()} logical CPUs "
        f"(`nproc`), {Path('/proc/cpuinfo').read_text().count('processor')} in /proc/cpuinfo",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}, numpy {numpy.__version__}, onnxruntime {onnxruntime.__version__} "
        "(CPU execution provider)",
        f"- nnvisr: git {commit}{' + uncommitted changes' if dirty.returncode else ''}; "
        f"`{ffmpeg}`: {first_line([str(ffmpeg), '-version'])}",
    ]
    if peer is not None:
        info = peer.parent.parent / "peer.txt"
        extra = f" ({info.read_text().strip()})" if info.is_file() else ""
        lines.append(f"- peer: `{peer}`: {first_line([str(peer), '-version'])}{extra}")
    return lines


# ------------------------------------------------------------ runs


@dataclasses.dataclass
class Config:
    """One thing to time: a command line that processes `frames` frames."""

    name: str
    argv: list[str]  # with {frames} where the frame count goes
    scale: int = 1  # runs scale times the frames of the others (a much faster contender)

    def command(self, frames: int) -> list[str]:
        return [a.replace("{frames}", str(frames * self.scale)) for a in self.argv]


def busy_seconds() -> float:
    """CPU time spent by everything on the machine (all CPUs), from /proc/stat; steal counts as busy."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclasses.dataclass
class Timed:
    wall: float
    foreign: float  # CPU seconds used meanwhile by processes outside the bench (and the hypervisor's steal)


def run_timed(command: list[str]) -> Timed:
    busy, own = busy_seconds(), children_seconds() + time.process_time()
    start = time.perf_counter()
    proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    foreign = (busy_seconds() - busy) - (children_seconds() + time.process_time() - own)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return Timed(elapsed, max(0.0, foreign))


# A run is disturbed when processes outside the bench took more than this
# share of one CPU while it ran; it is then run again (up to MAX_TRIES).
FOREIGN_LIMIT = 0.03
MAX_TRIES = 6
disturbed_runs = [0, 0]  # [repeated, kept although disturbed]
WARMUP_S = 1.0  # after the first frame, before the rate counts
WINDOW_S = 0.5  # the rate is taken over windows of this length; their median is the run's rate


class TooShort(Exception):
    """A run gave too few windows past its warm-up."""


def window_rate(samples: list[tuple[float, int]]) -> float:
    """Frames per second of a run from (time received, frames done) samples.

    Start-up is excluded: the clock starts WARMUP_S after the first frame came out. The
    rest is cut into windows of at least WINDOW_S; the median of their rates is robust to a
    short disturbance. The last sample (the end-of-run report) is left out."""
    first = next((t for t, f in samples if f > 0), None)
    if first is None:
        raise RuntimeError("the run reported no frames")
    # Only the first report of each new count: its time is when those frames were done (within the
    # 50 ms report period), also when a batch finishes several frames at once.
    changes = [s for i, s in enumerate(samples[:-1]) if i == 0 or s[1] != samples[i - 1][1]]
    steady = [(t, f) for t, f in changes if t >= first + WARMUP_S]
    rates, start = [], 0
    for end in range(1, len(steady)):
        span = steady[end][0] - steady[start][0]
        if span >= WINDOW_S:
            rates.append((steady[end][1] - steady[start][1]) / span)
            start = end
    if len(rates) < 3:
        raise TooShort()
    return statistics.median(rates)


def run_progress(command: list[str]) -> tuple[float, float]:
    """(steady-state fps, foreign CPU share) of one run that prints `frame=N` lines on stdout.

    ffmpeg does with `-progress pipe:1 -stats_period 0.05`, bench/bare_loop.py likewise;
    each line is stamped when it arrives."""
    busy, own = busy_seconds(), children_seconds() + time.process_time()
    start = time.perf_counter()
    samples: list[tuple[float, int]] = []
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("frame="):
                samples.append((time.perf_counter(), int(line[6:])))
        proc.wait()
        err.seek(0)
        message = err.read().decode(errors="replace")
    wall = time.perf_counter() - start
    foreign = (busy_seconds() - busy) - (children_seconds() + time.process_time() - own)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed ({proc.returncode}):\n{message[-3000:]}")
    return window_rate(samples), max(0.0, foreign) / wall


def measured(config: Config, frames: int) -> tuple[float, float]:
    """(seconds per frame, foreign CPU share) of one undisturbed run."""
    best: tuple[float, float] | None = None
    for _ in range(MAX_TRIES):
        try:
            rate, share = run_progress(config.command(frames))
        except TooShort:
            config.scale *= 2  # this contender is faster than estimated: longer runs from now on
            continue
        if share <= FOREIGN_LIMIT:
            return 1.0 / rate, share
        disturbed_runs[0] += 1
        if best is None or share < best[1]:
            best = (1.0 / rate, share)
    if best is None:
        raise RuntimeError(f"{config.name}: no run long enough to measure")
    disturbed_runs[1] += 1
    return best


def steady_fps(configs: list[Config], frames: int, rounds: int, log) -> dict[str, list[float]]:
    """Per configuration, the steady-state seconds per frame of each round."""
    per_frame: dict[str, list[float]] = {c.name: [] for c in configs}
    for r in range(rounds):
        for config in configs:
            seconds, share = measured(config, frames)
            per_frame[config.name].append(seconds)
            log(f"  round {r + 1}/{rounds} {config.name}: {1 / seconds:.1f} fps (foreign CPU {share:.1%})")
    return per_frame


def fps(seconds_per_frame: list[float]) -> float:
    return 1.0 / statistics.median(seconds_per_frame)


def spread(seconds_per_frame: list[float]) -> str:
    values = sorted(1.0 / s for s in seconds_per_frame)
    return f"{values[0]:.1f}-{values[-1]:.1f}"


# ------------------------------------------------------------ commands


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.ffmpeg = args.ffmpeg
        self.peer = args.peer
        self.conv = models.conv_net(work / "conv4x32.onnx")
        self.identity = models.identity(work / "identity.onnx")
        self.inputs: dict[tuple[int, int], Path] = {}
        self.log_lines: list[str] = []

    def log(self, message: str) -> None:
        print(message, flush=True)

    def input_file(self, width: int, height: int) -> Path:
        if (width, height) not in self.inputs:
            path = self.work / f"in_{width}x{height}.rgb"
            subprocess.run(
                [
                    str(self.ffmpeg), "-nostdin", "-v", "error", "-f", "lavfi",
                    "-i", f"testsrc2=s={width}x{height}:r={FRAME_RATE}",
                    "-frames:v", str(INPUT_FRAMES), "-pix_fmt", "rgb24", "-f", "rawvideo", "-y", str(path),
                ],
                check=True,
            )  # fmt: skip
            self.inputs[(width, height)] = path
        return self.inputs[(width, height)]

    def _ffmpeg(self, binary: Path, width: int, height: int, vf: str) -> list[str]:
        return [
            str(binary), "-nostdin", "-v", "error", "-stream_loop", "-1",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(FRAME_RATE),
            "-i", str(self.input_file(width, height)), "-frames:v", "{frames}", "-vf", vf, "-f", "null", "-",
            "-progress", "pipe:1", "-stats_period", "0.05",
        ]  # fmt: skip

    def nnvisr(self, model: Path, width: int, height: int, batch: int = 1) -> Config:
        vf = f"nnvisr=model={model}:threads={self.args.threads}"
        if batch != 1:
            vf += f":batch_size_fusion={batch}"
        return Config(f"nnvisr b{batch} {width}x{height} {model.stem}", self._ffmpeg(self.ffmpeg, width, height, vf))

    def peer_config(self, model: Path, width: int, height: int) -> Config:
        assert self.peer is not None
        vf = f"dnn_processing=dnn_backend=onnx:model={model}:async=0:threads_per_operation={self.args.threads}"
        return Config(f"dnn_processing {width}x{height} {model.stem}", self._ffmpeg(self.peer, width, height, vf))

    def null(self, binary: Path, width: int, height: int, label: str) -> Config:
        return Config(f"{label} -vf null {width}x{height}", self._ffmpeg(binary, width, height, "null"), scale=8)

    def bare(self, model: Path, width: int, height: int, batch: int = 1) -> Config:
        argv = [
            sys.executable, str(BENCH / "bare_loop.py"), str(model), "{frames}", str(batch),
            str(width), str(height), str(self.args.threads),
        ]  # fmt: skip
        return Config(f"bare b{batch} {width}x{height} {model.stem}", argv)

    def frames_for(self, width: int, height: int, seconds: float, per_pixel_fps: float, multiple: int = 8) -> int:
        """Frames that take about `seconds` at the expected speed, a multiple of every batch size."""
        estimate = per_pixel_fps / (width * height)
        return max(multiple, int(seconds * estimate) // multiple * multiple)


# ------------------------------------------------------------ RSS


def sample_rss(command: list[str], interval: float = 0.02) -> tuple[float, list[tuple[float, int]], int]:
    """(wall seconds, [(t, VmRSS kB)], VmHWM kB) of one run, sampled from /proc."""
    samples: list[tuple[float, int]] = []
    hwm = [0]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def poll() -> None:
        path = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                text = path.read_text()
            except OSError:
                break
            fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
            if "VmRSS" in fields:
                samples.append((time.perf_counter() - start, int(fields["VmRSS"].split()[0])))
                hwm[0] = max(hwm[0], int(fields["VmHWM"].split()[0]))
            time.sleep(interval)

    thread = threading.Thread(target=poll)
    thread.start()
    _, err = proc.communicate()
    thread.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{err.decode(errors='replace')[-3000:]}")
    return time.perf_counter() - start, samples, hwm[0]


def rss_growth(samples: list[tuple[float, int]], steady_from: float) -> tuple[int, int, int]:
    """(RSS when steady, RSS at the end, growth) in kB.

    Steady: the median of the samples in the 10% of the run after steady_from
    (the process has loaded its model and run its first frames by then); end:
    the median of the last 10% of the samples."""
    end_t = samples[-1][0]
    window = (end_t - steady_from) * 0.1
    early = [r for t, r in samples if steady_from <= t <= steady_from + window]
    late = [r for t, r in samples if t >= end_t - window]
    if not early or not late:
        return 0, 0, 0
    first, last = int(statistics.median(early)), int(statistics.median(late))
    return first, last, last - first


# ------------------------------------------------------------ main


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ffmpeg", type=Path, default=REPO / ".venv" / "bin" / "ffmpeg", help="ffmpeg with nnvisr")
    parser.add_argument("--peer", type=Path, help="FFmpeg 9.0 ffmpeg with dnn_processing (default: build it)")
    parser.add_argument("--no-peer", action="store_true", help="leave FFmpeg 9.0's dnn_processing out")
    parser.add_argument("--rounds", type=int, default=5, help="rounds for (1) and (2); (4) runs half as many")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--quick", action="store_true", help="2 rounds, fewer sizes: a smoke test")
    parser.add_argument("--note", default="", help="a line for RESULTS.md, e.g. what was installed")
    parser.add_argument("--parts", default="1234", help="which parts to run, e.g. 12 (RESULTS.md needs all)")
    parser.add_argument("--nice", type=int, default=-10, help="priority of the bench and its runs (default -10)")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "nnvisr-bench", help="models and inputs go here"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 2
    env = f"NNVISR_CACHE={shlex.quote(os.environ['NNVISR_CACHE'])} " if os.environ.get("NNVISR_CACHE") else ""
    command_line = " ".join(
        filter(None, [f"{env}.venv/bin/python bench/run.py", shlex.join(sys.argv[1:] if argv is None else argv)])
    )
    peer_note = ""
    if args.no_peer:
        args.peer = None
        peer_note = "left out (--no-peer)"
    elif args.peer is None:
        import build_peer

        try:
            args.peer = build_peer.build(build_peer.bf.default_cache(), os.cpu_count() or 1)
        except build_peer.BuildError as exc:
            args.peer = None
            peer_note = f"could not be built: {exc}"
            print(f"bench: the peer could not be built: {exc}", file=sys.stderr)

    try:
        # Ahead of other work on the machine (root only): a preempted ONNX Runtime thread stalls the others.
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
        priority = f"nice {args.nice}"
    except OSError:
        priority = f"nice {os.getpriority(os.PRIO_PROCESS, 0)} (could not set {args.nice}: not root)"
    args.priority = priority
    started = datetime.datetime.now(datetime.timezone.utc)
    # Kept after the run, so that the commands in RESULTS.md can be run again as they are.
    args.work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, args.work)
    results = run_all(bench, args)
    text = "\n".join(report(bench, args, results, command_line, peer_note, started)) + "\n"
    print("\n" + text)
    args.output.write_text(text)
    print(f"bench: wrote {args.output}")
    return 0


W, H = 320, 176
CONV_FPS_PIXELS = 160 * W * H  # rough speed of the conv net here (fps x pixels), to size the runs


def part_one(bench: Bench, args: argparse.Namespace):
    """The conv net at 320x176, batch 1: bare loop, nnvisr, peer."""
    bench.log("(1) conv net 320x176, batch 1")
    configs = [bench.bare(bench.conv, W, H), bench.nnvisr(bench.conv, W, H)]
    if bench.peer is not None:
        configs.append(bench.peer_config(bench.conv, W, H))
    frames = bench.frames_for(W, H, 7.0, CONV_FPS_PIXELS)
    return configs, frames, steady_fps(configs, frames, args.rounds, bench.log)


def part_two(bench: Bench, args: argparse.Namespace):
    """The frame path with an identity model."""
    bench.log("(2) identity model: the C -> Python -> C path")
    two = []
    for size in ((320, 176), (1280, 720)):
        configs = [bench.null(bench.ffmpeg, *size, "ffmpeg 7.1"), bench.nnvisr(bench.identity, *size)]
        if bench.peer is not None:
            configs += [bench.null(bench.peer, *size, "ffmpeg 9.0"), bench.peer_config(bench.identity, *size)]
        frames = bench.frames_for(*size, 4.0, 5000 * W * H)
        two.append((size, configs, frames, steady_fps(configs, frames, args.rounds, bench.log)))
    return two


def part_three(bench: Bench, args: argparse.Namespace):
    """RSS over a 3000-frame run."""
    bench.log("(3) RSS over 3000 frames")
    three = []
    rss_configs = [bench.nnvisr(bench.conv, W, H)]
    if bench.peer is not None:
        rss_configs.append(bench.peer_config(bench.conv, W, H))
    for config in rss_configs:
        command = config.command(3000)
        startup = run_timed(config.command(8)).wall  # start-up plus a few frames: where "steady" begins
        wall, samples, hwm = sample_rss(command)
        three.append((config, command, wall, startup, hwm, rss_growth(samples, startup)))
        bench.log(f"  {config.name}: peak {hwm / 1024:.1f} MiB, growth {three[-1][5][2] / 1024:+.2f} MiB")
    return three


def part_four(bench: Bench, args: argparse.Namespace):
    """fps against resolution and batch size."""
    bench.log("(4) resolution and batch size")
    sizes = [(320, 176), (640, 352)] if args.quick else [(160, 96), (320, 176), (640, 352), (1280, 720)]
    batches = [1, 4] if args.quick else [1, 2, 4, 8]
    four = []
    for size in sizes:
        for batch in batches if size == (320, 176) else [1, 4]:
            configs = [bench.bare(bench.conv, *size, batch), bench.nnvisr(bench.conv, *size, batch)]
            # Longer runs for big frames: a batch there takes long, and the windows need several batches.
            frames = bench.frames_for(*size, 4.0 if size[0] * size[1] <= W * H else 8.0, CONV_FPS_PIXELS)
            per = steady_fps(configs, frames, max(2, args.rounds // 2), bench.log)
            four.append((size, batch, configs, frames, per))
    return four


PARTS = {"1": ("one", part_one), "2": ("two", part_two), "3": ("three", part_three), "4": ("four", part_four)}


def run_all(bench: Bench, args: argparse.Namespace) -> dict:
    return {key: run(bench, args) for part, (key, run) in PARTS.items() if part in args.parts}


def report(bench: Bench, args, results: dict, command_line: str, peer_note: str, started) -> list[str]:
    out = [
        "# nnvisr bench results",
        "",
        f"Produced by `{command_line}` on {started:%Y-%m-%d %H:%M} UTC (the whole file, every figure below, "
        "comes from that one run).",
        "",
        *([args.note, ""] if args.note else []),
        "## Machine and versions",
        "",
        *machine_lines(bench.ffmpeg, bench.peer),
        f"- ONNX Runtime intra-op threads: {args.threads} for every contender (nnvisr `threads=`, "
        "dnn_processing `threads_per_operation=`, the bare loop's `intra_op_num_threads`)",
    ]
    if peer_note:
        out.append(f"- FFmpeg 9.0 dnn_processing peer: {peer_note}")
    out += [
        "",
        "## Method",
        "",
        "- Models are built by `bench/models.py` with onnx.helper: `conv4x32` is four 3x3 convolutions "
        "(3 -> 32 -> 32 -> 32 -> 3 channels, pad 1, ReLU between them), `[N,3,H,W] -> [N,3,H,W]` with dynamic N, H, "
        "W; `identity` is one Identity node. Both filters load the very same .onnx file.",
        "- Input: raw rgb24 frames (testsrc2, "
        f"{INPUT_FRAMES} frames per file, looped with `-stream_loop -1`), output to the null muxer, so decoding "
        "and encoding cost next to nothing and are the same for every ffmpeg contender.",
        "- Start-up excluded by per-frame timestamps: ffmpeg prints its frame count every 50 ms "
        "(`-progress pipe:1 -stats_period 0.05`), the bare loop prints `frame=N` likewise, and the bench stamps "
        f"each line as it arrives. The clock starts {WARMUP_S:g} s after the first frame came out (Python, imports, "
        "model load, session creation and the first runs are before that); the rest of the run is cut into "
        f"windows of at least {WINDOW_S:g} s, from report to report where the count changed (a batch finishes "
        "several frames at once), and the median of their rates is the run's fps, so that a short disturbance does "
        "not count. The last report (end of run, flush) is left out.",
        "- The configurations of one round run one after the other; the figure is the median over the rounds "
        "(the range is shown as min-max), so that the machine's slow spells (it is a shared VM) hit all alike.",
        f"- The bench and its runs have priority {args.priority}. A run during which processes outside "
        f"the bench (or the hypervisor's steal) took more than {FOREIGN_LIMIT:.0%} of one CPU (from /proc/stat "
        f"less the bench's own children) is run again, up to {MAX_TRIES} times; in this run "
        f"{disturbed_runs[0]} runs were repeated and {disturbed_runs[1]} were kept (the least disturbed try) "
        "after all tries were disturbed.",
        "- The bare loop (`bench/bare_loop.py`) is ONNX Runtime's Python API with IOBinding on one fixed input and "
        "output buffer, no pixels and no copies: the upper bound for any filter using the same runtime.",
        "- FFmpeg 9.0's dnn_processing runs with `async=0` (its ONNX Runtime backend has no async mode) and "
        "batch 1 (its only batch size).",
        "",
    ]

    if "one" in results:
        out += report_one(bench, args, results["one"])
    if "two" in results:
        out += report_two(results["two"])
    if "three" in results:
        out += report_three(results["three"])
    if "four" in results:
        out += report_four(results["four"])
    return out + report_gpu(args.output) + kept_section(args.output, SCENE_HEADING, SCENE_MARK)


GPU_NONE = [
    "## GPU",
    "",
    "No GPU figures: this machine has no NVIDIA GPU (`nvidia-smi` absent), and no GPU machine was lent to the work "
    "that produced this file. The GPU bench is `bench/gpu.py` (ONNX Runtime CUDA and TensorRT against the same "
    "model in a bare loop on the same backend, 1080p); it writes this section when run on a GPU.",
    "",
]
GPU_MARK = "<!-- written by bench/gpu.py -->"


SCENE_HEADING = "## Scene detection cost"
SCENE_MARK = "<!-- written by bench/scene_cost.py -->"


def write_section(output: Path, heading: str, lines: list[str]) -> None:
    """Replace the section under heading in RESULTS.md (or append it): what bench/gpu.py and bench/scene_cost.py
    write, each its own section beside this script's report."""
    text = output.read_text() if output.is_file() else "# nnvisr bench results\n\n"
    start = text.find(heading)
    if start >= 0:
        rest = text.find("\n## ", start + 1)
        text = text[:start] + text[rest + 1 :] if rest >= 0 else text[:start]
    output.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")


def kept_section(output: Path, heading: str, mark: str) -> list[str]:
    """The section another script wrote into the previous RESULTS.md (it holds mark), or nothing."""
    previous = output.read_text() if output.is_file() else ""
    start = previous.find(heading)
    if start >= 0:
        end = previous.find("\n## ", start + 1)
        section = previous[start : end if end >= 0 else None]
        if mark in section:
            return section.rstrip("\n").split("\n") + [""]
    return []


def report_gpu(output: Path) -> list[str]:
    """The GPU section bench/gpu.py wrote on a GPU machine is kept; else say plainly there are no GPU figures."""
    return kept_section(output, "## GPU", GPU_MARK) or GPU_NONE


def report_one(bench: Bench, args, one) -> list[str]:
    out: list[str] = []
    configs, frames, per = one
    bare, nn = fps(per[configs[0].name]), fps(per[configs[1].name])
    rows = [[c.name, f"{fps(per[c.name]):.1f}", spread(per[c.name]), f"{fps(per[c.name]) / bare:.3f}"] for c in configs]
    out += [
        "## (1) nnvisr against the bare loop and FFmpeg 9.0's dnn_processing",
        "",
        f"conv4x32, 320x176 rgb24, batch 1, N = {frames} frames, {args.rounds} rounds.",
        "",
        *table(["contender", "fps (median)", "fps range", "ratio to bare loop"], rows),
        "",
        f"- target nnvisr >= 0.95 x bare loop: {nn / bare:.3f} -> {'met' if nn / bare >= 0.95 else 'NOT met'}",
    ]
    if bench.peer is not None:
        peer = fps(per[configs[2].name])
        out.append(
            f"- target nnvisr >= dnn_processing: {nn:.1f} vs {peer:.1f} fps ({nn / peer:.3f}) -> "
            f"{'met' if nn >= peer else 'NOT met'}"
        )
    out += ["", "Commands (`{frames}` = N):", ""]
    out += [f"    {shlex.join(c.argv)}" for c in configs]
    out.append("")

    return out


def report_two(two) -> list[str]:
    out = [
        "## (2) Per-frame cost of the C -> Python -> C path (identity model)",
        "",
        "Per-frame time of `-vf nnvisr=model=identity.onnx` minus that of `-vf null` in the same ffmpeg: "
        "what the filter, the bridge, the pixel conversions both ways and one ONNX Runtime run of an identity "
        "model add to each frame. The same for dnn_processing in FFmpeg 9.0, for comparison.",
        "",
    ]
    rows = []
    for size, configs, frames, per in two:
        base = {c.name: statistics.median(per[c.name]) for c in configs}
        names = [c.name for c in configs]
        rows.append(
            [f"{size[0]}x{size[1]}", "nnvisr", f"{base[names[1]] * 1e3:.3f}", f"{base[names[0]] * 1e3:.3f}",
             f"{(base[names[1]] - base[names[0]]) * 1e6:.0f}",
             f"{frames * configs[1].scale} / {frames * configs[0].scale}"]
        )  # fmt: skip
        if len(names) == 4:
            rows.append(
                [f"{size[0]}x{size[1]}", "dnn_processing", f"{base[names[3]] * 1e3:.3f}",
                 f"{base[names[2]] * 1e3:.3f}", f"{(base[names[3]] - base[names[2]]) * 1e6:.0f}",
                 f"{frames * configs[3].scale} / {frames * configs[2].scale}"]
            )  # fmt: skip
    header = ["size", "filter", "ms/frame with filter", "ms/frame -vf null", "path cost µs/frame", "N (filter / null)"]
    out += table(header, rows)
    out += ["", "Commands:", ""]
    for _, configs, _, _ in two:
        out += [f"    {shlex.join(c.argv)}" for c in configs]
    out.append("")

    return out


def report_three(three) -> list[str]:
    out = [
        "## (3) Memory over a 3000-frame run",
        "",
        "VmRSS sampled from /proc every 20 ms; peak is VmHWM. Steady RSS: median of the samples in the 10% of the "
        "run that follows start-up (start-up measured by a separate 8-frame run); end RSS: median of the last 10%.",
        "",
    ]
    rows = []
    for config, _, wall, _startup, hwm, (first, last, growth) in three:
        rows.append(
            [config.name, f"{hwm / 1024:.1f}", f"{first / 1024:.1f}", f"{last / 1024:.1f}", f"{growth / 1024:+.2f}",
             f"{wall:.1f}", "met" if growth < 5 * 1024 else "NOT met"]
        )  # fmt: skip
    out += table(["run", "peak RSS MiB", "steady RSS MiB", "end RSS MiB", "growth MiB", "wall s", "< 5 MB"], rows)
    out += ["", "Commands:", ""]
    out += [f"    {shlex.join(command)}" for _, command, *_ in three]
    out.append("")

    return out


def report_four(four) -> list[str]:
    out = [
        "## (4) fps against resolution and batch size (conv4x32)",
        "",
        "nnvisr's `batch_size_fusion` against the bare loop with the same batch (`[B,3,H,W]` per run).",
        "",
    ]
    rows = []
    for size, batch, configs, frames, per in four:
        b, n = fps(per[configs[0].name]), fps(per[configs[1].name])
        rows.append(
            [f"{size[0]}x{size[1]}", str(batch), f"{b:.1f}", f"{n:.1f}", spread(per[configs[1].name]), f"{n / b:.3f}",
             str(frames)]
        )  # fmt: skip
    out += table(["size", "batch", "bare fps", "nnvisr fps", "nnvisr range", "ratio", "N"], rows)
    out += ["", "Commands (per size and batch):", ""]
    size, batch, configs, _, _ = four[0]
    out += [f"    {shlex.join(c.argv)}" for c in configs]
    out.append("")
    return out


if __name__ == "__main__":
    sys.exit(main())
