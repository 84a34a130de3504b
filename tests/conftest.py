"""Shared fixtures: the patched ffmpeg builds made by scripts/setup.sh."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tools"))  # peak_rss, shared with bench/


DEFAULT_FFMPEG = ROOT / ".venv" / "bin" / "ffmpeg"


def series_of(binary: pathlib.Path) -> str:
    """'9.0' for a binary that says 'ffmpeg version 9.0.2'."""
    banner = subprocess.run([binary, "-hide_banner", "-version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"ffmpeg version n?(\d+\.\d+)", banner)
    return match.group(1) if match else binary.parent.parent.name.removeprefix("ffmpeg-")


def _ffmpeg_builds() -> dict[str, pathlib.Path]:
    """series -> ffmpeg binary: .venv/bin/ffmpeg (the full build), .venv/opt/ffmpeg-S/bin/ffmpeg the others."""
    builds = {}
    for binary in sorted((ROOT / ".venv" / "opt").glob("ffmpeg-*/bin/ffmpeg")):
        builds[series_of(binary)] = binary
    if DEFAULT_FFMPEG.is_file():
        builds[series_of(DEFAULT_FFMPEG)] = DEFAULT_FFMPEG
    return builds


BUILDS = _ffmpeg_builds()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ffmpeg" in metafunc.fixturenames:
        series = sorted(BUILDS) or ["missing"]
        if metafunc.definition.get_closest_marker("default_build") and DEFAULT_FFMPEG.is_file():
            series = [series_of(DEFAULT_FFMPEG)]
        metafunc.parametrize("ffmpeg", series, indirect=True, ids=[f"ffmpeg{s}" for s in series])


@pytest.fixture
def ffmpeg(request: pytest.FixtureRequest) -> pathlib.Path:
    binary = BUILDS.get(request.param)
    if binary is None:
        message = "no patched ffmpeg: run scripts/setup.sh (or scripts/test.sh)"
        if os.environ.get("NNVISR_REQUIRE_FFMPEG"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture
def full_ffmpeg() -> pathlib.Path:
    """.venv/bin/ffmpeg, the full build the README's commands run on."""
    if not DEFAULT_FFMPEG.is_file():
        message = "no patched ffmpeg: run scripts/setup.sh (or scripts/test.sh)"
        if os.environ.get("NNVISR_REQUIRE_FFMPEG"):
            pytest.fail(message)
        pytest.skip(message)
    return DEFAULT_FFMPEG
