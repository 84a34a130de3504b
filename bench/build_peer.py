#!/usr/bin/env python3
"""Build the bench's peer: FFmpeg 9.0's dnn_processing filter on ONNX Runtime.

FFmpeg 9.0 has an ONNX Runtime backend for its dnn filters (`configure
--enable-libonnxruntime`, which needs `onnxruntime_c_api.h` and `-lonnxruntime`).
The bench runs it side by side with nnvisr on the same .onnx file. Pieces:

- source: Debian's ffmpeg 9.0 source package (sid), through the same private
  apt state as tools/build_ffmpeg.py. When the mirror serves the upstream
  tarball but not the .dsc (it happens while a sid upload is being mirrored),
  the tarball is checked against the SHA-256 in apt's Sources index, which
  apt itself authenticated through the signed Release file;
- headers: Debian's libonnxruntime-dev (sid), fetched with `apt-get download`
  through a private binary apt state and unpacked with dpkg-deb (this
  machine's release may not carry it; only the C API header is used, which
  is ABI-stable across ONNX Runtime versions);
- library: the libonnxruntime.so of the onnxruntime wheel this Python has
  (the one nnvisr runs), so both filters run the very same ONNX Runtime. The
  link carries an rpath to it.

The build is a minimal configure: rawvideo in, the null muxer out, and the
filters the bench uses. It lives in the cache of tools/build_ffmpeg.py
($NNVISR_CACHE, ~/.cache/nnvisr), keyed by everything that changes it; a
re-run reuses it.

    .venv/bin/python bench/build_peer.py      # prints the path of the peer's ffmpeg
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERIES = "9.0"
SUITE = "sid"
HEADERS_PACKAGE = "libonnxruntime-dev"
# Bump when the build below changes in a way its flags do not show.
REVISION = "1"

COMPONENTS = {
    "filter": ("dnn_processing", "format", "scale", "null", "testsrc2"),
    "indev": ("lavfi",),
    "protocol": ("file", "pipe"),
    "demuxer": ("rawvideo",),
    "decoder": ("rawvideo", "wrapped_avframe"),
    "encoder": ("rawvideo", "wrapped_avframe"),
    "muxer": ("null", "rawvideo", "framemd5"),
}


def _load_build_ffmpeg():
    """tools/build_ffmpeg.py as a module (it is a script, not a package)."""
    if "build_ffmpeg" in sys.modules:
        return sys.modules["build_ffmpeg"]
    spec = importlib.util.spec_from_file_location("build_ffmpeg", REPO / "tools" / "build_ffmpeg.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_ffmpeg"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bf = _load_build_ffmpeg()
BuildError = bf.BuildError


# ------------------------------------------------------------ source


def _index_checksums(apt, package: str, version: str) -> dict[str, tuple[str, int]]:
    """name -> (sha256, size) of one version's files, from apt's (authenticated) Sources index."""
    proc = subprocess.run(["apt-cache", *apt.options, "showsrc", package], capture_output=True, text=True, check=False)
    for stanza in re.split(r"\n\s*\n", proc.stdout):
        if re.search(rf"^Version:\s*{re.escape(version)}\s*$", stanza, re.MULTILINE):
            return bf.checksums_field(stanza)
    return {}


def fetch_source(cache: Path) -> tuple[Path, str, str]:
    """(verified upstream tarball, Debian version, how it was verified)."""
    mirrors = bf.debian_mirrors()
    if not mirrors:
        raise BuildError("no Debian archive configured in /etc/apt: cannot fetch FFmpeg 9.0's source")
    apt = bf.Apt(cache / "apt" / SUITE, SUITE)
    log = cache / "apt" / f"{SUITE}-peer.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    apt.write_sources(mirrors)
    apt.update(log)
    matching = [v for v in apt.source_versions("ffmpeg", log) if bf.upstream_version(v).startswith(SERIES + ".")]
    if not matching:
        raise BuildError(f"Debian {SUITE} has no FFmpeg {SERIES}.x source package", log)
    version = bf.newest_version(matching)
    upstream = bf.upstream_version(version)
    sums = _index_checksums(apt, "ffmpeg", version)
    orig = [n for n in sums if re.fullmatch(rf"ffmpeg_{re.escape(upstream)}\.orig\.tar\.\w+", n)]
    if not orig:
        raise BuildError(f"the {SUITE} Sources index lists no upstream tarball for ffmpeg {version}", log)
    sources = cache / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    if bf.verify_files(sources, {orig[0]: sums[orig[0]]}):
        bf.say(f"downloading Debian source package ffmpeg {version} (log: {log})")
        # apt-get fails as a whole when one file is missing on the mirror (the
        # .dsc sometimes is); what it did fetch is checked below.
        bf.run_logged(["apt-get", *apt.options, "source", "--download-only", f"ffmpeg={version}"], log, cwd=sources)
    if bf.verify_files(sources, {orig[0]: sums[orig[0]]}):
        raise BuildError(f"could not download a valid {orig[0]} from the Debian mirror", log)
    dsc = sources / f"ffmpeg_{version.split(':', 1)[-1]}.dsc"
    if dsc.is_file() and not bf.verify_files(sources, bf.dsc_checksums(dsc)):
        how = f"checked against {dsc.name}"
    else:
        how = f"checked against the SHA-256 of apt's {SUITE} Sources index (the mirror had no .dsc)"
    return sources / orig[0], version, how


# ------------------------------------------------------------ ONNX Runtime


class BinaryApt(bf.Apt):
    """The private apt state, for binary packages (`deb` lines) of one suite."""

    def write_sources(self, mirrors: list[tuple[str, str]]) -> bool:
        self.mirrors = mirrors
        for sub in ("sources.list.d", "lists/partial", "cache/archives/partial"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=False)
        arch_opt = f"arch={arch.stdout.strip() or 'amd64'}"
        lines = []
        for uri, signed in mirrors:
            opts = f"[{arch_opt} signed-by={signed}]" if signed else f"[{arch_opt}]"
            lines.append(f"deb {opts} {uri} {self.suite} main\n")
        text = "".join(lines).encode()
        path = self.state / "sources.list"
        if path.exists() and path.read_bytes() == text:
            return False
        bf.write_atomic(path, text)
        (self.state / "updated").unlink(missing_ok=True)
        return True


def fetch_headers(cache: Path) -> tuple[Path, str]:
    """(include dir holding onnxruntime_c_api.h, the .deb's name)."""
    root = cache / "peer" / "onnxruntime-dev"
    stamp = root / ".deb"
    header = root / "usr" / "include" / "onnxruntime" / "onnxruntime_c_api.h"
    if header.is_file() and stamp.is_file():
        return header.parent, stamp.read_text().strip()
    apt = BinaryApt(cache / "apt" / f"{SUITE}-binary", SUITE)
    log = cache / "apt" / f"{SUITE}-binary.log"
    log.write_text("")
    apt.write_sources(bf.debian_mirrors())
    apt.update(log)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        if not bf.run_logged(["apt-get", *apt.options, "download", HEADERS_PACKAGE], log, cwd=Path(tmp)):
            raise BuildError(f"apt-get download {HEADERS_PACKAGE} failed", log)
        debs = sorted(Path(tmp).glob(f"{HEADERS_PACKAGE}_*.deb"))
        if not debs:
            raise BuildError(f"apt-get download {HEADERS_PACKAGE} gave no .deb", log)
        unpacked = Path(tmp) / "root"
        if not bf.run_logged(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], log):
            raise BuildError(f"dpkg-deb -x {debs[0].name} failed", log)
        (unpacked / ".deb").write_text(debs[0].name + "\n")
        if root.exists():
            shutil.rmtree(root)
        root.parent.mkdir(parents=True, exist_ok=True)
        unpacked.rename(root)
    return header.parent, stamp.read_text().strip()


