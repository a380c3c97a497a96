"""The non-spiking baselines of bench/quality.py really run and really denoise."""

import numpy as np
import pytest

from bench.baselines import DeepFilterNet3, RNNoise, wiener
from engine.evaluation.metrics import si_snr


@pytest.fixture(scope="module")
def short_noisy(noisy_speech):
    noisy, clean = noisy_speech
    return noisy[: 4 * 16000], clean[: 4 * 16000]


@pytest.mark.parametrize("make, gain_db", [(lambda: wiener, 0.3), (RNNoise, 3.0), (DeepFilterNet3, 3.0)],
                         ids=["wiener", "rnnoise", "deepfilternet3"])
def test_baseline_denoises_and_stays_aligned(short_noisy, make, gain_db):
    noisy, clean = short_noisy
    out = make()(noisy)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert si_snr(clean, out) > si_snr(clean, noisy) + gain_db


def test_dnsmos_runs_offline_and_hears_the_noise(short_noisy):
    # speechmos's bundled ONNX models, nothing fetched: clean speech must score a quieter background
    # (BAK) and better overall (OVRL) than the same speech under typing noise at 5 dB SNR
    from bench.dnsmos import DNSMOS

    noisy, clean = short_noisy
    mos = DNSMOS()
    clean_score, noisy_score = mos(clean), mos(noisy)
    assert all(1.0 <= v <= 5.0 for v in (*vars(clean_score).values(), *vars(noisy_score).values()))
    assert clean_score.bak > noisy_score.bak + 0.5 and clean_score.ovrl > noisy_score.ovrl, (clean_score, noisy_score)
