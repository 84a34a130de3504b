"""One chunk: an ffmpeg process with the user's filters on a frame-exact range of the source, written as a segment.

By default decoding starts at the file's first frame and `trim` counts frames: exact for every container and
codec, and the filter graph has the shape of one run's, so FFmpeg negotiates the same pixel formats. With --seek,
ffmpeg seeks to the midpoint between the first frame decoded and the one before it (accurate seeking drops the
frames before it; `-copyts -start_at_zero` keep one run's timestamps): much less decoding for late chunks of long
files, but the trim ffmpeg inserts for the seek can change format negotiation, so pin the format after nnvisr.
"""

from __future__ import annotations

import ctypes
import dataclasses
import pathlib
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from . import tools, workdir
from .graph import FilterChain
from .plan import Chunk


class ChunkFailed(Exception):
    """A chunk's ffmpeg failed; the message is one line naming the chunk and ffmpeg's error."""


@dataclasses.dataclass(frozen=True)
class ChunkJob:
    ffmpeg: str
    ffprobe: str
    source: str
    chain: FilterChain
    encoder_args: list[str]
    threads: int  # 0: the filter's and decoder's defaults
    gpu: bool
    seek: bool  # seek to the chunk instead of decoding from the file's start


def filter_chain(job: ChunkJob, chunk: Chunk) -> str:
    # Ray's CUDA_VISIBLE_DEVICES leaves the task's GPU alone visible: device= follows it, whatever was written
    overrides = {"device": "0"} if job.gpu else {}
    defaults = {"threads": str(job.threads)} if job.threads and not job.gpu else {}
    nnvisr = job.chain.nnvisr_with(defaults, overrides)
    skip = 0 if job.seek else chunk.decode_start  # frames before decode_start that reach the filters
    filters = [f"trim=start_frame={skip}:end_frame={skip + chunk.decode_end - chunk.decode_start}", *job.chain.before]
    filters += [f"trim=start_frame={chunk.start - chunk.decode_start}", nnvisr]
    if chunk.decode_end > chunk.end:  # the frame after the chunk only served the timestamps of the last ones
        filters.append(f"trim=end_frame={chunk.out_frames}")
    return ",".join(filters + job.chain.after)


def command(job: ChunkJob, chunk: Chunk, output: pathlib.Path) -> list[str]:
    threads = ["-threads", str(job.threads)] if job.threads else []
    if job.seek and chunk.seek_us is not None:
        threads += ["-copyts", "-start_at_zero", "-ss", f"{chunk.seek_us}us"]
    filter_threads = ["-filter_threads", str(job.threads)] if job.threads else []
    return [
        job.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *threads, "-i", job.source,
        *filter_threads, "-map", "0:v:0", "-vf", filter_chain(job, chunk), *job.encoder_args,
        "-f", "nut", "-progress", "pipe:1", "-nostats", str(output),
    ]  # fmt: skip


def _die_with_parent() -> None:
    """In the ffmpeg child: killed with the process that started it (a Ray worker killed or cancelled)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_chunk(job: ChunkJob, chunk: Chunk, segment: str, record: str, report: Callable[[int], None]) -> int:
    """Make the segment; report(frames written so far) as ffmpeg goes. Returns the frame count."""
    segment_path, record_path = pathlib.Path(segment), pathlib.Path(record)
    partial = segment_path.with_suffix(".part")
    process = subprocess.Popen(
        command(job, chunk, partial), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_die_with_parent,
    )  # fmt: skip
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    for line in process.stdout:
        name, _, value = line.strip().partition("=")
        if name == "frame" and value.isdigit():
            report(int(value))
    code = process.wait()
    reader.join()
    if code:
        if code < 0:
            raise ChunkFailed(f"{chunk.name}: ffmpeg killed by {signal.Signals(-code).name}")
        raise ChunkFailed(f"{chunk.name}: {tools.error_line(''.join(errors))}")
    summary = tools.video_summary(job.ffprobe, partial)
    frames = summary[0] if summary else None
    if summary is None or frames != chunk.out_frames:
        raise ChunkFailed(f"{chunk.name}: segment has {frames} frames, the plan says {chunk.out_frames}")
    partial.replace(segment_path)
    workdir.mark_finished(segment_path, record_path, frames, summary[1])
    report(frames)
    return frames


def chunk_task(job: ChunkJob, chunk: Chunk, segment: str, record: str, board: Any) -> int:  # a Ray actor handle
    """The Ray task: the chunk's frame count reaches the progress board a few times a second."""
    last_sent = [0.0]

    def report(frames: int) -> None:
        now = time.monotonic()
        if now - last_sent[0] >= 0.25:
            board.report.remote(chunk.index, frames)
            last_sent[0] = now

    frames = run_chunk(job, chunk, segment, record, report)
    board.report.remote(chunk.index, frames)
    return frames