def wheel_library(cache: Path) -> tuple[Path, str]:
    """(dir with libonnxruntime.so -> the wheel's library, ONNX Runtime's version)."""
    import onnxruntime

    capi = Path(onnxruntime.__file__).resolve().parent / "capi"
    found = sorted(capi.glob("libonnxruntime.so.*"))
    if not found:
        raise BuildError(f"no libonnxruntime.so.* in {capi} (the onnxruntime wheel's C library)")
    lib = cache / "peer" / f"ortlib-{onnxruntime.__version__}"
    lib.mkdir(parents=True, exist_ok=True)
    for name in ("libonnxruntime.so", "libonnxruntime.so.1"):
        link = lib / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(found[0])
    return lib, onnxruntime.__version__


# ------------------------------------------------------------ build


def configure_command(src: Path, env_flags: list[str], include: Path, lib: Path) -> list[str]:
    components = []
    for kind, names in COMPONENTS.items():
        known = bf.available_components(src, kind)
        present = [n for n in names if n in known]
        if present:
            components.append(f"--enable-{kind}={','.join(present)}")
    return [
        str(src / "configure"),
        *bf.BASE_FLAGS,
        *env_flags,
        *components,
        "--enable-libonnxruntime",
        f"--extra-cflags=-I{include}",
        f"--extra-ldflags=-L{lib} -Wl,-rpath,{lib}",
    ]


