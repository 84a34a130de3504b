"""valgrind over the C filter on a short run: no invalid reads or writes, no definite leaks from the filter.

The embedded CPython and ONNX Runtime report their own known noise under
valgrind (CPython's small-int cache, glibc's loader over-reading strings,
extension modules' one-time allocations); errors count when their innermost
frame is the filter or the bridge, leaks when the filter allocated them.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import pytest

OURS = re.compile(r"vf_nnvisr\.c|libnnvisr_bridge|_nnvisr_bridge\.c")


def findings(log: str) -> list[str]:
    found = []
    for block in re.split(r"==\d+== \n", log):
        frames = [line for line in block.splitlines() if re.search(r"==\d+==\s+(at|by) 0x", line)]
        if not frames:
            continue
        if re.search(r"Invalid (read|write)|uninitialised|Conditional jump|Mismatched free|Invalid free", block):
            if OURS.search(frames[0]):
                found.append(block)
        elif "definitely lost" in block and OURS.search(block) and "_dl_open" not in block:
            found.append(block)
    return found


def test_findings_filter() -> None:
    ours = "==1== Invalid write of size 4\n==1==    at 0x1: config_output (vf_nnvisr.c:330)\n"
    theirs = (
        "==1== Invalid read of size 8\n==1==    at 0x1: strncmp (strcmp-sse2.S:160)\n"
        "==1==    by 0x2: init (vf_nnvisr.c:1)\n"
    )
    leak = (
        "==1== 8 bytes in 1 blocks are definitely lost\n==1==    at 0x1: malloc\n"
        "==1==    by 0x2: push_frame (vf_nnvisr.c:400)\n"
    )
    assert len(findings("==1== \n".join([ours, theirs, leak]))) == 2


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_filter_under_valgrind(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    if not ffmpeg.name == "ffmpeg" or not str(ffmpeg.parent).endswith(".venv/bin"):
        pytest.skip("checked on the default build only (it takes minutes)")
    debug_build = ffmpeg.parent.parent / "lib" / "nnvisr" / "ffmpeg_g"
    bridge = ffmpeg.parent.parent / "lib" / "nnvisr" / "libnnvisr_bridge.so"
    if not debug_build.is_file():
        pytest.fail(f"no {debug_build}: run scripts/setup.sh")
    log = tmp_path / "valgrind.log"
    env = {**os.environ, "NNVISR_BRIDGE": str(bridge), "PYTHONMALLOC": "malloc"}
    result = subprocess.run(
        ["valgrind", "--error-limit=no", "--leak-check=full", "--show-leak-kinds=definite", "--num-callers=30",
         f"--log-file={log}", str(debug_build), "-hide_banner", "-nostdin", "-f", "lavfi",
         "-i", "testsrc2=s=32x24:r=5:d=0.6", "-vf", "nnvisr=batch_size_fusion=2", "-f", "null", "-"],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "frame=    3" in result.stderr
    problems = findings(log.read_text())
    assert not problems, "\n\n".join(problems[:5])
