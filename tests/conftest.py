"""Shared fixtures: the patched ffmpeg builds made by scripts/setup.sh."""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def _ffmpeg_builds() -> dict[str, pathlib.Path]:
    """series -> ffmpeg binary: .venv/bin/ffmpeg is 7.1, .venv/opt/ffmpeg-S/bin/ffmpeg the others."""
    builds = {}
    default = ROOT / ".venv" / "bin" / "ffmpeg"
    if default.is_file():
        builds["7.1"] = default
    for binary in sorted((ROOT / ".venv" / "opt").glob("ffmpeg-*/bin/ffmpeg")):
        builds[binary.parent.parent.name.removeprefix("ffmpeg-")] = binary
    return builds


BUILDS = _ffmpeg_builds()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ffmpeg" in metafunc.fixturenames:
        series = sorted(BUILDS) or ["missing"]
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
