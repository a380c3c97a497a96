"""engine.dsp.mixing: SNR and level of N-DNS-style mixes of real speech and noise."""

from __future__ import annotations

import numpy as np
import pytest

from engine.constants import SAMPLE_RATE
from engine.dsp.mixing import active_rms, loop_to_length, mix_at_snr, pink_noise
from engine.errors import AudioInputError


def db(x: float) -> float:
    return 20.0 * np.log10(x)


def test_active_rms_ignores_pauses() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    with_pause = np.concatenate([tone, np.zeros(3 * SAMPLE_RATE)])
    assert active_rms(with_pause) == pytest.approx(0.3 / np.sqrt(2), rel=1e-3)
    assert np.sqrt(np.mean(with_pause**2)) == pytest.approx(0.5 * active_rms(with_pause))


def test_active_rms_of_silence_is_zero_and_scale_does_not_matter(real_speech: np.ndarray) -> None:
    assert active_rms(np.zeros(SAMPLE_RATE)) == 0.0
    level = active_rms(real_speech)
    for scale in (1e-4, 0.1, 3.0):
        assert active_rms(scale * real_speech) == pytest.approx(scale * level, rel=1e-6)
    with_hiss = np.concatenate([real_speech, 1e-4 * np.ones(SAMPLE_RATE)])  # -60 dB re peak
    assert active_rms(with_hiss) == pytest.approx(level, rel=1e-3)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 5.0, 20.0])
def test_mix_hits_the_snr_and_level(real_speech: np.ndarray, snr_db: float) -> None:
    noise = pink_noise(real_speech.size, np.random.default_rng(4))
    mix = mix_at_snr(real_speech, noise, snr_db, target_level_dbfs=-25.0)
    assert db(active_rms(mix.clean) / active_rms(mix.noise)) == pytest.approx(snr_db, abs=0.01)
    assert mix.level_dbfs == pytest.approx(-25.0, abs=0.01)
    assert db(np.sqrt(np.mean(mix.noisy.astype(np.float64) ** 2))) == pytest.approx(-25.0, abs=0.01)
    np.testing.assert_allclose(mix.noisy, mix.clean + mix.noise, atol=1e-6)
    assert all(a.dtype == np.float32 and a.shape == real_speech.shape for a in mix[:3])


def test_loud_target_is_guarded_against_clipping(real_speech: np.ndarray) -> None:
    noise = pink_noise(real_speech.size, np.random.default_rng(5))
    mix = mix_at_snr(real_speech, noise, 10.0, target_level_dbfs=-3.0, clipping_threshold=0.99)
    assert np.max(np.abs(mix.noisy)) == pytest.approx(0.99, abs=1e-6)
    assert mix.level_dbfs < -3.0
    assert db(active_rms(mix.clean) / active_rms(mix.noise)) == pytest.approx(10.0, abs=0.01)


def test_silent_inputs_and_mismatched_lengths_are_errors(real_speech: np.ndarray) -> None:
    with pytest.raises(AudioInputError, match="noise signal is silent"):
        mix_at_snr(real_speech, np.zeros_like(real_speech), 5.0)
    with pytest.raises(AudioInputError, match="speech signal is silent"):
        mix_at_snr(np.zeros_like(real_speech), real_speech, 5.0)
    with pytest.raises(AudioInputError, match="equal length"):
        mix_at_snr(real_speech, real_speech[:-1], 5.0)


def test_noisy_speech_fixture_is_a_5_db_mix(noisy_speech: tuple[np.ndarray, np.ndarray]) -> None:
    noisy, clean = noisy_speech
    assert noisy.dtype == clean.dtype == np.float32 and noisy.shape == clean.shape
    assert noisy.size == 10 * SAMPLE_RATE
    noise = noisy.astype(np.float64) - clean
    assert db(active_rms(clean) / active_rms(noise)) == pytest.approx(5.0, abs=0.05)
    assert np.max(np.abs(noisy)) <= 0.99 + 1e-6


def test_loop_to_length() -> None:
    x = np.arange(5)
    np.testing.assert_array_equal(loop_to_length(x, 12), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
    np.testing.assert_array_equal(loop_to_length(x, 3), [0, 1, 2])
    with pytest.raises(AudioInputError):
        loop_to_length(np.zeros(0), 4)


def test_pink_noise_has_equal_energy_per_octave() -> None:
    n = pink_noise(20 * SAMPLE_RATE, np.random.default_rng(6))
    assert n.dtype == np.float32 and np.sqrt(np.mean(n.astype(np.float64) ** 2)) == pytest.approx(1.0)
    power = np.abs(np.fft.rfft(n.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(n.size, 1 / SAMPLE_RATE)
    octaves = [power[(freqs >= lo) & (freqs < 2 * lo)].sum() for lo in (125, 500, 2000)]
    assert db(np.sqrt(max(octaves) / min(octaves))) < 0.5
    white = power[(freqs >= 2000) & (freqs < 4000)].mean() / power[(freqs >= 125) & (freqs < 250)].mean()
    assert db(np.sqrt(white)) == pytest.approx(-12.0, abs=0.5)  # -3 dB/octave over 4 octaves
