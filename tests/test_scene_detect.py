"""Cut-safe by default: without scene detection in front, a temporal model finds the cuts itself with scdet's
measure (scene=auto), so `-vf nnvisr` gives the frames of `-vf scdet,nnvisr`; scene=metadata and scene=off."""

from __future__ import annotations

import json
import pathlib
import re
import shutil

import numpy as np
import onnx_models
import pytest
from ffmpeg_run import run

from nnvisr_core import package
from nnvisr_core.options import SCENE_MODES
from nnvisr_core.scene_detect import LinkFormat, SceneMeasure

WIDTH, HEIGHT, RATE = 96, 64, 10
# Three scenes of five frames: testsrc2, testsrc, testsrc2 upside down; scdet cuts at frames 5 and 10
# (scores 29.3 and 32.7), nowhere else (at most 1.2).
CLIP_GRAPH = (
    f"testsrc2=s={WIDTH}x{HEIGHT}:r={RATE}:d=0.5[a];testsrc=s={WIDTH}x{HEIGHT}:r={RATE}:d=0.5[b];"
    f"testsrc2=s={WIDTH}x{HEIGHT}:r={RATE}:d=0.5,vflip[c];[a][b][c]concat=n=3"
)
CUTS = [5, 10]
FRAMES = 15


def make_clip(ffmpeg: pathlib.Path, tmp: pathlib.Path, pix_fmt: str) -> list[str]:
    """The clip as raw frames in pix_fmt; returns the input arguments that read it."""
    path = tmp / f"cuts.{pix_fmt}"
    if not path.exists():
        result = run(ffmpeg, ["-f", "lavfi", "-i", CLIP_GRAPH, "-f", "rawvideo", "-pix_fmt", pix_fmt, str(path)])
        assert result.returncode == 0, result.stderr[-2000:]
    return ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{WIDTH}x{HEIGHT}", "-r", str(RATE), "-i", str(path)]


