#!/usr/bin/env python3
"""nnvisr on an NVIDIA GPU: pipeline fps against the same model in a bare loop on the same backend.

    .venv/bin/python bench/gpu.py                     # ONNX Runtime CUDA (and TensorRT when installed), 1080p
    .venv/bin/python bench/gpu.py --quick             # one round, batch 1 only

The model is bench/models/vsr-wide: the bundled x2 VSR network widened to
310276 parameters (3-frame windows, deformable alignment, two-stage layout),
a realistic temporal network for a GPU; its weights are barely trained, it
is for timing only. For each backend, precision and batch, the pipeline is
`ffmpeg -vf nnvisr=...:backend=B` on raw rgb24 1920x1080 frames (the
3840x2160 output goes to the null muxer), the baseline is
bench/bare_two_stage.py: the same two networks through nnvisr's own backend
classes, every tensor already on the device, the filter's batches and
store layout, no pixels. Both print their frame counts every 50 ms and are
timed as bench/run.py times its runs (start-up excluded, median of 0.5 s
windows, median over interleaved rounds). Writes the GPU section of
bench/RESULTS.md (the rest of the file is bench/run.py's).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import run as cpu_bench  # bench/run.py: the timing method

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MODEL = BENCH / "models" / "vsr-wide"
MARK = "<!-- written by bench/gpu.py -->"


def versions() -> list[str]:
    import onnxruntime as ort

    query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    gpu = cpu_bench.first_line(query) if shutil.which("nvidia-smi") else "none (a CPU smoke run)"
    lines = [
        f"- GPU: {gpu}",
        f"- onnxruntime {ort.__version__}, providers {', '.join(ort.get_available_providers())}",
    ]
    if importlib.util.find_spec("tensorrt") is not None:
        import tensorrt

        lines.append(f"- TensorRT {tensorrt.__version__}")
    else:
        lines.append("- TensorRT: not installed on this machine (its rows are missing)")
    cudart = None
    try:
        from nnvisr_core.backends.cuda_memory import import_cudart

        cudart = import_cudart()
    except ImportError:
        pass
    if cudart is not None:
        version = cudart.cudaRuntimeGetVersion()[1]
        runtime = f"{version // 1000}.{version % 1000 // 10}"
        lines.append(f"- CUDA runtime (cuda-python) {runtime}: page-locked batch buffers")
    else:
        lines.append("- cuda-python: not installed (pageable host buffers)")
    return lines


def configs(args: argparse.Namespace, input_file: Path, backend: str, fp16: bool, batch: int):
    width, height = args.size
    precision = "fp16" if fp16 else "fp32"
    vf = f"nnvisr=model={MODEL}:backend={backend}:batch_size_fusion={batch}"
    if fp16:
        vf += ":use_fp16=1"
    pipeline = [
        str(args.ffmpeg), "-nostdin", "-v", "error", "-stream_loop", "-1",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", "25",
        "-i", str(input_file), "-frames:v", "{frames}", "-vf", vf, "-f", "null", "-",
        "-progress", "pipe:1", "-stats_period", "0.05",
    ]  # fmt: skip
    bare = [sys.executable, str(BENCH / "bare_two_stage.py"), str(MODEL), "{frames}", str(batch), str(width),
            str(height), backend, precision]
    label = f"{backend} {precision} b{batch}"
    return cpu_bench.Config(f"nnvisr {label}", pipeline), cpu_bench.Config(f"bare {label}", bare)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ffmpeg", type=Path, default=REPO / ".venv" / "bin" / "ffmpeg")
    parser.add_argument("--size", type=lambda s: tuple(map(int, s.split("x"))), default=(1920, 1080))
    parser.add_argument("--batches", default="1,2")
    parser.add_argument("--precisions", default="fp32,fp16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=96, help="frames per run to start with (doubled if too short)")
    parser.add_argument("--quick", action="store_true", help="one round, batch 1")
    parser.add_argument("--backends", help="comma-separated (default: every GPU backend installed); "
                        "onnxruntime runs the same bench on the CPU, as a smoke test of the bench itself")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--work", type=Path, default=Path("/tmp/nnvisr-gpu-bench"))
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.batches = 1, "1"
    import onnxruntime as ort

    if args.backends:
        backends = args.backends.split(",")
    else:
        installed = {
            "cuda": "CUDAExecutionProvider" in ort.get_available_providers(),
            "tensorrt": importlib.util.find_spec("tensorrt") is not None,
        }
        backends = [name for name, ok in installed.items() if ok]
        if shutil.which("nvidia-smi") is None or not backends:
            print("bench/gpu.py: needs an NVIDIA GPU with onnxruntime-gpu or tensorrt", file=sys.stderr)
            return 1
    started = datetime.datetime.now(datetime.timezone.utc)
    args.work.mkdir(parents=True, exist_ok=True)
    width, height = args.size
    input_file = args.work / f"in_{width}x{height}.rgb"
    subprocess.run(
        [str(args.ffmpeg), "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r=25",
         "-frames:v", "24", "-pix_fmt", "rgb24", "-f", "rawvideo", "-y", str(input_file)],
        check=True,
    )  # fmt: skip
    pairs = [
        configs(args, input_file, backend, precision == "fp16", int(batch))
        for backend in backends
        for precision in args.precisions.split(",")
        for batch in args.batches.split(",")
    ]
    per = cpu_bench.steady_fps([c for pair in pairs for c in pair], args.frames, args.rounds, print)
    rows = []
    for pipeline, bare in pairs:
        label = pipeline.name.removeprefix("nnvisr ")
        backend, precision, batch = label.split()
        ours, base = cpu_bench.fps(per[pipeline.name]), cpu_bench.fps(per[bare.name])
        rows.append([
            backend, precision, batch.removeprefix("b"), f"{ours:.1f} ({cpu_bench.spread(per[pipeline.name])})",
            f"{base:.1f} ({cpu_bench.spread(per[bare.name])})", f"{ours / base:.3f}",
        ])
    command = shlex.join(["bench/gpu.py", *(sys.argv[1:] if argv is None else argv)])
    lines = [
        "## GPU",
        "",
        MARK,
        f"Produced by `.venv/bin/python {command}` on {started:%Y-%m-%d %H:%M} UTC.",
        "",
        *versions(),
        f"- model: `bench/models/vsr-wide` (x2 VSR, 3-frame windows, DeformConv alignment, 310276 parameters, "
        f"two-stage), input {width}x{height} rgb24, output {2 * width}x{2 * height}; {args.rounds} round(s)",
        "- pipeline: `ffmpeg -vf nnvisr=...:backend=B:batch_size_fusion=b[:use_fp16=1]`, raw input, null output; "
        "bare: `bench/bare_two_stage.py` (same networks and backend, all tensors on the device, no pixels)",
        "",
        *cpu_bench.table(["backend", "precision", "batch", "nnvisr fps", "bare fps", "ratio (target >= 0.95)"], rows),
        "",
    ]
    print("\n".join(lines))
    cpu_bench.write_section(args.output, "## GPU", lines)
    print(f"bench/gpu.py: wrote the GPU section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
