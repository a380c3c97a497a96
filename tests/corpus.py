"""The real-speech corpus (scripts/fetch_corpus.sh) and the noisy mixture tests and benchmarks share.

The corpus lives in build/corpus/ (never committed): 40 real US-English speech prompts at 16 kHz
(asterisk-core-sounds-en-g722) and real mechanical-keyboard key sounds (bucklespring-data).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from engine.constants import SAMPLE_RATE
from engine.dsp.mixing import mix_at_snr, pink_noise
from engine.files.audio import load_audio

REPO = Path(__file__).resolve().parents[1]
FETCH_SCRIPT = REPO / "scripts" / "fetch_corpus.sh"
CORPUS = Path(os.environ.get("SPANDEX_CORPUS", REPO / "build" / "corpus"))


class CorpusUnavailable(RuntimeError):
    """The corpus could not be fetched; the message holds the fetch script's output."""


def speech_files() -> list[Path]:
    """Fetch the corpus if needed; return its speech WAV files, sorted."""
    result = subprocess.run(
        ["bash", str(FETCH_SCRIPT)],
        env={**os.environ, "PYTHON": sys.executable, "SPANDEX_CORPUS": str(CORPUS)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise CorpusUnavailable(
            f"could not fetch the speech corpus with {FETCH_SCRIPT} (exit {result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    files = sorted((CORPUS / "speech").glob("*.wav"))
    if not files:
        raise CorpusUnavailable(f"{FETCH_SCRIPT} ran but left no WAV files in {CORPUS / 'speech'}")
    return files


def keyboard_files() -> list[Path]:
    """Real key sounds, fetched with the speech (call :func:`speech_files` first)."""
    files = sorted((CORPUS / "noise" / "keyboard").glob("*.wav"))
    if not files:
        raise CorpusUnavailable(f"no keyboard noise in {CORPUS / 'noise' / 'keyboard'}")
    return files


def joined_speech(files: list[Path], seconds: float) -> np.ndarray:
    """The first corpus files joined, cut to ``seconds``: float32 at 16 kHz."""
    needed = int(seconds * SAMPLE_RATE)
    parts, total = [], 0
    for path in files:
        parts.append(load_audio(path))
        total += parts[-1].size
        if total >= needed:
            break
    return np.concatenate(parts)[:needed]


def typing_noise_mix(speech: np.ndarray, keys: list[Path], snr_db: float = 5.0,
                     seed: int = 20240611) -> tuple[np.ndarray, np.ndarray]:
    """``speech`` mixed at ``snr_db`` with typing (real key sounds, ~7 a second) plus pink noise.

    Returns ``(noisy, clean)``, float32 at 16 kHz, the clean part as scaled in the mix.
    """
    rng = np.random.default_rng(seed)
    n = speech.size
    typing = np.zeros(n, dtype=np.float32)
    onset = 0
    while onset < n:
        click = load_audio(keys[rng.integers(len(keys))])
        end = min(n, onset + click.size)
        typing[onset:end] += click[: end - onset]
        onset += int(rng.uniform(0.08, 0.2) * SAMPLE_RATE)
    typing /= np.sqrt(np.mean(typing**2))
    noise = typing + 0.5 * pink_noise(n, rng)
    mix = mix_at_snr(speech, noise, snr_db)
    return mix.noisy, mix.clean
