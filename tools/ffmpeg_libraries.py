"""External libraries of the full FFmpeg profile: which are present, and in which versions.

A library is enabled only when it is present in a version the FFmpeg tree's own
configure accepts (its minimum is read from the configure script), so that a
machine without some -dev package still gets a working build, and a clear list
of what was left out. The versions found go into the cache key: a build made
against x265 3.5 is not reused after an upgrade to 4.1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Library:
    """One library configure can use, and how to find it on this machine."""

    flag: str  # configure's name for it: --enable-<flag>
    package: str  # Debian's -dev package
    module: str = ""  # pkg-config module; empty: found by compiling against header and lib
    header: str = ""
    lib: str = ""


# What real deliveries need: H.264/HEVC/AV1/VP9 encoders, AV1 decoding, Opus and MP3, drawtext.
EXTERNAL = (
    Library("libx264", "libx264-dev", module="x264"),
    Library("libx265", "libx265-dev", module="x265"),
    Library("libsvtav1", "libsvtav1enc-dev", module="SvtAv1Enc"),
    Library("libdav1d", "libdav1d-dev", module="dav1d"),
    Library("libvpx", "libvpx-dev", module="vpx"),
    Library("libopus", "libopus-dev", module="opus"),
    Library("libmp3lame", "libmp3lame-dev", header="lame/lame.h", lib="-lmp3lame"),
    # drawtext needs FreeType and HarfBuzz; fontconfig lets it take font names (font=...)
    Library("libfreetype", "libfreetype-dev", module="freetype2"),
    Library("libharfbuzz", "libharfbuzz-dev", module="harfbuzz"),
    Library("libfontconfig", "libfontconfig-dev", module="fontconfig"),
)

# Compression libraries some formats need (PNG, TIFF, compressed Matroska tracks).
SYSTEM = (
    Library("zlib", "zlib1g-dev", header="zlib.h", lib="-lz"),
    Library("bzlib", "libbz2-dev", header="bzlib.h", lib="-lbz2"),
    Library("lzma", "liblzma-dev", header="lzma.h", lib="-llzma"),
)

# NVIDIA's codec headers: with them FFmpeg loads the driver's libraries at run time
# (NVDEC, NVENC, CUDA frames); nothing of NVIDIA's is linked or needed at build time.
NVIDIA_PACKAGE = "libffmpeg-nvenc-dev"
NVIDIA_FLAGS = ("--enable-ffnvcodec", "--enable-cuvid", "--enable-nvdec", "--enable-nvenc")

# Every -dev package setup installs for the full profile.
PACKAGES = tuple(lib.package for lib in (*EXTERNAL, *SYSTEM)) + (NVIDIA_PACKAGE, "pkg-config")


@dataclass
class Found:
    """The outcome of the search: configure flags, versions for the cache key, what is missing."""

    flags: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "package (why)"


def pkg_config(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pkg-config", *args], capture_output=True, text=True, env=dict(env), check=False)


def compiles(header: str, lib: str) -> bool:
    """True when a program including header links against lib."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return False
    program = f"#include <{header}>\nint main(void) {{ return 0; }}\n".encode()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [cc, "-x", "c", "-", "-o", str(Path(tmp, "a.out")), lib], input=program, capture_output=True, check=False
        )
    return proc.returncode == 0


def package_version(package: str) -> str:
    """The installed Debian package's version (for the cache key of header-found libraries)."""
    if shutil.which("dpkg-query") is None:
        return "present"
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "present"


def required_spec(configure_text: str, library: Library) -> str:
    """The pkg-config requirement configure applies to the library, e.g. 'SvtAv1Enc >= 0.9.0'."""
    match = re.search(rf'require_pkg_config\s+{library.flag}\s+("[^"]+"|\S+)', configure_text)
    if match:
        return match.group(1).strip('"')
    match = re.search(rf'check_pkg_config\s+{library.flag}\w*\s+"({re.escape(library.module)}\b[^"]*)"', configure_text)
    return match.group(1) if match else library.module


def find_library(library: Library, configure_text: str, env: Mapping[str, str], found: Found) -> None:
    if library.module:
        spec = required_spec(configure_text, library)
        if pkg_config(["--exists", spec], env).returncode == 0:
            version = pkg_config(["--modversion", library.module], env).stdout.strip()
            found.flags.append(f"--enable-{library.flag}")
            found.versions.append(f"{library.module}={version}")
        else:
            have = pkg_config(["--modversion", library.module], env).stdout.strip()
            why = f"{have} is older than this FFmpeg needs: {spec}" if have else "not installed"
            found.missing.append(f"{library.package} ({why})")
    elif compiles(library.header, library.lib):
        found.flags.append(f"--enable-{library.flag}")
        found.versions.append(f"{library.package}={package_version(library.package)}")
    else:
        found.missing.append(f"{library.package} (not installed)")


def nvidia_specs(configure_text: str) -> list[str]:
    """The ffnvcodec versions this FFmpeg accepts, one requirement per supported SDK line."""
    return re.findall(r'check_pkg_config\s+ffnvcodec\s+"([^"]+)"', configure_text)


def nvidia_version(configure_text: str, env: Mapping[str, str]) -> str:
    """Version of the NVIDIA codec headers pkg-config finds, if this FFmpeg accepts it; else ''."""
    if not any(pkg_config(["--exists", spec], env).returncode == 0 for spec in nvidia_specs(configure_text)):
        return ""
    return pkg_config(["--modversion", "ffnvcodec"], env).stdout.strip()


def find_all(configure_text: str, nvidia_pc_dir: Path | None) -> tuple[Found, dict[str, str]]:
    """Flags for every library present in a usable version, and the environment configure needs.

    configure_text: the FFmpeg tree's configure script, whose checks say which versions it accepts.
    nvidia_pc_dir: a pkg-config dir with newer NVIDIA headers, used when the system's are
    missing or too old (they are headers only, so they can live in the cache).
    """
    env = dict(os.environ)
    found = Found()
    if shutil.which("pkg-config") is None:
        found.missing.append("pkg-config (not installed: no external library can be found)")
        return found, env
    for library in SYSTEM + EXTERNAL:
        find_library(library, configure_text, env, found)
    version = nvidia_version(configure_text, env)
    if not version and nvidia_pc_dir is not None:
        env["PKG_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(nvidia_pc_dir), env.get("PKG_CONFIG_PATH")]))
        version = nvidia_version(configure_text, env)
    if version:
        found.flags += NVIDIA_FLAGS
        found.versions.append(f"ffnvcodec={version}")
    else:
        have = pkg_config(["--modversion", "ffnvcodec"], env).stdout.strip()
        why = f"{have} is older than this FFmpeg needs" if have else "not installed"
        found.missing.append(f"{NVIDIA_PACKAGE} ({why}; no NVDEC/NVENC/CUDA)")
    return found, env


if __name__ == "__main__":
    print("\n".join(PACKAGES))  # for scripts/setup.sh
