"""Shared fixtures: a real-speech corpus and real noise (see tests/corpus.py).

If the corpus cannot be fetched, the fixtures fail with the script's output: a test that needs real
speech must not pass without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests import corpus

SPEECH_SECONDS = 10.0

# Headless Qt on a screen the size of a desktop's (Qt's offscreen default is 800×800: smaller than the window the app
# opens, so no restored or remembered layout could be checked as a user would see it). Before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM",
                      f"offscreen:configfile={Path(__file__).with_name('offscreen-screen.json')}")


@pytest.fixture(scope="session")
def speech_corpus() -> list[Path]:
    """The corpus's 40 real US-English speech WAV files (16 kHz), sorted."""
    try:
        return corpus.speech_files()
    except corpus.CorpusUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def keyboard_noise_files(speech_corpus: list[Path]) -> list[Path]:
    """Real mechanical-keyboard key sounds (bucklespring-data), fetched with the corpus."""
    try:
        return corpus.keyboard_files()
    except corpus.CorpusUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def real_speech(speech_corpus: list[Path]) -> np.ndarray:
    """10 s of real speech: the first corpus files joined, float32 at 16 kHz."""
    return corpus.joined_speech(speech_corpus, SPEECH_SECONDS)


@pytest.fixture(scope="session")
def noisy_speech(real_speech: np.ndarray, keyboard_noise_files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """``real_speech`` mixed at 5 dB SNR with typing (real key sounds) plus pink noise: (noisy, clean)."""
    return corpus.typing_noise_mix(real_speech, keyboard_noise_files)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, speech_corpus: list[Path], keyboard_noise_files: list[Path]) -> Path:
    """24 training and 6 validation clips of 2 s (N-DNS layout), built by engine.training.dataset_builder."""
    from tests.training_data import build_tiny_dataset

    return build_tiny_dataset(tmp_path_factory.mktemp("dataset"), speech_corpus, keyboard_noise_files)


@pytest.fixture(scope="session")
def virtual_audio():
    """A private PipeWire server (16 kHz, quantum 128) with the null sinks mic_feed and app_out.

    Processes that use it must run PortAudio under its JACK libraries (``virtual_audio.jack_env()``,
    e.g. through ``EngineHost(env=...)``) and end before the session does: PortAudio has to terminate
    before PipeWire stops. Everything the fixture started is killed at the end.
    """
    from tests.virtual_audio import VirtualAudio, VirtualAudioUnavailable

    audio = VirtualAudio(rate=16000)
    try:
        audio.start()
    except VirtualAudioUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield audio
    finally:
        audio.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (gitignored): screenshots and captured audio."""
    folder = Path(__file__).resolve().parents[1] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
