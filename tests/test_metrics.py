"""engine.evaluation.metrics: SI-SNR against the N-DNS formula, PESQ/STOI on real speech, cost formulas."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from pesq import NoUtterancesError, pesq

from engine.errors import AudioInputError
from engine.evaluation.metrics import (
    model_params,
    model_size_kb,
    pdp_proxy,
    pesq_wb,
    power_proxy_ops_per_s,
    si_snr,
    si_snri,
    stoi,
)

REFERENCE_MODELS = Path(__file__).resolve().parents[2] / "shared" / "reference_models"
BASELINE_SHAPES = [(512, 257), (512, 512), (257, 512)]


def ndns_si_snr_torch(target: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """A direct transcription of si_snr in the N-DNS challenge's snr.py."""
    s_target = target - torch.mean(target, dim=-1, keepdim=True)
    s_estimate = estimate - torch.mean(estimate, dim=-1, keepdim=True)
    pair_wise_dot = torch.sum(s_target * s_estimate, dim=-1, keepdim=True)
    s_target_norm = torch.sum(s_target**2, dim=-1, keepdim=True)
    pair_wise_proj = pair_wise_dot * s_target / s_target_norm
    e_noise = s_estimate - pair_wise_proj
    pair_wise_sdr = torch.sum(pair_wise_proj**2, dim=-1) / (torch.sum(e_noise**2, dim=-1) + 1e-8)
    return 10 * torch.log10(pair_wise_sdr + 1e-8)


def test_identical_signals_score_very_high() -> None:
    x = np.random.default_rng(0).standard_normal(16000)
    assert si_snr(x, x) > 100.0


def test_scale_and_offset_do_not_change_si_snr() -> None:
    rng = np.random.default_rng(1)
    t = rng.standard_normal(8000)
    e = t + 0.5 * rng.standard_normal(8000)
    reference = si_snr(t, e)
    for scale, offset in [(0.01, 0.0), (3.0, 0.0), (1.0, 0.7), (-2.0, -0.3)]:
        assert si_snr(t, scale * e + offset) == pytest.approx(reference, abs=1e-6)  # EPS only


@pytest.mark.parametrize("ratio_db", [-5.0, 0.0, 7.5, 20.0])
def test_orthogonal_noise_at_known_ratio(ratio_db: float) -> None:
    rng = np.random.default_rng(2)
    t = rng.standard_normal(16000)
    t -= t.mean()
    n = rng.standard_normal(16000)
    n -= n.mean()
    n -= (n @ t) / (t @ t) * t  # orthogonal to the target
    n *= np.sqrt((t @ t) / (n @ n) / 10 ** (ratio_db / 10))
    assert si_snr(t, t + n) == pytest.approx(ratio_db, abs=0.01)


def test_batches_match_the_ndns_torch_formula() -> None:
    rng = np.random.default_rng(3)
    target = rng.standard_normal((4, 3, 2000))
    estimate = target * rng.uniform(0.1, 2, (4, 3, 1)) + rng.uniform(0.05, 3, (4, 3, 1)) * rng.standard_normal((4, 3, 2000))
    ours = si_snr(target, estimate)
    theirs = ndns_si_snr_torch(torch.from_numpy(target), torch.from_numpy(estimate)).numpy()
    assert ours.shape == (4, 3)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
    # float32 inputs are computed in float64, and agree with the float64 reference
    np.testing.assert_allclose(si_snr(target.astype(np.float32), estimate.astype(np.float32)), theirs, atol=1e-4)


def test_silent_target_gives_nan_like_ndns() -> None:
    z = np.zeros(1000)
    assert np.isnan(si_snr(z, np.ones(1000)))
    assert torch.isnan(ndns_si_snr_torch(torch.zeros(1000), torch.ones(1000)))


def test_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(AudioInputError, match="same shape"):
        si_snr(np.zeros(100), np.zeros(101))


def test_si_snri_on_real_noisy_speech(noisy_speech: tuple[np.ndarray, np.ndarray]) -> None:
    noisy, clean = noisy_speech
    noisy_score = si_snr(clean, noisy)
    assert -2.0 < noisy_score < 8.0  # mixed at 5 dB active-level SNR
    assert si_snri(clean, noisy, noisy) == pytest.approx(0.0, abs=1e-12)
    assert si_snri(clean, noisy, clean) == pytest.approx(si_snr(clean, clean) - noisy_score)
    halfway = 0.5 * (noisy + clean)  # half the noise: +6 dB
    assert si_snri(clean, noisy, halfway) == pytest.approx(6.02, abs=0.1)


