"""The work directory of a job: its plan, finished segments with checked frame counts; what makes a rerun resume.

A rerun with the same source and options reuses the plan and skips every segment whose file is whole (its size
and frame count as recorded when it finished); a source or options that changed are refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib

from ..errors import NnvisrError
from . import tools
from .plan import Chunk

PLAN = "plan.json"
FORMAT = 1
EDGE_BYTES = 1 << 20


def fingerprint(source: pathlib.Path) -> dict:
    """Size, modification time and a hash of the first and last MiB: cheap, and changes with any re-encode."""
    stat = source.stat()
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        digest.update(handle.read(EDGE_BYTES))
        if stat.st_size > EDGE_BYTES:
            handle.seek(max(EDGE_BYTES, stat.st_size - EDGE_BYTES))
            digest.update(handle.read())
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256_edges": digest.hexdigest()}


@dataclasses.dataclass
class Job:
    source: dict  # fingerprint
    vf: str
    encoder_args: list[str]
    frames: int
    time_base: str
    chunks: list[Chunk]

    def same_request(self, other: Job) -> str | None:
        """What differs between two jobs' requests, or None."""
        if self.source != other.source:
            return "the source changed"
        if self.vf != other.vf:
            return f"the filter options changed (was --vf {self.vf!r})"
        if self.encoder_args != other.encoder_args:
            return f"the encoder options changed (were {' '.join(self.encoder_args) or 'none'})"
        return None


class WorkDir:
    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.segments = path / "segments"

    def load(self) -> Job | None:
        plan = self.path / PLAN
        if not plan.is_file():
            return None
        try:
            data = json.loads(plan.read_text())
            if data.pop("format") != FORMAT:
                raise ValueError
            data["chunks"] = [Chunk(**chunk) for chunk in data["chunks"]]
            return Job(**data)
        except (ValueError, KeyError, TypeError):
            raise NnvisrError(f"{plan}: not a plan this version of nnvisr-run wrote; remove {self.path}") from None

    def save(self, job: Job) -> None:
        self.segments.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, **dataclasses.asdict(job)}
        temporary = self.path / (PLAN + ".part")
        temporary.write_text(json.dumps(data, indent=1))
        temporary.replace(self.path / PLAN)

    def segment(self, chunk: Chunk) -> pathlib.Path:
        return self.segments / f"{chunk.name}.nut"

    def record(self, chunk: Chunk) -> pathlib.Path:
        return self.segments / f"{chunk.name}.json"

    def finished(self, chunk: Chunk, ffprobe: str) -> bool:
        """The segment is there, whole: recorded size and frame count, and the frames read back."""
        segment, record = self.segment(chunk), self.record(chunk)
        if not (segment.is_file() and record.is_file()):
            return False
        try:
            done = json.loads(record.read_text())
        except ValueError:
            return False
        if done.get("size") != segment.stat().st_size or done.get("frames") != chunk.out_frames:
            return False
        summary = tools.video_summary(ffprobe, segment)
        return summary is not None and summary[0] == chunk.out_frames

    def check_formats(self, chunks: list[Chunk]) -> None:
        """The concat demuxer takes the first segment's format for all: segments that differ cannot be joined."""
        first = json.loads(self.record(chunks[0]).read_text())["format"]
        for chunk in chunks[1:]:
            other = json.loads(self.record(chunk).read_text())["format"]
            for name, value in first.items():
                if other.get(name) != value:
                    raise NnvisrError(
                        f"segments differ in {name}: {chunks[0].name} has {value}, {chunk.name} has {other.get(name)} "
                        "(pin the output format, e.g. format=... after nnvisr or -pix_fmt)"
                    )


def mark_finished(segment: pathlib.Path, record: pathlib.Path, frames: int, stream_format: dict) -> None:
    """Written after the segment is in place, so a record always describes a whole file."""
    temporary = record.with_suffix(".json.part")
    temporary.write_text(json.dumps({"frames": frames, "size": segment.stat().st_size, "format": stream_format}))
    temporary.replace(record)
