"""Running the patched ffmpeg on raw frames and reading its output back."""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess

import numpy as np

TIMEOUT = 120  # seconds: a hang is a failure, not a stuck test run


@dataclasses.dataclass(frozen=True)
class RawFormat:
    pix_fmt: str
    depth: int
    planar_rgb: bool = False
    yuv420: bool = False

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        return np.uint8 if self.depth <= 8 else np.uint16


RAW = {
    "rgb24": RawFormat("rgb24", 8),
    "gbrp": RawFormat("gbrp", 8, planar_rgb=True),
    "gbrp10le": RawFormat("gbrp10le", 10, planar_rgb=True),
    "gbrp12le": RawFormat("gbrp12le", 12, planar_rgb=True),
    "gbrp16le": RawFormat("gbrp16le", 16, planar_rgb=True),
    "yuv420p": RawFormat("yuv420p", 8, yuv420=True),
    "yuv420p10le": RawFormat("yuv420p10le", 10, yuv420=True),
    "yuv420p12le": RawFormat("yuv420p12le", 12, yuv420=True),
    "yuv420p16le": RawFormat("yuv420p16le", 16, yuv420=True),
}


def rgb_to_raw(fmt: RawFormat, frames: np.ndarray) -> bytes:
    """frames: [F, 3, H, W] integer codes in R G B order."""
    frames = frames.astype(fmt.dtype)
    if fmt.planar_rgb:
        return frames[:, [1, 2, 0]].tobytes()  # G B R planes
    return frames.transpose(0, 2, 3, 1).tobytes()


def raw_to_rgb(fmt: RawFormat, data: bytes, width: int, height: int) -> np.ndarray:
    array = np.frombuffer(data, fmt.dtype)
    if fmt.planar_rgb:
        planes = array.reshape(-1, 3, height, width)
        return planes[:, [2, 0, 1]].astype(np.int64)
    return array.reshape(-1, height, width, 3).transpose(0, 3, 1, 2).astype(np.int64)


def yuv_to_raw(fmt: RawFormat, frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> bytes:
    return b"".join(plane.astype(fmt.dtype).tobytes() for frame in frames for plane in frame)


def raw_to_yuv(fmt: RawFormat, data: bytes, width: int, height: int) -> list[tuple[np.ndarray, ...]]:
    array = np.frombuffer(data, fmt.dtype).astype(np.int64)
    cw, ch = (width + 1) // 2, (height + 1) // 2
    size = width * height + 2 * cw * ch
    assert array.size % size == 0, "output is not a whole number of frames"
    frames = []
    for f in range(array.size // size):
        chunk = array[f * size : (f + 1) * size]
        y = chunk[: width * height].reshape(height, width)
        u = chunk[width * height : width * height + cw * ch].reshape(ch, cw)
        v = chunk[width * height + cw * ch :].reshape(ch, cw)
        frames.append((y, u, v))
    return frames


def run(ffmpeg: pathlib.Path, args: list[str], env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-y", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        **kwargs,
    )


def filter_raw(
    ffmpeg: pathlib.Path,
    tmp: pathlib.Path,
    fmt: RawFormat,
    data: bytes,
    size: tuple[int, int],
    vf: str,
    rate: str = "25",
    input_args: tuple[str, ...] = (),
) -> tuple[bytes, str]:
    """Run raw frames through a filter graph; returns the raw output and the stderr log."""
    source = tmp / "in.raw"
    source.write_bytes(data)
    target = tmp / "out.raw"
    result = run(
        ffmpeg,
        [
            "-f", "rawvideo", "-pix_fmt", fmt.pix_fmt, "-s", f"{size[0]}x{size[1]}", "-r", rate,
            *input_args, "-i", str(source),
            "-vf", vf, "-f", "rawvideo", "-pix_fmt", fmt.pix_fmt, str(target),
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return target.read_bytes(), result.stderr


def count_frames(ffmpeg: pathlib.Path, path: pathlib.Path) -> int:
    """Video frames in a file, as ffprobe decodes them."""
    result = subprocess.run(
        [str(ffmpeg.parent / "ffprobe"), "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def frame_times(ffmpeg: pathlib.Path, args: list[str]) -> list[tuple[int, int]]:
    """(pts, duration) of every output frame, from the framecrc muxer."""
    result = run(ffmpeg, [*args, "-f", "framecrc", "-"])
    assert result.returncode == 0, result.stderr[-3000:]
    rows = []
    for line in result.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        rows.append((int(fields[2]), int(fields[3])))
    return rows
