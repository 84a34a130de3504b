#!/usr/bin/env python3
"""Fetch, patch and build an FFmpeg that contains the nnvisr filter.

The source is either Debian's source package for the chosen series (fetched
with apt through the Debian mirrors this machine is already configured with)
or a user's FFmpeg tree or tarball. The patched tree and the out-of-tree build
live in a cache, keyed by everything that changes the result, so that a
re-run after editing only vf_nnvisr.c is an incremental make.

Two profiles: "full" (every native component, plus the codec libraries of
ffmpeg_libraries.py that are present; GPL) and "minimal" (a compact
allow-list, for test builds).

Usage:
    python3 tools/build_ffmpeg.py --prefix ~/.local        (newest series, full profile)
    python3 tools/build_ffmpeg.py --series 8.1 --profile minimal --prefix /tmp/ff81
    python3 tools/build_ffmpeg.py --source ~/src/ffmpeg-7.1.5.tar.xz --prefix /opt/nnvisr

Environment:
    NNVISR_CACHE       cache dir (default $XDG_CACHE_HOME/nnvisr, ~/.cache/nnvisr)
    NNVISR_FILTER_DIR  dir holding vf_nnvisr.c and nnvisr_bridge.h
                       (default: ffmpeg_filter/ of this repository)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ffmpeg_libraries  # noqa: E402  (a sibling module; this file also runs as a script)

PROG = "build_ffmpeg"
REPO = Path(__file__).resolve().parent.parent
PATCH_ROOT = REPO / "patches"
FILTER_FILES = ("vf_nnvisr.c", "nnvisr_bridge.h")
INSTALLED_PROGRAMS = ("ffmpeg", "ffprobe")

# Series -> (Debian suites that carry it, searched in order; libavfilter major version).
# The major version picks the patch set for a user's tree: allfilters.c
# declares AVFilter up to major 10 and FFFilter from major 11 on.
SERIES = {
    "7.1": (("trixie",), 10),
    "8.1": (("sid",), 11),
    "9.0": (("sid", "experimental"), 12),
}
NEWEST = "newest"  # --series: the newest series whose source package verifies

# Bump when a profile below changes in a way the flag lists do not show,
# so that cached builds are not reused.
PROFILE_REVISION = "2"

COMMON_FLAGS = (
    "--disable-autodetect",
    "--disable-doc",
    "--disable-ffplay",
    "--enable-ffmpeg",
    "--enable-ffprobe",
    "--enable-pthreads",
    "--enable-avdevice",
    "--enable-swscale",
    "--enable-swresample",
)

# The "full" profile: every native component FFmpeg has (no allow-list, so
# whatever --extra-configure enables is really there), plus the external
# libraries of ffmpeg_libraries.py that are present. Autodetection stays off
# so that the result depends only on what the cache key records.
FULL_FLAGS = ("--enable-gpl", "--enable-iconv")

# The "minimal" profile: what the tests need, and little else, so that it
# builds in a few minutes on 2 cores (the test builds of secondary series).
# The lavfi sources (testsrc2, sine, ...) make the lavfi input device useful
# for tests. Muxers select the bitstream filters they need themselves; the two
# listed are those for mp4/matroska output, named so that a -c copy remux works too.
MINIMAL_FLAGS = ("--disable-everything",)
COMPONENTS: dict[str, tuple[str, ...]] = {
    "filter": (
        *("nnvisr", "scdet", "select", "format", "scale", "null", "copy", "split"),
        *("overlay", "setpts", "settb", "fps", "framerate", "minterpolate", "trim"),
        *("showinfo", "metadata", "hflip", "vflip", "crop", "pad", "concat", "setparams"),
        *("aformat", "anull", "aresample", "tblend"),
        *("testsrc", "testsrc2", "color", "sine", "anullsrc"),
    ),
    "indev": ("lavfi",),
    "protocol": ("file", "pipe", "fd"),
    "demuxer": (
        *("mov", "matroska", "avi", "nut", "rawvideo", "image2", "yuv4mpegpipe"),
        *("mpegts", "wav", "flac", "mp3", "ogg", "concat"),
    ),
    "muxer": (
        *("matroska", "mp4", "mov", "nut", "rawvideo", "framecrc", "framemd5"),
        *("md5", "null", "image2", "yuv4mpegpipe", "wav"),
    ),
    # wrapped_avframe: the lavfi input device hands frames over in packets.
    "decoder": (
        *("h264", "hevc", "mpeg4", "mpeg2video", "vp8", "vp9", "prores", "ffv1"),
        *("png", "mjpeg", "rawvideo", "aac", "mp3", "opus", "vorbis", "flac"),
        *("pcm_s16le", "wrapped_avframe"),
    ),
    "encoder": (
        *("ffv1", "png", "rawvideo", "mpeg4", "mjpeg", "flac", "pcm_s16le", "aac"),
        "wrapped_avframe",
    ),
    "parser": ("h264", "hevc", "mpeg4video", "vp9", "aac", "mpegaudio", "flac"),
    "bsf": ("aac_adtstoasc", "vp9_superframe"),
}
PROFILES = ("full", "minimal")

LOG_TAIL_LINES = 25
APT_LISTS_MAX_AGE_S = 24 * 3600


class BuildError(Exception):
    """An expected failure: reported as one line (plus a log tail), no traceback."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


