"""Quality and cost metrics, as the Intel N-DNS challenge defines them.

Every function takes plain numbers or arrays; none knows about a model class.

Sources (IntelLabs/IntelNeuromorphicDNSChallenge):

* SI-SNR — README.md, "Evaluation Metrics" > "SI-SNR", implemented in ``snr.py``::

      SI-SNR = 10 log10( ||s_target||^2 / ||e_noise||^2 )
      s = zero mean target signal, ŝ = zero mean estimate signal,
      s_target = <ŝ, s> s / ||s||^2,  e_noise = ŝ - s_target

  ``snr.py`` adds EPS = 1e-8 twice: ``10 log10(||s_target||² / (||e_noise||² + EPS) + EPS)``.
  SI-SNRi is the SI-SNR of the output minus that of the noisy input (README: "improvement
  against both noisy data and encode+decode processing").

* Power and PDP proxies — the README's "Evaluation Metrics" list names "Power of the N-DNS
  network (proxy for Track 1)" and "Power Delay Product (PDP) of the N-DNS solution (proxy
  for Track 1)" and defers the definitions to ``baseline_solution/sdnn_delays/
  evaluate_network.ipynb``, section "Computational Metrics" (the repository stores that
  notebook as a Git LFS pointer; quoted from a published script export of it), which says:

      Power proxy: To estimate proxy for the power of the N-DNS solution, we use the weighted
      sum of NeuronOPS and SynOPS which typically consume the majority of the power in a
      neuromorphic system. Based on our silicon characterization of Loihi and Loihi 2,
      NeuronOps consume approximately 10x energy than SynOps. Therefore, we use the following
      power proxy:  P_proxy = Effective SynOPS = SynOPS + 10 x NeuronOPS
      Power delay product proxy: [...] PDP_proxy = SynOPS delay product = P_proxy x latency

  and computes it per time step of ``dt = hop_length / fs`` (128 / 16000 s = 8 ms)::

      effective_synops_rate = (sum(synops) + 10 * sum(neuronops)) / dt
      synops_delay_product = effective_synops_rate * latency

  where ``synops`` per layer = mean event rate of the layer's input x synapse count, and
  ``neuronops`` = the number of neurons of every block but the output block (each updated
  once per step: 257 + 512 + 512 for the baseline). Check against the metricsboard:
  14.54 M-Ops/s x 32.030 ms = 0.466 M-Ops (board: 0.46).

* Parameters and model size — the README states no formula. Its metricsboard lists the
  baseline SDNN at "Params (x10^3) 525" and "Size (KB) 465" (``example_metricsboard_
  writeout.py``: ``'params': 525 * 10**3, 'size_kilobytes': 465``). The parameter count is
  the number of synaptic weights: 257*512 + 512*512 + 512*257 = 525,312 (the 1,024 axonal
  delays are not counted: 526,336 would read 526). For the size, SPANDEX counts what must be
  stored: ``(nonzero weights x weight_bits + delays x delay_bits) / 8`` bytes, KB = 1000 bytes.
  This does NOT reproduce the board's 465 KB: the dense baseline at 8 bits gives 526.3 KB and
  the published trained baseline (384,498 nonzero 8-bit weights) 385.5 KB.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import overload

import numpy as np

from engine.constants import HOP_S, SAMPLE_RATE
from engine.errors import AudioInputError

EPS = 1e-8
"""The N-DNS snr.py epsilon."""

NEURON_OP_WEIGHT = 10
"""Energy of one NeuronOp in SynOps (N-DNS power proxy: SynOPS + 10 x NeuronOPS)."""

SNR_BANDS: tuple[tuple[str, float, float], ...] = (
    ("<0", -math.inf, 0.0), ("0–6", 0.0, 6.0), ("6–12", 6.0, 12.0), ("≥12", 12.0, math.inf))
"""The input-SNR bands (name, from, below; dB) SPANDEX's quality tables split clips into (bench/quality.py's held-out
table, ``spandex sharpen``'s)."""


def snr_band(snr_db: float) -> str:
    """The name of the :data:`SNR_BANDS` band an input SNR (dB) falls in."""
    return next(name for name, low, high in SNR_BANDS if low <= snr_db < high)


