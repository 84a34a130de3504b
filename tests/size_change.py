"""Input whose frame size changes while the filter graph stays: the filter must refuse it cleanly."""

from __future__ import annotations

import pathlib

from ffmpeg_run import run


def png_sequence(ffmpeg: pathlib.Path, folder: pathlib.Path, sizes: list[tuple[str, int]]) -> str:
    """img001.png ... with count frames of each size in turn; returns the pattern."""
    folder.mkdir()
    index = 1
    for size, count in sizes:
        made = run(ffmpeg, ["-f", "lavfi", "-i", f"testsrc2=s={size}:r=10", "-frames:v", str(count),
                            "-start_number", str(index), str(folder / "img%03d.png")])
        assert made.returncode == 0, made.stderr[-2000:]
        index += count
    return str(folder / "img%03d.png")


def size_change_without_new_graph(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, form: str) -> list[str]:
    """ffmpeg arguments giving four 64x48 frames, then 16x16 ones that reach the filter on the same graph; the last
    one is -vf's value so far: append the filter to it."""
    if form == "scale_eval_frame":
        return ["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=1", "-vf",
                # scale's n is one ahead when eval=frame: this gives four frames of 64x48
                "scale=w='if(lt(n,5),64,16)':h='if(lt(n,5),48,16)':eval=frame,"]
    pattern = png_sequence(ffmpeg, tmp_path / "png", [("64x48", 4), ("16x16", 3)])
    return ["-reinit_filter", "0", "-framerate", "10", "-i", pattern, "-vf", ""]


SIZE_CHANGES = ["scale_eval_frame", "reinit_filter_0"]
