"""valgrind over the C code on short runs: no invalid access anywhere the project's C code is involved, no definite
leaks from it.

The project's C code is the filter, the bridge and the core's pixel kernels. An error counts when any frame of its
stack is in them: an over-read by numpy or libc on a plane the filter handed over has them further down the stack, and
all Python runs below the bridge. The embedded CPython and ONNX Runtime report known noise of their own at start-up
(CPython's small-int cache, ONNX Runtime's module init): valgrind-python.supp suppresses exactly those. A leak counts
when the project's code allocated it (one of the innermost frames), not when it merely lies below a library's
one-time allocation.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import numpy as np
import onnx_models
import pytest
from size_change import SIZE_CHANGES, size_change_without_new_graph

SUPPRESSIONS = pathlib.Path(__file__).resolve().parent / "valgrind-python.supp"
OURS = re.compile(r"vf_nnvisr\.c|libnnvisr_bridge|_nnvisr_bridge\.c|_pixel_kernels")
ERRORS = re.compile(
    r"Invalid (read|write)|uninitialised|Conditional jump|Mismatched free|Invalid free|overlap|"
    r"Syscall param|Argument '\w+' of function|Jump to the invalid address"
)
# CPython's own use of values valgrind cannot follow (reference counts, list slots and small-int lookups inside the
# interpreter, reported nondeterministically during any Python call, the bridge's included): uninitialised-value
# reports whose innermost frame is in CPython (a Py* function, or its object, evaluation or json sources). Invalid
# reads and writes count wherever they happen.
CPYTHON_UNINITIALISED = re.compile(r"uninitialised|Conditional jump")
CPYTHON_FRAME = re.compile(
    r"==\d+==\s+at 0x[0-9A-Fa-f]+: "
    r"(?:_?Py[A-Z_]\S*|\S+ \((?:\w*object\.[ch]|ceval\.c|_json\.c|obmalloc\.c|pycore_\w+\.h):)"
)


def findings(log: str) -> list[str]:
    found = []
    for block in re.split(r"==\d+== \n", log):
        frames = [line for line in block.splitlines() if re.search(r"==\d+==\s+(at|by) 0x", line)]
        if not frames:
            continue
        if ERRORS.search(block):
            if CPYTHON_UNINITIALISED.search(block) and CPYTHON_FRAME.search(frames[0]):
                continue
            if any(OURS.search(frame) for frame in frames):
                found.append(block)
        elif "definitely lost" in block and any(OURS.search(frame) for frame in frames[:4]):
            found.append(block)
    return found


def test_findings_filter() -> None:
    ours = "==1== Invalid write of size 4\n==1==    at 0x1: config_output (vf_nnvisr.c:330)\n"
    called_by_ours = (
        "==1== Invalid read of size 8\n==1==    at 0x1: strncmp (strcmp-sse2.S:160)\n"
        "==1==    by 0x2: init (vf_nnvisr.c:1)\n"
    )
    kernel = (
        "==1== Invalid read of size 16\n==1==    at 0x1: memcpy (vg_replace_strmem.c:1)\n"
        "==1==    by 0x2: read_rgb24 (_pixel_kernels.c:80)\n==1==    by 0x3: _PyEval_EvalFrameDefault (ceval.c:1)\n"
    )
    noise = (
        "==1== Conditional jump or move depends on uninitialised value(s)\n==1==    at 0x1: strlen\n"
        "==1==    by 0x2: _dl_init (dl-init.c:1)\n"
    )
    interpreter = (
        "==1== Use of uninitialised value of size 8\n==1==    at 0x1: Py_INCREF (object.h:502)\n"
        "==1==    by 0x2: PyList_Append (listobject.c:335)\n==1==    by 0x3: nnvisr_create (in libnnvisr_bridge.so)\n"
    )
    small_int = (
        "==1== Conditional jump or move depends on uninitialised value(s)\n"
        "==1==    at 0x1: maybe_small_long (longobject.c:71)\n==1==    by 0x3: nnvisr_create (in libnnvisr_bridge.so)\n"
    )
    leak = (
        "==1== 8 bytes in 1 blocks are definitely lost\n==1==    at 0x1: malloc\n"
        "==1==    by 0x2: push_frame (vf_nnvisr.c:400)\n"
    )
    library_leak = (
        "==1== 24 bytes in 1 blocks are definitely lost\n==1==    at 0x1: malloc\n==1==    by 0x2: _PyObject_New\n"
        "==1==    by 0x3: ??? (in onnxruntime_pybind11_state.so)\n==1==    by 0x4: PyModule_ExecDef\n"
        "==1==    by 0x5: PyEval_EvalCode\n==1==    by 0x6: _cffi_start_python (in libnnvisr_bridge.so)\n"
    )
    blocks = [ours, called_by_ours, kernel, noise, interpreter, small_int, leak, library_leak]
    assert len(findings("==1== \n".join(blocks))) == 4


# name -> (ffmpeg arguments, the filter's options, whether ffmpeg succeeds); the bundled default model, else a
# single-frame one that runs quickly under valgrind
RUNS = {
    "batch": (["-f", "lavfi", "-i", "testsrc2=s=32x24:r=5:d=0.6", "-vf", ""], "batch_size_fusion=2", True),
    **{form: (None, "model={model}:batch_size_fusion=3", False) for form in SIZE_CHANGES},
}


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
@pytest.mark.parametrize("name", list(RUNS))
def test_filter_under_valgrind(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, name: str) -> None:
    if not ffmpeg.name == "ffmpeg" or not str(ffmpeg.parent).endswith(".venv/bin"):
        pytest.skip("checked on the default build only (it takes minutes)")
    debug_build = ffmpeg.parent.parent / "lib" / "nnvisr" / "ffmpeg_g"
    bridge = ffmpeg.parent.parent / "lib" / "nnvisr" / "libnnvisr_bridge.so"
    if not debug_build.is_file():
        pytest.fail(f"no {debug_build}: run scripts/setup.sh")
    args, options, succeeds = RUNS[name]
    args = list(args) if args else size_change_without_new_graph(ffmpeg, tmp_path, name)
    model = onnx_models.colour_mix(tmp_path / "m.onnx", np.eye(3), np.zeros(3), 2)
    args[-1] += "nnvisr=" + options.format(model=model)
    log = tmp_path / "valgrind.log"
    env = {**os.environ, "NNVISR_BRIDGE": str(bridge), "PYTHONMALLOC": "malloc"}
    result = subprocess.run(
        ["valgrind", f"--suppressions={SUPPRESSIONS}", "--error-limit=no", "--leak-check=full",
         "--show-leak-kinds=definite", "--num-callers=64",
         f"--log-file={log}", str(debug_build), "-hide_banner", "-nostdin", *args, "-f", "null", "-"],
        capture_output=True, text=True, timeout=900, env=env,
    )
    if succeeds:
        assert result.returncode == 0, result.stderr[-2000:]
        assert "frame=    3" in result.stderr
    else:
        assert result.returncode > 0, result.stderr[-2000:]  # an error, not a signal
        assert "the filter was configured for" in result.stderr
    problems = findings(log.read_text())
    assert not problems, "\n\n".join(problems[:5])