def si_snr(target: np.ndarray, estimate: np.ndarray) -> float | np.ndarray:
    """Scale-invariant SNR in dB over the last axis, exactly as N-DNS ``snr.py`` (float64).

    Returns a float for 1-D inputs, otherwise an array of shape ``target.shape[:-1]``.
    An all-zero (or constant) target gives NaN, as in ``snr.py``.
    """
    t = np.asarray(target, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    if t.shape != e.shape:
        raise AudioInputError(
            f"SI-SNR needs target and estimate of the same shape, got {t.shape} and {e.shape}"
        )
    t = t - t.mean(axis=-1, keepdims=True)
    e = e - e.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        proj = np.sum(t * e, axis=-1, keepdims=True) * t / np.sum(t**2, axis=-1, keepdims=True)
        noise = e - proj
        ratio = np.sum(proj**2, axis=-1) / (np.sum(noise**2, axis=-1) + EPS)
        result = 10.0 * np.log10(ratio + EPS)
    return float(result) if result.ndim == 0 else result


class SISNRSums:
    """:func:`si_snr` of two signals too long to hold, from sums taken block by block (float64).

    ``add(target_block, estimate_block)`` for consecutive blocks; ``value()`` is the SI-SNR in dB of the whole
    signals (the same formula, means removed through the sums; equal to :func:`si_snr` to rounding).
    """

    def __init__(self) -> None:
        self.n = 0
        self.t = self.e = self.tt = self.ee = self.te = 0.0

    def add(self, target: np.ndarray, estimate: np.ndarray) -> None:
        t, e = _same_length_1d(target, estimate, "SI-SNR")
        self.n += t.size
        self.t += float(t.sum())
        self.e += float(e.sum())
        self.tt += float(np.dot(t, t))
        self.ee += float(np.dot(e, e))
        self.te += float(np.dot(t, e))

    def value(self) -> float:
        if self.n == 0:
            return math.nan
        te = self.te - self.t * self.e / self.n
        tt = self.tt - self.t * self.t / self.n
        ee = self.ee - self.e * self.e / self.n
        if tt <= 0:
            return math.nan  # a constant target, as in si_snr
        target_energy = te * te / tt
        noise_energy = max(ee - target_energy, 0.0)
        return float(10.0 * np.log10(target_energy / (noise_energy + EPS) + EPS))


def si_snri(
    clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray
) -> float | np.ndarray:
    """SI-SNR improvement in dB: ``si_snr(clean, denoised) - si_snr(clean, noisy)``."""
    return si_snr(clean, denoised) - si_snr(clean, noisy)


def pesq_wb(clean: np.ndarray, denoised: np.ndarray) -> float | None:
    """Wide-band PESQ (ITU-T P.862.2, MOS-LQO) of 16 kHz signals, via the ``pesq`` package.

    Returns None where PESQ cannot score the input: an all-zero reference, no speech found
    in it ("no utterances detected", e.g. silence or low noise), a buffer too short, or an
    all-zero ``denoised`` (the PESQ C code then fails on NaN).
    """
    from pesq import PesqError, pesq  # imported where scored: a command that scores nothing starts faster

    ref, deg = _same_length_1d(clean, denoised, "PESQ")
    if not np.any(ref):
        return None
    try:
        score = pesq(SAMPLE_RATE, ref, deg, "wb")
    except (PesqError, ValueError):  # ValueError: the C code hit NaN (e.g. all-zero output)
        return None
    return float(score) if math.isfinite(score) else None


def stoi(clean: np.ndarray, denoised: np.ndarray) -> float | None:
    """Short-time objective intelligibility (0..1) of 16 kHz signals, via ``pystoi``.

    Returns None where STOI is undefined: an all-zero reference, or fewer than 30 frames
    (~384 ms) of reference left after pystoi removes its silent frames (pystoi then warns and
    returns a placeholder 1e-5).
    """
    from pystoi import stoi as _pystoi  # imports scipy.signal (about a second): only where STOI is scored

    ref, deg = _same_length_1d(clean, denoised, "STOI")
    if not np.any(ref):
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = float(_pystoi(ref, deg, SAMPLE_RATE, extended=False))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return None
    return score if math.isfinite(score) else None


def model_params(weight_shapes: Iterable[tuple[int, ...]]) -> int:
    """N-DNS parameter count: the number of synaptic weights over all layers (delays excluded)."""
    return sum(math.prod(shape) for shape in weight_shapes)


def model_size_kb(
    nonzero_weights: int,
    n_delays: int = 0,
    weight_bits: int = 8,
    delay_bits: int = 8,
) -> float:
    """Storage of the synaptic weights and axonal delays in KB (1000 bytes).

    ``(nonzero_weights * weight_bits + n_delays * delay_bits) / 8 / 1000``. Pass the dense
    weight count for a dense store, the nonzero count for a sparse one.
    """
    if nonzero_weights < 0 or n_delays < 0:
        raise ValueError("weight and delay counts must be non-negative")
    return (nonzero_weights * weight_bits + n_delays * delay_bits) / 8 / 1000


@overload
def power_proxy_ops_per_s(synops_per_frame: float, neuronops_per_frame: float, hop_s: float = HOP_S) -> float: ...


@overload
def power_proxy_ops_per_s(synops_per_frame: np.ndarray, neuronops_per_frame: float | np.ndarray,
                          hop_s: float = HOP_S) -> np.ndarray: ...


@overload
def power_proxy_ops_per_s(synops_per_frame: float | np.ndarray, neuronops_per_frame: np.ndarray,
                          hop_s: float = HOP_S) -> np.ndarray: ...


def power_proxy_ops_per_s(
    synops_per_frame: float | np.ndarray,
    neuronops_per_frame: float | np.ndarray,
    hop_s: float = HOP_S,
) -> float | np.ndarray:
    """N-DNS power proxy in Ops/s: ``(SynOps + 10 * NeuronOps) / hop_s`` (per-frame counts)."""
    return (synops_per_frame + NEURON_OP_WEIGHT * neuronops_per_frame) / hop_s


def pdp_proxy(power_proxy: float | np.ndarray, latency_s: float) -> float | np.ndarray:
    """N-DNS power-delay-product proxy in Ops: power proxy (Ops/s) x total latency (s)."""
    return power_proxy * latency_s


def _same_length_1d(a: np.ndarray, b: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise AudioInputError(
            f"{what} needs two 1-D signals of the same length, got shapes {a.shape} and {b.shape}"
        )
    return a, b
