"""Colour-space folders of upstream two-stage models: rgb_{P}_{T} and yuv_{P}_{T}_{M}.

P, T and M are the H.273 code points of the colour primaries, transfer
characteristics and matrix coefficients (FFmpeg's enums use the same numbers).
Upstream's normalisation: unspecified means BT.709 (1), with a warning; the
BT.601 and BT.2020 transfers are coded as BT.709's (they are the same curve);
the BT.470BG matrix is coded as SMPTE 170M's (the same matrix).
"""

from __future__ import annotations

import dataclasses
import re

from .errors import NnvisrError
from .pixels import RGB, YUV420

BT709 = 1
UNSPECIFIED = (0, 2)  # reserved and unspecified
TRC_SAME_AS_BT709 = (6, 14, 15)  # SMPTE 170M (BT.601), BT.2020 10 and 12 bit
MATRIX_BT470BG, MATRIX_SMPTE170M = 5, 6

FOLDER = re.compile(r"^(rgb)_(\d+)_(\d+)$|^(yuv)_(\d+)_(\d+)_(\d+)$")


@dataclasses.dataclass(frozen=True)
class ColourInfo:
    primaries: int
    transfer: int
    matrix: int


def family_of_folder(name: str) -> str | None:
    match = FOLDER.match(name)
    if not match:
        return None
    return RGB if match.group(1) else YUV420


def folder_name(family: str, colour: ColourInfo) -> tuple[str, list[str]]:
    """The folder for frames of this colour, and warnings about assumptions made."""
    warnings = []
    primaries, transfer, matrix = colour.primaries, colour.transfer, colour.matrix
    if primaries in UNSPECIFIED:
        warnings.append("colour primaries unspecified: assuming BT.709")
        primaries = BT709
    if transfer in UNSPECIFIED:
        warnings.append("transfer characteristics unspecified: assuming BT.709")
        transfer = BT709
    elif transfer in TRC_SAME_AS_BT709:
        transfer = BT709
    if family == RGB:
        return f"rgb_{primaries}_{transfer}", warnings
    if matrix in UNSPECIFIED:
        warnings.append("matrix coefficients unspecified: assuming BT.709")
        matrix = BT709
    elif matrix == MATRIX_BT470BG:
        matrix = MATRIX_SMPTE170M
    return f"yuv_{primaries}_{transfer}_{matrix}", warnings


def choose_folder(
    present: list[str], family: str, colour: ColourInfo, where: str, any_colour: bool = False
) -> tuple[str, list[str]]:
    """The folder for this video and the warnings to log. any_colour (nnvisr.json): a package whose one
    folder of the family serves video of every colour space."""
    if any_colour:
        same_family = [folder for folder in present if family_of_folder(folder) == family]
        if len(same_family) == 1:
            return same_family[0], []
    wanted, warnings = folder_name(family, colour)
    if wanted not in present:
        raise NnvisrError(
            f"{where} has no colour-space folder {wanted} for this video; folders present: {', '.join(sorted(present))}"
        )
    return wanted, warnings
