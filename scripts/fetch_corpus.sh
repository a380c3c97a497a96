#!/usr/bin/env bash
# Fetch the real-audio test corpus into build/corpus/ (gitignored; never committed):
#   speech/          40 US-English speech prompts (~3 min), 16 kHz WAV, decoded from the Debian
#                    package asterisk-core-sounds-en-g722 (G.722; licence in its copyright file)
#   noise/keyboard/  real mechanical-keyboard key sounds, WAV, from bucklespring-data (GPL-2+)
# Packages come through `apt-get download` (no install); `apt-get update` runs only if that fails.
# Idempotent: returns at once when the corpus is complete.
#   Usage: scripts/fetch_corpus.sh      env: PYTHON (default .venv/bin/python), SPANDEX_CORPUS
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORPUS="${SPANDEX_CORPUS:-$REPO/build/corpus}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
SPEECH_PKG=asterisk-core-sounds-en-g722
NOISE_PKG=bucklespring-data
SPEECH_COUNT=40
STAMP="$CORPUS/.complete-v1"

if [[ -f "$STAMP" ]] \
    && [[ "$(find "$CORPUS/speech" -name '*.wav' | wc -l)" -eq "$SPEECH_COUNT" ]] \
    && [[ -n "$(find "$CORPUS/noise/keyboard" -name '*.wav' -print -quit)" ]]; then
    echo "corpus already present in $CORPUS"
    exit 0
fi

DEBS="$CORPUS/cache/debs"
UNPACKED="$CORPUS/cache/unpacked"
mkdir -p "$DEBS" "$UNPACKED"

download() {  # download PACKAGE into $DEBS unless a .deb of it is already there
    local pkg="$1"
    if compgen -G "$DEBS/${pkg}_*.deb" >/dev/null; then return 0; fi
    if ! (cd "$DEBS" && apt-get download "$pkg"); then
        echo "apt-get download $pkg failed; running apt-get update and retrying" >&2
        apt-get update -qq
        (cd "$DEBS" && apt-get download "$pkg")
    fi
}

for pkg in "$SPEECH_PKG" "$NOISE_PKG"; do
    download "$pkg"
    if [[ ! -d "$UNPACKED/$pkg" ]]; then
        rm -rf "$UNPACKED/$pkg.partial"
        dpkg-deb -x "$(compgen -G "$DEBS/${pkg}_*.deb" | head -n 1)" "$UNPACKED/$pkg.partial"
        mv "$UNPACKED/$pkg.partial" "$UNPACKED/$pkg"
    fi
done

rm -rf "$CORPUS/speech" "$CORPUS/noise/keyboard"
"$PYTHON" "$REPO/scripts/decode_g722.py" \
    "$UNPACKED/$SPEECH_PKG/usr/share/asterisk/sounds/en_US_f_Allison" "$CORPUS/speech" \
    --count "$SPEECH_COUNT"
mkdir -p "$CORPUS/noise/keyboard"
cp "$UNPACKED/$NOISE_PKG"/usr/share/buckle/wav/*.wav "$CORPUS/noise/keyboard/"
touch "$STAMP"
echo "corpus ready in $CORPUS"