def framemd5(ffmpeg: pathlib.Path, source: list[str], vf: str, level: str = "info") -> tuple[list[list[str]], str]:
    """Every output frame's (stream, dts, pts, duration, size, md5) and the log."""
    result = run(ffmpeg, ["-v", level, *source, "-vf", vf, "-f", "framemd5", "-"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    rows = [[f.strip() for f in line.split(",")] for line in result.stdout.splitlines() if line and line[0] != "#"]
    return rows, result.stderr


def scene_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "scene cuts:" in line]


# --- the measure against scdet's own scores -------------------------------------------------------------------------

# FFmpeg's descriptions of the formats measured: (depth, components, rgb, planar, row bytes per plane at
# WIDTH, rows per plane).
FORMATS = {
    "yuv420p": (8, 3, False, True, (WIDTH, WIDTH // 2, WIDTH // 2), (HEIGHT, HEIGHT // 2, HEIGHT // 2)),
    "yuv420p10le": (10, 3, False, True, (2 * WIDTH, WIDTH, WIDTH), (HEIGHT, HEIGHT // 2, HEIGHT // 2)),
    "yuv444p12le": (12, 3, False, True, (2 * WIDTH,) * 3, (HEIGHT,) * 3),
    "rgb24": (8, 3, True, False, (3 * WIDTH,), (HEIGHT,)),
    "bgra": (8, 4, True, False, (4 * WIDTH,), (HEIGHT,)),
    "gray": (8, 1, False, False, (WIDTH,), (HEIGHT,)),
}


def link_format(pix_fmt: str) -> LinkFormat:
    depth, components, rgb, planar, row_bytes, rows = FORMATS[pix_fmt]
    return LinkFormat(pix_fmt, depth, components, rgb, planar, False, False, row_bytes, rows)


def raw_planes(data: bytes, fmt: LinkFormat) -> list[list[np.ndarray]]:
    """Each frame's planes, as [rows, samples] arrays of the measure's sample type."""
    dtype = np.dtype(np.uint8 if fmt.depth <= 8 else "<u2")
    frame_size = sum(b * r for b, r in zip(fmt.plane_bytes, fmt.plane_rows))
    frames = []
    for start in range(0, len(data), frame_size):
        planes, offset = [], start
        for row_bytes, rows in zip(fmt.plane_bytes, fmt.plane_rows):
            chunk = data[offset : offset + row_bytes * rows]
            planes.append(np.frombuffer(chunk, dtype).reshape(rows, row_bytes // dtype.itemsize))
            offset += row_bytes * rows
        frames.append(planes)
    return frames


@pytest.mark.parametrize("pix_fmt", list(FORMATS))
def test_measure_gives_scdets_scores(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, pix_fmt: str) -> None:
    """The frames scdet measured (written out after it) give, through SceneMeasure, the scores scdet printed, to
    its three decimals: luma alone for planar YUV, every sample of a packed RGB row, the depth's scale."""
    source = make_clip(ffmpeg, tmp_path, "yuv444p")  # one source converted to each format
    out = tmp_path / "measured.raw"
    result = run(ffmpeg, ["-v", "info", *source, "-vf", f"format={pix_fmt},scdet,metadata=print:key=lavfi.scd.score",
                          "-f", "rawvideo", str(out)])
    assert result.returncode == 0, result.stderr[-3000:]
    expected = re.findall(r"lavfi\.scd\.score=([0-9.]+)", result.stderr)
    assert len(expected) == FRAMES
    fmt = link_format(pix_fmt)
    measure = SceneMeasure(fmt)
    frames = raw_planes(out.read_bytes(), fmt)
    actual = [f"{measure.score(planes[: measure.plane_count]):.3f}" for planes in frames]
    assert actual == expected
    assert [i for i, score in enumerate(actual) if float(score) >= 10] == CUTS


def test_measure_of_the_first_frame_and_a_repeat() -> None:
    """The first frame scores 0; so does a frame equal to the one before (mafd 0)."""
    fmt = link_format("gray")
    measure = SceneMeasure(fmt)
    frame = np.full((HEIGHT, WIDTH), 7, np.uint8)
    assert measure.score([frame]) == 0
    assert measure.score([frame.copy()]) == 0
    # all samples 64 apart: mafd 25 %, 25 above the previous mafd
    assert measure.score([frame + 64]) == 25.0


# --- through ffmpeg --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pix_fmt", "model"),
    [("yuv420p", "interpolate"), ("rgb24", "interpolate"), ("yuv420p10le", "interpolate"), ("yuv420p", "default")],
)
def test_without_scdet_the_frames_of_scdet_in_front(
    ffmpeg: pathlib.Path, tmp_path: pathlib.Path, pix_fmt: str, model: str
) -> None:
    """-vf nnvisr alone gives byte-identical frames, timestamps and durations to -vf scdet,nnvisr, and says once
    where its cuts come from."""
    source = make_clip(ffmpeg, tmp_path, pix_fmt)
    alone, log = framemd5(ffmpeg, source, f"nnvisr=model={model}")
    behind_scdet, scdet_log = framemd5(ffmpeg, source, f"scdet,nnvisr=model={model}")
    assert alone == behind_scdet
    assert len(alone) == (2 * FRAMES if model == "interpolate" else FRAMES)
    assert scene_lines(log) == [
        line for line in log.splitlines()
        if line.endswith(f"scene cuts: detected here (scdet's measure on {pix_fmt}, threshold 10)")
    ]
    assert len(scene_lines(log)) == 1
    assert len(scene_lines(scdet_log)) == 1 and scene_lines(scdet_log)[0].endswith(
        "scene cuts: from frame metadata lavfi.scd.time"
    )


def test_scene_off_blends_across_the_cuts(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """With scene=off only the frames interpolated across a cut change (the network then blends two scenes);
    with cuts, the frame before a cut is repeated there instead."""
    source = make_clip(ffmpeg, tmp_path, "yuv420p")
    cut_safe, _ = framemd5(ffmpeg, source, "nnvisr=model=interpolate")
    off, log = framemd5(ffmpeg, source, "nnvisr=model=interpolate:scene=off")
    assert [row[:4] for row in off] == [row[:4] for row in cut_safe]  # the same timestamps
    changed = [i for i, (a, b) in enumerate(zip(cut_safe, off)) if a[5] != b[5]]
    assert changed == [2 * cut - 1 for cut in CUTS]
    assert [line.split("] ")[-1] for line in scene_lines(log)] == ["scene cuts: off"]
    default_off, _ = framemd5(ffmpeg, source, "nnvisr=scene=off")
    default_cut_safe, _ = framemd5(ffmpeg, source, "nnvisr")
    assert default_off != default_cut_safe


def test_scene_metadata_without_scdet_warns_and_sees_no_cut(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    source = make_clip(ffmpeg, tmp_path, "yuv420p")
    frames, log = framemd5(ffmpeg, source, "nnvisr=model=interpolate:scene=metadata")
    warnings = [line for line in log.splitlines() if "scene=metadata: the frames carry no lavfi.scd.score" in line]
    assert len(warnings) == 1, log[-3000:]
    assert "put scdet in front" in warnings[0]
    off, _ = framemd5(ffmpeg, source, "nnvisr=model=interpolate:scene=off")
    assert frames == off
    # behind scdet: its cuts, no warning
    with_scdet, log = framemd5(ffmpeg, source, "scdet,nnvisr=model=interpolate:scene=metadata")
    assert "carry no" not in log
    assert with_scdet == framemd5(ffmpeg, source, "nnvisr=model=interpolate")[0]


def test_explicit_scene_key_reads_metadata(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """A scene_key set on the command line says where the cuts are: nothing is measured (no cut here)."""
    source = make_clip(ffmpeg, tmp_path, "yuv420p")
    frames, log = framemd5(ffmpeg, source, "nnvisr=model=interpolate:scene_key=lavfi.scd.time")
    assert [line.split("] ")[-1] for line in scene_lines(log)] == ["scene cuts: from frame metadata lavfi.scd.time"]
    assert frames == framemd5(ffmpeg, source, "nnvisr=model=interpolate:scene=off")[0]


def test_scene_threshold_sets_the_detection_threshold(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """scene_threshold=30 detects as scdet=threshold=30 does: the cut scored 29.3 is not one."""
    source = make_clip(ffmpeg, tmp_path, "yuv420p")
    frames, log = framemd5(ffmpeg, source, "nnvisr=model=interpolate:scene_threshold=30")
    assert frames == framemd5(ffmpeg, source, "scdet=threshold=30,nnvisr=model=interpolate")[0]
    assert frames != framemd5(ffmpeg, source, "nnvisr=model=interpolate")[0]
    assert "threshold 30)" in scene_lines(log)[0]


def test_package_sets_scene(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """nnvisr.json may set scene like any option; the command line still wins."""
    bundled = package.locate("interpolate")
    assert isinstance(bundled, package.TwoStagePackage)
    copy = tmp_path / "interp"
    shutil.copytree(bundled.directory, copy)
    config = json.loads((copy / "nnvisr.json").read_text())
    (copy / "nnvisr.json").write_text(json.dumps({**config, "scene": "off"}))
    source = make_clip(ffmpeg, tmp_path, "yuv420p")
    off, log = framemd5(ffmpeg, source, f"nnvisr=model={copy}")
    assert off == framemd5(ffmpeg, source, "nnvisr=model=interpolate:scene=off")[0]
    assert scene_lines(log)[0].endswith("scene cuts: off")
    auto, _ = framemd5(ffmpeg, source, f"nnvisr=model={copy}:scene=auto")
    assert auto == framemd5(ffmpeg, source, "nnvisr=model=interpolate")[0]


def test_bad_scene_in_nnvisr_json_is_one_error(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3))
    (tmp_path / "nnvisr.json").write_text(json.dumps({"onnx": "m.onnx", "scene": "sometimes"}))
    result = run(ffmpeg, ["-v", "error", *make_clip(ffmpeg, tmp_path, "yuv420p"), "-vf", f"nnvisr=model={tmp_path}",
                          "-f", "null", "-"])
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "scene must be one of auto, metadata, off" in line]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def test_image_models_measure_nothing(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """A one-frame model has no windows to cut: no scene line."""
    onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3))
    frames, log = framemd5(ffmpeg, make_clip(ffmpeg, tmp_path, "yuv420p"), f"nnvisr=model={tmp_path / 'm.onnx'}")
    assert len(frames) == FRAMES
    assert not scene_lines(log)


def test_c_option_lists_the_scene_modes(ffmpeg: pathlib.Path) -> None:
    """The C option's named constants are the Python table's modes."""
    result = run(ffmpeg, ["-h", "filter=nnvisr"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"\s+scene\s+<int>", line))
    constants = []
    for line in lines[start + 1 :]:
        if not re.match(r"\s{5}\w", line):
            break
        constants.append(line.split()[0])
    assert tuple(constants) == SCENE_MODES
