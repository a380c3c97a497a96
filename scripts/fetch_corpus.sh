#!/usr/bin/env bash
# Fetch real test audio from Debian packages into build/corpus/ (gitignored; never committed).
#   scripts/fetch_corpus.sh            the test corpus:
#     speech/          40 US-English speech prompts (~5 min), 16 kHz WAV, decoded from the Debian
#                      package asterisk-core-sounds-en-g722 (G.722; licence in its copyright file)
#     noise/keyboard/  real mechanical-keyboard key sounds, WAV, from bucklespring-data (GPL-2+)
#   scripts/fetch_corpus.sh unseen     audio that no dataset split uses (scripts/collect_debian_audio.py),
#                                      for "denoises unseen audio" tests:
#     unseen/speech/   24 Russian prompts, one professional voice (Maxim Topal), 16 kHz WAV, decoded from
#                      asterisk-core-sounds-ru-g722 (CC-BY-3.0)
#     unseen/noise/    real fire, water, lava, furnace, mine-cart and footstep recordings (OGG) from
#                      minetest-data (CC-BY-SA-3.0 and others, see its copyright file)
# Packages come through `apt-get download` (no install); `apt-get update` runs only if that fails.
# Idempotent: returns at once when the set is complete.
#   Usage: scripts/fetch_corpus.sh [unseen]      env: PYTHON (default .venv/bin/python), SPANDEX_CORPUS
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORPUS="${SPANDEX_CORPUS:-$REPO/build/corpus}"
SET="${1:-main}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
case "$SET" in
    main)
        SPEECH_PKG=asterisk-core-sounds-en-g722
        SPEECH_DIR=usr/share/asterisk/sounds/en_US_f_Allison
        SPEECH_COUNT=40
        SPEECH_ARGS=()
        NOISE_PKG=bucklespring-data
        SPEECH_OUT="$CORPUS/speech"
        NOISE_OUT="$CORPUS/noise/keyboard"
        STAMP="$CORPUS/.complete-v1"
        ;;
    unseen)
        SPEECH_PKG=asterisk-core-sounds-ru-g722
        SPEECH_DIR=usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU
        SPEECH_COUNT=24
        SPEECH_ARGS=(--exclude tt-monkeys)  # screaming monkeys, not speech
        NOISE_PKG=minetest-data
        SPEECH_OUT="$CORPUS/unseen/speech"
        NOISE_OUT="$CORPUS/unseen/noise"
        STAMP="$CORPUS/unseen/.complete-v2"
        ;;
    *)
        echo "usage: $0 [unseen]  (unknown set: $SET)" >&2
        exit 2
        ;;
esac

if [[ -f "$STAMP" ]] \
    && [[ "$(find "$SPEECH_OUT" -name '*.wav' | wc -l)" -eq "$SPEECH_COUNT" ]] \
    && [[ -n "$(find "$NOISE_OUT" -type f -print -quit)" ]]; then
    echo "corpus ($SET) already present in $CORPUS"
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

rm -rf "$SPEECH_OUT" "$NOISE_OUT"
"$PYTHON" "$REPO/scripts/decode_g722.py" "$UNPACKED/$SPEECH_PKG/$SPEECH_DIR" "$SPEECH_OUT" --count "$SPEECH_COUNT" \
    "${SPEECH_ARGS[@]}"
mkdir -p "$NOISE_OUT"
if [[ "$SET" == main ]]; then
    cp "$UNPACKED/$NOISE_PKG"/usr/share/buckle/wav/*.wav "$NOISE_OUT/"
else
    # the longer ambient recordings; short clicks and UI sounds are left out
    find "$UNPACKED/$NOISE_PKG/usr/share/games/minetest/games/minetest_game/mods" -type f \
        \( -name 'env_sounds_*.ogg' -o -name 'fire_*.ogg' -o -name 'default_furnace_active.ogg' \
        -o -name 'carts_cart_moving.*.ogg' -o -name 'default_*_footstep.*.ogg' \) \
        -exec cp {} "$NOISE_OUT/" \;
fi
touch "$STAMP"
echo "corpus ($SET) ready in $CORPUS"