def test_pesq_and_stoi_on_real_speech(noisy_speech: tuple[np.ndarray, np.ndarray]) -> None:
    noisy, clean = noisy_speech
    pesq_clean, pesq_noisy = pesq_wb(clean, clean), pesq_wb(clean, noisy)
    stoi_clean, stoi_noisy = stoi(clean, clean), stoi(clean, noisy)
    assert pesq_clean > 4.5
    assert 1.0 <= pesq_noisy < 2.5 and pesq_noisy < pesq_clean - 1.5
    assert stoi_clean > 0.99
    assert 0.5 < stoi_noisy < 0.95
    better = 0.5 * (noisy + clean)
    assert pesq_noisy < pesq_wb(clean, better) < pesq_clean
    assert stoi_noisy < stoi(clean, better) < stoi_clean


def test_pesq_returns_none_where_the_package_cannot_score(real_speech: np.ndarray) -> None:
    silence = np.zeros_like(real_speech)
    assert pesq_wb(silence, real_speech) is None  # all-zero reference
    assert pesq_wb(real_speech, silence) is None  # the C code fails on NaN
    near_silence = 1e-30 * real_speech
    with pytest.raises(NoUtterancesError):
        pesq(16000, near_silence, real_speech, "wb")
    assert pesq_wb(near_silence, real_speech) is None


def test_stoi_returns_none_where_undefined(real_speech: np.ndarray) -> None:
    assert stoi(np.zeros_like(real_speech), real_speech) is None
    short = real_speech[:3000]  # < 30 frames of speech after silent-frame removal
    assert stoi(short, short) is None
    assert stoi(real_speech, np.zeros_like(real_speech)) == pytest.approx(0.0, abs=1e-6)


def test_pesq_stoi_need_equal_lengths(real_speech: np.ndarray) -> None:
    with pytest.raises(AudioInputError, match="same length"):
        pesq_wb(real_speech, real_speech[:-1])
    with pytest.raises(AudioInputError, match="same length"):
        stoi(real_speech, real_speech[:-1])


def test_baseline_parameter_count_matches_the_metricsboard() -> None:
    params = model_params(BASELINE_SHAPES)
    assert params == 525_312
    assert round(params / 1000) == 525  # board: "Params (x10^3) 525"


def test_parameter_count_of_the_real_baseline_file() -> None:
    with h5py.File(REFERENCE_MODELS / "ndns_baseline.net", "r") as f:
        shapes = [f["layer"][k]["weight"].shape for k in ("1", "2", "3")]
    assert model_params(shapes) == 525_312


def test_model_size_formula() -> None:
    assert model_size_kb(525_312) == pytest.approx(525.312)
    assert model_size_kb(525_312, n_delays=1024) == pytest.approx(526.336)
    assert model_size_kb(1000, n_delays=1000, weight_bits=4, delay_bits=6) == pytest.approx(1.25)
    with pytest.raises(ValueError):
        model_size_kb(-1)


def test_model_size_of_the_real_baseline_counts_nonzero_weights() -> None:
    with h5py.File(REFERENCE_MODELS / "ndns_baseline.net", "r") as f:
        nonzero = sum(int(np.count_nonzero(f["layer"][k]["weight"][()])) for k in ("1", "2", "3"))
        delays = sum(f["layer"][k]["delay"].shape[0] for k in ("1", "2"))
    assert (nonzero, delays) == (384_498, 1024)
    assert model_size_kb(nonzero, delays) == pytest.approx(385.522)


def test_power_proxy_reproduces_the_baseline_row() -> None:
    neuron_ops = 257 + 512 + 512  # every block but the output block, once per 8 ms step
    synops = 14.54e6 * 0.008 - 10 * neuron_ops  # what the board's 14.54 M-Ops/s implies
    assert power_proxy_ops_per_s(synops, neuron_ops) == pytest.approx(14.54e6)
    assert power_proxy_ops_per_s(synops, neuron_ops, hop_s=0.016) == pytest.approx(7.27e6)
    frames = np.array([synops, 2 * synops])
    np.testing.assert_allclose(power_proxy_ops_per_s(frames, neuron_ops), [14.54e6, 14.54e6 + synops / 0.008])


def test_pdp_proxy_matches_the_metricsboard() -> None:
    # example_metricsboard_writeout.py: 11.59 M-Ops/s, 8.036 ms -> 'PDP_proxy_Ops': 0.09 * 10**6
    assert round(pdp_proxy(11.59e6, 8.036e-3) / 1e6, 2) == 0.09
    # README board, baseline row: 14.54 M-Ops/s, 32.030 ms total latency -> 0.46 M-Ops
    assert pdp_proxy(14.54e6, 32.030e-3) / 1e6 == pytest.approx(0.4657, abs=1e-4)