@dataclass
class Source:
    """Where the pristine FFmpeg source comes from and what identifies it."""

    series: str
    version: str  # e.g. "8.1.2", or whatever a user's tree says
    digest: str  # sha256 of the tarball or of the tree's content
    tarball: Path | None = None
    tree: Path | None = None
    origin: str = ""  # for the final message


# ---------------------------------------------------------------- utilities


def say(msg: str) -> None:
    print(f"{PROG}: {msg}", flush=True)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Last lines of a log, for the error report (the log itself can be huge)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_logged(
    cmd: Sequence[str | os.PathLike[str]],
    log: Path,
    cwd: Path | None = None,
    keep_fds: Sequence[int] = (),
    env: dict[str, str] | None = None,
) -> bool:
    """Run cmd with stdout and stderr appended to log; True when it succeeded.

    keep_fds are inherited by the command (the cache entry's lock, see locked());
    env holds variables to set on top of ours.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"$ {shlex.join(str(c) for c in cmd)}\n")
        out.flush()
        try:
            proc = subprocess.run(
                cmd,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=tuple(keep_fds),
                env={**os.environ, **env} if env else None,
                check=False,
            )
        except OSError as exc:
            out.write(f"{exc}\n")
            return False
    return proc.returncode == 0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write via a temp file and rename, so an interruption never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    if mode is not None:
        tmp.chmod(mode)
    os.replace(tmp, path)


def copy_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    shutil.copyfile(src, tmp)
    shutil.copymode(src, tmp)
    os.replace(tmp, dst)


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BuildError(f"'{name}' not found on PATH; {hint}")
    return path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[int]:
    """Serialise runs on the same cache entry; yields the lock's file descriptor.

    configure and make inherit the descriptor, so that a make orphaned by a
    killed run keeps the entry locked until it ends instead of racing with
    the next run in the same build dir.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another build in {path.parent} to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield fh.fileno()


