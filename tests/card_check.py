"""The card check: a small held-out set that CI can rebuild, and a model's numbers on it.

A card's headline numbers (``metrics.si_snr``, ``metrics.power_proxy_mops``) are measured on its dataset's
validation split (``metrics.measured_on``, ``data.dataset``), which CI cannot rebuild: its 192 clips mix
~2 GB of Debian packages (Tux Paint, UFO:AI, FlightGear, oxygen sounds, asterisk...) with pause and offset draws of
the builder's random generator that the manifest does not record. So each shipped card also carries
``metrics.card_check``: the same quantities on this set, written by scripts/measure_card_check.py, which
tests/test_card_numbers.py re-measures.

The set comes from the validation split's own sources that the test corpus fetches in CI: the
asterisk-en speaker (prompts joined) under real typing (bucklespring keys) and pink noise, one clip per
SNR in :data:`SNRS_DB` — held out from training like the split itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.backends import prepare
from engine.denoiser import denoise
from engine.evaluation.metrics import si_snr
from engine.snn.model import SDNNModel
from engine.snn.telemetry import RunTotals
from tests import corpus

SNRS_DB = (0.0, 5.0, 10.0, 15.0)
CLIP_SECONDS = 4.0
BACKEND = "sparse"  # the event-driven path: SynOps counted from real events x real nonzero fan-out
_SNRS = ", ".join(f"{s:g}" for s in SNRS_DB)
DESCRIPTION = (f"card check: {len(SNRS_DB)} clips of {CLIP_SECONDS:g} s, asterisk-en prompts (validation speaker) "
               f"under bucklespring typing (validation noise) plus pink noise at {_SNRS} dB SNR "
               f"(tests/card_check.py), backend {BACKEND}")


def card_check_set(speech: list[Path], keys: list[Path]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(noisy, clean)`` clips, deterministic: clip k joins the prompts from the k-th quarter of the corpus."""
    step = len(speech) // len(SNRS_DB)
    clips = []
    for k, snr_db in enumerate(SNRS_DB):
        clean = corpus.joined_speech(speech[k * step:] + speech[:k * step], CLIP_SECONDS)
        clips.append(corpus.typing_noise_mix(clean, keys, snr_db=snr_db, seed=1000 + k))
    return clips


@dataclass(frozen=True)
class CardCheck:
    """A model's numbers on the card-check set, as stored under a card's ``metrics.card_check``."""

    si_snr_in: list[float]  # per clip: the noisy input (shows that the set rebuilt is the set measured)
    si_snr: list[float]  # per clip: the output
    power_proxy_mops: float  # (SynOps + 10 NeuronOps) per 8 ms frame over all clips, in M-Ops/s

    @property
    def si_snri(self) -> float:
        return float(np.mean(self.si_snr) - np.mean(self.si_snr_in))

    def to_card(self) -> dict:
        return {"set": DESCRIPTION, "si_snr_in": [round(v, 4) for v in self.si_snr_in],
                "si_snr": [round(v, 4) for v in self.si_snr], "si_snri": round(self.si_snri, 4),
                "power_proxy_mops": round(self.power_proxy_mops, 4)}

    @classmethod
    def from_card(cls, stored: dict) -> CardCheck:
        return cls(list(stored["si_snr_in"]), list(stored["si_snr"]), float(stored["power_proxy_mops"]))


def measure(model: SDNNModel, clips: list[tuple[np.ndarray, np.ndarray]]) -> CardCheck:
    """Denoise every clip (fresh state each) on :data:`BACKEND` and score it."""
    totals = RunTotals(layer_sizes=model.neuron_counts[:-1])
    before, after = [], []
    with contextlib.closing(prepare(model, BACKEND)) as runner:
        for noisy, clean in clips:
            result = denoise(noisy, runner)
            totals.merge(result.totals)
            before.append(float(si_snr(clean, noisy)))
            after.append(float(si_snr(clean, result.audio)))
    return CardCheck(before, after, totals.power_proxy_mops)


def corpus_clips() -> list[tuple[np.ndarray, np.ndarray]]:
    """The card-check set from the test corpus (fetched if needed)."""
    speech = corpus.speech_files()
    return card_check_set(speech, corpus.keyboard_files())

