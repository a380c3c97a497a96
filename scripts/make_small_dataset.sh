#!/usr/bin/env bash
# A small dataset for trying `spandex prune` / the app's Prune tab in a minute — not for training a good
# model (use scripts/build_training_data.sh for that). Made from the test corpus (scripts/fetch_corpus.sh:
# 40 US-English prompts and real keyboard sounds, ~10 MB of Debian packages) and the shipped noise beds:
#   training:   prompts 1-30, keyboard typing + café noise (+ generated noise)
#   validation: prompts 31-40 (the same voice: a toy split), babble
# 64 training and 8 validation clips of 4 s, built by `spandex data build` in a few seconds.
#   Usage: scripts/make_small_dataset.sh [OUT]   (default build/data/small)
#   env: PYTHON (default .venv/bin/python), SPANDEX_CORPUS (default build/corpus)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# relative paths given by the caller are read from the caller's working folder (the build below runs in $REPO)
from_here() { realpath -ms -- "$1"; }  # absolute, '..' folded, links kept as named
OUT="$(from_here "${1:-$REPO/build/data/small}")"
CORPUS="$(from_here "${SPANDEX_CORPUS:-$REPO/build/corpus}")"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
elif [[ "$PYTHON" == */* ]]; then
    PYTHON="$(from_here "$PYTHON")"
fi
SPANDEX_CORPUS="$CORPUS" PYTHON="$PYTHON" "$REPO/scripts/fetch_corpus.sh" >/dev/null

# The sources as links in a folder of the corpus that stays where it is: the dataset's manifest names them, so a rerun
# finds its splits made from the same files (kept, and a run on it resumes; a temporary folder made them new each time)
SOURCES="$CORPUS/small-dataset-sources"
rm -rf "$SOURCES"
mkdir -p "$SOURCES"/speech/prompts-1-30 "$SOURCES"/val-speech/prompts-31-40 \
         "$SOURCES"/noise/keyboard "$SOURCES"/noise/cafe "$SOURCES"/val-noise/babble
mapfile -t prompts < <(find "$CORPUS/speech" -name '*.wav' | sort)
for i in "${!prompts[@]}"; do
    if (( i < 30 )); then target="$SOURCES/speech/prompts-1-30"; else target="$SOURCES/val-speech/prompts-31-40"; fi
    ln -s "${prompts[$i]}" "$target/"
done
find "$CORPUS/noise/keyboard" -name '*.wav' -exec ln -s {} "$SOURCES/noise/keyboard/" \;
ln -s "$REPO/assets/noise/cafe.flac" "$SOURCES/noise/cafe/"
ln -s "$REPO/assets/noise/babble.flac" "$SOURCES/val-noise/babble/"

cd "$REPO"
"$PYTHON" -m cli.main data build "$OUT" --speech "$SOURCES/speech" --noise "$SOURCES/noise" \
    --val-speech "$SOURCES/val-speech" --val-noise "$SOURCES/val-noise" \
    --train-clips 64 --val-clips 8 --clip-seconds 4
