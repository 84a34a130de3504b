"""Train a bundled network on the CPU and write its model package.

    python training/train.py vsr --frames 3 --out nnvisr_core/models/default
    python training/train.py vsr --frames 1 --out training/runs/single-frame     (the baseline)
    python training/train.py interp --out nnvisr_core/models/interpolate
    python training/train.py vsr --yuv --init nnvisr_core/models/default --out nnvisr_core/models/default
        (adds the YUV 4:2:0 variant yuv_1_1_1/ beside rgb_1_1/, fine-tuned from the RGB network: yuv.py)

Seeded: the same command on the same torch build gives the same weights.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import pathlib
import time

import torch
from data import ClipSampler, box_down
from export import load_package_weights, package_layout, write_package, write_yuv_folder
from nets import (
    InterpExtract,
    InterpFusion,
    LightVsrFusion,
    MatchInterpFusion,
    PyramidExtract,
    VsrExtract,
    VsrFusion,
)
from torch import nn
from yuv import (
    YuvExtract,
    YuvInterpFusion,
    YuvMatchInterpFusion,
    YuvPyramidExtract,
    YuvVsrFusion,
    box_down_codes,
    codes_to_levels,
    rgb_to_codes,
)

# The bundled networks are trained on plain [0, 1] RGB, not on upstream NNVISR's default ImageNet statistics.
PLAIN_NORM = {"norm_mean": [0, 0, 0], "norm_std": [1, 1, 1]}
INTERP_LAYOUT = {"match": "bilateral matching on a frame pyramid, warping, blending where matching fails",
                 "flow": "flow estimation and warping"}


def charbonnier(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.sqrt((x - y) ** 2 + 1e-6).mean()


def vsr_loss(extract: VsrExtract, fusion: VsrFusion, clips: torch.Tensor, frames: int) -> torch.Tensor:
    """clips [B,3,3,H,W]: every model sees the same frames; a window model sees them in windows of `frames`."""
    batch, length = clips.shape[:2]
    windows = clips.reshape(batch * length // frames, frames, *clips.shape[2:])
    low = box_down(windows.flatten(0, 1))
    levels = [level.unflatten(0, (-1, frames)) for level in extract(low)]
    features = [level[:, j] for j in range(frames) for level in levels]
    outputs = torch.stack(fusion(*features), 1)
    return charbonnier(outputs, windows)


def yuv_loss(outputs: list[torch.Tensor], y: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """outputs: y, uv, y, uv, ... of the frames in y [N,1,H,W] / uv; luma counts most (Y-PSNR is the measure)."""
    out_y, out_uv = torch.cat(outputs[0::2]), torch.cat(outputs[1::2])
    return charbonnier(out_y, y) + 0.25 * charbonnier(out_uv, uv)


def yuv_vsr_loss(extract: nn.Module, fusion: nn.Module, clips: torch.Tensor, frames: int) -> torch.Tensor:
    batch, length = clips.shape[:2]
    windows = clips.reshape(batch * length // frames, frames, *clips.shape[2:])
    y_codes, uv_codes = rgb_to_codes(windows)
    low_y, low_uv = codes_to_levels(box_down_codes(y_codes), box_down_codes(uv_codes))
    levels = [level.unflatten(0, (-1, frames)) for level in extract(low_y.flatten(0, 1), low_uv.flatten(0, 1))]
    features = [level[:, j] for j in range(frames) for level in levels]
    outputs = fusion(*features)
    y, uv = codes_to_levels(y_codes, uv_codes)
    # outputs are member-major (y0, uv0, y1, uv1, ...): match them member by member
    return yuv_loss(outputs, torch.cat([y[:, j] for j in range(frames)]), torch.cat([uv[:, j] for j in range(frames)]))


def yuv_interp_loss(extract: nn.Module, fusion: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    y, uv = codes_to_levels(*rgb_to_codes(clips))
    levels = extract(torch.cat([y[:, 0], y[:, 2]]), torch.cat([uv[:, 0], uv[:, 2]]))
    f0 = [level[: len(clips)] for level in levels]
    f2 = [level[len(clips):] for level in levels]
    return yuv_loss(list(fusion(*f0, *f2)), y[:, 1], uv[:, 1])


def interp_loss(extract: InterpExtract, fusion: InterpFusion, clips: torch.Tensor) -> torch.Tensor:
    first, middle, last = clips[:, 0], clips[:, 1], clips[:, 2]
    levels = extract(torch.cat([first, last]))
    f0 = [level[: len(first)] for level in levels]
    f2 = [level[len(first):] for level in levels]
    return charbonnier(fusion(*f0, *f2), middle)


def build_networks(command: dict) -> tuple[nn.Module, nn.Module]:
    """The RGB extraction and fusion networks a training command (train.py's options, as training.json keeps
    them) builds."""
    if command["task"] == "vsr" and command.get("align", "deform") == "flow":
        level1 = command["align_channels"]
        return (VsrExtract(command["channels"], level1),
                LightVsrFusion(command["frames"], command["channels"], level1, command["body"], command["layers"]))
    if command["task"] == "vsr":
        level1 = command.get("deform_channels") or None
        return (VsrExtract(command["channels"], level1),
                VsrFusion(command["frames"], command["channels"], command["body"], command["layers"],
                          level1_channels=level1))
    if command.get("arch", "match") == "match":
        return PyramidExtract(command["levels"]), MatchInterpFusion(command["levels"], width=command["body"])
    return (InterpExtract(command["channels"], command["levels"]),
            InterpFusion(command["channels"], command["body"], command["levels"]))


def yuv_networks(task: str, extract: nn.Module, fusion: nn.Module) -> tuple[nn.Module, nn.Module]:
    """The YUV 4:2:0 variant of RGB networks (yuv.py): the matching model works in 4:2:0 itself, the others
    run between colour convolutions."""
    if isinstance(fusion, MatchInterpFusion):
        return YuvPyramidExtract(extract), YuvMatchInterpFusion(fusion)
    return YuvExtract(extract), (YuvVsrFusion(fusion) if task == "vsr" else YuvInterpFusion(fusion))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["vsr", "interp"])
    parser.add_argument("--out", type=pathlib.Path, required=True, help="model package folder to write")
    parser.add_argument("--frames", type=int, default=3, help="vsr: frames per window (1: single-frame baseline)")
    parser.add_argument("--channels", type=int, default=16, help="feature_count")
    parser.add_argument("--body", type=int, default=16, help="width of the reconstruction / flow layers")
    parser.add_argument("--layers", type=int, default=2, help="vsr: reconstruction layers")
    parser.add_argument("--align", choices=["deform", "flow"], default="deform",
                        help="vsr: deformable alignment (VsrFusion) or flow warping with the lighter layout "
                             "(LightVsrFusion)")
    parser.add_argument("--align-channels", type=int, default=8, help="vsr --align flow: level-1 feature channels")
    parser.add_argument("--deform-channels", type=int, default=0,
                        help="vsr --align deform: the level-1 channels the alignment takes (0: all of --channels)")
    parser.add_argument("--levels", type=int, default=3, help="interp: pyramid levels (extraction_layers)")
    parser.add_argument("--arch", choices=["match", "flow"], default="match",
                        help="interp: bilateral matching on the frame pyramid (MatchInterpFusion) or the learned "
                             "flow estimator (InterpFusion)")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=8, help="clips per step")
    parser.add_argument("--size", type=int, default=96, help="training patch size at output resolution")
    parser.add_argument("--max-speed", type=int, default=8, help="motion per frame, in photograph pixels")
    parser.add_argument("--opencv-data", type=pathlib.Path,
                        help="OpenCV's sample data folder (python tools/sample_clip.py --opencv-data prints it)")
    parser.add_argument("--blur-share", type=float, default=0.0, help="share of clips made from a blurred photograph")
    parser.add_argument("--video-share", type=float, default=0.0,
                        help="share of clips cut from OpenCV's sample videos (needs --opencv-data and PyAV)")
    parser.add_argument("--video-step", type=int, default=1,
                        help="video clips take every k-th frame, k drawn from 1 to this (larger motion)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--yuv", action="store_true",
                        help="train the YUV 4:2:0 variant (yuv.py) and add its folder yuv_1_1_1 to the package")
    parser.add_argument("--init", type=pathlib.Path,
                        help="model package whose networks give the starting weights (its rgb_1_1 ones unless "
                             "--init-colour says otherwise)")
    parser.add_argument("--init-colour", choices=["rgb_1_1", "yuv_1_1_1"], default="rgb_1_1",
                        help="--init's colour folder to start from: yuv_1_1_1 continues a YUV fine-tune")
    args = parser.parse_args()
    if args.init_colour == "yuv_1_1_1" and not (args.yuv and args.init):
        parser.error("--init-colour yuv_1_1_1 continues a YUV variant: it needs --yuv and --init")

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    sampler = ClipSampler(3, args.size, args.max_speed, args.seed, args.opencv_data, args.blur_share,
                           args.video_share, args.video_step)
    if args.task == "interp" and args.arch == "match":
        args.channels = 3  # the pyramid of the frame itself
    extract, fusion = build_networks(vars(args))
    if args.init is not None and args.init_colour == "rgb_1_1":
        load_package_weights(args.init, extract, fusion)
    if args.yuv:
        extract, fusion = yuv_networks(args.task, extract, fusion)
    if args.init is not None and args.init_colour == "yuv_1_1_1":
        load_package_weights(args.init, extract, fusion, "yuv_1_1_1")
    if args.task == "vsr":
        loss_of = functools.partial(yuv_vsr_loss if args.yuv else vsr_loss, extract, fusion, frames=args.frames)
    else:
        loss_of = functools.partial(yuv_interp_loss if args.yuv else interp_loss, extract, fusion)
    parameters = list(extract.parameters()) + list(fusion.parameters())
    optimiser = torch.optim.Adam(parameters, lr=args.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * step / max(args.steps, 1))))
    start, running = time.monotonic(), 0.0
    for step in range(1, args.steps + 1):
        loss = loss_of(sampler.batch(args.batch))
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimiser.step()
        schedule.step()
        running += loss.item()
        if step % 100 == 0:
            print(f"step {step}/{args.steps}  loss {running / 100:.5f}  {time.monotonic() - start:.0f} s", flush=True)
            running = 0.0
    seconds = time.monotonic() - start
    count = sum(p.numel() for p in parameters)
    print(f"trained {args.steps} steps in {seconds / 60:.1f} min, {count} parameters", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    facts_name = "training-yuv.json" if args.yuv else "training.json"
    command = {key: str(value) if isinstance(value, pathlib.Path) else value for key, value in vars(args).items()}
    torch.save({"extract": extract.state_dict(), "fusion": fusion.state_dict(), "args": command},
               args.out / ("weights-yuv.pt" if args.yuv else "weights.pt"))
    sources = "scikit-image photographs" + (" and OpenCV's sample photographs" if args.opencv_data else "")
    sources += " with synthetic motion" + (" and OpenCV's sample videos" if args.video_share > 0 else "")
    layout = package_layout(args.task, args.frames, args.levels)
    if args.yuv:
        write_yuv_folder(args.out, extract, fusion, layout)
        # the YUV networks take the filter's plain levels, whatever norm_mean/norm_std say for the RGB ones
        manifest_path = args.out / "nnvisr.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["yuv_levels"] = True
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    elif args.task == "vsr":
        n = args.frames
        alignment = "flow alignment" if args.align == "flow" else "deformable alignment"
        windows = f"{n}-frame windows, {alignment}" if n > 1 else "one frame at a time"
        manifest = {
            "description": f"x2 video super resolution, {windows}; "
                           f"{count} parameters, trained {args.steps} steps ({seconds / 60:.0f} min on a 2-core CPU) "
                           f"by training/train.py on {sources}",
            "any_colour": True, "input_count": n, "scale_factor": 2, "feature_count": args.channels,
            "extraction_layers": 2, **PLAIN_NORM,
        }
        write_package(args.out, extract, fusion, layout, manifest)
    else:
        manifest = {
            "description": f"2x frame rate interpolation ({INTERP_LAYOUT[args.arch]}); {count} parameters, "
                           f"trained {args.steps} steps ({seconds / 60:.0f} min on a 2-core CPU) by training/train.py "
                           f"on {sources}",
            "any_colour": True, "input_count": 2, "extra_frame": True, "interpolation": True, "scale_factor": 1,
            "feature_count": args.channels, "extraction_layers": args.levels, **PLAIN_NORM,
        }
        write_package(args.out, extract, fusion, layout, manifest)
    facts = {"steps": args.steps, "minutes": round(seconds / 60, 1), "parameters": count, "command": command}
    if args.init_colour == "yuv_1_1_1":  # a continued run: keep the history of the weights it started from
        earlier = args.init / facts_name
        if earlier.is_file():
            facts["continues"] = json.loads(earlier.read_text())
    (args.out / facts_name).write_text(json.dumps(facts, indent=2) + "\n")


if __name__ == "__main__":
    main()
