"""The N-DNS training objective, on waveforms rebuilt exactly as the streaming denoiser rebuilds them.

``loss = 100 − mean SI-SNR(clean, denoised) + λ · MSE(|denoised STFT|, |clean STFT|)`` (N-DNS
``train_sdnn.py``, λ = 0.001 there). The STFT is the engine's: n_fft 512, hop 128, rectangular window, centred
frames with zero padding (:mod:`engine.dsp.stft`), so the training graph sees the magnitudes the live engine sees.
"""

from __future__ import annotations

import torch

from engine.constants import HOP, N_FFT
from engine.evaluation.metrics import EPS


def stft(audio: torch.Tensor) -> torch.Tensor:
    """Complex spectra ``(B, 257, frames)`` of ``(B, samples)`` audio, the engine's framing."""
    window = torch.ones(N_FFT, dtype=audio.dtype, device=audio.device)
    return torch.stft(audio, N_FFT, HOP, window=window, center=True, pad_mode="constant", return_complex=True)


def istft(spectrum: torch.Tensor, length: int) -> torch.Tensor:
    """``torch.istft`` of :func:`stft`'s spectra (overlap-add, divided by how many frames cover each sample,
    centre padding removed), done frame by frame on a frame-major layout.

    ``torch.istft`` hands its backward pass a bin-major gradient, and multiplying that with frame-major spectra
    (as :func:`stft` makes them) strides through memory: a 21 ms copy in a 16 × 4 s training step here. The inverse
    FFT of frames ``(B, T, 257)`` and an overlap-add of their four 128-sample quarters keep every pass
    contiguous, forward and backward.
    """
    frames = torch.fft.irfft(spectrum.transpose(1, 2), n=N_FFT, dim=-1)  # (B, T, N_FFT)
    batch, steps, _ = frames.shape
    quarters = N_FFT // HOP
    blocks = frames.reshape(batch, steps, quarters, HOP)
    summed = frames.new_zeros(batch, steps + quarters - 1, HOP)
    cover = frames.new_zeros(steps + quarters - 1, 1)  # how many frames cover each 128-sample block
    for quarter in range(quarters):
        summed[:, quarter:quarter + steps] += blocks[:, :, quarter]
        cover[quarter:quarter + steps] += 1
    start = N_FFT // 2
    return (summed / cover).reshape(batch, -1)[:, start:start + length]


def si_snr(target: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """SI-SNR in dB per row, as N-DNS ``snr.py`` (and :func:`engine.evaluation.metrics.si_snr`)."""
    target = target - target.mean(dim=-1, keepdim=True)
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    projection = (target * estimate).sum(-1, keepdim=True) * target / (target**2).sum(-1, keepdim=True)
    noise = estimate - projection
    ratio = (projection**2).sum(-1) / ((noise**2).sum(-1) + EPS)
    return 10 * torch.log10(ratio + EPS)


def denoise_batch(mask: torch.Tensor, noisy_spectrum: torch.Tensor, length: int,
                  noisy_magnitude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply non-negative masks ``(B, 257, T)`` to the noisy spectra (noisy phase kept): (audio, magnitudes).

    The mask scales real and imaginary parts alike (real arithmetic: no complex products in the backward
    pass), and since it is non-negative the denoised magnitude is ``mask · |noisy|``: pass ``noisy_magnitude``
    when it is at hand. Both are fastest when the mask is laid out as the spectrum is (frame-major).
    """
    parts = torch.view_as_real(noisy_spectrum) * mask.unsqueeze(-1)
    if noisy_magnitude is None:
        noisy_magnitude = noisy_spectrum.abs()
    return istft(torch.view_as_complex(parts), length), mask * noisy_magnitude


def ndns_loss(clean: torch.Tensor, denoised: torch.Tensor, clean_magnitude: torch.Tensor,
              denoised_magnitude: torch.Tensor, mse_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, per-row SI-SNR): ``100 − mean SI-SNR + mse_weight · MSE`` on magnitudes."""
    score = si_snr(clean, denoised)
    mse = torch.nn.functional.mse_loss(denoised_magnitude, clean_magnitude)
    return 100.0 - score.mean() + mse_weight * mse, score
