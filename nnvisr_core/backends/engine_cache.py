"""TensorRT engine cache: where a serialised engine lives and whether it can be trusted.

Pure Python (no TensorRT needed), so every rule here is unit-tested. An entry
is keyed by everything that makes an engine valid: the ONNX content, the GPU
model and compute capability, the TensorRT version, the precision and the
optimisation profile. A file holds a header (magic, key, payload length and
SHA-256) before the engine, so a truncated, corrupt or mismatched file is
detected and rebuilt, never deserialised. Engines live in the user's cache
(default_dir) or an engine_path given on the command line, never in a model
package.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import tempfile

MAGIC = b"NNVISR-ENGINE-1\n"


@dataclasses.dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    gpu_name: str
    compute_capability: str  # "9.0"
    tensorrt_version: str
    precision: str  # "fp32" or "fp16"
    profile: tuple[tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...]  # name, min, opt, max

    def digest(self) -> str:
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def file_name(self, stem: str) -> str:
        gpu = "".join(c if c.isalnum() else "-" for c in self.gpu_name).strip("-")
        sm = self.compute_capability.replace(".", "")
        return f"{stem}-{gpu}-sm{sm}-trt{self.tensorrt_version}-{self.precision}-{self.digest()[:16]}.engine"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: pathlib.Path, key: EngineKey, engine: bytes) -> None:
    """Atomically: a reader never sees half a file."""
    header = {"key": key.digest(), "length": len(engine), "sha256": content_hash(engine)}
    blob = MAGIC + json.dumps(header).encode() + b"\n" + engine
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def read(path: pathlib.Path, key: EngineKey) -> tuple[bytes | None, str]:
    """The engine if the file is whole and made for this key, else None and why not."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None, "not built yet"
    except OSError as error:
        return None, f"unreadable ({error.strerror})"
    if not blob.startswith(MAGIC):
        return None, "not an nnvisr engine file"
    head, sep, engine = blob[len(MAGIC) :].partition(b"\n")
    try:
        header = json.loads(head) if sep else None
    except ValueError:
        header = None
    if not isinstance(header, dict):
        return None, "corrupt header"
    if header.get("key") != key.digest():
        return None, "made for another model, GPU, TensorRT version, precision or profile"
    if header.get("length") != len(engine) or header.get("sha256") != content_hash(engine):
        return None, "truncated or corrupt"
    return engine, "valid"


def default_dir() -> pathlib.Path:
    """The user's own engine cache: $XDG_CACHE_HOME/nnvisr/engines, else ~/.cache/nnvisr/engines.

    Never a folder inside the model package: a package may come from anywhere, and an engine is code
    that runs on the GPU; a checksum proves a file intact, not who built it. Engines are loaded only
    from here, which the user's own runs wrote, or from an engine_path the user names."""
    base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or "")
    if not base.is_absolute():  # unset, or relative: the XDG base directory spec says to ignore it
        base = pathlib.Path.home() / ".cache"
    return base / "nnvisr" / "engines"
