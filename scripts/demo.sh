#!/usr/bin/env bash
# Set up nnvisr, then upscale a real sample clip x2 with the bundled default model.
# The sample (Big Buck Bunny, 1280x720) is first brought down to 640x360, as standard-definition material would be;
# the result is out/demo.mkv (1280x720, FFV1, lossless, yuv420p like the source); out/demo-lanczos.mkv is the
# classic scaler on the same input, for comparison.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/setup.sh "$@"

sample=$(.venv/bin/python tools/sample_clip.py bigbuckbunny.mp4)
mkdir -p out
echo
echo "== upscaling $sample x2 with nnvisr (bundled default model)"
.venv/bin/ffmpeg -hide_banner -nostdin -y -loglevel warning -stats -i "$sample" -t 4 \
  -vf scale=640:360:flags=area,scdet,nnvisr -c:v ffv1 -pix_fmt yuv420p -an out/demo.mkv
.venv/bin/ffmpeg -hide_banner -nostdin -y -loglevel error -i "$sample" -t 4 \
  -vf scale=640:360:flags=area,scale=1280:720:flags=lanczos -c:v ffv1 -pix_fmt yuv420p -an out/demo-lanczos.mkv
echo
echo "input:  $(.venv/bin/ffprobe -v error -select_streams v:0 -show_entries stream=width,height,nb_frames -of csv=p=0 "$sample")"
echo "output: $(.venv/bin/ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=width,height,nb_read_frames -of csv=p=0 out/demo.mkv) -> out/demo.mkv"
