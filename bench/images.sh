#!/usr/bin/env bash
# One 12-megapixel JPEG through our upload pipeline, side by side with
# ImageMagick doing the same work on the same file (SPEC §8):
#
#   bench/images.sh          # N=10 runs each; needs `apt-get install imagemagick`
#
# The photo is made by ImageMagick (4032 × 3024, a plasma fractal: detail
# everywhere, like a photo and unlike a flat test card), saved at quality
# 92 with an EXIF orientation of 6 (a phone held upright). Ours is
# BenchmarkImagePipeline on that file; ImageMagick's is
#   convert in.jpg -auto-orient -strip -resize '2048x2048>' -quality 85 -write display.jpg \
#           -thumbnail '400x400>' thumb.jpg
# timed N times as a whole command. Both use the machine's cores (Go's
# resize runs on every core, as ImageMagick's OpenMP does).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/run/images
N=${N:-10}
mkdir -p "$WORK"
command -v convert >/dev/null && convert -version | grep -q ImageMagick ||
  { echo "ImageMagick is needed: apt-get install imagemagick" >&2; exit 2; }
in=$WORK/in.jpg
if [ ! -s "$in" ]; then
  convert -size 4032x3024 -seed 7 plasma:fractal -quality 92 "$WORK/plain.jpg"
  # A phone's EXIF segment, right after SOI: orientation 6 and a GPS IFD
  # (ImageMagick writes no orientation for an image without EXIF).
  python3 - "$WORK/plain.jpg" "$in" <<'PY'
import struct, sys
src = open(sys.argv[1], 'rb').read()
ifd0 = struct.pack('>H', 2) + struct.pack('>HHII', 0x0112, 3, 1, 6 << 16) + struct.pack('>HHII', 0x8825, 4, 1, 38) + struct.pack('>I', 0)
gps = struct.pack('>H', 1) + struct.pack('>HHII', 0x0001, 2, 2, ord('N') << 24) + struct.pack('>I', 0)
tiff = b'MM\x00\x2a' + struct.pack('>I', 8) + ifd0 + gps
payload = b'Exif\x00\x00' + tiff
open(sys.argv[2], 'wb').write(src[:2] + b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload + src[2:])
PY
fi
echo "== input: $(identify -format '%w x %h, orientation %[orientation], ' "$in")$(du -h "$in" | cut -f1)"

echo "== ours (go test -bench ImagePipeline, MEDIA_BENCH_IMAGE=$in)"
ours=$(cd "$ROOT" && MEDIA_BENCH_IMAGE=$in go test -run '^$' -bench ImagePipeline -benchtime "${N}x" -benchmem ./bench/ |
  tee /dev/stderr | awk '/BenchmarkImagePipeline/ {print $3 / 1e6}')

echo "== ImageMagick $(convert -version | head -1 | awk '{print $3}')"
t0=$(date +%s.%N)
for _ in $(seq 1 "$N"); do
  convert "$in" -auto-orient -strip -resize '2048x2048>' -quality 85 -write "$WORK/display.jpg" \
    -thumbnail '400x400>' "$WORK/thumb.jpg"
done
im=$(echo "($(date +%s.%N) - $t0) * 1000 / $N" | bc -l)
identify "$WORK/display.jpg" "$WORK/thumb.jpg"
{
  echo "commit $(git -C "$ROOT" rev-parse --short HEAD), $(date -u +%F), $(nproc) cores, $N runs each"
  printf 'ours:        %.0f ms per image\n' "$ours"
  printf 'ImageMagick: %.0f ms per image\n' "$im"
  printf 'ratio ours / ImageMagick: %.2f\n' "$(echo "$ours / $im" | bc -l)"
} | tee "$WORK/results.txt"
