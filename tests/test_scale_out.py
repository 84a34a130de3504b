"""nnvisr-run on a local Ray with 2 workers: the joined output equals one `ffmpeg -vf scdet,nnvisr=...` run.

Frames and timestamps are compared as framemd5 of a lossless codec (ffv1); audio as framemd5 of the copied
stream. Resume and fault runs kill real processes (the driver's process group, a Ray worker) and run real ffmpeg
errors, through an ffmpeg wrapper given as --ffmpeg.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import onnx_models
import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install .[scale] (scripts/setup.sh --test does)")
# nnvisr-run drives whichever ffmpeg it is given; the filter itself is tested on every series elsewhere
pytestmark = pytest.mark.default_build

TIMEOUT = 300
WORKERS = ["--workers", "2"]


def run_tool(ffmpeg: pathlib.Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """nnvisr-run as a user runs it, with the patched ffmpeg beside it."""
    command = [sys.executable, "-m", "nnvisr_core", "run", *args, "--ffmpeg", str(ffmpeg),
               "--ffprobe", str(ffmpeg.with_name("ffprobe"))]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, cwd="/")
    if check:
        assert done.returncode == 0, done.stderr
    return done


def make_source(ffmpeg: pathlib.Path, path: pathlib.Path) -> pathlib.Path:
    """Three moving scenes that scdet tells apart (75 frames), variable frame rate, FLAC audio."""
    scenes = "[0][1][2]concat=n=3,format=yuv420p,settb=1/1000,setpts='N*40+mod(N\\,3)*9'[v]"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=48x32:r=25:d=1.2",
         "-f", "lavfi", "-i", "testsrc2=s=48x32:r=25:d=0.8",
         "-f", "lavfi", "-i", "testsrc=s=48x32:r=25:d=1,vflip,hflip",
         "-f", "lavfi", "-i", "sine=d=3", "-filter_complex", scenes, "-map", "[v]",
         "-map", "3:a", "-c:v", "ffv1", "-c:a", "flac", "-fps_mode", "passthrough", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


# decoded frames with the file's own timestamps
DECODED = ["-c", "rawvideo", "-fps_mode", "passthrough", "-enc_time_base", "demux"]


def framemd5(ffmpeg: pathlib.Path, path: pathlib.Path, stream: str) -> list[tuple[str, ...]]:
    """(pts, size, md5) per frame: the containers' frame durations are no part of the frames' timing."""
    done = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-map", f"0:{stream}", *(["-c", "copy"] if stream == "a" else DECODED),
         "-f", "framemd5", "-"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    rows = [[field.strip() for field in line.split(",")] for line in done.stdout.splitlines() if line[:1] != "#"]
    return [(pts, size, md5) for _, _, pts, _, size, md5 in rows]


def reference(ffmpeg: pathlib.Path, source: pathlib.Path, vf: str, out: pathlib.Path) -> list[tuple[str, ...]]:
    """One ffmpeg run with the same filters and encoder options."""
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", str(source), "-vf", vf, "-c:v", "ffv1", "-enc_time_base", "filter",
         "-fps_mode", "passthrough", "-an", str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return framemd5(ffmpeg, out, "v")


ENCODER = ["-c:v", "ffv1", "-enc_time_base", "filter", "-fps_mode", "passthrough"]


def models(tmp: pathlib.Path) -> dict[str, str]:
    single = onnx_models.colour_mix(tmp / "single.onnx", np.array([[0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]),
                                    np.array([0.05, -0.02, 0.01]))  # fmt: skip
    temporal = onnx_models.temporal_mix(tmp / "temporal.onnx", onnx_models.index_weights(3, 3), scale=2)
    return {
        "single": f"nnvisr=model={single}",
        "temporal": f"scdet=threshold=10,nnvisr=model={temporal}:input_count=3:scale_factor=2",
        "interpolate": "nnvisr=model=interpolate",
        "interpolate-no-cuts": "nnvisr=model=interpolate:scene=off",  # one scene: one chunk
        # --seek: the input trim ffmpeg inserts may change format negotiation, so the format is pinned
        "single-seek": f"format=gbrp10le,nnvisr=model={single},format=gbrp10le",
    }


def plan_of(work: pathlib.Path) -> dict:
    return json.loads((work / "plan.json").read_text())


# scenes: frames 0-29, 30-49, 50-74 (1.2 s, 0.8 s, 1 s). Single-frame models split anywhere, the 3-frame model at
# its windows (multiples of 3 from a scene's start), interpolation only at cuts.
@pytest.mark.parametrize(
    "model, chunk_seconds, starts",
    [("single", "0.3", [0, 8, 16, 24, 38, 46, 58, 66, 74]), ("single", "100", [0]),
     ("temporal", "0.5", [0, 15, 30, 45, 65]), ("interpolate", "0.5", [0, 30, 50]),
     ("interpolate-no-cuts", "0.5", [0]),
     ("single-seek", "0.3", [0, 8, 16, 24, 38, 46, 58, 66, 74])],
)  # fmt: skip
def test_identical_to_one_run(
    ffmpeg: pathlib.Path, tmp_path: pathlib.Path, model: str, chunk_seconds: str, starts: list[int]
) -> None:
    source = make_source(ffmpeg, tmp_path / "src.mkv")
    vf = models(tmp_path)[model]
    scdet_vf = vf if vf.startswith("scdet") else f"scdet,{vf}"
    expected = reference(ffmpeg, source, scdet_vf, tmp_path / "ref.mkv")
    out, work = tmp_path / "out.mkv", tmp_path / "work"
    done = run_tool(ffmpeg, str(source), str(out), "--vf", vf, "--chunk-seconds", chunk_seconds, *WORKERS,
                    "--work-dir", str(work), "--keep-work-dir", "--json-progress", *ENCODER,
                    *(["--seek"] if model.endswith("seek") else []))  # fmt: skip
    assert [chunk["start"] for chunk in plan_of(work)["chunks"]] == starts
    progress = [json.loads(line) for line in done.stdout.splitlines()]
    assert progress[-1]["frames"] == progress[-1]["total"] == len(expected)
    assert progress[-1]["chunks_done"] == progress[-1]["chunks"] == len(starts)
    assert all(a["frames"] <= b["frames"] for a, b in zip(progress, progress[1:]))
    assert framemd5(ffmpeg, out, "v") == expected
    factor = 2 if model.startswith("interpolate") else 1
    assert len(expected) == 75 * factor
    assert framemd5(ffmpeg, out, "a") == framemd5(ffmpeg, source, "a")


def segments_done(work: pathlib.Path) -> list[pathlib.Path]:
    return sorted((work / "segments").glob("chunk_*.json")) if (work / "segments").is_dir() else []


def test_resume_after_the_driver_is_killed(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    source = make_source(ffmpeg, tmp_path / "src.mkv")
    vf = models(tmp_path)["interpolate"]
    expected = reference(ffmpeg, source, f"scdet,{vf}", tmp_path / "ref.mkv")
    out, work = tmp_path / "out.mkv", tmp_path / "work"
    args = [str(source), str(out), "--vf", vf, "--chunk-seconds", "0.1", "--workers", "1", "--work-dir", str(work),
            "--keep-work-dir", *ENCODER]  # fmt: skip
    command = [sys.executable, "-m", "nnvisr_core", "run", *args, "--ffmpeg", str(ffmpeg),
               "--ffprobe", str(ffmpeg.with_name("ffprobe"))]  # fmt: skip
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + TIMEOUT
    while len(segments_done(work)) < 1 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver, its local Ray and the chunk's ffmpeg mid-chunk
    driver.wait()
    finished = {path.name: path.stat().st_mtime_ns for path in segments_done(work)}
    chunks = plan_of(work)["chunks"]
    assert 1 <= len(finished) < len(chunks) == 3
    assert not out.exists()

    changed = run_tool(ffmpeg, *[a.replace("interpolate", "interpolate:batch_size_fusion=2") for a in args],
                       check=False)  # fmt: skip
    assert changed.returncode == 1
    assert changed.stderr.count("\n") == 1 and "filter options changed" in changed.stderr, changed.stderr

    run_tool(ffmpeg, *args)
    after = {path.name: path.stat().st_mtime_ns for path in segments_done(work)}
    assert len(after) == len(chunks)
    assert all(after[name] == stamp for name, stamp in finished.items())  # finished chunks were not run again
    assert framemd5(ffmpeg, out, "v") == expected


def wrapper(tmp: pathlib.Path, ffmpeg: pathlib.Path, body: str) -> pathlib.Path:
    """An ffmpeg that misbehaves for some chunks (the arguments name the chunk's segment), else the real one."""
    script = tmp / "bin" / "ffmpeg"
    script.parent.mkdir()
    script.write_text(f"#!/bin/bash\nreal={ffmpeg}\nmarks={tmp}\n{body}\nexec \"$real\" \"$@\"\n")
    script.chmod(0o755)
    (tmp / "bin" / "ffprobe").symlink_to(ffmpeg.with_name("ffprobe"))
    return script


# chunk 1 kills its Ray worker on its first try; chunk 2 gets an unknown filter on its first try (a real ffmpeg error)
FLAKY = """case "$*" in
*chunk_00001.part*) if [ ! -e "$marks/killed" ]; then touch "$marks/killed"; kill -9 $PPID; sleep 30; fi ;;
*chunk_00002.part*) if [ ! -e "$marks/failed" ]; then touch "$marks/failed";
  exec "$real" "${@/nnvisr=/nosuchfilter,nnvisr=}"; fi ;;
esac"""
BROKEN = """case "$*" in *chunk_00002.part*) exec "$real" "${@/nnvisr=/nosuchfilter,nnvisr=}" ;; esac"""


def test_failed_chunks_are_retried(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    source = make_source(ffmpeg, tmp_path / "src.mkv")
    vf = models(tmp_path)["temporal"]
    expected = reference(ffmpeg, source, vf, tmp_path / "ref.mkv")
    out = tmp_path / "out.mkv"
    flaky = wrapper(tmp_path, ffmpeg, FLAKY)
    run_tool(flaky, str(source), str(out), "--vf", vf, "--chunk-seconds", "0.1", *WORKERS, "--max-retries", "1",
             *ENCODER)  # fmt: skip
    assert (tmp_path / "killed").exists() and (tmp_path / "failed").exists()
    assert framemd5(ffmpeg, out, "v") == expected


def test_a_chunk_that_always_fails_stops_the_run(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    source = make_source(ffmpeg, tmp_path / "src.mkv")
    out, work = tmp_path / "out.mkv", tmp_path / "work"
    broken = wrapper(tmp_path, ffmpeg, BROKEN)
    done = run_tool(broken, str(source), str(out), "--vf", models(tmp_path)["temporal"], "--chunk-seconds", "0.1",
                    *WORKERS, "--max-retries", "1", "--work-dir", str(work), *ENCODER, check=False)  # fmt: skip
    assert done.returncode == 1
    lines = [line for line in done.stderr.replace("\r", "\n").splitlines() if line.startswith("nnvisr-run")]
    assert len(lines) == 1 and "chunk_00002" in lines[0] and "nosuchfilter" in lines[0], done.stderr
    assert not out.exists()
    assert (work / "plan.json").is_file()  # the work directory stays for a rerun


def test_one_line_errors(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    source = make_source(ffmpeg, tmp_path / "src.mkv")
    existing = tmp_path / "exists.mkv"
    existing.write_bytes(b"keep")
    audio_only = tmp_path / "audio.wav"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(audio_only)], check=True)
    cases = {
        "exists (pass -y": [str(source), str(existing), "--vf", "nnvisr"],
        "no video stream": [str(audio_only), str(tmp_path / "o.mkv"), "--vf", "nnvisr"],
        "cannot reach the Ray cluster": [str(source), str(tmp_path / "o.mkv"), "--vf", "nnvisr",
                                         "--address", "127.0.0.1:9"],  # fmt: skip
        "exactly once": [str(source), str(tmp_path / "o.mkv"), "--vf", "scdet"],
    }
    for message, args in cases.items():
        done = run_tool(ffmpeg, *args, check=False)
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert existing.read_bytes() == b"keep"
