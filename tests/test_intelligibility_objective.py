"""The intelligibility term of the training loss (engine/training/intelligibility.py) against STOI itself.

- it tracks pystoi's STOI over real speech degraded in different ways and amounts, and is 1 for clean speech;
- like STOI it ignores the level, and a silent reference has no score;
- its gradient is useful: descending it raises the pystoi STOI of a masked signal;
- a training run with the term weighted learns more of it than the same run without.
"""

import numpy as np
import pytest
import torch

from cli.training_run import describe
from engine.constants import MIN_INTELLIGIBILITY_SECONDS
from engine.evaluation.metrics import stoi
from engine.files.netx import load_model
from engine.library.card import card_lines, read_card
from engine.training import events as ev
from engine.training.config import ConfigError, TrainConfig
from engine.training.dataset import PairedClips
from engine.training.dataset_layout import split_folder
from engine.training.graph import SDNNGraph
from engine.training.intelligibility import envelope_correlation, intelligibility_loss
from engine.training.loss import denoise_batch, stft
from engine.training.trainer import run_training
from tests.test_training_runs import tiny_config


def magnitudes(*signals: np.ndarray) -> torch.Tensor:
    return stft(torch.tensor(np.stack(signals), dtype=torch.float64)).abs()


def correlation(clean: np.ndarray, degraded: np.ndarray) -> float:
    return float(envelope_correlation(magnitudes(clean), magnitudes(degraded))[0])


