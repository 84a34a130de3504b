"""Model packages: where the ONNX file is and which option defaults come with it.

model= names a directory holding nnvisr.json and the ONNX file(s), or a single
.onnx file. Without model= the bundled default package is used.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

from .errors import NnvisrError

MANIFEST = "nnvisr.json"
BUNDLED = pathlib.Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "default"


@dataclasses.dataclass(frozen=True)
class ModelPackage:
    onnx_path: pathlib.Path
    config: dict[str, Any]  # nnvisr.json, {} for a bare .onnx file
    source: str  # how to name the package in messages


def _read_manifest(path: pathlib.Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except OSError as error:
        raise NnvisrError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise NnvisrError(f"{path}: invalid JSON at line {error.lineno}: {error.msg}") from None
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
        onnx_path = directory / name
        if not onnx_path.is_file():
            raise NnvisrError(f"{manifest} names {name}, which is not in {directory}")
        return ModelPackage(onnx_path, config, str(directory))
    candidates = sorted(directory.glob("*.onnx"))
    if len(candidates) == 1:
        return ModelPackage(candidates[0], {}, str(directory))
    if not candidates:
        raise NnvisrError(f"model directory {directory} holds neither {MANIFEST} nor an .onnx file")
    raise NnvisrError(f"model directory {directory} holds several .onnx files and no {MANIFEST} to choose one")


def locate(model: str | None, model_path: str | None = None) -> ModelPackage:
    """Find the package named by the model= and model_path= options."""
    if not model:
        return _from_directory(BUNDLED / DEFAULT_MODEL)
    path = pathlib.Path(model).expanduser()
    if model_path and not path.is_absolute():
        path = pathlib.Path(model_path).expanduser() / path
    if path.is_dir():
        return _from_directory(path)
    if path.is_file():
        if path.suffix.lower() != ".onnx":
            raise NnvisrError(f"model {path} is neither a directory nor an .onnx file")
        return ModelPackage(path, {}, str(path))
    bundled = BUNDLED / model
    if not path.is_absolute() and bundled.is_dir():
        return _from_directory(bundled)
    raise NnvisrError(f"model {model}: no such file or directory")
