"""The model packages a bare model= name can open: name, scale, task and source of each.

`python -m nnvisr_core models` prints this table. A package's nnvisr.json may say its task
("task") and where it came from ("source"); otherwise both are derived from its options, and
the source is the registry package its source.json names or the folder it was found in.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

from .package import BUNDLED, MANIFEST, search_dirs


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    scale: str
    task: str
    source: str


def _task(config: dict[str, Any]) -> str:
    if isinstance(config.get("task"), str):
        return config["task"]
    scale = config.get("scale_factor", 1)
    if config.get("interpolation"):
        return "2x frame rate (interpolation)"
    if int(config.get("input_count", 1) or 1) > 1:
        return f"x{scale} video super resolution ({config['input_count']}-frame windows)"
    return f"x{scale} super resolution" if scale != 1 else "enhancement"


def _source(directory: pathlib.Path, config: dict[str, Any]) -> str:
    if isinstance(config.get("source"), str):
        return config["source"]
    try:
        stamp = json.loads((directory / "source.json").read_text())
        if isinstance(stamp, dict) and isinstance(stamp.get("requirement"), str):
            return stamp["requirement"]
    except (OSError, json.JSONDecodeError):
        pass
    return "bundled" if directory.parent == BUNDLED else str(directory.parent)


def entries(extra: list[pathlib.Path] | None = None) -> list[Entry]:
    """Every package under the search folders (earlier folders win a name), sorted by name."""
    found: dict[str, Entry] = {}
    for folder in [*search_dirs(), *(extra or [])]:
        if not folder.is_dir():
            continue
        for directory in sorted(folder.iterdir()):
            manifest = directory / MANIFEST
            if directory.name in found or not manifest.is_file():
                continue
            try:
                config = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError):
                config = None
            if not isinstance(config, dict):
                found[directory.name] = Entry(directory.name, "?", f"unreadable {MANIFEST}", str(folder))
                continue
            scale = config.get("scale_factor")
            found[directory.name] = Entry(directory.name, f"x{scale}" if scale else "-", _task(config),
                                          _source(directory, config))
    return sorted(found.values(), key=lambda entry: entry.name)


def table(extra: list[pathlib.Path] | None = None) -> str:
    rows = [Entry("name", "scale", "task", "source"), *entries(extra)]
    widths = [max(len(getattr(row, field)) for row in rows) for field in ("name", "scale", "task")]
    return "\n".join(f"{row.name:<{widths[0]}}  {row.scale:<{widths[1]}}  {row.task:<{widths[2]}}  {row.source}"
                     for row in rows)