def lowpassed(audio: np.ndarray, hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(audio)
    spectrum[np.fft.rfftfreq(audio.size, 1 / 16000) > hz] = 0
    return np.fft.irfft(spectrum, audio.size)


def test_it_tracks_stoi_over_real_degradations(noisy_speech):
    noisy, clean = noisy_speech
    clean, noise = clean[:64000], (noisy - clean)[:64000]
    gain = np.sqrt(np.sum(clean**2) / np.sum(noise**2))
    degraded = [clean + noise * gain * 10 ** (-snr / 20) for snr in (20, 10, 5, 0, -5, -10)]
    degraded += [lowpassed(clean, hz) for hz in (2000, 1000, 500)]
    ours = np.array([correlation(clean, d) for d in degraded])
    theirs = np.array([stoi(clean, d) for d in degraded])
    print("envelope correlation", np.round(ours, 3), "\npystoi STOI         ", np.round(theirs, 3))
    assert correlation(clean, clean) > 0.999
    assert np.corrcoef(ours, theirs)[0, 1] > 0.95
    assert np.all(np.diff(ours[:6]) < 0) and np.all(np.diff(ours[6:]) < 0)  # worse as STOI says worse
    assert np.max(np.abs(ours - theirs)) < 0.15


def test_it_ignores_the_level_and_a_silent_reference_has_no_score(noisy_speech):
    noisy, clean = noisy_speech
    clean, noisy = clean[:48000], noisy[:48000]
    for gain in (0.01, 0.001):  # -40 and -60 dB, both signals (the clean reference as quiet as its noisy input)
        assert correlation(gain * clean, gain * noisy) == pytest.approx(correlation(clean, noisy), abs=1e-3)
    scores = envelope_correlation(magnitudes(clean, np.zeros_like(clean)), magnitudes(noisy, noisy))
    assert not np.isnan(float(scores[0])) and np.isnan(float(scores[1]))
    both = intelligibility_loss(magnitudes(clean, np.zeros_like(clean)), magnitudes(noisy, noisy))
    alone = intelligibility_loss(magnitudes(clean), magnitudes(noisy))
    assert float(both) == pytest.approx(float(alone))
    assert float(intelligibility_loss(magnitudes(np.zeros(48000)), magnitudes(noisy))) == 0.0


def test_a_band_cut_to_silence_lowers_it_as_it_lowers_stoi(noisy_speech):
    """With the envelopes taken as sqrt(energy + EPS), a band cut to exact zero became a constant that the scaling and
    clipping turned into a copy of the clean envelope: cutting a band raised the score. As in STOI it lowers it now,
    and an output cut to silence everywhere scores 0, with a finite gradient."""
    noisy, clean = noisy_speech
    noisy, clean = noisy[:64000], clean[:64000]
    spectrum = stft(torch.tensor(noisy[None], dtype=torch.float64))
    mask = torch.ones(spectrum.shape, dtype=torch.float64)
    mask[:, 35:44] = 0.0  # the bins of the band around 1.2 kHz (1.07-1.35 kHz), as a ReLU mask cuts them
    cut, cut_magnitude = denoise_batch(mask, spectrum, noisy.size)
    assert stoi(clean, cut[0].numpy()) < stoi(clean, noisy)
    cut_score = float(envelope_correlation(magnitudes(clean), cut_magnitude)[0])
    assert cut_score < correlation(clean, noisy) - 0.01
    silent = torch.zeros_like(magnitudes(noisy), requires_grad=True)
    score = envelope_correlation(magnitudes(clean), silent)
    score.sum().backward()
    assert float(score[0].detach()) == pytest.approx(0.0, abs=1e-6) and bool(torch.isfinite(silent.grad).all())
    with pytest.raises(ValueError, match="bins"):  # frames first is not what it takes
        envelope_correlation(magnitudes(clean).transpose(1, 2), magnitudes(noisy).transpose(1, 2))


def test_descending_its_gradient_raises_stoi(noisy_speech):
    noisy, clean = noisy_speech
    noisy, clean = noisy[:48000], clean[:48000]
    spectrum = stft(torch.tensor(noisy[None], dtype=torch.float64))
    clean_magnitude = magnitudes(clean)
    logits = torch.zeros(spectrum.shape, dtype=torch.float64, requires_grad=True)  # mask 0.5 everywhere at first
    optimizer = torch.optim.Adam([logits], lr=0.1)
    for _ in range(60):
        mask = torch.sigmoid(logits)
        loss = intelligibility_loss(clean_magnitude, mask * spectrum.abs())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        denoised, _ = denoise_batch(torch.sigmoid(logits), spectrum, noisy.size)
    before, after = stoi(clean, noisy), stoi(clean, denoised[0].numpy())
    print(f"STOI of the masked signal: {before:.3f} -> {after:.3f}")
    assert after > before + 0.02


def fixed_batch_correlation(model_path, noisy: torch.Tensor, clean: torch.Tensor) -> float:
    graph = SDNNGraph.from_model(load_model(model_path))
    with torch.no_grad():
        spectrum = stft(noisy)
        _, denoised_magnitude = denoise_batch(graph(spectrum.abs()).mask, spectrum, noisy.shape[-1])
        return float(envelope_correlation(stft(clean).abs(), denoised_magnitude).nanmean())


def test_a_run_weighting_it_optimises_it_and_learns_more_of_it_than_the_same_run_without(tiny_dataset, tmp_path):
    """The loss each step reports is the N-DNS loss plus ``w · (1 − correlation)``, nothing added at w = 0; and on
    a fixed batch the runs never drew, the weighted run's output keeps more of the clean envelopes."""
    clips = PairedClips.load(split_folder(tiny_dataset, "train"))
    noisy, clean = clips.batch(np.random.default_rng(123), 8, 8000)  # not the runs' own draws
    scores, excess = {}, {}
    for weight in (0.0, 1000.0):
        config = tiny_config(tiny_dataset, steps=30, eval_every=30, eval_clips=1, log_every=1,
                             intelligibility_weight=weight)
        events: list = []
        run_training(config, tmp_path / f"run{weight:g}", emit=events.append)
        reports = [e for e in events if isinstance(e, ev.StepReport)]
        excess[weight] = [r.loss - (100.0 - r.si_snr) for r in reports]  # what the loss has beyond the SI-SNR
        scores[weight] = fixed_batch_correlation(events[-1].model_path, noisy, clean)
        said = "intelligibility term (STOI stand-in) × 1000" in " ".join(card_lines(read_card(events[-1].model_path)[0]))
        assert said == bool(weight)  # the card's recipe line says so, and the run's start line
        start = describe(next(e for e in events if isinstance(e, ev.Started)))
        assert ("; loss with the intelligibility term × 1000" in start) == bool(weight), start
    print("fixed-batch envelope correlation by weight", scores)
    assert max(excess[0.0]) < 0.5  # the MSE term alone (weight 0.001)
    # 1000 × (1 − correlation) on 3 clips of 0.5 s: 0.01 to 0.3 measured, mean 0.12
    assert all(0.0 < e < 1000.0 * 0.5 for e in excess[1000.0]) and np.mean(excess[1000.0]) > 1000.0 * 0.05
    assert scores[1000.0] > scores[0.0] + 0.002


def test_its_weight_is_checked():
    assert TrainConfig(name="a", dataset="d").intelligibility_weight == 0.0
    with pytest.raises(ConfigError, match="intelligibility_weight"):
        TrainConfig(name="a", dataset="d", intelligibility_weight=-1.0)
    # segments too short to hold STOI's 384 ms: the term would score nothing (and the card say it was used)
    with pytest.raises(ConfigError, match=r"intelligibility_weight = 25 needs segment_seconds of at least 0\.376 "
                                          r"\(STOI's 384 ms segments\); it is 0\.2, where the term would score nothing"):
        TrainConfig(name="a", dataset="d", intelligibility_weight=25.0, segment_seconds=0.2)
    assert TrainConfig(name="a", dataset="d", segment_seconds=0.2).intelligibility_weight == 0.0


def test_the_shortest_segment_allowed_is_scored():
    samples = round(MIN_INTELLIGIBILITY_SECONDS * 16000)
    audio = np.random.default_rng(0).standard_normal((1, samples))
    assert not np.isnan(float(envelope_correlation(magnitudes(audio[0]), magnitudes(audio[0]))[0]))
    assert np.isnan(float(envelope_correlation(magnitudes(audio[0, :-128]), magnitudes(audio[0, :-128]))[0]))
