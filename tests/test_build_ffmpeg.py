"""tools/build_ffmpeg.py: the parts that need neither the network nor a compiler."""

from __future__ import annotations

import hashlib
import importlib.util
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_ffmpeg", ROOT / "tools" / "build_ffmpeg.py")
assert _spec is not None and _spec.loader is not None
bf = importlib.util.module_from_spec(_spec)
sys.modules["build_ffmpeg"] = bf  # dataclasses look their module up there
_spec.loader.exec_module(bf)


def _etc(tmp_path: pathlib.Path, sources_list: str = "", **parts: str) -> pathlib.Path:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list").write_text(sources_list)
    for name, text in parts.items():
        (etc / "sources.list.d" / name.replace("_", ".")).write_text(text)
    return etc


def test_mirrors_from_deb822_skip_security_and_third_party(tmp_path: pathlib.Path) -> None:
    etc = _etc(
        tmp_path,
        debian_sources=(
            "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\n"
            "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
            "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\n"
            "Components: main\n\n"
            "Types: deb\nURIs: https://vendor.invalid/linux/debian\nSuites: bookworm\nComponents: stable\n"
            "Signed-By: /etc/apt/keyrings/vendor.asc\n\n"
            "Types: deb\nURIs: http://off.invalid/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n"
        ),
        node_sources="Types: deb\nURIs: https://node.invalid/node_20.x\nSuites: nodistro\nComponents: main\n",
    )
    assert bf.debian_mirrors(etc) == [
        ("http://mirror.invalid/debian", "/usr/share/keyrings/debian-archive-keyring.gpg")
    ]


def test_mirrors_from_one_line_lists(tmp_path: pathlib.Path) -> None:
    etc = _etc(
        tmp_path,
        "# comment\ndeb [arch=amd64] http://a.invalid/debian/ bookworm main contrib\n"
        "deb-src http://b.invalid/debian bookworm main\n"
        "deb http://a.invalid/debian-security bookworm-security main\n",
        extra_list="deb http://c.invalid/debian bookworm main\n",
        ignored_list_disabled="deb http://d.invalid/debian bookworm main\n",
    )
    assert bf.debian_mirrors(etc) == [("http://a.invalid/debian", ""), ("http://c.invalid/debian", "")]


def test_no_debian_sources_on_ubuntu(tmp_path: pathlib.Path) -> None:
    etc = _etc(
        tmp_path, ubuntu_sources="Types: deb\nURIs: http://archive.invalid/ubuntu\nSuites: noble\nComponents: main\n"
    )
    assert bf.debian_mirrors(etc) == []


def test_upstream_version() -> None:
    assert bf.upstream_version("7:8.1.2-2") == "8.1.2"
    assert bf.upstream_version("7:7.1.5-0+deb13u1") == "7.1.5"
    assert bf.upstream_version("8.1.2") == "8.1.2"


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")
def test_newest_version_compares_like_dpkg() -> None:
    assert bf.newest_version(["7:8.1.2-2", "7:8.1.10-1", "7:8.1.2-10"]) == "7:8.1.10-1"


def test_dsc_checksums_verify(tmp_path: pathlib.Path) -> None:
    payload = b"tarball bytes"
    (tmp_path / "ffmpeg_8.1.2.orig.tar.xz").write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    dsc = tmp_path / "ffmpeg_8.1.2-2.dsc"
    dsc.write_text(
        "Format: 3.0 (quilt)\nChecksums-Sha1:\n 00 1 x\nChecksums-Sha256:\n"
        f" {sha} {len(payload)} ffmpeg_8.1.2.orig.tar.xz\nFiles:\n d41d 1 x\n"
    )
    source = bf.verified_debian_source("8.1", "7:8.1.2-2", dsc, tmp_path / "log")
    assert (source.version, source.digest, source.tarball.name) == ("8.1.2", sha, "ffmpeg_8.1.2.orig.tar.xz")
    (tmp_path / "ffmpeg_8.1.2.orig.tar.xz").write_bytes(payload + b"!")
    with pytest.raises(bf.BuildError, match="checksum mismatch"):
        bf.verified_debian_source("8.1", "7:8.1.2-2", dsc, tmp_path / "log")


@pytest.mark.parametrize(("major", "series"), [(10, "7.1"), (11, "8.1")])
def test_series_from_tree_and_tarball(tmp_path: pathlib.Path, major: int, series: str) -> None:
    tree = tmp_path / "ffmpeg-x"
    (tree / "libavfilter").mkdir(parents=True)
    (tree / "libavfilter" / "version_major.h").write_text(f"#define LIBAVFILTER_VERSION_MAJOR  {major}\n")
    (tree / "RELEASE").write_text(f"{series}.git\n")
    assert bf.tree_series(tree) == (series, f"{series}.git")
    tarball = tmp_path / "src.tar.gz"
    subprocess.run(["tar", "-czf", str(tarball), "-C", str(tmp_path), "ffmpeg-x"], check=True)
    assert bf.tarball_series(tarball, "0" * 64, tmp_path / "cache") == (series, f"{series}.git")


def test_unsupported_series(tmp_path: pathlib.Path) -> None:
    (tmp_path / "libavfilter").mkdir()
    (tmp_path / "libavfilter" / "version_major.h").write_text("#define LIBAVFILTER_VERSION_MAJOR 12\n")
    with pytest.raises(bf.BuildError, match="libavfilter major 12"):
        bf.tree_series(tmp_path)


def test_extra_configure_value_may_start_with_dashes() -> None:
    args = bf.parse_args(["--series", "7.1", "--prefix", "/tmp/p", "--extra-configure", "--enable-gpl --enable-x"])
    assert args.extra_configure == "--enable-gpl --enable-x"


def test_patches_touch_only_the_build_files() -> None:
    for series in bf.SERIES:
        (patch,) = bf.patch_files(series)
        touched = {line.split()[-1][2:] for line in patch.read_text().splitlines() if line.startswith("diff --git")}
        assert touched == {"configure", "libavfilter/Makefile", "libavfilter/allfilters.c", "doc/filters.texi"}
        text = patch.read_text()
        kind = "FFFilter" if bf.SERIES[series][1] >= 11 else "AVFilter"
        assert f"+extern const {kind} ff_vf_nnvisr;" in text
        assert '+nnvisr_filter_deps_any="libdl LoadLibrary"' in text
