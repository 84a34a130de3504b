"""nnvisr-run IN OUT --vf "scdet,nnvisr=..." [encoder options]: one video through nnvisr on a Ray cluster."""

from __future__ import annotations

import argparse
import fractions
import logging
import os
import pathlib
import shutil
import socket
import sys
import time
import types

from ..errors import NnvisrError
from ..options import Options
from . import concat, graph, plan, scan, workdir
from .chunk import ChunkFailed, ChunkJob, chunk_task
from .progress import Board, Display

USAGE = """nnvisr-run IN OUT --vf FILTERS [options] [ffmpeg encoder options, e.g. -c:v libx264 -crf 18]

Splits IN at its scene cuts, runs the chunks through ffmpeg with FILTERS as Ray tasks (a local Ray by default,
--address for a cluster) and joins them into OUT; audio, subtitles and chapters are copied from IN. Running the same
command again resumes an interrupted job."""

VALUED = {"--vf", "--address", "--chunk-seconds", "--cpus-per-chunk", "--workers", "--max-retries", "--work-dir",
          "--ffmpeg", "--ffprobe"}  # fmt: skip
FLAGS = {"-y", "--json-progress", "--keep-work-dir", "--seek", "-h", "--help"}
GPU_BACKENDS = ("cuda", "tensorrt")
REACH_TIMEOUT = 5.0  # seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnvisr-run", usage=USAGE)
    parser.add_argument("--vf", required=True, help="the filter chain with nnvisr, as for ffmpeg -vf")
    parser.add_argument("--address", help="Ray cluster to use (default: start a local Ray)")
    parser.add_argument("--chunk-seconds", type=float, default=60.0, help="about this long per chunk (default 60)")
    parser.add_argument("--cpus-per-chunk", type=int, default=1, help="CPUs per chunk on CPU backends; sets threads=")
    parser.add_argument("--workers", type=int, help="local Ray: chunks at a time (default: CPUs / cpus-per-chunk)")
    parser.add_argument("--max-retries", type=int, default=2, help="tries again per failed chunk (default 2)")
    parser.add_argument("--work-dir", help="resume state and segments (default: .OUT.nnvisr-run beside OUT)")
    parser.add_argument("--keep-work-dir", action="store_true", help="keep the segments after a finished job")
    parser.add_argument("--json-progress", action="store_true", help="progress as JSON lines on stdout")
    parser.add_argument("--ffmpeg", default=_beside_python("ffmpeg"), help="ffmpeg with nnvisr, on every node")
    parser.add_argument("--ffprobe", default=_beside_python("ffprobe"), help="ffprobe, on every node")
    parser.add_argument("--seek", action="store_true", help="seek to each chunk instead of decoding from the file's "
                        "start (faster on long files; pin the format after nnvisr, see README)")
    parser.add_argument("-y", action="store_true", help="overwrite OUT")
    return parser


def _beside_python(tool: str) -> str:
    """The virtual environment's build (what setup installs), else the one on PATH."""
    candidate = pathlib.Path(sys.executable).parent / tool
    return str(candidate) if candidate.is_file() else tool


