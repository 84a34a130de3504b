#!/usr/bin/env bash
# Set up nnvisr, then upscale a real sample clip x2 with the bundled default model.
# The sample (Big Buck Bunny, 1280x720, with its AAC audio) is first brought down to 640x360, as standard-definition
# material would be; the result is out/demo.mp4 (1280x720 H.264, yuv420p like the source, the source's audio
# copied); out/demo-lanczos.mp4 is the classic scaler on the same input, for comparison.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/setup.sh "$@"

sample=$(.venv/bin/python tools/sample_clip.py bigbuckbunny.mp4)
mkdir -p out
echo
echo "== upscaling $sample x2 with nnvisr (bundled default model)"
.venv/bin/ffmpeg -hide_banner -nostdin -y -loglevel warning -stats -i "$sample" -t 4 \
  -vf scale=640:360:flags=area,scdet,nnvisr -c:v libx264 -crf 18 -c:a copy out/demo.mp4
.venv/bin/ffmpeg -hide_banner -nostdin -y -loglevel error -i "$sample" -t 4 \
  -vf scale=640:360:flags=area,scale=1280:720:flags=lanczos -c:v libx264 -crf 18 -c:a copy out/demo-lanczos.mp4
echo
probe() { .venv/bin/ffprobe -v error -count_frames -show_entries stream=codec_name,width,height,nb_read_frames -of csv=p=0 "$1" | paste -sd' ' -; }
echo "input:  $(probe "$sample")"
echo "output: $(probe out/demo.mp4) -> out/demo.mp4"
