"""The real-speech corpus (scripts/fetch_corpus.sh) and the noisy mixture tests and benchmarks share.

The corpus lives in build/corpus/ (never committed): 40 real US-English speech prompts at 16 kHz
(asterisk-core-sounds-en-g722) and real mechanical-keyboard key sounds (bucklespring-data) — both in the
dataset's validation split — and, fetched apart, an "unseen" set that no split uses: 24 Russian prompts
(asterisk-core-sounds-ru-g722) and fire, water, lava, furnace, cart and footstep recordings (minetest-data).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.constants import SAMPLE_RATE
from engine.dsp.mixing import loop_to_length, mix_at_snr, pink_noise
from engine.files.audio import load_audio

REPO = Path(__file__).resolve().parents[1]
FETCH_SCRIPT = REPO / "scripts" / "fetch_corpus.sh"
CORPUS = Path(os.environ.get("SPANDEX_CORPUS", REPO / "build" / "corpus"))


class CorpusUnavailable(RuntimeError):
    """The corpus could not be fetched; the message holds the fetch script's output."""


def _fetch(*args: str) -> None:
    result = subprocess.run(
        ["bash", str(FETCH_SCRIPT), *args],
        env={**os.environ, "PYTHON": sys.executable, "SPANDEX_CORPUS": str(CORPUS)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise CorpusUnavailable(
            f"could not fetch the speech corpus with {FETCH_SCRIPT} (exit {result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def speech_files() -> list[Path]:
    """Fetch the corpus if needed; return its speech WAV files, sorted."""
    _fetch()
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


# (input SNR dB, level dBFS) of the unseen mixtures: the N-DNS range, poor to good input, quiet to loud
UNSEEN_MIXES = ((-3.0, -30.0), (2.0, -20.0), (6.0, -35.0), (10.0, -25.0), (14.0, -18.0), (18.0, -28.0))


def unseen_files() -> tuple[list[Path], list[Path]]:
    """Fetch the unseen set if needed (``fetch_corpus.sh unseen``); return (speech WAVs, noise OGGs), sorted."""
    _fetch("unseen")
    speech = sorted((CORPUS / "unseen" / "speech").glob("*.wav"))
    noise = sorted((CORPUS / "unseen" / "noise").glob("*.ogg"))
    if not speech or not noise:
        raise CorpusUnavailable(f"{FETCH_SCRIPT} unseen left no speech or noise in {CORPUS / 'unseen'}")
    return speech, noise


def unseen_mixtures(speech: list[Path], noise: list[Path], seconds: float = 5.0,
                    seed: int = 11) -> list[tuple[np.ndarray, np.ndarray]]:
    """One clip per :data:`UNSEEN_MIXES` entry: prompts joined with short pauses, mixed with one noise
    recording (looped) at that SNR and level. Deterministic for a given ``seed``; ``(noisy, clean)`` pairs."""
    rng = np.random.default_rng(seed)
    needed = int(seconds * SAMPLE_RATE)
    noise = [path for path in noise if sf.info(path).duration >= 2.0]  # recordings, not single clicks
    speech_order, noise_order = rng.permutation(len(speech)), rng.permutation(len(noise))
    clips, next_prompt = [], 0
    for k, (snr_db, level_dbfs) in enumerate(UNSEEN_MIXES):
        parts, total = [], 0
        while total < needed:
            prompt = load_audio(speech[speech_order[next_prompt % len(speech)]])
            next_prompt += 1
            pause = np.zeros(int(rng.uniform(0.1, 0.4) * SAMPLE_RATE), dtype=np.float32)
            parts += [prompt, pause]
            total += prompt.size + pause.size
        clean = np.concatenate(parts)[:needed]
        recording = load_audio(noise[noise_order[k % len(noise)]])
        mix = mix_at_snr(clean, loop_to_length(recording, needed), snr_db, target_level_dbfs=level_dbfs)
        clips.append((mix.noisy, mix.clean))
    return clips
