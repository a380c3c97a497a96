#!/usr/bin/env bash
# Train the shipped lineup from scratch data to assets/models, as it was made (see docs on training):
#   1. spandex-dense: the official N-DNS baseline fine-tuned on fresh mixtures (configs/spandex-dense.yaml);
#   2. spandex-prune50 / -prune75 / -prune90: global GMP from spandex-dense (Adam 3e-3 -> 3e-4); the 75 % one
#      also learns its delta thresholds under L1 activity regularisation, to cut SynOps as well as weights;
#   3. spandex-frugal: spandex-prune75 fine-tuned with strong activity regularisation and learned thresholds.
# Each step resumes where it stopped when run again (its run folder keeps a checkpoint); finished steps are
# skipped. Needs the dataset of scripts/build_training_data.sh. About 1 h on 2 cores.
#   Usage: scripts/train_lineup.sh            env: DATASET (default build/data/debian), RUNS (build/runs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DATASET=${DATASET:-build/data/debian}
RUNS=${RUNS:-build/runs}
SPANDEX=(.venv/bin/python -m cli.main)

install() {  # run folder, model name: copy the finished model and its card into assets/models
    cp "$1/$2.net" "assets/models/$2.net.tmp" && mv "assets/models/$2.net.tmp" "assets/models/$2.net"
    cp "$1/$2.json" "assets/models/$2.json.tmp" && mv "assets/models/$2.json.tmp" "assets/models/$2.json"
}

step() {  # name, command...: run a training step unless its model is already finished
    local name=$1; shift
    if [[ -f "$RUNS/$name/$name.net" ]]; then echo "$name: finished before"; else "$@"; fi
    install "$RUNS/$name" "$name"
}

step spandex-dense "${SPANDEX[@]}" train configs/spandex-dense.yaml --dataset "$DATASET" --out "$RUNS/spandex-dense"
# the app's default, A/B'd against the cheaper ones (the library reads "default" and "ab_with" from the card)
.venv/bin/python - <<'PY'
import json, pathlib
card = pathlib.Path("assets/models/spandex-dense.json")
data = json.loads(card.read_text())
data.update(default=True, ab_with=["spandex-prune75", "spandex-frugal"],
            notes="The official N-DNS baseline (Intel, MIT) fine-tuned by SPANDEX on fresh mixtures: "
                  "configs/spandex-dense.yaml, scripts/train_lineup.sh.")
card.write_text(json.dumps(data, indent=2))
PY
PRUNE=(--config configs/lineup-finetune.yaml --dataset "$DATASET" --no-install)
step spandex-prune50 "${SPANDEX[@]}" prune assets/models/spandex-dense.net --sparsity 0.5 "${PRUNE[@]}" \
    --name spandex-prune50 --out "$RUNS/spandex-prune50" & first=$!
step spandex-prune90 "${SPANDEX[@]}" prune assets/models/spandex-dense.net --sparsity 0.9 "${PRUNE[@]}" \
    --name spandex-prune90 --out "$RUNS/spandex-prune90" & second=$!
wait "$first"; wait "$second"
step spandex-prune75 "${SPANDEX[@]}" prune assets/models/spandex-dense.net --sparsity 0.75 "${PRUNE[@]}" \
    --reg-weight 30 --train-thresholds --name spandex-prune75 --out "$RUNS/spandex-prune75"
# frugal: chosen on the validation split among prune75 + L1 λ = 60 / 100 / 130 (10.23 dB at 3.42 M-Ops/s,
# 10.03 at 3.07, 9.76 at 2.81) and prune90 + λ = 150 (9.54 at 2.28): the best SI-SNR at <= 3 M-Ops/s
step spandex-frugal "${SPANDEX[@]}" finetune assets/models/spandex-prune75.net --reg-weight 130 --train-thresholds \
    "${PRUNE[@]}" --threads 2 --name spandex-frugal --out "$RUNS/spandex-frugal"
# each card's numbers on the card-check set, which tests/test_card_numbers.py re-measures
PYTHONPATH=. .venv/bin/python scripts/measure_card_check.py
echo "lineup installed in assets/models"
