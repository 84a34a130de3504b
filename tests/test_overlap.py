"""Overlapped batches (the GPU default; NNVISR_OVERLAP=1 forces them here): a worker thread runs each
batch while the filter's thread reads the next frames. Same frames, same timestamps, same failures
as batches run in line; at most MAX_IN_FLIGHT batches wait, and frames are freed only once the
batch reading them is collected."""

from __future__ import annotations

import os
import pathlib
import threading
import time
from fractions import Fraction

import numpy as np
import onnx_models
import pytest
from clips import scene_clip
from ffmpeg_run import RAW, frame_times, rgb_to_raw, run
from test_reliability import count_frames

from nnvisr_core import log
from nnvisr_core.processor import MAX_IN_FLIGHT, LinkConfig, Processor

FMT = RAW["gbrp"]
RNG = np.random.default_rng(19)


def run_with(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, frames: np.ndarray, vf: str, overlap: str):
    source = tmp_path / "in.raw"
    source.write_bytes(rgb_to_raw(FMT, frames))
    height, width = frames.shape[-2:]
    args = ["-f", "rawvideo", "-pix_fmt", "gbrp", "-s", f"{width}x{height}", "-r", "25", "-i", str(source), "-vf", vf]
    env = {**os.environ, "NNVISR_OVERLAP": overlap}
    result = run(ffmpeg, ["-v", "verbose", *args, "-f", "rawvideo", "-pix_fmt", "gbrp", str(tmp_path / "o.raw")],
                 env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("batches overlap" in result.stderr) == (overlap == "1")
    old = os.environ.get("NNVISR_OVERLAP")
    os.environ["NNVISR_OVERLAP"] = overlap
    try:
        times = frame_times(ffmpeg, args)
    finally:
        if old is None:
            del os.environ["NNVISR_OVERLAP"]
        else:
            os.environ["NNVISR_OVERLAP"] = old
    return (tmp_path / "o.raw").read_bytes(), times


def cases(tmp_path: pathlib.Path) -> dict[str, str]:
    temporal = onnx_models.temporal_mix(tmp_path / "t.onnx", onnx_models.index_weights(3, 3))
    mix = onnx_models.colour_mix(tmp_path / "m.onnx", RNG.random((3, 3)), RNG.random(3) - 0.3, 2)
    return {
        "default_b2": "scdet,nnvisr=batch_size_fusion=2",
        "interpolate_b3": "scdet,nnvisr=model=interpolate:batch_size_fusion=3",
        "temporal_b3": f"scdet,nnvisr=model={temporal}:input_count=3:batch_size_fusion=3",
        "single_frame_b1": f"nnvisr=model={mix}",
        "chained_b2": f"nnvisr=model={temporal}:input_count=3:batch_size_fusion=2,nnvisr=model={mix}",
    }


@pytest.mark.parametrize("case", ["default_b2", "interpolate_b3", "temporal_b3", "single_frame_b1", "chained_b2"])
def test_same_frames_and_times(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, case: str) -> None:
    frames, _ = scene_clip([5, 1, 7, 4], 24, 16, pattern=True)
    vf = cases(tmp_path)[case]
    in_line, times_in_line = run_with(ffmpeg, tmp_path, frames, vf, "0")
    overlapped, times_overlapped = run_with(ffmpeg, tmp_path, frames, vf, "1")
    assert len(times_in_line) == (34 if case.startswith("interpolate") else 17)
    if case == "chained_b2":
        in_line_width = 48  # the colour mix upscales x2
        assert len(in_line) == 17 * 3 * 32 * in_line_width
    assert times_overlapped == times_in_line
    assert overlapped == in_line


def test_failure_keeps_the_same_frames(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """A batch failing on the worker: one error line, a non-zero exit, and every frame of the batches
    before it written, as without overlap."""
    model = onnx_models.fails_on_bright(tmp_path / "bright.onnx")
    frames = np.full((30, 3, 24, 32), 40)
    frames[20:] = 220
    (tmp_path / "in.raw").write_bytes(rgb_to_raw(FMT, frames))
    written = {}
    for overlap in ("0", "1"):
        out = tmp_path / f"out{overlap}.mkv"
        result = run(ffmpeg, [
            "-f", "rawvideo", "-pix_fmt", "gbrp", "-s", "32x24", "-r", "10", "-i", str(tmp_path / "in.raw"),
            "-vf", f"nnvisr=model={model}:batch_size_fusion=2", "-c:v", "ffv1", str(out),
        ], env={**os.environ, "NNVISR_OVERLAP": overlap})  # fmt: skip
        assert result.returncode > 0
        assert len([line for line in result.stderr.splitlines() if "the model failed to run" in line]) == 1
        assert "Traceback" not in result.stderr
        written[overlap] = count_frames(ffmpeg, out)
    assert written["1"] == written["0"] == 20


def test_in_flight_batches_are_bounded(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow network: the filter's thread waits once MAX_IN_FLIGHT batches are out, so frames held
    stay bounded; the outputs come in order."""
    monkeypatch.setenv("NNVISR_OVERLAP", "1")
    model = onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3))
    processor = Processor({"model": str(model), "batch_size_fusion": 2, "backend": "onnxruntime"}, log.silent)
    processor.configure(LinkConfig(8, 6, "gbrp", Fraction(1, 25), Fraction(25)))
    assert processor.overlap and not processor.direct
    run_batch = processor.runner.run
    worker_threads = set()

    def slow(*args):
        worker_threads.add(threading.get_ident())
        time.sleep(0.02)
        return run_batch(*args)

    processor.runner.run = slow
    most_in_flight = most_stored = 0
    pulled = []
    for seq in range(40):
        plane = np.full((6, 8), seq, np.uint8)
        ready = processor.push([plane] * 3, seq, seq, 1, None, 0)
        most_in_flight = max(most_in_flight, len(processor.in_flight))
        most_stored = max(most_stored, len(processor.store))
        for _ in range(ready):
            out = [np.empty((6, 8), np.uint8) for _ in range(3)]
            spec = processor.pull(out)
            pulled.append((spec.source, int(out[0][0, 0])))
    ready, _ = processor.flush(40)
    for _ in range(ready):
        out = [np.empty((6, 8), np.uint8) for _ in range(3)]
        pulled.append((processor.pull(out).source, int(out[0][0, 0])))
    assert pulled == [(seq, seq) for seq in range(40)]
    assert most_in_flight == MAX_IN_FLIGHT
    assert most_stored <= 2 * (MAX_IN_FLIGHT + 1)
    assert threading.get_ident() not in worker_threads
    processor.close()
