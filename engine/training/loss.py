"""The N-DNS training objective, on waveforms rebuilt exactly as the streaming denoiser rebuilds them.

``loss = 100 − mean SI-SNR(clean, denoised) + λ · MSE(|denoised STFT|, |clean STFT|)`` (N-DNS
``train_sdnn.py``, λ = 0.001 there). The STFT is the engine's: n_fft 512, hop 128, rectangular window, centred
frames with zero padding (:mod:`engine.dsp.stft`), so the training graph sees the magnitudes the live engine sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.constants import HOP, N_FFT
from engine.evaluation.metrics import EPS
from engine.training import fused


def stft(audio: torch.Tensor) -> torch.Tensor:
    """Complex spectra ``(B, 257, frames)`` of ``(B, samples)`` audio, the engine's framing."""
    window = torch.ones(N_FFT, dtype=audio.dtype, device=audio.device)
    return torch.stft(audio, N_FFT, HOP, window=window, center=True, pad_mode="constant", return_complex=True)


def magnitude(spectrum: torch.Tensor) -> torch.Tensor:
    """``spectrum.abs()``. For constant single-precision spectra on the CPU computed as ``hypot`` of the real and
    imaginary parts, 2.2 times as fast there (8 against 18 ms for 16 × 4 s): the same numbers but for rare ties in
    the last bit far below audio levels (2 in 70 million values near 1e-32). Where a gradient flows it is ``abs``
    itself (hypot's gradient is NaN at a zero bin), and in double precision too (more such ties)."""
    if spectrum.dtype == torch.complex64 and spectrum.device.type == "cpu" and not spectrum.requires_grad:
        return torch.hypot(spectrum.real, spectrum.imag)
    return spectrum.abs()


@dataclass(frozen=True)
class BatchSpectra:
    """A training batch and what a step needs of it before the network runs; no gradient flows into any of it."""

    noisy: torch.Tensor  # (B, samples)
    clean: torch.Tensor  # (B, samples)
    noisy_spectrum: torch.Tensor  # (B, 257, T) complex
    noisy_magnitude: torch.Tensor  # (B, 257, T), the network's input
    clean_magnitude: torch.Tensor  # (B, 257, T), the MSE term's target


def batch_spectra(batch: tuple[torch.Tensor, torch.Tensor]) -> BatchSpectra:
    """:class:`BatchSpectra` of a ``(noisy, clean)`` batch, on the batch's device.

    On a CPU run this is done on the thread that draws the next batch (:mod:`engine.training.prefetch`), while the
    step before computes: the two STFTs and magnitudes are ~30 ms of a 16 × 4 s step here.
    """
    noisy, clean = batch
    with torch.no_grad():
        spectrum = stft(noisy)
        return BatchSpectra(noisy, clean, spectrum, magnitude(spectrum), magnitude(stft(clean)))


def istft(spectrum: torch.Tensor, length: int) -> torch.Tensor:
    """``torch.istft`` of :func:`stft`'s spectra (overlap-add, divided by how many frames cover each sample,
    centre padding removed), done frame by frame on a frame-major layout.

    ``torch.istft`` hands its backward pass a bin-major gradient, and multiplying that with frame-major spectra
    (as :func:`stft` makes them) strides through memory: a 21 ms copy in a 16 × 4 s training step here. The inverse
    FFT of frames ``(B, T, 257)`` and an overlap-add of their four 128-sample quarters keep every pass
    contiguous, forward and backward.
    """
    frames = torch.fft.irfft(spectrum.transpose(1, 2), n=N_FFT, dim=-1)  # (B, T, N_FFT)
    steps, quarters = frames.shape[1], N_FFT // HOP
    cover = frames.new_zeros(steps + quarters - 1, 1)  # how many frames cover each 128-sample block
    for quarter in range(quarters):
        cover[quarter:quarter + steps] += 1
    start = N_FFT // 2
    return (_OverlapAdd.apply(frames) / cover).reshape(frames.shape[0], -1)[:, start:start + length]


