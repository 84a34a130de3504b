"""Peak resident memory of a command, measured so that the memory of the process starting it does not count.

On Linux a child's ru_maxrss is at least the resident size of the process it was forked from: exec keeps, as the
task's peak, the high-water mark of the address space it replaces (the parent's copy after fork, the parent's own
after vfork). A command started by a large process (a test runner after many tests, a benchmark holding decoded
video) then reports that process's size whatever it used itself. Here a small Python process forks the command and
reports the command's own ru_maxrss.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(command: list[str], timeout: float | None = None, **popen: object) -> tuple[float, int, bytes, bytes]:
    """Runs command (its first item a path); returns (peak RSS in MiB, exit status, stdout, stderr)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "maxrss")
        done = subprocess.run([sys.executable, "-c", _WRAPPER, report, *command], capture_output=True,
                              timeout=timeout, check=False, **popen)  # type: ignore[call-overload]
        try:
            with open(report) as kib:
                peak = int(kib.read()) / 1024
        except (OSError, ValueError):
            peak = float("nan")  # the command did not start
    return peak, done.returncode, done.stdout, done.stderr
