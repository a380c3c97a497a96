"""Shared fixtures: a real-speech corpus and real noise, fetched by scripts/fetch_corpus.sh.

The corpus lives in build/corpus/ (never committed). If it cannot be fetched, the fixtures
fail with the script's output: a test that needs real speech must not pass without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.audio_io import SAMPLE_RATE, load_audio
from engine.mixing import mix_at_snr, pink_noise

REPO = Path(__file__).resolve().parents[1]
FETCH_SCRIPT = REPO / "scripts" / "fetch_corpus.sh"
CORPUS = Path(os.environ.get("SPANDEX_CORPUS", REPO / "build" / "corpus"))
SPEECH_SECONDS = 10.0
NOISY_SNR_DB = 5.0


@pytest.fixture(scope="session")
def speech_corpus() -> list[Path]:
    """The corpus's 40 real US-English speech WAV files (16 kHz), sorted."""
    result = subprocess.run(
        ["bash", str(FETCH_SCRIPT)],
        env={**os.environ, "PYTHON": sys.executable, "SPANDEX_CORPUS": str(CORPUS)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            f"could not fetch the speech corpus with {FETCH_SCRIPT} (exit {result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}",
            pytrace=False,
        )
    files = sorted((CORPUS / "speech").glob("*.wav"))
    if not files:
        pytest.fail(f"{FETCH_SCRIPT} ran but left no WAV files in {CORPUS / 'speech'}", pytrace=False)
    return files


@pytest.fixture(scope="session")
def keyboard_noise_files(speech_corpus: list[Path]) -> list[Path]:
    """Real mechanical-keyboard key sounds (bucklespring-data), fetched with the corpus."""
    files = sorted((CORPUS / "noise" / "keyboard").glob("*.wav"))
    if not files:
        pytest.fail(f"no keyboard noise in {CORPUS / 'noise' / 'keyboard'}", pytrace=False)
    return files


@pytest.fixture(scope="session")
def real_speech(speech_corpus: list[Path]) -> np.ndarray:
    """10 s of real speech: the first corpus files joined, float32 at 16 kHz."""
    needed = int(SPEECH_SECONDS * SAMPLE_RATE)
    parts, total = [], 0
    for path in speech_corpus:
        parts.append(load_audio(path))
        total += parts[-1].size
        if total >= needed:
            break
    return np.concatenate(parts)[:needed]


@pytest.fixture(scope="session")
def noisy_speech(
    real_speech: np.ndarray, keyboard_noise_files: list[Path]
) -> tuple[np.ndarray, np.ndarray]:
    """``real_speech`` mixed at 5 dB SNR with typing (real key sounds) plus pink noise.

    Returns ``(noisy, clean)``, float32 at 16 kHz, the clean part as scaled in the mix.
    """
    rng = np.random.default_rng(20240611)
    n = real_speech.size
    typing = np.zeros(n, dtype=np.float32)
    onset = 0
    while onset < n:  # about seven keystrokes a second, each a random real key sound
        click = load_audio(keyboard_noise_files[rng.integers(len(keyboard_noise_files))])
        end = min(n, onset + click.size)
        typing[onset:end] += click[: end - onset]
        onset += int(rng.uniform(0.08, 0.2) * SAMPLE_RATE)
    typing /= np.sqrt(np.mean(typing**2))
    noise = typing + 0.5 * pink_noise(n, rng)
    mix = mix_at_snr(real_speech, noise, NOISY_SNR_DB)
    return mix.noisy, mix.clean
