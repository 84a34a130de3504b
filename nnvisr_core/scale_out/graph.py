"""The user's --vf chain, split where nnvisr needs its scene metadata.

A chunk's ffmpeg runs the filters in front of nnvisr from two frames before the chunk (scdet and select's scene
score look at the two previous frames), so the scene metadata nnvisr sees on the chunk's frames is that of one run;
a second trim then drops those frames before nnvisr.
"""

from __future__ import annotations

import dataclasses

from ..errors import NnvisrError

# Frames decoded before a chunk so that scene detectors reach the state they have in one run.
PRE_ROLL = 2
SCDET_KEY = "lavfi.scd.time"


@dataclasses.dataclass(frozen=True)
class FilterChain:
    before: list[str]  # filters in front of nnvisr (scene detection among them)
    nnvisr: str  # the nnvisr filter as written, "nnvisr" or "nnvisr=..."
    after: list[str]  # filters behind nnvisr
    options: dict[str, str]  # nnvisr's options as written

    def nnvisr_with(self, defaults: dict[str, str], overrides: dict[str, str]) -> str:
        """nnvisr with defaults where the user set nothing, and overrides whatever the user set."""
        merged = {**defaults, **self.options, **overrides}
        if not merged:
            return "nnvisr"
        return "nnvisr=" + ":".join(f"{name}={_escape(value)}" for name, value in merged.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,").replace("'", "\\'")


def split_top_level(text: str, separator: str) -> list[str]:
    """Split at separators outside quotes, brackets and backslash escapes (libavfilter's quoting)."""
    parts, current, quoted, depth, index = [], [], False, 0, 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
        if char == separator and not quoted and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    out, quoted, index = [], False, 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            out.append(value[index + 1])
            index += 2
            continue
        if char == "'":
            quoted = not quoted
        else:
            out.append(char)
        index += 1
    return "".join(out)


def parse(vf: str) -> FilterChain:
    """A linear chain with exactly one nnvisr; scdet is put first when no scene detection is given."""
    if ";" in split_top_level(vf, ";")[0] or len(split_top_level(vf, ";")) > 1 or "[" in vf:
        raise NnvisrError("--vf must be one linear filter chain (no ';' and no [labels])")
    filters = [f.strip() for f in split_top_level(vf, ",") if f.strip()]
    names = [f.split("=", 1)[0].strip() for f in filters]
    if names.count("nnvisr") != 1:
        raise NnvisrError("--vf must hold the nnvisr filter exactly once")
    at = names.index("nnvisr")
    options: dict[str, str] = {}
    _, sep, text = filters[at].partition("=")
    if sep and text:
        for item in split_top_level(text, ":"):
            name, has_value, value = item.partition("=")
            if not has_value:
                raise NnvisrError(f"--vf: write nnvisr's options as name=value, got {item!r}")
            options[name.strip()] = _unquote(value)
    before = filters[:at]
    key = options.get("scene_key", SCDET_KEY)
    if key == SCDET_KEY and "scdet" not in [n for n in names[:at]]:
        before.insert(0, "scdet")  # as `ffmpeg -vf scdet,<the chain>`: the cuts the filter is made to see
    return FilterChain(before, filters[at], filters[at + 1 :], options)
