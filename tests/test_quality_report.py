"""bench/quality.py's arithmetic: input-SNR bands measured from the pair, and targets judged from the rows."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.quality import OFFICIAL, Row, goals, input_snr, versus
from engine.evaluation.metrics import snr_band
from engine.snn.telemetry import RunTotals

REPO = Path(__file__).resolve().parents[1]


def test_input_snr_is_measured_from_the_pair():
    rng = np.random.default_rng(0)
    clean = rng.standard_normal(16000)
    noise = rng.standard_normal(16000)
    noise *= np.sqrt(np.sum(clean**2) / np.sum(noise**2)) / 10 ** (7.5 / 20)  # 7.5 dB below the speech
    assert input_snr(clean, clean + noise) == pytest.approx(7.5)
    bands = [snr_band(v) for v in (-3.0, 0.0, 5.99, 6.0, 12.0, 30.0)]
    assert bands == ["<0", "0–6", "0–6", "6–12", "≥12", "≥12"]


def row(name: str, gains: list[float], bands: list[str], mops: float | None = None, stoi: float = 0.8,
        clean_in: float = 30.0) -> Row:
    totals = None
    if mops is not None:  # 1 frame whose SynOps give ``mops`` M-Ops/s with no neurons
        totals = RunTotals(layer_sizes=(0,), frames=1)
        totals.synops = int(round(mops * 1e6 * 0.008))
    return Row(name, None, si_snri=gains, bands=bands, stoi=[stoi], clean_in=[clean_in], totals=totals)


def rows(dense_gain: float, **overrides) -> dict[str, Row]:
    bands = ["<0", "≥12"]
    made = {
        "noisy input": row("noisy input", [0.0, 0.0], bands, stoi=0.80),
        "spandex-dense": row("spandex-dense", [dense_gain + 1, dense_gain - 1], bands, mops=9.0, stoi=0.82),
        "spandex-prune75": row("spandex-prune75", [5.0, 3.0], bands, mops=4.0),
        "spandex-frugal": row("spandex-frugal", [dense_gain, dense_gain - 0.5], bands, mops=2.9),
        OFFICIAL: row(OFFICIAL, [4.0, 2.0], bands, mops=13.5),
        "RNNoise": row("RNNoise", [5.0, 1.0], bands),
    }
    made.update(overrides)
    return made


def judged(found) -> list[bool | None]:
    return [g.met for g in found]


def test_targets_are_judged_from_the_measured_rows():
    # dense 4.0 dB vs official 3.0 (+1.0: met), RNNoise 3.0, ≥12 dB band -0.0, clean in 30 dB, STOI up;
    # prune75 4.0 dB at 4.0 ≤ 13.5/3; frugal 2.9 M-Ops/s at -0.25 dB
    assert judged(goals(rows(4.0), "spandex-dense", "spandex-prune75", "spandex-frugal")) == [True] * 7
    # dense 1.5 dB (-2.0 at ≥ 12 dB input): below official + 1 and RNNoise; prune75 over ⅓ of the cost
    worse = rows(4.0, **{"spandex-dense": row("spandex-dense", [5.0, -2.0], ["<0", "≥12"], mops=9.0, stoi=0.82),
                         "spandex-prune75": row("spandex-prune75", [5.0, 3.0], ["<0", "≥12"], mops=4.6)})
    assert judged(goals(worse, "spandex-dense", "spandex-prune75", "spandex-frugal")) == [
        False, False, False, True, True, False, True]
    missing = rows(4.0)
    del missing["RNNoise"]
    assert judged(goals(missing, "spandex-dense", "spandex-prune75", "spandex-frugal"))[1] is None


def test_a_difference_never_prints_as_a_tie():
    assert versus(3.8120, 3.8141) == "3.812 vs 3.814"  # 3.81 vs 3.81 would read as met
    assert versus(4.48, 3.65) == "4.48 vs 3.65"
    assert versus(0.8401, 0.8372, 3) == "0.840 vs 0.837"
    assert versus(2.5, 2.5) == "2.50 vs 2.50"  # a real tie stays short


@pytest.mark.parametrize("argv, message", [
    (["--backend", "foo"], "argument --backend: invalid choice: 'foo' (choose from 'dense', 'sparse')"),
    (["--model", "nosuch"], "no model named 'nosuch' in the library"),
    (["--model", "README.md"], "README.md: not a readable netx HDF5 file"),
    (["--model", "spandex-frugal"], "holds no audio files (WAV, FLAC, OGG, MP3)"),
])
def test_the_bench_refuses_bad_input_in_one_line(argv, message, tmp_path):
    """A wrong --backend or --model had ended in a 12-line traceback (found by a new user's trial); so had folders
    without audio."""
    folders = []
    for name in ("noisy", "clean"):  # empty (CI builds no held-out split): the models are checked first
        (tmp_path / name).mkdir()
        folders += [f"--{name}", str(tmp_path / name)]
    argv = [*argv, *folders]
    result = subprocess.run([sys.executable, "bench/quality.py", *argv], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
