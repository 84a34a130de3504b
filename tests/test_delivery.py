"""The patched ffmpeg as users deliver with it: real encoders and containers, audio copied, pipes, pixel formats."""

from __future__ import annotations

import pathlib
import re
import subprocess

import numpy as np
import pytest
from delivery_clip import FRAMES, SIZE, identity_package, make_short_clip, probe
from ffmpeg_run import run

# Luma of a yuv420p -> gbrp -> yuv420p round trip with accurate rounding, measured on the 720p sample clip
# (README, "Pixel formats"): mean error 0.0008, 99.9 % of the values exactly back. FFmpeg's default flags: 1.05, 5.9 %.
MAX_MEAN_LUMA_ERROR = 0.01
MIN_EXACT_LUMA = 0.99
ACCURATE = "bicubic+accurate_rnd+full_chroma_int"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    from conftest import BUILDS, DEFAULT_FFMPEG

    maker = DEFAULT_FFMPEG if DEFAULT_FFMPEG.is_file() else next(iter(BUILDS.values()), None)
    if maker is None:
        pytest.skip("no patched ffmpeg: run scripts/setup.sh")
    return make_short_clip(maker, tmp_path_factory.mktemp("clip") / "in.mp4")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return identity_package(tmp_path_factory.mktemp("model") / "identity2x", scale=2)


