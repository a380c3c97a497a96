"""A differentiable stand-in for STOI, for the training loss: band-envelope correlation on the engine's spectra.

STOI (Taal et al. 2011; :func:`engine.evaluation.metrics.stoi` scores with ``pystoi``) compares the clean and
the denoised speech's envelopes in 15 third-octave bands from 150 Hz, over 384 ms segments: each denoised
segment is scaled to the clean one's energy, clipped at 15 dB above it, and the two correlated; the score is the
mean correlation. Here the same is done on the magnitudes the training step already has (n_fft 512, hop 128 at
16 kHz, so a segment is 48 frames rather than STOI's 30 frames at 10 kHz), segments every
:data:`SEGMENT_STRIDE` frames. STOI drops the clean reference's silent frames (40 dB below its loudest) before
segmenting; here a segment counts only if most of its frames are active by that rule, and a clip without
such a segment has no score (NaN), as a silent target has no SI-SNR.

It is an objective to train with, not a measurement: it tracks STOI (tests/test_intelligibility_objective.py)
but is not STOI, and scores are reported with pystoi.
"""

from __future__ import annotations

import functools

import torch

from engine.constants import N_BINS, N_FFT, SAMPLE_RATE, STOI_SEGMENT_FRAMES
from engine.evaluation.metrics import EPS

BANDS = 15
LOWEST_CENTRE_HZ = 150.0
SEGMENT_STRIDE = 4
CLIP_DB = 15.0  # STOI's β = −15 dB: the denoised envelope is clipped at (1 + 10^(15/20)) × the clean one
SILENCE_DB = 40.0
ENVELOPE_EPS = 1e-12  # far under a band's energy in speech at -60 dBFS: the score does not depend on the level there
ACTIVE_SHARE = 0.5  # a segment counts when at least this share of its frames is active


@functools.cache
def _band_matrix(bins: int) -> torch.Tensor:
    """(bins, BANDS) 0/1: which STFT bin belongs to which third-octave band (bins 31.25 Hz apart)."""
    hz = torch.arange(bins, dtype=torch.float64) * SAMPLE_RATE / N_FFT
    centres = LOWEST_CENTRE_HZ * 2.0 ** (torch.arange(BANDS, dtype=torch.float64) / 3.0)
    low, high = centres * 2.0 ** (-1 / 6), centres * 2.0 ** (1 / 6)
    return ((hz[:, None] >= low[None, :]) & (hz[:, None] < high[None, :])).double()


def envelope_correlation(clean_magnitude: torch.Tensor, denoised_magnitude: torch.Tensor) -> torch.Tensor:
    """Per row (B,): mean correlation of the clean and denoised band envelopes over the active segments, as
    STOI scores (1 = the same envelopes up to scale); NaN for a row with no active segment."""
    if clean_magnitude.shape != denoised_magnitude.shape or clean_magnitude.dim() != 3 \
            or clean_magnitude.shape[1] != N_BINS:
        raise ValueError(f"magnitudes must both be (B, {N_BINS} bins, T): {tuple(clean_magnitude.shape)}, "
                         f"{tuple(denoised_magnitude.shape)}")
    clean_power = clean_magnitude.transpose(1, 2).square()  # (B, T, bins), however the magnitudes are laid out
    denoised_power = denoised_magnitude.transpose(1, 2).square()
    bands = _band_matrix(N_BINS).to(clean_power.dtype).to(clean_power.device)
    # sqrt(x + EPS) − sqrt(EPS): a band cut to exact zero is a zero envelope, which correlates with nothing (as in
    # STOI), not a constant that scaling and clipping would turn into a copy of the clean one; the gradient is finite
    clean_env = torch.sqrt(clean_power @ bands + ENVELOPE_EPS) - ENVELOPE_EPS**0.5  # (B, T, BANDS)
    denoised_env = torch.sqrt(denoised_power @ bands + ENVELOPE_EPS) - ENVELOPE_EPS**0.5
    frame_energy = clean_power.sum(-1)  # (B, T)
    frame_db = 10 * torch.log10(frame_energy + EPS)
    active = (frame_db > frame_db.amax(-1, keepdim=True) - SILENCE_DB).to(clean_power.dtype)
    if clean_env.shape[1] < STOI_SEGMENT_FRAMES:
        return clean_env.new_full((clean_env.shape[0],), torch.nan)
    # segments: (B, S, BANDS, N)
    x = clean_env.unfold(1, STOI_SEGMENT_FRAMES, SEGMENT_STRIDE)
    y = denoised_env.unfold(1, STOI_SEGMENT_FRAMES, SEGMENT_STRIDE)
    active_share = active.unfold(1, STOI_SEGMENT_FRAMES, SEGMENT_STRIDE).mean(-1)  # (B, S)
    counted = (active_share >= ACTIVE_SHARE).to(clean_power.dtype)
    scale = x.norm(dim=-1, keepdim=True) / (y.norm(dim=-1, keepdim=True) + EPS)
    y = torch.minimum(y * scale, x * (1.0 + 10.0 ** (CLIP_DB / 20.0)))
    x = x - x.mean(-1, keepdim=True)
    y = y - y.mean(-1, keepdim=True)
    correlation = (x * y).sum(-1) / (x.norm(dim=-1) * y.norm(dim=-1) + EPS)  # (B, S, BANDS)
    per_segment = correlation.mean(-1)
    segments = counted.sum(-1)
    score = (per_segment * counted).sum(-1) / segments.clamp(min=1.0)
    silent = frame_energy.amax(-1) == 0  # every frame "within 40 dB" of a silent loudest one: none counts
    return torch.where((segments > 0) & ~silent, score, torch.nan)


def intelligibility_loss(clean_magnitude: torch.Tensor, denoised_magnitude: torch.Tensor) -> torch.Tensor:
    """``1 − mean envelope correlation`` over the rows that have a score (0 when none has)."""
    score = envelope_correlation(clean_magnitude, denoised_magnitude)
    scored = ~torch.isnan(score)
    if not bool(scored.any()):
        return score.new_zeros(())
    return 1.0 - score[scored].mean()
