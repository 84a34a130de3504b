"""Temporal models end to end: index-revealing networks on clips with real cuts found by scdet.

Every input frame is flat with its own value; a network output is a fixed,
distinct weighted mix of its window's frames, so each output frame's value
reveals which frames fed it. Expected values and timestamps come from the
reference scheduler.
"""

from __future__ import annotations

import pathlib
import subprocess

import clips
import numpy as np
import onnx_models
import pytest
from ffmpeg_run import RAW, filter_raw, frame_times, raw_to_rgb, rgb_to_raw, run
from schedule_reference import reference

from nnvisr_core.scheduler import Layout

WIDTH, HEIGHT = 24, 16


def scene_clip(scene_lengths: list[int]) -> tuple[np.ndarray, set[int]]:
    return clips.scene_clip(scene_lengths, WIDTH, HEIGHT)


def expected_frames(frames: np.ndarray, cuts: set[int], layout: Layout, weights: np.ndarray, scale: int):
    pts = list(range(len(frames)))
    windows = reference(pts, [1] * len(frames), cuts, layout)
    values = frames[:, :, 0, 0].astype(np.float64)
    out = []
    for window in windows:
        for spec in window.outputs:
            if spec.network_index is None:
                value = values[spec.source]
            else:
                value = sum(weights[spec.network_index, t] * values[f] for t, f in enumerate(window.frames))
            out.append((np.rint(value), spec.pts, spec.duration))
    return out


CASES = {
    # name: (consumed frames n, extra_frame, interpolation, double_frame, scale); input_count = n + extra_frame
    "vsr": (3, False, False, False, 2),
    "interpolation": (1, True, True, False, 1),
    "interpolation_n2": (2, True, True, False, 1),
    "stvsr": (2, True, True, True, 2),
    "denoise_lookahead": (2, True, False, False, 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("batch", [1, 3])
def test_windows_scenes_and_times(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, case: str, batch: int) -> None:
    n, extra, interp, double, scale = CASES[case]
    layout = Layout(n, extra, interp, double)
    frames_in = n + extra
    frames_out = 2 * n if double else n
    weights = onnx_models.index_weights(frames_out, frames_in)
    model = onnx_models.temporal_mix(tmp_path / "t.onnx", weights, scale)
    frames, cuts = scene_clip([5, 1, 4, 7])
    options = (
        f"model={model}:input_count={n + extra}:extra_frame={int(extra)}:interpolation={int(interp)}"
        f":double_frame={int(double)}:scale_factor={scale}:batch_size_fusion={batch}"
    )
    fmt = RAW["gbrp"]
    data, log = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, frames), (WIDTH, HEIGHT), f"scdet,nnvisr={options}")
    assert clips.found_cuts(log) == cuts, "scdet must find exactly the cuts built into the clip"

    actual = raw_to_rgb(fmt, data, WIDTH * scale, HEIGHT * scale)
    expected = expected_frames(frames, cuts, layout, weights, scale)
    assert len(actual) == len(frames) * (2 if interp else 1) == len(expected)
    for index, (frame, (value, _, _)) in enumerate(zip(actual, expected)):
        assert np.abs(frame - value[:, None, None]).max() <= 1, f"output frame {index}"

    times = frame_times(ffmpeg, [
        "-f", "rawvideo", "-pix_fmt", "gbrp", "-s", f"{WIDTH}x{HEIGHT}", "-r", "25", "-i", str(tmp_path / "in.raw"),
        "-vf", f"scdet,nnvisr={options}", "-fps_mode", "passthrough", "-enc_time_base", "filter", "-c:v", "rawvideo",
    ])
    assert times == [(p, d) for _, p, d in expected]


def test_interpolation_keeps_vfr_midpoints(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Irregular input times: each intermediate frame sits at the exact midpoint of its neighbours."""
    weights = onnx_models.index_weights(1, 2)
    model = onnx_models.temporal_mix(tmp_path / "t.onnx", weights)
    source = ["-f", "lavfi", "-i", "testsrc2=s=32x24:r=10:d=1.1,format=gbrp,settb=1/1000,setpts='N*N*7+3*N'"]
    common = ["-fps_mode", "passthrough", "-enc_time_base", "filter", "-c:v", "rawvideo"]
    before = frame_times(ffmpeg, [*source, *common])
    after = frame_times(ffmpeg, [*source, "-vf", f"nnvisr=model={model}:input_count=2:extra_frame=1", *common])
    assert len(after) == 2 * len(before) == 22
    for i, (pts, _) in enumerate(before):
        assert after[2 * i][0] == 2 * pts
        following = before[i + 1][0] if i + 1 < len(before) else pts + before[i][1]
        assert after[2 * i + 1] == (pts + following, following - pts)


def test_interpolation_doubles_the_frame_rate(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = onnx_models.temporal_mix(tmp_path / "t.onnx", onnx_models.index_weights(1, 2))
    result = run(ffmpeg, [
        "-f", "lavfi", "-i", "testsrc2=s=32x24:r=25:d=0.4,format=gbrp",
        "-vf", f"nnvisr=model={model}:input_count=2:extra_frame=1,showinfo", "-c:v", "ffv1", "-f", "matroska",
        str(tmp_path / "out.mkv"),
    ])
    assert result.returncode == 0, result.stderr[-2000:]
    probe = subprocess.run([
        str(ffmpeg.parent / "ffprobe"), "-v", "error", "-count_frames", "-show_entries",
        "stream=r_frame_rate,nb_read_frames", "-of", "csv=p=0", str(tmp_path / "out.mkv"),
    ], capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "50/1,20"


def test_scene_score_key_with_threshold(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """scene_key may name a score (select's lavfi.scene_score) compared with scene_threshold."""
    n, weights = 2, onnx_models.index_weights(2, 2)
    model = onnx_models.temporal_mix(tmp_path / "t.onnx", weights)
    frames, cuts = scene_clip([3, 5])
    fmt = RAW["gbrp"]
    vf = (
        f"select='gte(scene,0)',nnvisr=model={model}:input_count={n}:interpolation=0"
        f":scene_key=lavfi.scene_score:scene_threshold=0.3"
    )
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, frames), (WIDTH, HEIGHT), vf)
    actual = raw_to_rgb(fmt, data, WIDTH, HEIGHT)
    expected = expected_frames(frames, cuts, Layout(n, False, False, False), weights, 1)
    for frame, (value, _, _) in zip(actual, expected):
        assert np.abs(frame - value[:, None, None]).max() <= 1
