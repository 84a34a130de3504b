"""Every ffmpeg command line of README.md, run as written on a short cut of the sample clip with its audio track.

The commands run in a scratch folder that looks like the repository root after setup: `.venv` (this checkout's),
`in.mp4` (10 frames of the sample clip at 320x180, H.264 and AAC), `path/to/package` (a small RGB model package,
x2) and, for upstream's layout, a generated model folder in place of `/path/to/root`. A pipeline's plain `ffmpeg`
is the system's when there is one, else this build. Each command must be listed in EXPECTED (what it writes)
or NOT_RUN (why it cannot run here): a README command that is neither fails the test.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import two_stage_models as tsm
from delivery_clip import FRAMES, SIZE, identity_package, make_short_clip, probe

ROOT = pathlib.Path(__file__).resolve().parent.parent
FULL = f"{2 * SIZE[0]}x{2 * SIZE[1]}"
SAME = f"{SIZE[0]}x{SIZE[1]}"
UPSTREAM_ROOT = "/path/to/root"
TIMEOUT = 900


@dataclasses.dataclass(frozen=True)
class Output:
    """What a command must write: video codec, size and frame count; the audio codec ('' for none)."""

    path: str
    codec: str
    size: str
    frames: int
    audio: str = ""


def command_lines(readme: pathlib.Path) -> list[str]:
    """Command lines running ffmpeg in README's sh code blocks, without their trailing comments."""
    lines, inside = [], False
    for line in readme.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```sh"
            continue
        command = re.sub(r"\s+#\s.*$", "", line).strip()
        if inside and re.match(r"^(\.venv/bin/)?ffmpeg\s", command):
            lines.append(command)
    return lines


V = ".venv/bin/ffmpeg"
EXPECTED: dict[str, Output | None] = {  # None: the command writes no file (help)
    f"{V} -i in.mp4 -vf nnvisr -c:v libx264 -c:a copy out.mp4": Output("out.mp4", "h264", FULL, FRAMES, "aac"),
    f"{V} -i in.mp4 -vf nnvisr=model=path/to/package out.mkv": Output("out.mkv", "h264", FULL, FRAMES, "ac3"),
    f"{V} -h filter=nnvisr": None,
    f"{V} -i in.mp4 -vf nnvisr=model=path/to/package:batch_size_fusion=4 -c:v libx264 -c:a copy out.mp4": Output(
        "out.mp4", "h264", FULL, FRAMES, "aac"
    ),
    f"{V} -i in.mp4 -vf scdet,nnvisr -c:v libx264 -c:a copy out.mp4": Output("out.mp4", "h264", FULL, FRAMES, "aac"),
    f"{V} -i in.mp4 -vf scdet,nnvisr=model=interpolate -c:v libx264 -c:a copy out.mp4": Output(
        "out.mp4", "h264", SAME, 2 * FRAMES, "aac"
    ),
    f"{V} -i in.mp4 -vf nnvisr out.mkv": Output("out.mkv", "h264", FULL, FRAMES, "ac3"),
    f"{V} -i in.mp4 -vf nnvisr=model=realesrgan-animevideov3-x2 -c:a copy out.mkv": Output(
        "out.mkv", "h264", FULL, FRAMES, "aac"
    ),
    f"{V} -i in.mp4 -vf nnvisr=tile=640x360 out.mkv": Output("out.mkv", "h264", FULL, FRAMES, "ac3"),
    f"{V} -i in.mp4 -vf nnvisr=max_memory=1500 out.mkv": Output("out.mkv", "h264", FULL, FRAMES, "ac3"),
    f"{V} -i in.mp4 -vf nnvisr=model=realcugan-se-x2-denoise1 out.mkv": Output("out.mkv", "h264", FULL, FRAMES, "ac3"),
    f"{V} -i in.mp4 -vf scdet,nnvisr=model_path={UPSTREAM_ROOT}:model=cycmunet/vimeo90k-deblur:scale_factor=2:"
    "input_count=2:extra_frame=1:double_frame=1:feature_count=64:extraction_layers=4 out.mkv": Output(
        "out.mkv", "h264", FULL, 2 * FRAMES, "ac3"
    ),
    f"{V} -i in.mp4 -vf scdet,nnvisr=model=interpolate -enc_time_base filter -fps_mode passthrough out.mkv": Output(
        "out.mkv", "h264", SAME, 2 * FRAMES, "ac3"
    ),
    f"ffmpeg -i in.mp4 -f yuv4mpegpipe - | {V} -i - -vf nnvisr -f yuv4mpegpipe - | ffmpeg -i - -i in.mp4 "
    "-map 0:v -map 1:a -c:v libx264 -c:a copy out.mp4": Output("out.mp4", "h264", FULL, FRAMES, "aac"),
}
NOT_RUN = {
    f"{V} -hwaccel cuda -i in.mp4 -vf nnvisr=backend=cuda -c:v h264_nvenc -c:a copy out.mp4": (
        "needs an NVIDIA GPU and driver (NVDEC, NVENC) and onnxruntime-gpu (pip install .[cuda])"
    ),
}
COMMANDS = command_lines(ROOT / "README.md")


def test_every_readme_command_is_covered() -> None:
    assert COMMANDS, "no ffmpeg command found in README.md"
    uncovered = [c for c in COMMANDS if c not in EXPECTED and c not in NOT_RUN]
    assert not uncovered, f"README commands missing from EXPECTED or NOT_RUN: {uncovered}"
    stale = [c for c in [*EXPECTED, *NOT_RUN] if c not in COMMANDS]
    assert not stale, f"commands no longer in README.md: {stale}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A folder laid out like the repository root after setup, with the files the examples name."""
    from conftest import DEFAULT_FFMPEG

    if not DEFAULT_FFMPEG.is_file():
        pytest.skip("no patched ffmpeg: run scripts/setup.sh")
    work = tmp_path_factory.mktemp("readme")
    (work / ".venv").symlink_to(ROOT / ".venv")
    make_short_clip(DEFAULT_FFMPEG, work / "in.mp4")
    identity_package(work / "path" / "to" / "package", scale=2)
    # upstream's CycMuNet+ options: input_count=2 with extra_frame, so one frame consumed per window
    spec = tsm.Spec(1, scale=2, levels=4, features=64, extra_frame=True, interpolation=True, double_frame=True)
    weights = tsm.index_weights(spec.outputs, spec.members)
    tsm.write_two_stage(work / "upstream", "cycmunet/vimeo90k-deblur", ["rgb_1_1"], spec, weights)
    tools = work / "system-bin"  # the pipeline's plain ffmpeg: the system's, or this build where there is none
    tools.mkdir()
    (tools / "ffmpeg").symlink_to(shutil.which("ffmpeg") or DEFAULT_FFMPEG)
    return work


def installed_by_setup(command: str) -> bool:
    """Packages setup converts from registry packages (absent where the registry was unreachable)."""
    match = re.search(r"model=((?:realesrgan|realcugan)[\w-]*)", command)
    return match is None or (ROOT / ".venv" / "share" / "nnvisr" / "models" / match.group(1)).is_dir()


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command(command: str, workdir: pathlib.Path) -> None:
    if command in NOT_RUN:
        pytest.skip(NOT_RUN[command])
    if not installed_by_setup(command):
        pytest.skip("the model package was not installed by setup (package registry unreachable)")
    expected = EXPECTED.get(command)
    for name in ("out.mp4", "out.mkv"):
        (workdir / name).unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{workdir / 'system-bin'}{os.pathsep}{os.environ['PATH']}"}
    line = command.replace(UPSTREAM_ROOT, str(workdir / "upstream"))
    # -nostdin keeps ffmpeg off the terminal; in a pipeline it is added to the first ffmpeg only (the others read -)
    line = re.sub(r"^(\S*ffmpeg) ", r"\1 -nostdin ", line)
    result = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=workdir, env=env, capture_output=True,
                            text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    if expected is None:
        assert "out_format" in result.stdout  # the filter's help lists its options
        return
    ffprobe = ROOT / ".venv" / "bin" / "ffprobe"
    video = probe(ffprobe, workdir / expected.path)
    assert (video["codec_name"], f"{video['width']}x{video['height']}") == (expected.codec, expected.size)
    assert int(video["nb_read_frames"]) == expected.frames
    assert video["pix_fmt"] == "yuv420p"
    if expected.audio:
        assert probe(ffprobe, workdir / expected.path, "a:0")["codec_name"] == expected.audio
