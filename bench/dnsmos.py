"""DNSMOS P.835 (SIG, BAK, OVRL): Microsoft's non-intrusive speech-quality estimate, as on the N-DNS board.

Runs the ONNX models that PyPI ``speechmos`` bundles (requirements/baselines.txt), on this machine: nothing
is downloaded. A clip shorter than the model's 9.01 s window is repeated to fill it, as speechmos does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.constants import SAMPLE_RATE


@dataclass(frozen=True)
class P835:
    """Predicted mean opinion scores, 1 (bad) to 5 (excellent)."""

    sig: float  # speech signal distortion
    bak: float  # background noise intrusiveness
    ovrl: float  # overall quality


class DNSMOS:
    """Scores 16 kHz mono float audio; the models load once, on construction."""

    def __init__(self) -> None:
        try:
            from speechmos import dnsmos
        except ImportError as exc:
            raise RuntimeError(f"speechmos is not installed (requirements/baselines.txt): {exc}") from exc
        self._run = dnsmos.run

    def __call__(self, audio: np.ndarray) -> P835:
        # the models read int16-range audio scaled to [-1, 1]: a louder output is clipped as a file would be
        clipped = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        scores = self._run(clipped, SAMPLE_RATE)
        return P835(float(scores["sig_mos"]), float(scores["bak_mos"]), float(scores["ovrl_mos"]))
