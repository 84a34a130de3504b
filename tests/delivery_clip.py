"""A short cut of the real sample clip with its audio track, as users deliver video, and small models for it."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import onnx_models
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIZE = (320, 180)
FRAMES = 10  # 0.4 s at 25 fps


def sample_clip() -> pathlib.Path:
    """The full sample clip (Big Buck Bunny, 1280x720, H.264 and AAC), fetched into the cache once."""
    clip = subprocess.run([sys.executable, str(ROOT / "tools" / "sample_clip.py")], capture_output=True, text=True)
    if clip.returncode != 0:
        pytest.skip(f"no sample clip: {clip.stderr.strip()[-300:]}")
    return pathlib.Path(clip.stdout.strip())


def has_encoder(ffmpeg: pathlib.Path, name: str) -> bool:
    listing = subprocess.run([str(ffmpeg), "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in listing.splitlines())


def make_short_clip(ffmpeg: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    """FRAMES frames of the sample at SIZE, H.264 (MPEG-4 Part 2 from a minimal build) and the source's AAC
    audio, index at the front (pipes read it)."""
    video = (["-c:v", "libx264", "-preset", "ultrafast", "-qp", "10"] if has_encoder(ffmpeg, "libx264")
             else ["-c:v", "mpeg4", "-q:v", "1"])
    result = subprocess.run(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-y", "-v", "error", "-i", str(sample_clip()),
         "-frames:v", str(FRAMES), "-t", f"{FRAMES / 25}", "-vf", f"scale={SIZE[0]}:{SIZE[1]}:flags=area",
         *video, "-c:a", "copy", "-movflags", "+faststart", str(target)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return target


def identity_package(folder: pathlib.Path, scale: int = 1) -> pathlib.Path:
    """An RGB model package that copies (and nearest-upscales) its input: exact, and fast on the CPU."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx_models.colour_mix(folder / "net.onnx", np.eye(3), np.zeros(3), scale)
    (folder / "nnvisr.json").write_text(json.dumps({"onnx": "net.onnx", "scale_factor": scale}))
    return folder


def probe(ffprobe: pathlib.Path, path: pathlib.Path | str, stream: str = "v:0") -> dict[str, str]:
    """codec_name, width, height, pix_fmt, nb_read_frames and nb_read_packets of one stream, decoded in full."""
    result = subprocess.run(
        [str(ffprobe), "-v", "error", "-select_streams", stream, "-count_frames", "-count_packets",
         "-show_entries", "stream=codec_name,width,height,pix_fmt,nb_read_frames,nb_read_packets",
         "-of", "json", str(path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    streams = json.loads(result.stdout)["streams"]
    assert streams, f"{path} has no stream {stream}"
    return {k: str(v) for k, v in streams[0].items()}
