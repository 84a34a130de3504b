"""Colour-space folder choice for two-stage models (H.273 code points, upstream's normalisation)."""

from __future__ import annotations

import pytest

from nnvisr_core.colour import ColourInfo, choose_folder, family_of_folder, folder_name
from nnvisr_core.errors import NnvisrError


@pytest.mark.parametrize(
    ("family", "colour", "folder", "warned"),
    [
        ("rgb", ColourInfo(1, 1, 0), "rgb_1_1", 0),
        ("rgb", ColourInfo(2, 2, 2), "rgb_1_1", 2),  # unspecified: BT.709, with warnings
        ("yuv420", ColourInfo(1, 1, 1), "yuv_1_1_1", 0),
        ("yuv420", ColourInfo(2, 2, 2), "yuv_1_1_1", 3),
        ("yuv420", ColourInfo(6, 6, 5), "yuv_6_1_6", 0),  # BT.601 curve is BT.709's; BT470BG matrix is 170M's
        ("yuv420", ColourInfo(9, 14, 9), "yuv_9_1_9", 0),  # BT.2020 10-bit transfer
        ("yuv420", ColourInfo(9, 16, 9), "yuv_9_16_9", 0),  # PQ stays
    ],
)
def test_folder_names(family: str, colour: ColourInfo, folder: str, warned: int) -> None:
    name, warnings = folder_name(family, colour)
    assert name == folder
    assert len(warnings) == warned


def test_no_matching_folder_lists_what_is_there() -> None:
    with pytest.raises(NnvisrError, match="no colour-space folder rgb_1_1 .* folders present: yuv_1_1_1, yuv_9_16_9"):
        choose_folder(["yuv_9_16_9", "yuv_1_1_1"], "rgb", ColourInfo(1, 1, 0), "models/net")


def test_folder_families() -> None:
    assert family_of_folder("rgb_1_1") == "rgb"
    assert family_of_folder("yuv_9_16_9") == "yuv420"
    assert family_of_folder("rgb_1") is None
    assert family_of_folder("engines") is None


def test_any_colour_package_serves_every_colour_space() -> None:
    """any_colour: the one folder of the family serves PQ BT.2020 video too, silently; with two folders
    of the family the colour description still decides."""
    pq = ColourInfo(9, 16, 9)
    assert choose_folder(["rgb_1_1"], "rgb", pq, "m", any_colour=True) == ("rgb_1_1", [])
    with pytest.raises(NnvisrError, match="no colour-space folder rgb_9_16"):
        choose_folder(["rgb_1_1"], "rgb", pq, "m")
    assert choose_folder(["rgb_1_1", "rgb_9_16"], "rgb", pq, "m", any_colour=True) == ("rgb_9_16", [])