def split_arguments(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(IN OUT, nnvisr-run's options, encoder options): ours are the -- names above and -y, the rest is ffmpeg's."""
    ours, rest, index = [], [], 0
    while index < len(argv):
        token = argv[index]
        name = token.split("=", 1)[0]
        if token in FLAGS or (name in VALUED and "=" in token):
            ours.append(token)
        elif token in VALUED:
            ours += argv[index : index + 2]
            index += 1
        else:
            rest.append(token)
        index += 1
    return rest[:2], ours, rest[2:]


def model_facts(options: dict[str, str]) -> tuple[plan.Model, Options]:
    """Frames out per frame in, and where a long scene may be split (only without temporal state across windows)."""
    from .. import package
    from ..options import FIELDS, from_package, merge, parse_filter_options

    given = parse_filter_options([(k, v) for k, v in options.items() if k in FIELDS])
    found = package.locate(given.get("model"), given.get("model_path"))
    resolved = merge(from_package(found.config, found.source), given)
    stateful = resolved.extra_frame or resolved.interpolating
    return plan.Model(2 if resolved.interpolating else 1, None if stateful else resolved.consumed), resolved


def check_reachable(address: str) -> None:
    """Ray waits minutes for a cluster that does not answer; a plain connection says at once."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not port.isdigit() or not host:
        raise NnvisrError(f"--address {address}: write HOST:PORT (or ray://HOST:PORT)")
    try:
        socket.create_connection((host, int(port)), timeout=REACH_TIMEOUT).close()
    except OSError as error:
        raise NnvisrError(f"cannot reach the Ray cluster at {address}: {error.strerror or error}") from None


def start_ray(address: str | None, workers: int | None, cpus_per_chunk: int) -> types.ModuleType:
    try:
        import ray
    except ImportError:
        raise NnvisrError("Ray is not installed: pip install 'nnvisr[scale]' (or .[scale] in a checkout)") from None
    settings = {"logging_level": logging.ERROR, "log_to_driver": False, "include_dashboard": False}
    try:
        if address:
            check_reachable(address)
            ray.init(address=address, **settings)
        else:
            ray.init(num_cpus=(workers or os.cpu_count() or 1) * cpus_per_chunk, **settings)
    except NnvisrError:
        raise
    except Exception as error:  # Ray raises ConnectionError, RuntimeError, ValueError... for an unreachable cluster
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NnvisrError(f"cannot start or reach {where}: {message}") from None
    return ray


def _failure(ray: types.ModuleType, chunk: plan.Chunk, error: Exception) -> str:
    cause = getattr(error, "cause", None)
    if isinstance(cause, ChunkFailed):
        return str(cause)
    if isinstance(error, ray.exceptions.RayTaskError) and cause is not None:
        return f"{chunk.name}: {type(cause).__name__}: {cause}"
    return f"{chunk.name}: {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"


def execute(ray: types.ModuleType, job: ChunkJob, chunks: list[plan.Chunk], work: workdir.WorkDir,
            args: argparse.Namespace, resources: dict, total: int, already: int, all_chunks: int) -> None:  # fmt: skip
    board = ray.remote(Board).options(num_cpus=0).remote()
    task = ray.remote(chunk_task).options(max_retries=0, **resources)
    by_ref: dict = {}
    attempts = {chunk.index: 0 for chunk in chunks}

    def submit(chunk: plan.Chunk) -> None:
        by_ref[task.remote(job, chunk, str(work.segment(chunk)), str(work.record(chunk)), board)] = chunk

    for chunk in chunks:
        submit(chunk)
    display = Display(total, already, all_chunks, args.json_progress)
    finished_frames, finished = already, all_chunks - len(chunks)
    last_shown = 0.0
    try:
        while by_ref:
            ready, _ = ray.wait(list(by_ref), num_returns=1, timeout=0.5)
            for ref in ready:
                chunk = by_ref.pop(ref)
                try:
                    finished_frames += ray.get(ref)
                    finished += 1
                except Exception as error:  # a chunk's failure, or its worker's death
                    attempts[chunk.index] += 1
                    board.reset.remote(chunk.index)
                    if attempts[chunk.index] > args.max_retries:
                        for other in by_ref:
                            ray.cancel(other, force=True)
                        raise NnvisrError(_failure(ray, chunk, error)) from None
                    submit(chunk)
            now = time.monotonic()
            if now - last_shown >= (1.0 if args.json_progress else 0.2) or not by_ref:
                running = ray.get(board.snapshot.remote())
                live = {chunk.index for chunk in by_ref.values()}
                in_flight = sum(frames for index, frames in running.items() if index in live)
                display.show(finished_frames + in_flight, finished)
                last_shown = now
    finally:
        display.close()


def run(argv: list[str]) -> int:
    paths, ours, encoder_args = split_arguments(argv)
    args = _parser().parse_args(ours)
    if len(paths) != 2 or any(p.startswith("-") for p in paths):
        raise NnvisrError("give the input and output first: nnvisr-run IN OUT --vf FILTERS [encoder options]")
    source, output = pathlib.Path(paths[0]).resolve(), pathlib.Path(paths[1]).resolve()
    if not source.is_file():
        raise NnvisrError(f"{paths[0]}: no such file")
    if output.exists() and not args.y:
        raise NnvisrError(f"{paths[1]} exists (pass -y to overwrite)")
    if args.chunk_seconds <= 0 or args.cpus_per_chunk < 1 or args.max_retries < 0:
        raise NnvisrError("--chunk-seconds and --cpus-per-chunk must be positive, --max-retries at least 0")
    chain = graph.parse(args.vf)
    model, options = model_facts(chain.options)
    work = workdir.WorkDir(pathlib.Path(args.work_dir).resolve() if args.work_dir else
                           output.with_name(f".{output.name}.nnvisr-run"))  # fmt: skip
    time_base = scan.video_time_base(args.ffprobe, source)
    request = workdir.Job(workdir.fingerprint(source), args.vf, encoder_args, 0, str(time_base), [])
    job = work.load()
    if job is not None:
        difference = job.same_request(request)
        if difference:
            raise NnvisrError(f"{work.path} holds an unfinished job and {difference}: "
                              "rerun that command, or remove the work directory to start over")  # fmt: skip
    ray = start_ray(args.address, args.workers, args.cpus_per_chunk)
    try:
        if job is None:
            work.path.mkdir(parents=True, exist_ok=True)
            found = scan.scan(args.ffmpeg, args.ffprobe, source, chain, chain.options, work.path)
            chunks = plan.plan(found, args.chunk_seconds, model)
            job = workdir.Job(request.source, args.vf, encoder_args, len(found.pts), str(found.time_base), chunks)
            work.save(job)
        gpu = options.backend in GPU_BACKENDS or (
            options.backend == "auto" and ray.cluster_resources().get("GPU", 0) > 0
        )
        resources = {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": args.cpus_per_chunk}
        todo = [chunk for chunk in job.chunks if not work.finished(chunk, args.ffprobe)]
        for chunk in todo:
            for stale in (work.segment(chunk), work.record(chunk), work.segment(chunk).with_suffix(".part")):
                stale.unlink(missing_ok=True)
        total = sum(chunk.out_frames for chunk in job.chunks)
        already = total - sum(chunk.out_frames for chunk in todo)
        chunk_job = ChunkJob(args.ffmpeg, args.ffprobe, str(source), chain, encoder_args,
                             0 if gpu else args.cpus_per_chunk, gpu, args.seek)  # fmt: skip
        execute(ray, chunk_job, todo, work, args, resources, total, already, len(job.chunks))
        work.check_formats(job.chunks)
        segments = [work.segment(chunk) for chunk in job.chunks]
        listing = concat.write_list(work.path, segments, job.chunks, fractions.Fraction(job.time_base))
        concat.join(args.ffmpeg, listing, source, output)
    finally:
        ray.shutdown()
    if not args.keep_work_dir:
        shutil.rmtree(work.path, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except NnvisrError as error:
        print(f"nnvisr-run: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nnnvisr-run: interrupted; the same command resumes the job", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
