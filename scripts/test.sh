#!/usr/bin/env bash
# Set up nnvisr with FFmpeg 7.1 and 8.1, then run the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/setup.sh --test --series "${NNVISR_SERIES:-7.1 8.1}"

echo
echo "== ruff"
.venv/bin/ruff check nnvisr_core tests tools bench ffmpeg_filter training
echo
echo "== pytest"
NNVISR_REQUIRE_FFMPEG=1 .venv/bin/python -m pytest "$@"