def default_cache() -> Path:
    if os.environ.get("NNVISR_CACHE"):
        return Path(os.environ["NNVISR_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "nnvisr"
    return Path.home() / ".cache" / "nnvisr"


def filter_dir() -> Path:
    env = os.environ.get("NNVISR_FILTER_DIR")
    return Path(env).expanduser() if env else REPO / "ffmpeg_filter"


# ------------------------------------------------------- Debian apt sources


@dataclass
class AptEntry:
    """One repository entry of the machine's apt configuration."""

    kind: str  # deb or deb-src
    uri: str
    components: tuple[str, ...]
    signed_by: str  # keyring path, or "" (apt's default keyrings)


def _one_line_entries(text: str) -> Iterator[AptEntry]:
    """Entries of a one-line-style sources.list: `deb [opts] URI SUITE COMPONENT...`."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        options = ""
        match = re.match(r"^(\S+)\s+\[([^\]]*)\]\s+(.*)$", line)
        if match:
            kind, options, rest = match.groups()
        else:
            kind, _, rest = line.partition(" ")
        fields = rest.split()
        if len(fields) < 2:
            continue
        signed = re.search(r"(?:^|\s)signed-by=(\S+)", options)
        yield AptEntry(kind, fields[0], tuple(fields[2:]), signed.group(1) if signed else "")


def _deb822_fields(stanza: str) -> dict[str, str]:
    """Field name (lower case) -> value of one deb822 stanza; continuation lines joined."""
    fields: dict[str, str] = {}
    key = ""
    for raw in stanza.splitlines():
        if raw.startswith("#"):
            continue
        if raw[:1].isspace() and key:
            fields[key] += "\n" + raw.strip()
        elif ":" in raw:
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


def _deb822_entries(text: str) -> Iterator[AptEntry]:
    """Entries of a deb822 .sources file (one stanza may list several types and URIs)."""
    for stanza in re.split(r"\n\s*\n", text):
        fields = _deb822_fields(stanza)
        if fields.get("enabled", "yes").lower() == "no":
            continue
        signed = fields.get("signed-by", "")
        if "\n" in signed:  # an inline key block cannot be passed on as signed-by=
            signed = ""
        components = tuple(fields.get("components", "").split())
        for kind in fields.get("types", "").split():
            for uri in fields.get("uris", "").split():
                yield AptEntry(kind, uri, components, signed)


def is_debian_archive(entry: AptEntry) -> bool:
    """A `deb` entry of a Debian archive mirror, by the shape of its URI.

    The URI path ends in /debian (this excludes debian-security, snapshots
    and most third-party repositories); a third-party repository that is also
    laid out under /debian (e.g. a vendor's) has its own components or its own
    key, so it is told apart by those.
    """
    path = re.sub(r"^[a-z0-9+]+://[^/]*", "", entry.uri).rstrip("/")
    own_key = entry.signed_by and not Path(entry.signed_by).name.startswith("debian-archive")
    return entry.kind == "deb" and path.endswith("/debian") and "main" in entry.components and not own_key


def debian_mirrors(etc: Path = Path("/etc/apt")) -> list[tuple[str, str]]:
    """(uri, signed-by) of the Debian archive mirrors this machine is configured with."""
    entries: list[AptEntry] = []
    for path in [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]:
        with contextlib.suppress(OSError):
            entries.extend(_one_line_entries(path.read_text()))
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        with contextlib.suppress(OSError):
            entries.extend(_deb822_entries(path.read_text()))
    mirrors: dict[str, str] = {}
    for entry in entries:
        if is_debian_archive(entry):
            mirrors.setdefault(entry.uri.rstrip("/"), entry.signed_by)
    return list(mirrors.items())


@dataclass
class Apt:
    """apt-get/apt-cache on a private state, so the system's apt is untouched."""

    state: Path
    suite: str
    kind: str = "deb-src"  # deb: binary packages
    mirrors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def options(self) -> list[str]:
        return [
            "-o",
            f"Dir::Etc::SourceList={self.state / 'sources.list'}",
            "-o",
            f"Dir::Etc::SourceParts={self.state / 'sources.list.d'}",
            "-o",
            f"Dir::State::Lists={self.state / 'lists'}",
            "-o",
            f"Dir::Cache={self.state / 'cache'}",
        ]

    def write_sources(self, mirrors: list[tuple[str, str]]) -> bool:
        """Write the deb-src list; True when it changed (the lists must be refreshed)."""
        self.mirrors = mirrors
        (self.state / "sources.list.d").mkdir(parents=True, exist_ok=True)
        (self.state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.state / "cache").mkdir(parents=True, exist_ok=True)
        lines = []
        for uri, signed in mirrors:
            opt = f"[signed-by={signed}] " if signed else ""
            lines.append(f"{self.kind} {opt}{uri} {self.suite} main\n")
        text = "".join(lines).encode()
        path = self.state / "sources.list"
        if path.exists() and path.read_bytes() == text:
            return False
        write_atomic(path, text)
        (self.state / "updated").unlink(missing_ok=True)
        return True

    def update(self, log: Path) -> None:
        """Refresh the Sources index once a day; old lists will do when offline."""
        stamp = self.state / "updated"
        if stamp.exists() and time.time() - stamp.stat().st_mtime < APT_LISTS_MAX_AGE_S:
            return
        say(f"refreshing Debian {self.suite} {'source' if self.kind == 'deb-src' else 'package'} index (log: {log})")
        start = log.stat().st_size if log.exists() else 0
        ok = run_logged(["apt-get", *self.options, "update"], log)
        # apt-get update exits 0 when a fetch fails (it only warns), so read
        # its output: it failed when nothing or only some mirrors answered.
        output = log.read_bytes()[start:].decode(errors="replace")
        failed = re.findall(r"^W: Failed to fetch (\S+)", output, re.MULTILINE)
        if ok and not re.search(r"^(E: |W: GPG error)", output, re.MULTILINE):
            dead = {uri for uri, _ in self.mirrors if any(url.startswith(uri + "/") for url in failed)}
            if len(dead) < len(self.mirrors):
                stamp.touch()
                return
        if any((self.state / "lists").glob(f"*_dists_{self.suite}_main_*")):
            say("warning: apt-get update failed; using the source index fetched earlier")
            return
        raise BuildError(f"cannot download the Debian {self.suite} source index (network or mirror problem?)", log)

    def source_stanzas(self, package: str, log: Path) -> dict[str, dict[str, tuple[str, int]]]:
        """Version -> file checksums of every version of the source package the index lists.

        The index is verified by apt against the archive's signed Release file, so its
        checksums are as trustworthy as the .dsc's (sid lists several versions).
        """
        proc = subprocess.run(
            ["apt-cache", *self.options, "showsrc", package], capture_output=True, text=True, check=False
        )
        stanzas = source_stanzas(proc.stdout)
        with log.open("a") as out:
            out.write(f"$ apt-cache showsrc {package}\n{proc.stderr}versions: {' '.join(stanzas) or 'none'}\n")
        return stanzas

    def download_source(self, package: str, version: str, dest: Path, log: Path) -> None:
        """Download the source package's files; what could not be fetched shows at verification."""
        run_logged(["apt-get", *self.options, "source", "--download-only", f"{package}={version}"], log, cwd=dest)

    def download_binary(self, package: str, dest: Path, log: Path) -> Path | None:
        """Download a binary package's .deb into dest (it is not installed)."""
        if not run_logged(["apt-get", *self.options, "download", package], log, cwd=dest):
            return None
        return next(iter(sorted(dest.glob(f"{package}_*.deb"))), None)


def source_stanzas(text: str) -> dict[str, dict[str, tuple[str, int]]]:
    """Version -> file checksums, from `apt-cache showsrc` output (one stanza per version)."""
    stanzas = {}
    for stanza in re.split(r"\n(?=Package:)", text):
        version = re.search(r"^Version:\s*(\S+)", stanza, re.MULTILINE)
        if version:
            stanzas[version.group(1)] = checksums_field(stanza)
    return stanzas


def orig_tarball(version: str, sums: dict[str, tuple[str, int]]) -> str:
    """The upstream tarball's name among a source package's files ('' when there is none)."""
    upstream = upstream_version(version)
    names = [n for n in sums if re.fullmatch(rf"ffmpeg_{re.escape(upstream)}\.orig\.tar\.\w+", n)]
    return names[0] if names else ""


def upstream_version(debian_version: str) -> str:
    """7:8.1.2-2 -> 8.1.2: drop the epoch and the Debian revision."""
    version = debian_version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def newest_version(versions: list[str]) -> str:
    """Highest Debian version, compared the way dpkg does."""

    def compare(a: str, b: str) -> int:
        if a == b:
            return 0
        lower = subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False)
        return -1 if lower.returncode == 0 else 1

    return max(versions, key=functools.cmp_to_key(compare))


def checksums_field(text: str) -> dict[str, tuple[str, int]]:
    """name -> (sha256, size) from a Checksums-Sha256 field (a .dsc, or a Sources stanza)."""
    sums: dict[str, tuple[str, int]] = {}
    inside = False
    for line in text.splitlines():
        if line.startswith("Checksums-Sha256:"):
            inside = True
        elif inside and line[:1] == " ":
            sha, size, name = line.split()
            sums[name] = (sha, int(size))
        elif inside:
            break
    return sums


def verify_files(directory: Path, sums: dict[str, tuple[str, int]]) -> list[str]:
    """Names of the files that are missing or do not match their checksum."""
    bad = []
    for name, (sha, size) in sums.items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != size or sha256_file(path) != sha:
            bad.append(name)
    return bad


def debian_apt(suite: str, cache: Path, kind: str = "deb-src") -> tuple[Apt, Path]:
    """A private apt state for one suite (index refreshed once a day), and its log."""
    mirrors = debian_mirrors()
    if not mirrors:
        raise BuildError(
            "no Debian archive configured in /etc/apt (not Debian?); pass --source with an FFmpeg tree or tarball"
        )
    for tool in ("apt-get", "apt-cache", "dpkg"):
        require_tool(tool, "pass --source with an FFmpeg tree or tarball")
    name = suite if kind == "deb-src" else f"{suite}-{kind}"
    apt = Apt(cache / "apt" / name, suite, kind=kind)
    log = cache / "apt" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    apt.write_sources(mirrors)
    apt.update(log)
    return apt, log


def fetch_debian(series: str, cache: Path) -> Source:
    """Download (or reuse) Debian's FFmpeg source for the series and verify it.

    Only the upstream tarball is needed (Debian's own patches are not applied);
    it is checked against the signed source index, so a version whose .dsc is
    not (yet) on the mirror is still usable.
    """
    matching: dict[str, dict[str, tuple[str, int]]] = {}
    for suite in SERIES[series][0]:
        apt, log = debian_apt(suite, cache)
        stanzas = apt.source_stanzas("ffmpeg", log)
        matching = {v: sums for v, sums in stanzas.items() if upstream_version(v).startswith(series + ".")}
        if matching:
            break
    if not matching:
        suites = " or ".join(SERIES[series][0])
        raise BuildError(
            f"Debian {suites} has no FFmpeg {series}.x source package; pass --source with an FFmpeg tree or tarball"
        )
    version = newest_version(list(matching))
    sums = matching[version]
    orig = orig_tarball(version, sums)
    if not orig:
        raise BuildError(f"Debian's index lists no upstream tarball for ffmpeg {version}", log)
    wanted = {orig: sums[orig]}
    sources = cache / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    if verify_files(sources, wanted):
        say(f"downloading Debian source package ffmpeg {version} (log: {log})")
        for name in wanted:
            (sources / name).unlink(missing_ok=True)
        apt.download_source("ffmpeg", version, sources, log)
        if verify_files(sources, wanted):
            raise BuildError(f"{orig} is missing or does not match Debian's signed source index", log)
    return Source(
        series=series,
        version=upstream_version(version),
        digest=sums[orig][0],
        tarball=sources / orig,
        origin=f"Debian source package ffmpeg {version}",
    )


def fetch_newest_debian(cache: Path) -> Source:
    """The newest series whose Debian source package is there and verifies."""
    problems = []
    for series in sorted(SERIES, key=lambda s: tuple(map(int, s.split("."))), reverse=True):
        try:
            return fetch_debian(series, cache)
        except BuildError as exc:
            problems.append(f"{series}: {exc}")
            say(f"note: FFmpeg {series} is not available ({exc}); trying an older series")
    raise BuildError("no FFmpeg series could be fetched: " + "; ".join(problems))


# ------------------------------------------------------- user-given sources


def series_of(major_h: str | None, version_txt: str | None, where: str) -> tuple[str, str]:
    """(series, version) from libavfilter/version_major.h and VERSION/RELEASE texts.

    The series comes from libavfilter's major version, since that is what
    decides which patch set applies; the version string is only for display.
    """
    match = re.search(r"#define\s+LIBAVFILTER_VERSION_MAJOR\s+(\d+)", major_h or "")
    if match is None:
        raise BuildError(f"{where} does not look like an FFmpeg source tree (no libavfilter/version_major.h)")
    major = int(match.group(1))
    series = next((s for s, (_, m) in SERIES.items() if m == major), None)
    if series is None:
        known = ", ".join(f"{s} (libavfilter {m})" for s, (_, m) in SERIES.items())
        raise BuildError(f"{where} has libavfilter major {major}; patch sets exist for {known}")
    version = (version_txt or "").strip()
    return series, version.split()[0] if version else series


def tree_series(tree: Path) -> tuple[str, str]:
    """(series, version) of an unpacked FFmpeg tree."""

    def read(name: str) -> str | None:
        with contextlib.suppress(OSError):
            return (tree / name).read_text(errors="replace")
        return None

    return series_of(read("libavfilter/version_major.h"), read("VERSION") or read("RELEASE"), str(tree))


def tarball_series(tarball: Path, digest: str, cache: Path) -> tuple[str, str]:
    """(series, version) of a tarball, read by streaming it once and then remembered.

    Knowing the series before unpacking gives the cache key (which covers the
    patch set), so a re-run with the same tarball unpacks nothing.
    """
    memo = cache / "sources" / f"tarball-{digest[:16]}.series"
    with contextlib.suppress(OSError, ValueError):
        series, version = memo.read_text().split()
        if series in SERIES:
            return series, version
    wanted = {"libavfilter/version_major.h", "VERSION", "RELEASE"}
    texts: dict[str, str] = {}
    try:
        with tarfile.open(tarball, "r|*") as tar:
            for member in tar:
                inner = member.name.split("/", 1)[-1] if "/" in member.name else member.name
                if inner in wanted and member.isfile():
                    handle = tar.extractfile(member)
                    texts[inner] = handle.read().decode(errors="replace") if handle else ""
                    if len(texts) == len(wanted):
                        break
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BuildError(f"cannot read {tarball}: {exc}") from None
    series, version = series_of(
        texts.get("libavfilter/version_major.h"), texts.get("VERSION") or texts.get("RELEASE"), str(tarball)
    )
    memo.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(memo, f"{series} {version}\n".encode())
    return series, version


def tree_digest(tree: Path) -> str:
    """Content hash of a user's tree (not mtimes: a fresh checkout must hit the cache)."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            path = Path(root, name)
            if path.is_symlink() or not path.is_file():
                continue
            digest.update(str(path.relative_to(tree)).encode() + b"\0")
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def user_source(path: Path, cache: Path) -> Source:
    """Describe --source: its series, version and content hash."""
    path = path.expanduser().resolve()
    if path.is_dir():
        if (path / "config.h").exists() or (path / "ffbuild" / "config.mak").exists():
            raise BuildError(
                f"{path} has been configured in place (config.h present); "
                "out-of-tree builds need a clean tree: run 'make distclean' there"
            )
        series, version = tree_series(path)
        return Source(series=series, version=version, digest=tree_digest(path), tree=path, origin=f"tree {path}")
    if path.is_file() and re.search(r"\.(tar(\.(xz|gz|bz2))?|tgz|txz|tbz2)$", path.name):
        digest = sha256_file(path)
        series, version = tarball_series(path, digest, cache)
        return Source(series=series, version=version, digest=digest, tarball=path, origin=f"tarball {path}")
    raise BuildError(f"--source {path}: not a directory nor a .tar.xz/.tar.gz/.tar.bz2 file")


# ---------------------------------------------------------- patched tree


def patch_files(series: str) -> list[Path]:
    patches = sorted((PATCH_ROOT / series).glob("*.patch"))
    if not patches:
        raise BuildError(f"no patches in {PATCH_ROOT / series}")
    return patches


def unpack_tarball(tarball: Path, dest: Path) -> Path:
    """Unpack into dest and return the single top-level directory inside."""
    try:
        with tarfile.open(tarball) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # Python < 3.11.4: no extraction filters
                tar.extractall(dest)
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BuildError(f"cannot unpack {tarball}: {exc}") from None
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


def apply_patches(tree: Path, patches: list[Path], log: Path) -> None:
    """Apply the series' patches; a user's tree that already has them is fine too.

    Dry runs first, so that a patch that does not apply leaves no .rej files
    and no half-patched files behind.
    """
    require_tool("patch", "install it (apt-get install patch)")
    for patch in patches:
        command = ["patch", "-p1", "--batch", "-i", str(patch)]
        if run_logged([*command, "--forward", "--dry-run"], log, cwd=tree):
            if run_logged([*command, "--forward"], log, cwd=tree):
                continue
        elif run_logged([*command, "--reverse", "--force", "--dry-run"], log, cwd=tree):
            say(f"note: {patch.name} is already applied to this tree")
            continue
        raise BuildError(f"patch {patch.relative_to(REPO)} does not apply", log)


def prepare_tree(source: Source, entry: Path, patches: list[Path]) -> Path:
    """Create entry/src (pristine source plus patches) unless it is already there.

    Work happens in a temp dir that is renamed at the end, so an interrupted
    run leaves no half-patched tree behind.
    """
    src = entry / "src"
    if (src / ".nnvisr-patched").exists():
        return src
    for stale in entry.glob("src.tmp*"):  # left by a run that was killed (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix="src.tmp", dir=entry))
    try:
        if source.tree is not None:
            tree = tmp / "ffmpeg"
            shutil.copytree(source.tree, tree, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        elif source.tarball is not None:
            say(f"unpacking {source.tarball.name}")
            tree = unpack_tarball(source.tarball, tmp / "unpack")
        else:
            raise BuildError("internal: source has neither a tree nor a tarball")
        apply_patches(tree, patches, entry / "patch.log")
        (tree / ".nnvisr-patched").write_text("".join(p.name + "\n" for p in patches))
        if src.exists():
            shutil.rmtree(src)
        os.replace(tree, src)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return src


def filter_sources() -> list[Path]:
    """The filter's files; checked before anything is fetched or built."""
    origin = filter_dir()
    paths = [origin / name for name in FILTER_FILES]
    for path in paths:
        if not path.is_file():
            raise BuildError(
                f"{path} not found (set NNVISR_FILTER_DIR to the dir holding {' and '.join(FILTER_FILES)})"
            )
    return paths


def sync_filter_files(src: Path) -> bool:
    """Copy the filter into libavfilter/ when its content changed; True if it did.

    Unchanged files keep their mtime, so make does not rebuild them.
    """
    changed = False
    for new in filter_sources():
        dest = src / "libavfilter" / new.name
        data = new.read_bytes()
        if not dest.is_file() or dest.read_bytes() != data:
            write_atomic(dest, data, 0o644)
            changed = True
    return changed


# ------------------------------------------------------------- configure


def have_zlib() -> bool:
    """zlib is needed by the png codecs; with autodetection off it must be asked for."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return False
    program = b"#include <zlib.h>\nint main(void) { return zlibVersion() == 0; }\n"
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [cc, "-x", "c", "-", "-o", str(Path(tmp, "a.out")), "-lz"], input=program, capture_output=True, check=False
        )
    return proc.returncode == 0


def nasm_from_apt(cache: Path) -> str | None:
    """nasm unpacked from Debian's package into the cache: no root needed.

    Without an assembler FFmpeg builds without its x86 SIMD code, and decoding
    and pixel format conversion run several times slower.
    """
    root = cache / "tools" / "nasm"
    binary = root / "usr" / "bin" / "nasm"
    if not binary.is_file():
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
            return None
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            fetched = subprocess.run(
                ["apt-get", "download", "nasm"], cwd=tmp, capture_output=True, text=True, check=False
            )
            debs = sorted(Path(tmp).glob("nasm_*.deb"))
            if fetched.returncode != 0 or not debs:
                return None
            unpacked = Path(tmp) / "root"
            if subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=False).returncode != 0:
                return None
            if root.exists():
                shutil.rmtree(root)
            root.parent.mkdir(parents=True, exist_ok=True)
            unpacked.rename(root)
    works = subprocess.run([str(binary), "-v"], capture_output=True, check=False).returncode == 0
    return str(binary) if works else None


def environment_flags(cache: Path) -> list[str]:
    """Flags that depend on this machine rather than on the source."""
    flags = []
    if shutil.which("nasm") is None:
        nasm = nasm_from_apt(cache)
        if nasm:
            flags.append(f"--x86asmexe={nasm}")
        else:
            say("note: no nasm (apt-get install nasm): building without x86 assembly, decoding will be slower")
            flags.append("--disable-x86asm")
    return flags


def available_components(src: Path, kind: str) -> set[str]:
    """Names configure knows for one component kind (e.g. `configure --list-filters`)."""
    proc = subprocess.run(
        ["sh", str(src / "configure"), f"--list-{kind}s"], cwd=src, capture_output=True, text=True, check=False
    )
    return set(proc.stdout.split())


def component_flags(src: Path) -> list[str]:
    """--enable-<kind>=a,b,... for the profile, leaving out names this series lacks."""
    flags: list[str] = []
    missing: list[str] = []
    for kind, wanted in COMPONENTS.items():
        known = available_components(src, kind)
        names = [n for n in dict.fromkeys(wanted) if n in known]
        missing += [f"{kind} {n}" for n in dict.fromkeys(wanted) if n not in known]
        if names:
            flags.append(f"--enable-{kind}={','.join(names)}")
    if missing:
        say(f"note: not in this FFmpeg, left out: {', '.join(missing)}")
    return flags


def source_configure_text(source: Source, cache: Path) -> str:
    """The source's configure script, read before unpacking (its checks decide the cache key).

    From a tarball it is streamed out once and remembered next to the tarball.
    """
    if source.tree is not None:
        return (source.tree / "configure").read_text(errors="replace")
    memo = cache / "sources" / f"configure-{source.digest[:16]}"
    with contextlib.suppress(OSError):
        return memo.read_text()
    text = ""
    try:
        with tarfile.open(source.tarball, "r|*") as tar:
            for member in tar:
                if member.isfile() and member.name.split("/", 1)[-1] == "configure":
                    handle = tar.extractfile(member)
                    text = handle.read().decode(errors="replace") if handle else ""
                    break
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BuildError(f"cannot read {source.tarball}: {exc}") from None
    if not text:
        raise BuildError(f"{source.tarball} has no configure script")
    memo.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(memo, text.encode())
    return text


def nvidia_headers_from_apt(cache: Path) -> Path | None:
    """Debian trixie's NVIDIA codec headers unpacked into the cache; their pkg-config dir.

    They are headers only (FFmpeg loads the driver's libraries at run time), so a
    newer version than the system's can be used without installing anything.
    """
    root = cache / "tools" / "ffnvcodec"
    pc_dir = root / "usr" / "lib" / "pkgconfig"
    if (pc_dir / "ffnvcodec.pc").is_file():
        return pc_dir
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return None
    try:
        apt, log = debian_apt("trixie", cache, kind="deb")
    except BuildError:
        return None
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        deb = apt.download_binary(ffmpeg_libraries.NVIDIA_PACKAGE, Path(tmp), log)
        unpacked = Path(tmp) / "root"
        if deb is None or subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=False).returncode:
            return None
        pcs = list(unpacked.rglob("ffnvcodec.pc"))
        if not pcs:
            return None
        # the .pc says prefix=/usr; point it at the unpacked headers
        text = re.sub(r"^prefix=.*$", f"prefix={unpacked / 'usr'}", pcs[0].read_text(), flags=re.MULTILINE)
        text = text.replace(str(unpacked), str(root))
        (unpacked / "usr" / "lib" / "pkgconfig").mkdir(parents=True, exist_ok=True)
        write_atomic(unpacked / "usr" / "lib" / "pkgconfig" / "ffnvcodec.pc", text.encode())
        if root.exists():
            shutil.rmtree(root)
        root.parent.mkdir(parents=True, exist_ok=True)
        unpacked.rename(root)
    return pc_dir


@dataclass
class Profile:
    """The configure flags of one build, and what else identifies it (library versions)."""

    name: str
    flags: list[str]
    versions: list[str]
    env: dict[str, str] | None = None  # configure's environment when it differs from ours
    missing: list[str] = field(default_factory=list)


def full_profile(configure_text: str, cache: Path) -> Profile:
    """Every native component plus the external libraries present in a usable version."""
    found, env = ffmpeg_libraries.find_all(configure_text, None)
    nvidia_missing = any(m.startswith(ffmpeg_libraries.NVIDIA_PACKAGE) for m in found.missing)
    if nvidia_missing and ffmpeg_libraries.nvidia_specs(configure_text):
        pc_dir = nvidia_headers_from_apt(cache)
        if pc_dir is not None:
            found, env = ffmpeg_libraries.find_all(configure_text, pc_dir)
    changed_env = {"PKG_CONFIG_PATH": env["PKG_CONFIG_PATH"]} if env.get("PKG_CONFIG_PATH") else None
    flags = [*COMMON_FLAGS, *FULL_FLAGS, *found.flags]
    return Profile("full", flags, found.versions, changed_env, found.missing)


def make_profile(name: str, source: Source, cache: Path) -> Profile:
    if name == "full":
        return full_profile(source_configure_text(source, cache), cache)
    zlib = ["--enable-zlib"] if have_zlib() else []  # for the png codecs
    return Profile("minimal", [*MINIMAL_FLAGS, *COMMON_FLAGS, *zlib], [])


def configure_command(src: Path, profile: Profile, env_flags: list[str], extra: list[str]) -> list[str]:
    components = component_flags(src) if profile.name == "minimal" else []
    return [str(src / "configure"), *profile.flags, *env_flags, *components, *extra]


def configure(src: Path, build: Path, command: list[str], env: dict[str, str] | None, lock_fd: int) -> bool:
    """Run configure in the build dir unless the stamp says this command already ran."""
    stamp = build / ".nnvisr-configured"
    prefix = [f"{k}={v}" for k, v in (env or {}).items()]
    text = shlex.join([*prefix, *command]) + "\n"
    configured = (build / "ffbuild" / "config.mak").exists()
    if configured and stamp.is_file() and stamp.read_text() == text:
        return False
    build.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    log = build / "configure.log"
    log.write_text("")
    say(f"configure: {text.strip()}")
    say(f"configuring (log: {log})")
    if not run_logged(command, log, cwd=build, keep_fds=[lock_fd], env=env):
        raise BuildError(f"configure failed (details: {build / 'ffbuild' / 'config.log'})", log)
    stamp.write_text(text)
    return True


def check_nnvisr_enabled(build: Path) -> None:
    """configure silently drops a filter whose deps fail; say so instead of building without it."""
    for name in ("config_components.h", "config.h"):
        path = build / name
        if path.is_file() and re.search(r"#define CONFIG_NNVISR_FILTER 1", path.read_text()):
            return
    raise BuildError(
        "configure did not enable the nnvisr filter (its deps: libdl or LoadLibrary)", build / "configure.log"
    )


# ------------------------------------------------------------ make, install


def make(build: Path, jobs: int, lock_fd: int) -> bool:
    """Build; True when the programs were relinked (False: everything was up to date)."""
    before = [(build / p).stat().st_mtime_ns if (build / p).exists() else 0 for p in INSTALLED_PROGRAMS]
    log = build / "make.log"
    log.write_text("")
    say(f"running make -j{jobs} (log: {log})")
    if not run_logged(["make", f"-j{jobs}"], log, cwd=build, keep_fds=[lock_fd]):
        raise BuildError("make failed", log)
    after = [(build / p).stat().st_mtime_ns for p in INSTALLED_PROGRAMS]
    return before != after


def install(build: Path, prefix: Path) -> Path:
    """Copy the programs (they link FFmpeg's libraries statically) into prefix/bin, and
    ffmpeg_g (with symbols, for valgrind and gdb) into prefix/lib/nnvisr."""
    bindir = prefix / "bin"
    try:
        bindir.mkdir(parents=True, exist_ok=True)
        for name in INSTALLED_PROGRAMS:
            copy_atomic(build / name, bindir / name)
        (prefix / "lib" / "nnvisr").mkdir(parents=True, exist_ok=True)
        copy_atomic(build / "ffmpeg_g", prefix / "lib" / "nnvisr" / "ffmpeg_g")
    except OSError as exc:
        raise BuildError(f"cannot install into {bindir}: {exc}") from None
    return bindir


# ------------------------------------------------------------------ main


def build_relevant_patch(patch: Path) -> bytes:
    """The patch without its doc/ hunks: documentation is not built, so it does not key the cache."""
    sections = re.split(rb"(?m)^(?=diff --git )", patch.read_bytes())
    return b"".join(s for s in sections if not s.startswith(b"diff --git a/doc/"))


def entry_key(source: Source, patches: list[Path], profile: Profile, env_flags: list[str], extra: list[str]) -> str:
    """Hash of everything that makes a build differ, except the filter source itself."""
    digest = hashlib.sha256()
    parts = (PROFILE_REVISION, profile.name, source.digest, *profile.flags, *profile.versions, *env_flags, *extra)
    for part in parts:
        digest.update(part.encode() + b"\0")
    if profile.name == "minimal":
        for kind, names in COMPONENTS.items():
            digest.update(f"{kind}={','.join(names)}\0".encode())
    for patch in patches:
        digest.update(patch.name.encode() + b"\0" + build_relevant_patch(patch))
    return digest.hexdigest()[:12]


def resolve_source(args: argparse.Namespace) -> Source:
    """Debian's source for --series, or the user's --source (whose series must agree)."""
    if args.source is None:
        if args.series in (None, NEWEST):
            return fetch_newest_debian(args.cache)
        return fetch_debian(args.series, args.cache)
    source = user_source(Path(args.source), args.cache)
    if args.series not in (None, NEWEST) and args.series != source.series:
        raise BuildError(
            f"--series {args.series} given, but {args.source} is FFmpeg {source.version} (series {source.series})"
        )
    return source


def check_toolchain(extra: list[str]) -> None:
    """Fail early and clearly rather than deep inside configure's log."""
    if not any(f.startswith("--cc=") for f in extra):
        require_tool(
            "gcc", "install a C compiler (apt-get install build-essential) or pass --extra-configure=--cc=COMPILER"
        )
    require_tool("make", "install it (apt-get install make)")


def build(args: argparse.Namespace) -> str:
    """Fetch, patch, configure, make and install; returns the closing message."""
    extra = shlex.split(args.extra_configure or "")
    check_toolchain(extra)
    filter_sources()
    source = resolve_source(args)
    patches = patch_files(source.series)
    env_flags = environment_flags(args.cache)
    profile = make_profile(args.profile, source, args.cache)
    if profile.missing:
        say(f"note: building without: {', '.join(profile.missing)}")
    key = entry_key(source, patches, profile, env_flags, extra)
    entry = args.cache / f"ffmpeg-{source.version}-{profile.name}-{key}"
    entry.mkdir(parents=True, exist_ok=True)
    with locked(entry / ".lock") as lock_fd:
        src = prepare_tree(source, entry, patches)
        sync_filter_files(src)
        build_dir = entry / "build"
        configure(src, build_dir, configure_command(src, profile, env_flags, extra), profile.env, lock_fd)
        check_nnvisr_enabled(build_dir)
        relinked = make(build_dir, args.jobs, lock_fd)
        bindir = install(build_dir, args.prefix)
    how = "built" if relinked else "reused the existing build"
    return (
        f"installed FFmpeg {source.version} (series {source.series}, {profile.name} profile, from "
        f"{source.origin}) into {bindir}: {how} in {entry}"
    )


def glue_option_values(argv: Sequence[str], options: set[str]) -> list[str]:
    """Turn `--opt VALUE` into `--opt=VALUE` for the given options.

    argparse takes a value that starts with "--" for an option of its own, and
    configure flags always do: `--extra-configure "--enable-libx264"` would
    otherwise fail.
    """
    out: list[str] = []
    pending = ""
    for arg in argv:
        if pending:
            out.append(f"{pending}={arg}")
            pending = ""
        elif arg in options:
            pending = arg
        else:
            out.append(arg)
    if pending:
        out.append(pending)  # let argparse report the missing value
    return out


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Fetch, patch and build FFmpeg with the nnvisr filter.")
    parser.add_argument(
        "--series",
        choices=[*sorted(SERIES), NEWEST],
        help=f"FFmpeg release series (default: {NEWEST}, the newest whose Debian source package verifies; "
        "with --source: the tree's own)",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="full",
        help="full (default): every FFmpeg component plus the external codec libraries present; "
        "minimal: a compact allow-list for test builds (--extra-configure cannot add components to it)",
    )
    parser.add_argument(
        "--prefix",
        required=True,
        type=lambda p: Path(p).expanduser().absolute(),
        help="install ffmpeg and ffprobe into PREFIX/bin",
    )
    parser.add_argument(
        "--source", metavar="PATH", help="FFmpeg source tree or .tar.xz/.tar.gz/.tar.bz2 instead of Debian's"
    )
    parser.add_argument(
        "--cache",
        type=lambda p: Path(p).expanduser().absolute(),
        default=default_cache(),
        help="cache dir (default: $NNVISR_CACHE, $XDG_CACHE_HOME/nnvisr or ~/.cache/nnvisr)",
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="parallel make jobs (default: number of CPUs)"
    )
    parser.add_argument(
        "--extra-configure", metavar="FLAGS", default="", help="extra flags appended to FFmpeg's configure command"
    )
    args = parser.parse_args(glue_option_values(argv, {"--extra-configure"}))
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C: temp dirs are removed and make is stopped."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        args.cache.mkdir(parents=True, exist_ok=True)
        say(build(args))
    except BuildError as exc:
        print(f"{PROG}: error: {exc}" + (f" (log: {exc.log})" if exc.log else ""), file=sys.stderr)
        if exc.log is not None:
            tail = log_tail(exc.log)
            if tail:
                print(f"--- last lines of {exc.log} ---\n{tail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; re-run to continue", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