@pytest.fixture(scope="module")
def model1x(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return identity_package(tmp_path_factory.mktemp("model") / "identity1x", scale=1)


def ffprobe_of(ffmpeg: pathlib.Path) -> pathlib.Path:
    return ffmpeg.with_name("ffprobe")


@pytest.mark.parametrize(
    ("encoder", "codec", "container", "options"),
    [
        ("libx264", "h264", "mp4", ["-preset", "ultrafast"]),
        ("libx265", "hevc", "mp4", ["-preset", "ultrafast"]),
        ("libsvtav1", "av1", "mkv", ["-preset", "12"]),
        ("libvpx-vp9", "vp9", "mkv", ["-deadline", "realtime", "-cpu-used", "8"]),
    ],
)
def test_encoders_with_audio_copied(
    full_ffmpeg: pathlib.Path, clip: pathlib.Path, model: pathlib.Path, tmp_path: pathlib.Path,
    encoder: str, codec: str, container: str, options: list[str],
) -> None:
    target = tmp_path / f"out.{container}"
    result = run(full_ffmpeg, ["-i", str(clip), "-vf", f"nnvisr=model={model}", "-c:v", encoder, *options,
                               "-c:a", "copy", str(target)])
    assert result.returncode == 0, result.stderr[-3000:]
    video = probe(ffprobe_of(full_ffmpeg), target)
    assert (video["codec_name"], video["width"], video["height"]) == (codec, str(2 * SIZE[0]), str(2 * SIZE[1]))
    assert video["nb_read_frames"] == str(FRAMES)
    assert video["pix_fmt"] == "yuv420p"  # the source's, with no -pix_fmt
    audio, source_audio = probe(ffprobe_of(full_ffmpeg), target, "a:0"), probe(ffprobe_of(full_ffmpeg), clip, "a:0")
    assert audio["codec_name"] == source_audio["codec_name"] == "aac"
    assert audio["nb_read_packets"] == source_audio["nb_read_packets"]


def read_y4m(data: bytes) -> tuple[str, list[bytes]]:
    """Header and frames of a y4m stream, checking that nothing else is in it."""
    header, _, rest = data.partition(b"\n")
    assert header.startswith(b"YUV4MPEG2 "), data[:200]
    fields = dict((f[:1].decode(), f[1:].decode()) for f in header.split()[1:])
    width, height = int(fields["W"]), int(fields["H"])
    assert fields.get("C", "420").startswith("420"), header
    size = width * height * 3 // 2
    frames = []
    while rest:
        assert rest.startswith(b"FRAME"), rest[:100]
        _, _, rest = rest.partition(b"\n")
        assert len(rest) >= size, "truncated frame"
        frames.append(rest[:size])
        rest = rest[size:]
    return header.decode(), frames


def test_stdin_to_y4m_on_stdout(ffmpeg: pathlib.Path, clip: pathlib.Path, model: pathlib.Path) -> None:
    """`-i -` from a pipe, `-f yuv4mpegpipe -`: a yuv420p source gives yuv420p out of an RGB model, and
    standard output holds the y4m stream and nothing else."""
    result = subprocess.run(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-loglevel", "verbose", "-i", "-",
         "-vf", f"nnvisr=model={model}", "-f", "yuv4mpegpipe", "-"],
        stdin=clip.open("rb"), capture_output=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    header, frames = read_y4m(result.stdout)
    assert f"W{2 * SIZE[0]} H{2 * SIZE[1]}" in header
    assert len(frames) == FRAMES
    assert "yuv420p -> gbrp -> yuv420p" in result.stderr.decode(errors="replace")


def test_pipe_protocol_to_nut_on_stdout(
    ffmpeg: pathlib.Path, clip: pathlib.Path, model: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    producer = subprocess.Popen(["cat", str(clip)], stdout=subprocess.PIPE)
    result = subprocess.run(
        [str(ffmpeg), "-hide_banner", "-nostdin", "-i", "pipe:", "-vf", f"nnvisr=model={model}",
         "-c:v", "rawvideo", "-an", "-f", "nut", "-"],
        stdin=producer.stdout, capture_output=True, timeout=300,
    )
    producer.wait()
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    target = tmp_path / "out.nut"
    target.write_bytes(result.stdout)
    video = probe(ffprobe_of(ffmpeg), target)
    assert (video["width"], video["height"], video["nb_read_frames"]) == (str(2 * SIZE[0]), str(2 * SIZE[1]),
                                                                         str(FRAMES))
    assert video["pix_fmt"] == "yuv420p"


def decode_yuv(ffmpeg: pathlib.Path, source: pathlib.Path, vf: str, tmp: pathlib.Path) -> np.ndarray:
    """The frames a graph gives, as written (no -pix_fmt: the graph's own format must be yuv420p)."""
    target = tmp / "out.nut"
    result = run(ffmpeg, ["-i", str(source), "-an", "-vf", vf, "-c:v", "rawvideo", str(target)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert probe(ffprobe_of(ffmpeg), target)["pix_fmt"] == "yuv420p"
    raw = run(ffmpeg, ["-i", str(target), "-f", "rawvideo", str(tmp / "out.yuv")])
    assert raw.returncode == 0, raw.stderr[-2000:]
    width, height = SIZE
    return np.frombuffer((tmp / "out.yuv").read_bytes(), np.uint8).reshape(-1, height * 3 // 2, width)


def test_yuv_in_yuv_out_accurate(
    ffmpeg: pathlib.Path, clip: pathlib.Path, model1x: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """An identity RGB model on real yuv420p frames: the output is yuv420p, its luma within the accuracy measured
    for swscale's accurate conversions, and equal to those conversions done by the scale filter."""
    source = decode_yuv(ffmpeg, clip, "null", tmp_path)
    out = decode_yuv(ffmpeg, clip, f"nnvisr=model={model1x}", tmp_path)
    by_scale = decode_yuv(
        ffmpeg, clip, f"scale=flags={ACCURATE},format=gbrp,scale=flags={ACCURATE},format=yuv420p", tmp_path
    )
    assert out.shape == source.shape == (FRAMES, SIZE[1] * 3 // 2, SIZE[0])
    luma_error = np.abs(out[:, : SIZE[1]].astype(int) - source[:, : SIZE[1]])
    assert luma_error.mean() <= MAX_MEAN_LUMA_ERROR
    assert np.mean(luma_error == 0) >= MIN_EXACT_LUMA
    assert np.abs(out.astype(int) - by_scale).max() <= 1


def test_out_format_model_keeps_rgb(
    ffmpeg: pathlib.Path, clip: pathlib.Path, model: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    target = tmp_path / "out.nut"
    result = run(ffmpeg, ["-i", str(clip), "-an", "-vf", f"nnvisr=model={model}:out_format=model",
                          "-c:v", "rawvideo", str(target)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert probe(ffprobe_of(ffmpeg), target)["pix_fmt"] == "gbrp"


def test_interlaced_input_warns_and_output_is_progressive(
    ffmpeg: pathlib.Path, clip: pathlib.Path, model: pathlib.Path
) -> None:
    result = run(ffmpeg, ["-i", str(clip), "-an", "-vf", f"setparams=field_mode=tff,nnvisr=model={model},showinfo",
                          "-f", "null", "-"])
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if "interlaced" in line]
    assert len(warnings) == 1 and "bwdif" in warnings[0], result.stderr[-3000:]
    field_marks = re.findall(r" i:([PTB]) ", result.stderr)
    assert field_marks == ["P"] * FRAMES
