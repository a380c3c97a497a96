#!/usr/bin/env bash
# Train the shipped lineup from scratch data to assets/models, as it was made (see docs on training):
#   1. spandex-dense: the official N-DNS baseline fine-tuned on fresh mixtures, its input levelled
#      (configs/spandex-dense.yaml);
#   2. spandex-prune50 / -prune75 / -prune90: global GMP from spandex-dense, 600 steps (Adam 3e-3 -> 3e-4,
#      configs/lineup-finetune.yaml); the 75 % one also learns its delta thresholds under L1 activity
#      regularisation (λ = 50, then 2,000 steps at 200), to cut SynOps as well as weights;
#   3. spandex-frugal: spandex-prune75 fine-tuned 400 steps at λ = 300 with learned thresholds.
# Each step resumes where it stopped when run again (its run folder keeps a checkpoint); finished steps are
# skipped. Needs the dataset of scripts/build_training_data.sh. About 1 h 45 min on 2 cores.
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

stage() {  # name, command...: run a training step unless its model is already finished
    local name=$1; shift
    if [[ -f "$RUNS/$name/$name.net" ]]; then echo "$name: finished before"; else "$@"; fi
}

step() {  # name, command...: a stage whose model is shipped
    stage "$@"
    install "$RUNS/$1" "$1"
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
# prune75 in two stages: GMP to 75 % with L1 activity regularisation (λ = 50) and learned thresholds, then 2,000
# steps at λ = 200. Chosen on the validation split by the issue's target (SI-SNRi >= the official baseline's
# 2.83 dB at <= 1/3 of its 11.35 M-Ops/s): GMP at λ = 30 gave 4.05 dB at 4.72 M-Ops/s, at λ = 50 3.91 at 4.51;
# then λ = 100 / 200 for 300 steps 3.55 at 4.75 / 3.05 at 4.50 (stopped), λ = 300 for 400 steps 3.14 at 3.71
# (the previous prune75); 2,000 steps at λ = 300 3.17 at 2.83, at λ = 200 3.34 at 3.06 (this one).
stage spandex-prune75-gmp "${SPANDEX[@]}" prune assets/models/spandex-dense.net --sparsity 0.75 "${PRUNE[@]}" \
    --reg-weight 50 --train-thresholds --name spandex-prune75-gmp --out "$RUNS/spandex-prune75-gmp"
step spandex-prune75 "${SPANDEX[@]}" finetune "$RUNS/spandex-prune75-gmp/spandex-prune75-gmp.net" --reg-weight 200 \
    --train-thresholds "${PRUNE[@]}" --steps 2000 --eval-every 500 --threads 1 --name spandex-prune75 \
    --out "$RUNS/spandex-prune75"
# its card names the shipped parent and keeps the GMP stage, which is not shipped, under "stages"
RUNS="$RUNS" .venv/bin/python - <<'PY'
import json, os, pathlib
card = pathlib.Path("assets/models/spandex-prune75.json")
data = json.loads(card.read_text())
stage = json.loads((pathlib.Path(os.environ["RUNS"]) / "spandex-prune75-gmp/spandex-prune75-gmp.json").read_text())
data["stages"] = [{key: stage[key] for key in ("name", "parent", "recipe", "metrics", "training")}]
data["parent"] = stage["parent"]
data["notes"] = ("Global GMP of spandex-dense to 75 % (L1 activity regularisation λ = 50, learned thresholds), then "
                 "2,000 steps at λ = 200: fine-tuning under the regulariser rounded a further share of the weights "
                 "to zero in 8 bits (the weight sparsity above). scripts/train_lineup.sh.")
card.write_text(json.dumps(data, indent=2))
PY
# frugal: the cheapest of the lineup (below prune90 on the validation split and on the card-check set) with the
# best SI-SNR at <= 3 M-Ops/s on the validation split: prune75 + 400 steps of L1 λ = 600 with learned thresholds
# (3.00 dB at 2.56 M-Ops/s; card check 3.09 against prune90's 3.20). λ = 300 gave 3.19 dB at 2.69, but 3.29 on
# the card check: not cheaper than prune90 (2.12 dB at 2.75; 3.20). The previous frugal, prune90 + λ = 100:
# 1.61 dB at 2.09.
step spandex-frugal "${SPANDEX[@]}" finetune assets/models/spandex-prune75.net --reg-weight 600 --train-thresholds \
    "${PRUNE[@]}" --steps 400 --eval-every 200 --threads 1 --name spandex-frugal --out "$RUNS/spandex-frugal"
.venv/bin/python - <<'PY'
import json, pathlib
card = pathlib.Path("assets/models/spandex-frugal.json")
data = json.loads(card.read_text())
data["notes"] = ("spandex-prune75 fine-tuned 400 steps under L1 activity regularisation λ = 600 with learned "
                 "thresholds: fewer spikes for a little SI-SNR. scripts/train_lineup.sh.")
card.write_text(json.dumps(data, indent=2))
PY
# each card's numbers on the card-check set, which tests/test_card_numbers.py re-measures
PYTHONPATH=. .venv/bin/python scripts/measure_card_check.py
echo "lineup installed in assets/models"