class _OverlapAdd(torch.autograd.Function):
    """Frames ``(B, T, N_FFT)`` overlap-added at hop ``HOP`` into ``(B, T + 3, HOP)`` blocks.

    Autograd's gradient of each of the four slice sums is a zero-filled frame-sized tensor with one quarter
    copied in, summed four times (~40 ms of a 16 × 4 s step here); each quarter's gradient is simply the slice of
    the blocks' gradient it was added to.
    """

    @staticmethod
    def forward(ctx, frames: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = frames.shape
        quarters = N_FFT // HOP
        blocks = frames.reshape(batch, steps, quarters, HOP)
        summed = frames.new_zeros(batch, steps + quarters - 1, HOP)
        for quarter in range(quarters):
            summed[:, quarter:quarter + steps] += blocks[:, :, quarter]
        return summed

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        batch, blocks, _ = grad.shape
        quarters = N_FFT // HOP
        steps = blocks - quarters + 1
        frames = grad.new_empty(batch, steps, quarters, HOP)
        for quarter in range(quarters):
            frames[:, :, quarter] = grad[:, quarter:quarter + steps]
        return frames.reshape(batch, steps, N_FFT)


def si_snr(target: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """SI-SNR in dB per row, as N-DNS ``snr.py`` (and :func:`engine.evaluation.metrics.si_snr`): NaN where the
    target is silent (or constant), where SI-SNR means nothing — computed so that no NaN reaches a gradient."""
    target = target - target.mean(dim=-1, keepdim=True)
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    energy = (target**2).sum(-1, keepdim=True)
    silent = energy == 0
    projection = (target * estimate).sum(-1, keepdim=True) * target / torch.where(silent, 1.0, energy)
    noise = estimate - projection
    ratio = (projection**2).sum(-1) / ((noise**2).sum(-1) + EPS)
    return torch.where(silent.squeeze(-1), torch.nan, 10 * torch.log10(ratio + EPS))


def denoise_batch(mask: torch.Tensor, noisy_spectrum: torch.Tensor, length: int,
                  noisy_magnitude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply non-negative masks ``(B, 257, T)`` to the noisy spectra (noisy phase kept): (audio, magnitudes).

    The mask scales real and imaginary parts alike (real arithmetic: no complex products in the backward
    pass), and since it is non-negative the denoised magnitude is ``mask · |noisy|``: pass ``noisy_magnitude``
    when it is at hand. Both are fastest when the mask is laid out as the spectrum is (frame-major).
    """
    noisy_parts = torch.view_as_real(noisy_spectrum)
    if noisy_parts.requires_grad:
        parts = noisy_parts * mask.unsqueeze(-1)
    else:  # the usual case: only the mask learns
        parts = _MaskedParts.apply(mask, noisy_parts)
    if noisy_magnitude is None:
        noisy_magnitude = magnitude(noisy_spectrum)
    return istft(torch.view_as_complex(parts), length), mask * noisy_magnitude


def masked_denoise(y: torch.Tensor, noisy_spectrum: torch.Tensor, length: int,
                   noisy_magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`denoise_batch` with the mask ``relu(y + 1)`` of a graph's output ``y``: (audio, magnitudes).

    On the CPU, with the compiled kernels (:mod:`engine.training.fused`), the mask, the masked parts and the
    denoised magnitude are one pass, and their backward another (instead of six elementwise passes and their
    gradients' sum), the same values; elsewhere the torch operations.
    """
    parts = torch.view_as_real(noisy_spectrum)
    if not parts.requires_grad and not noisy_magnitude.requires_grad and fused.takes_mask(y, parts, noisy_magnitude):
        masked, magnitude = _MaskOnSpectra.apply(y, parts, noisy_magnitude)
        return istft(masked, length), magnitude
    return denoise_batch(torch.relu(y + 1.0), noisy_spectrum, length, noisy_magnitude)


class _MaskOnSpectra(torch.autograd.Function):
    """``mask = relu(y + 1)``, the noisy spectra times the mask (complex, frame-major) and the denoised magnitude
    ``mask · |noisy|``, by the compiled kernels; the spectra are constants.

    The masked spectra leave as a complex tensor made here: ``torch.view_as_complex`` outside would hand the
    backward pass a bin-major copy of their gradient (its backward makes the gradient contiguous), which this
    one would then copy back (~18 ms for 16 × 4 s); the inverse STFT's gradient arrives frame-major as it is.
    """

    @staticmethod
    def forward(ctx, y: torch.Tensor, parts: torch.Tensor, magnitude: torch.Tensor):
        ctx.save_for_backward(y, parts, magnitude)
        masked, denoised = fused.mask_forward(y, parts, magnitude)
        return torch.view_as_complex(masked), denoised

    @staticmethod
    def backward(ctx, grad_spectrum: torch.Tensor, grad_magnitude: torch.Tensor):
        y, parts, magnitude = ctx.saved_tensors
        grad_masked = torch.view_as_real(grad_spectrum.resolve_conj())
        if not fused.takes_mask(y, grad_masked, grad_magnitude):  # handed another layout: make it the spectra's
            grad_masked = grad_masked.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)
            grad_magnitude = grad_magnitude.transpose(1, 2).contiguous().transpose(1, 2)
        return fused.mask_backward(y, parts, magnitude, grad_masked, grad_magnitude), None, None


class _MaskedParts(torch.autograd.Function):
    """``parts · mask`` for constant real and imaginary ``parts (B, 257, T, 2)`` and a learnt mask ``(B, 257, T)``.

    Autograd's own gradient of the mask is a product and a sum over the last axis of two: that sum is torch's
    slow case (29 ms for 16 × 4 s here). Written as ``re · re' + im · im'`` it takes 6 ms.
    """

    @staticmethod
    def forward(ctx, mask: torch.Tensor, parts: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(parts)
        return parts * mask.unsqueeze(-1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (parts,) = ctx.saved_tensors
        return torch.addcmul(grad[..., 0] * parts[..., 0], grad[..., 1], parts[..., 1]), None


def ndns_loss(clean: torch.Tensor, denoised: torch.Tensor, clean_magnitude: torch.Tensor,
              denoised_magnitude: torch.Tensor, mse_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, per-row SI-SNR): ``100 − mean SI-SNR + mse_weight · MSE`` on magnitudes. A row whose clean target
    is silent has no SI-SNR (NaN in the scores): the mean is over the others, and the MSE term alone teaches it."""
    score = si_snr(clean, denoised)
    scored = ~torch.isnan(score)
    if bool(scored.all()):  # the usual batch
        mean_score = score.mean()
    elif bool(scored.any()):
        mean_score = score[scored].mean()
    else:
        mean_score = score.new_zeros(())
    if fused.frame_major(denoised_magnitude):
        # frame-major, as the graph and the mask make them: the same mean over the same memory order, but the
        # gradient comes back frame-major too, not a copy
        denoised_magnitude, clean_magnitude = denoised_magnitude.transpose(1, 2), clean_magnitude.transpose(1, 2)
    mse = torch.nn.functional.mse_loss(denoised_magnitude, clean_magnitude)
    return 100.0 - mean_score + mse_weight * mse, score
