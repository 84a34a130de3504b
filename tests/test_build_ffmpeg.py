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
fl = sys.modules["ffmpeg_libraries"]


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


SHOWSRC = """Package: ffmpeg
Version: 7:8.1.2-2
Checksums-Sha256:
 {dsc} 5770 ffmpeg_8.1.2-2.dsc
 {orig} {size} ffmpeg_8.1.2.orig.tar.xz
 {asc} 520 ffmpeg_8.1.2.orig.tar.xz.asc
Directory: pool/main/f/ffmpeg

Package: ffmpeg
Version: 7:9.0.2-4
Checksums-Sha256:
 {dsc} 5822 ffmpeg_9.0.2-4.dsc
 {asc} 12 ffmpeg_9.0.2.orig.tar.xz
Directory: pool/main/f/ffmpeg
"""


def test_upstream_tarball_checked_against_the_source_index(tmp_path: pathlib.Path) -> None:
    payload = b"tarball bytes"
    sha = hashlib.sha256(payload).hexdigest()
    stanzas = bf.source_stanzas(SHOWSRC.format(dsc="a" * 64, orig=sha, size=len(payload), asc="b" * 64))
    assert sorted(stanzas) == ["7:8.1.2-2", "7:9.0.2-4"]
    name = bf.orig_tarball("7:8.1.2-2", stanzas["7:8.1.2-2"])
    assert name == "ffmpeg_8.1.2.orig.tar.xz"  # not the .asc beside it
    wanted = {name: stanzas["7:8.1.2-2"][name]}
    assert bf.verify_files(tmp_path, wanted) == [name]  # missing
    (tmp_path / name).write_bytes(payload)
    assert bf.verify_files(tmp_path, wanted) == []
    (tmp_path / name).write_bytes(payload + b"!")
    assert bf.verify_files(tmp_path, wanted) == [name]


@pytest.mark.parametrize(("major", "series"), [(10, "7.1"), (11, "8.1"), (12, "9.0")])
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
    (tmp_path / "libavfilter" / "version_major.h").write_text("#define LIBAVFILTER_VERSION_MAJOR 13\n")
    with pytest.raises(bf.BuildError, match="libavfilter major 13"):
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
        assert '+nnvisr_filter_deps="swscale"' in text  # the filter converts pixel formats itself


def _source(tmp_path: pathlib.Path, configure_text: str) -> object:
    tree = tmp_path / "tree"
    tree.mkdir(parents=True)
    (tree / "configure").write_text(configure_text)
    return bf.Source(series="9.0", version="9.0.2", digest="0" * 64, tree=tree)


def test_full_profile_has_no_allow_list_and_keeps_extra_flags(tmp_path: pathlib.Path) -> None:
    """Whatever --extra-configure enables must not be disabled underneath (the allow-list is the minimal profile's)."""
    profile = bf.make_profile("full", _source(tmp_path, "# empty configure\n"), tmp_path / "cache")
    assert "--disable-everything" not in profile.flags and "--enable-gpl" in profile.flags
    command = bf.configure_command(tmp_path, profile, [], ["--enable-libzimg"])
    assert command[-1] == "--enable-libzimg" and not any(f.startswith("--enable-encoder=") for f in command)
    minimal = bf.make_profile("minimal", _source(tmp_path / "m", ""), tmp_path / "cache")
    assert minimal.flags[0] == "--disable-everything"


def test_library_minimum_versions_come_from_configure() -> None:
    text = (
        'enabled libsvtav1 && require_pkg_config libsvtav1 "SvtAv1Enc >= 0.9.0" EbSvtAv1Enc.h x\n'
        "enabled libx265 && require_pkg_config libx265 x265 x265.h x265_api_get\n"
        'check_pkg_config libvpx_vp9_encoder "vpx >= 1.4.0" "vpx/vpx_encoder.h" x\n'
        'check_pkg_config ffnvcodec "ffnvcodec >= 12.1.14.0" "$h" ""\n'
        'check_pkg_config ffnvcodec "ffnvcodec >= 11.1.5.3 ffnvcodec < 12.0" "$h" ""\n'
    )
    libraries = {lib.flag: lib for lib in fl.EXTERNAL}
    assert fl.required_spec(text, libraries["libsvtav1"]) == "SvtAv1Enc >= 0.9.0"
    assert fl.required_spec(text, libraries["libx265"]) == "x265"
    assert fl.required_spec(text, libraries["libvpx"]) == "vpx >= 1.4.0"
    assert fl.nvidia_specs(text) == ["ffnvcodec >= 12.1.14.0", "ffnvcodec >= 11.1.5.3 ffnvcodec < 12.0"]


def test_documentation_hunks_do_not_key_the_cache(tmp_path: pathlib.Path) -> None:
    """Docs are not built (--disable-doc): a help text edit must not cost a full rebuild."""
    (patch,) = bf.patch_files("9.0")
    edited = tmp_path / patch.name
    edited.write_text(patch.read_text().replace("@section nnvisr", "@section nnvisr (edited)"))
    assert edited.read_text() != patch.read_text()
    assert bf.build_relevant_patch(edited) == bf.build_relevant_patch(patch)
    assert b"diff --git a/configure" in bf.build_relevant_patch(patch)