def build(cache: Path, jobs: int) -> Path:
    """Fetch, configure and make the peer; returns the path of its ffmpeg."""
    bf.check_toolchain([])
    for tool in ("apt-get", "apt-cache", "dpkg", "dpkg-deb"):
        bf.require_tool(tool, "the peer is built from Debian packages")
    tarball, version, how = fetch_source(cache)
    include, deb = fetch_headers(cache)
    lib, ort_version = wheel_library(cache)
    env_flags = bf.environment_flags(cache)
    key = hashlib.sha256()
    for part in (REVISION, bf.sha256_file(tarball), deb, ort_version, str(lib), *env_flags, repr(COMPONENTS)):
        key.update(part.encode() + b"\0")
    entry = cache / "peer" / f"ffmpeg-{bf.upstream_version(version)}-{key.hexdigest()[:12]}"
    entry.mkdir(parents=True, exist_ok=True)
    with bf.locked(entry / ".lock") as lock_fd:
        src = entry / "src"
        if not (src / "configure").is_file():
            bf.say(f"unpacking {tarball.name} ({how})")
            tmp = Path(tempfile.mkdtemp(prefix="src.tmp", dir=entry))
            try:
                tree = bf.unpack_tarball(tarball, tmp / "unpack")
                if src.exists():
                    shutil.rmtree(src)
                os.replace(tree, src)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        build_dir = entry / "build"
        bf.configure(src, build_dir, configure_command(src, env_flags, include, lib), lock_fd)
        config = (build_dir / "config_components.h").read_text()
        if "#define CONFIG_DNN_PROCESSING_FILTER 1" not in config:
            raise BuildError("configure did not enable dnn_processing", build_dir / "configure.log")
        bf.make(build_dir, jobs, lock_fd)
    info = entry / "peer.txt"
    info.write_text(
        f"FFmpeg {bf.upstream_version(version)} from Debian source package ffmpeg {version} ({how}); "
        f"headers from {deb}; linked against the onnxruntime {ort_version} wheel's {lib}\n"
    )
    return build_dir / "ffmpeg"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=lambda p: Path(p).expanduser().absolute(), default=bf.default_cache())
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    try:
        args.cache.mkdir(parents=True, exist_ok=True)
        print(build(args.cache, args.jobs))
    except BuildError as exc:
        print(f"build_peer: error: {exc}" + (f" (log: {exc.log})" if exc.log else ""), file=sys.stderr)
        if exc.log is not None:
            print(bf.log_tail(exc.log), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
