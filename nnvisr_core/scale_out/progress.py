"""One progress line for the whole job, from the frame counts the chunks report, or JSON lines for tools."""

from __future__ import annotations

import json
import sys
import time


class Board:
    """Frames written per chunk; lives in a Ray actor so that tasks on any node can report."""

    def __init__(self) -> None:
        self.frames: dict[int, int] = {}

    def report(self, chunk: int, frames: int) -> None:
        self.frames[chunk] = frames

    def reset(self, chunk: int) -> None:
        self.frames.pop(chunk, None)

    def snapshot(self) -> dict[int, int]:
        return dict(self.frames)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Display:
    def __init__(self, total: int, already: int, chunks: int, as_json: bool) -> None:
        self.total, self.already, self.chunks, self.as_json = total, already, chunks, as_json
        self.started = time.monotonic()
        self.shown = False

    def show(self, done: int, chunks_done: int) -> None:
        elapsed = time.monotonic() - self.started
        fps = (done - self.already) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / fps if fps > 0 else None
        if self.as_json:
            record = {"frames": done, "total": self.total, "fps": round(fps, 2), "eta_s": None if eta is None
                      else round(eta, 1), "chunks_done": chunks_done, "chunks": self.chunks}  # fmt: skip
            print(json.dumps(record), flush=True)
            return
        width = 30
        filled = width * done // max(self.total, 1)
        eta_text = _clock(eta) if eta is not None else "--:--:--"
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} frames  {fps:.1f} fps  "
                f"ETA {eta_text}  chunks {chunks_done}/{self.chunks}")  # fmt: skip
        sys.stderr.write("\r" + line)
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
