"""python -m nnvisr_core inspect: what the filter will do with a model, checked by dry runs."""

from __future__ import annotations

import sys

from . import pixels
from .backends import TensorInfo
from .codec import CodeRgbCodec, make_codec, takes_codes
from .errors import NnvisrError
from .options import Options, parse_settings
from .processor import codes_wanted, open_model
from .single_stage import SingleStageRunner
from .two_stage import TwoStageRunner, file_names


def _tensors(title: str, tensors: list[TensorInfo]) -> str:
    shapes = ", ".join(f"{t.name}[{','.join(str(d) if d else '?' for d in t.shape)}]" for t in tensors)
    return f"  {title}: {shapes}"


def _flags(options: Options) -> list[str]:
    return [
        f"window: {options.window_frames} frames in (input_count={options.input_count}, "
        f"extra_frame={int(options.extra_frame)}: {options.consumed} consumed), {options.output_frames} network "
        f"frames out "
        f"(interpolation={int(options.interpolating)}, double_frame={int(options.double_frame)})",
        f"batch: batch_size_fusion={options.batch_size_fusion}"
        + (f", batch_size_extract={options.batch_size_extract}" if options.batch_size_extract else ""),
    ]


def _normalisation(options: Options, upstream_contract: bool) -> str:
    mean, std = options.normalisation(upstream_contract)
    given = "" if options.norm_given else " (defaults of upstream's two-stage contract)" if upstream_contract else ""
    return f"normalisation: mean={list(mean)} std={list(std)} raw_norm={int(options.raw_norm)}{given}"


def _check_size(runner, options: Options, family: str, width: int, height: int) -> str:
    fmt = pixels.FORMATS[pixels.formats_of_family(family)[0]]
    # As the filter will run it (pixels=model merges the conversion: another graph, another engine).
    codes = codes_wanted(options, runner) and takes_codes(fmt)
    codec = make_codec(fmt, family, options, codes, runner.upstream_contract, runner.yuv_levels)
    norm = codec.norm if isinstance(codec, CodeRgbCodec) else None
    out_w, out_h = runner.configure(width, height, codec.tensor_shapes(width, height), codec.tensor_shapes, norm)
    return f"{width}x{height} -> {out_w}x{out_h} (scale_factor={options.scale_w:g}, scale_factor_h={options.scale_h:g})"


def describe(settings: list[str], width: int, height: int) -> list[str]:
    """Lines describing the model; raises NnvisrError when it would not work."""
    warnings: list[str] = []
    options, runner = open_model(parse_settings(settings), lambda level, m: warnings.append(m))
    lines = []
    if isinstance(runner, SingleStageRunner):
        network = runner.network
        lines.append(f"single-stage {network.family} model, pixel formats: {', '.join(runner_formats(runner))}")
        lines.append(_tensors("inputs", network.inputs))
        lines.append(_tensors("outputs", network.outputs))
        lines.append(f"size check: {_check_size(runner, options, network.family, width, height)}")
    else:
        assert isinstance(runner, TwoStageRunner)
        serves = " (serves every colour space: any_colour)" if runner.any_colour else ""
        lines.append(f"two-stage model in {runner.directory}, colour folders: {', '.join(runner.folders)}{serves}")
        for folder in runner.folders:
            family = "yuv420" if folder.startswith("yuv") else "rgb"
            fe_name, ff_name = file_names(options, family)
            lines.append(f"{folder}: {fe_name} + {ff_name}")
            size = _check_size(runner, options, family, width, height)
            runner.load_folder(folder)
            assert runner.extract is not None
            lines.append(_tensors("extract inputs", runner.extract.inputs))
            lines.append(_tensors("extract outputs", runner.extract.outputs))
            lines.append(_tensors("fusion inputs", runner.fusion.inputs))
            lines.append(_tensors("fusion outputs", runner.fusion.outputs))
            lines.append(f"  size check: {size}")
    lines += _flags(options)
    lines.append(_normalisation(options, runner.upstream_contract))
    if runner.yuv_levels:
        lines.append("YUV networks: plain levels (yuv_levels: luma black..white -> 0..1, neutral chroma -> 0.5)")
    return lines


def runner_formats(runner) -> list[str]:
    return [name for family in runner.families for name in pixels.formats_of_family(family)]


def main(model: str | None, settings: list[str], size: str) -> int:
    if model:
        settings = [f"model={model}", *settings]
    try:
        width, height = (int(v) for v in size.lower().split("x"))
        for line in describe(settings, width, height):
            print(line)
    except NnvisrError as error:
        print(f"nnvisr_core inspect: error: {error}", file=sys.stderr)
        return 1
    except ValueError:
        print(f"nnvisr_core inspect: error: --size must be WIDTHxHEIGHT, got {size!r}", file=sys.stderr)
        return 1
    print("ok: the filter can run this model")
    return 0
