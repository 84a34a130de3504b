"""Model packages: where the ONNX files are and which option defaults come with them.

Single-stage: model= names a directory holding nnvisr.json and the ONNX file,
or a single .onnx file. Without model= the bundled default package is used.
A bare name (no folder part) that is not a path here names an installed
package: bundled with nnvisr_core, then in <sys.prefix>/share/nnvisr/models
(where converters such as convert_realesrgan write).
Two-stage (upstream NNVISR layout): {model_path}/models/{model}/{colour folder}/
fe_*.onnx and ff_*.onnx, or model= naming a folder with colour folders; an
optional nnvisr.json beside the colour folders holds option defaults.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
from typing import Any

from .colour import family_of_folder
from .errors import NnvisrError

MANIFEST = "nnvisr.json"
BUNDLED = pathlib.Path(__file__).resolve().parent / "models"
# Packages made at setup (not shipped in the wheel) live in the environment's prefix.
INSTALLED = pathlib.Path(sys.prefix) / "share" / "nnvisr" / "models"
DEFAULT_MODEL = "default"


@dataclasses.dataclass(frozen=True)
class ModelPackage:
    onnx_path: pathlib.Path
    config: dict[str, Any]  # nnvisr.json, {} for a bare .onnx file
    source: str  # how to name the package in messages


@dataclasses.dataclass(frozen=True)
class TwoStagePackage:
    directory: pathlib.Path  # holds the colour folders
    folders: list[str]  # colour folder names present
    config: dict[str, Any]
    source: str

    @property
    def any_colour(self) -> bool:
        """nnvisr.json "any_colour": true: one folder serves video of every colour space (networks
        trained on photographs of no particular colour space, such as the bundled ones)."""
        return self.config.get("any_colour") is True

    @property
    def yuv_levels(self) -> bool:
        """nnvisr.json "yuv_levels": true: the YUV networks take plain levels (luma black..white -> 0..1, neutral
        chroma -> 0.5, whatever the colour matrix, range and depth); norm_mean/norm_std are the RGB networks'."""
        return self.config.get("yuv_levels") is True


def colour_folders(directory: pathlib.Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_dir() and family_of_folder(p.name))


def _two_stage(directory: pathlib.Path) -> TwoStagePackage:
    manifest = directory / MANIFEST
    config = _read_manifest(manifest) if manifest.is_file() else {}
    return TwoStagePackage(directory, colour_folders(directory), config, str(directory))


def _read_manifest(path: pathlib.Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise NnvisrError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise NnvisrError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise NnvisrError(f"{path}: invalid JSON at line {error.lineno}: {error.msg}") from None
    except RecursionError:
        raise NnvisrError(f"{path}: JSON nested too deeply") from None
    except ValueError as error:  # such as a number with more digits than Python converts
        raise NnvisrError(f"{path}: invalid JSON: {error}") from None
    if not isinstance(config, dict):
        raise NnvisrError(f"{path}: expected a JSON object")
    return config


def _from_directory(directory: pathlib.Path) -> ModelPackage:
    manifest = directory / MANIFEST
    if manifest.is_file():
        config = _read_manifest(manifest)
        name = config.get("onnx")
        if not isinstance(name, str) or not name:
            raise NnvisrError(f'{manifest}: needs "onnx": "<file name>" naming the model file')
        onnx_path = inside(directory, name, f"{manifest} names {name}, which")
        if not onnx_path.is_file():
            raise NnvisrError(f"{manifest} names {name}, which is not in {directory}")
        return ModelPackage(onnx_path, config, str(directory))
    candidates = sorted(directory.glob("*.onnx"))
    if len(candidates) == 1:
        return ModelPackage(inside(directory, candidates[0].name, f"{candidates[0]}"), {}, str(directory))
    if not candidates:
        raise NnvisrError(f"model directory {directory} holds neither {MANIFEST} nor an .onnx file")
    raise NnvisrError(f"model directory {directory} holds several .onnx files and no {MANIFEST} to choose one")


def inside(directory: pathlib.Path, name: str, what: str) -> pathlib.Path:
    """directory/name, which must resolve (symlinks followed) inside directory: a package, which may
    come from anywhere, reads no file outside itself. what: how to name the file in the error."""
    try:
        root = directory.resolve()
        path = (directory / name).resolve()
    except RuntimeError:  # a symbolic link loop (Python < 3.13 raises this, later ones OSError)
        raise NnvisrError(f"{what} is a symbolic link loop") from None
    if not path.is_relative_to(root):
        raise NnvisrError(f"{what} resolves to {path}, outside the model package {root}: refused")
    return directory / name


def locate(model: str | None, model_path: str | None = None) -> ModelPackage | TwoStagePackage:
    """Find the package named by the model= and model_path= options."""
    try:
        return _locate(model, model_path)
    except OSError as error:  # an unreadable folder or file (permissions, I/O)
        raise NnvisrError(f"model {model or model_path}: cannot read {error.filename}: {error.strerror}") from None


def _locate(model: str | None, model_path: str | None) -> ModelPackage | TwoStagePackage:
    if model_path:
        # upstream's layout: {model_path}/models/{model}/, model defaulting to "."
        directory = pathlib.Path(model_path).expanduser() / "models" / (model or ".")
        if not directory.is_dir():
            raise NnvisrError(f"model {model or '.'}: no folder {directory}")
        if not colour_folders(directory):
            raise NnvisrError(f"{directory} holds no colour-space folder (such as rgb_1_1 or yuv_1_1_1)")
        return _two_stage(directory)
    if not model:
        return _package(BUNDLED / DEFAULT_MODEL)
    path = pathlib.Path(model).expanduser()
    if path.is_dir():
        return _package(path)
    if path.is_file():
        if path.suffix.lower() != ".onnx":
            raise NnvisrError(f"model {path} is neither a directory nor an .onnx file")
        return ModelPackage(path, {}, str(path))
    if _is_bare(model):
        return _installed(model)
    raise NnvisrError(f"model {model}: no such file or directory")


def _package(directory: pathlib.Path) -> ModelPackage | TwoStagePackage:
    """A folder holding colour folders is a two-stage package unless its nnvisr.json names one .onnx file."""
    manifest = directory / MANIFEST
    single_stage = manifest.is_file() and "onnx" in _read_manifest(manifest)
    if colour_folders(directory) and not single_stage:
        return _two_stage(directory)
    return _from_directory(directory)


def search_dirs() -> list[pathlib.Path]:
    """Where bare model names are looked up, in order."""
    return [BUNDLED, INSTALLED]


def available_models() -> list[str]:
    """Names of the installed model packages (folders holding nnvisr.json)."""
    names = set()
    for directory in search_dirs():
        if directory.is_dir():
            names.update(p.name for p in directory.iterdir() if (p / MANIFEST).is_file())
    return sorted(names)


def _is_bare(model: str) -> bool:
    return model not in (".", "..") and "/" not in model and not model.startswith("~")


def _installed(name: str) -> ModelPackage | TwoStagePackage:
    for directory in search_dirs():
        if (directory / name).is_dir():
            return _package(directory / name)
    names = ", ".join(available_models()) or "none"
    raise NnvisrError(
        f"model {name}: no such file or directory, nor an installed model of that name (available: {names}; "
        f"looked in {', '.join(str(d) for d in search_dirs())})"
    )
