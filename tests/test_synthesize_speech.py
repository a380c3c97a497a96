"""scripts/synthesize_speech.py: the plan of utterances, the reading of Tux Paint's texts, and a real
espeak-ng run (its Debian packages, ~5 MB, downloaded with apt-get into build/tts-test-cache once)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "synthesize_speech.py"
CACHE = Path(os.environ.get("SPANDEX_TTS_TEST_CACHE", REPO / "build" / "tts-test-cache"))

spec = importlib.util.spec_from_file_location("synthesize_speech", SCRIPT)
synth = importlib.util.module_from_spec(spec)
sys.modules["synthesize_speech"] = synth  # dataclasses look their module up there
spec.loader.exec_module(synth)


def test_plan_is_seeded_varied_and_grows_by_extension():
    voice = next(v for v in synth.VOICES if v.engine == "flite")
    sentences = [f"Sentence number {i} is here." for i in range(200)]
    plan = synth.plan(voice, sentences, 60, seed=0)
    assert plan == synth.plan(voice, sentences, 60, seed=0)
    assert plan != synth.plan(voice, sentences, 60, seed=1)
    # a longer target only appends: files already written keep matching their plan entries
    assert synth.plan(voice, sentences, 120, seed=0)[:len(plan)] == plan
    texts = [u.text for u in plan]
    assert len(set(texts)) == len(texts)
    assert len({round(u.rate, 3) for u in plan}) == len(plan) and all(0.8 <= u.rate <= 1.25 for u in plan)
    assert all(0.92 <= u.warp <= 1.08 and 0.8 <= u.pitch <= 1.25 for u in plan)
    planned = sum(len(u.text) / synth.CHARS_PER_SECOND / u.rate for u in plan)
    assert 60 <= planned < 60 + 60 / 2


def test_voices_are_distinct_training_groups_never_test_speakers():
    groups = [v.group for v in synth.VOICES]
    assert len(set(groups)) == len(groups) >= 8
    assert all(g.startswith("tts-") and "ktuberling" not in g for g in groups)


def test_read_sentences_takes_each_language_and_skips_untranslated(tmp_path):
    stamp = tmp_path / "animals" / "cat.txt"
    stamp.parent.mkdir()
    stamp.write_text("A cat (“Felis catus”).\nde.utf8=Eine Katze.\nfr.utf8=A cat (“Felis catus”).\n"
                     "it.utf8=Un gatto.\n", encoding="utf-8")
    (tmp_path / "dog.txt").write_text("A dog.\nde.utf8=Ein Hund.\n", encoding="utf-8")
    sentences = synth.read_sentences(tmp_path)
    assert sentences["en"] == ["A cat Felis catus.", "A dog."]
    assert sentences["de"] == ["Eine Katze.", "Ein Hund."]
    assert sentences["it"] == ["Un gatto."]
    assert "fr" not in sentences


def test_espeak_voice_writes_16k_speech_and_skips_it_next_time(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("The quick brown fox jumps over the lazy dog.\nShe sells sea shells by the sea shore.\n",
                     encoding="utf-8")
    dest = tmp_path / "sources"
    command = [sys.executable, str(SCRIPT), str(CACHE), str(dest), "--voices", "espeak-ng-en-us",
               "--texts", str(texts), "--jobs", "1"]
    run = subprocess.run(command, check=False, capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    wavs = sorted((dest / "speech" / "train").glob("*/*.wav"))
    assert {w.parent.name for w in wavs} == {"tts-espeak-ng-en-us-m3"}
    assert 1 <= len(wavs) <= 2
    words = 0
    for wav in wavs:
        info = sf.info(wav)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        audio, _ = sf.read(wav, dtype="float64")
        assert 1.0 < audio.size / 16000 < 12.0
        assert 0.05 < np.max(np.abs(audio)) <= 0.9 + 1 / 32768
        # speech-like: the energy comes and goes (syllables and pauses) and lies mostly in the speech band
        frames = audio[: audio.size // 320 * 320].reshape(-1, 320)
        level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        active = level > level.max() - 30
        assert 0.4 < active.mean() < 0.98
        words += np.count_nonzero(np.diff(active.astype(int)) == 1)
        spectrum = np.abs(np.fft.rfft(audio)) ** 2
        freqs = np.fft.rfftfreq(audio.size, 1 / 16000)
        assert spectrum[(freqs > 100) & (freqs < 4000)].sum() > 0.7 * spectrum.sum()
    assert words >= 3  # several bursts of sound, not one tone
    before = {w: w.stat().st_mtime_ns for w in wavs}
    again = subprocess.run(command, check=False, capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 0 and "(0 new)" in again.stdout, again.stdout
    assert {w: w.stat().st_mtime_ns for w in wavs} == before
