#!/usr/bin/env bash
# Set up nnvisr with FFmpeg 9.0 (full profile, .venv/bin/ffmpeg), 8.1 and 7.1 (minimal profile), then run the
# whole test suite; NNVISR_SERIES picks other series (the first one is the full build).
# Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/setup.sh --test --series "${NNVISR_SERIES:-9.0 8.1 7.1}"

echo
echo "== ruff"
.venv/bin/ruff check nnvisr_core tests tools bench ffmpeg_filter training
echo
echo "== pytest"
# Run one after another, the cases keep about one core busy (most wait on an ffmpeg process), so one pytest worker
# per core (at most 4) runs the suite in about two thirds of the time on 2 cores. Each test file stays on one
# worker, so that its module fixtures are built once.
workers=$(( $(nproc) < 4 ? $(nproc) : 4 ))
NNVISR_REQUIRE_FFMPEG=1 .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
