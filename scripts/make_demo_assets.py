"""Build the live app's demo clip and noise recordings in assets/ from Debian packages (reproducible).

    python scripts/make_demo_assets.py [--sources build/asset-sources]

Sources (``apt-get download``, unpacked with ``dpkg-deb -x``, never installed):
  asterisk-core-sounds-{en,es,fr,ru}-g722  speech prompts, CC-BY-SA-3.0 (en/es: Allison Smith,
                                           fr: June Wallack) and CC-BY-3.0 (ru: Maxim Topal)
  bucklespring-data                        mechanical keyboard key sounds, GPL-2+ (Ico Doornekamp)
Writes (16 kHz mono FLAC): assets/demo/noisy_speech.flac (English speech + typing + desk fan at
5 dB SNR) and its clean speech (assets/demo/clean_speech.flac, the reference that scores the demo),
assets/noise/{babble,cafe,keyboard}.flac. assets/README.md states the licences.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))
from decode_g722 import decode  # noqa: E402

from engine.constants import SAMPLE_RATE  # noqa: E402
from engine.dsp.mixing import mix_at_snr  # noqa: E402
from engine.files.audio import load_audio, resample  # noqa: E402
from engine.live.noise import fan_noise  # noqa: E402

VOICES = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June", "ru": "ru_RU_f_IvrvoiceRU"}
DEMO_PROMPTS = ("conf-thereare", "vm-intro", "conf-getpin", "vm-options", "agent-user", "vm-savedto")
BED_SECONDS = 6.0


def fetch(package: str, sources: Path) -> Path:
    target = sources / package
    if target.is_dir():
        return target
    sources.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", package], cwd=sources, check=True)
    deb = sorted(sources.glob(f"{package}_*.deb"))[-1]
    subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    return target


def prompts(root: Path, voice: str, min_seconds: float = 2.0) -> list[Path]:
    folder = root / "usr/share/asterisk/sounds" / voice
    return sorted(p for p in folder.rglob("*.g722") if p.stat().st_size > min_seconds * 8000)


def trim(audio: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0]:loud[-1] + 1] if loud.size else audio


def talker(files: list[Path], seconds: float, rng: np.random.Generator, pitch: float) -> np.ndarray:
    """One babble voice: random prompts back to back; ``pitch`` < 1 lowers it (resampling)."""
    out, total = [], 0
    needed = int(seconds * SAMPLE_RATE)
    while total < needed:
        audio = trim(decode(files[rng.integers(len(files))]))
        if pitch != 1.0:
            audio = resample(audio, 1000, int(round(1000 * pitch)))
        out.append(audio)
        out.append(np.zeros(int(rng.uniform(0.05, 0.3) * SAMPLE_RATE), np.float32))
        total += out[-2].size + out[-1].size
    voice = np.concatenate(out)[:needed]
    return voice / np.sqrt(np.mean(voice**2))


def babble(sources: Path, n_talkers: int, rng: np.random.Generator) -> np.ndarray:
    voices = []
    for i in range(n_talkers):
        lang = list(VOICES)[i % len(VOICES)]
        files = prompts(sources / f"asterisk-core-sounds-{lang}-g722", VOICES[lang])
        pitch = (1.0, 0.8, 1.1, 0.75)[i % 4]  # some voices lowered: male-like
        voices.append(talker(files, BED_SECONDS, rng, pitch))
    mix = np.sum(voices, axis=0)
    return mix / np.sqrt(np.mean(mix**2))


def clinks(length: int, rng: np.random.Generator) -> np.ndarray:
    """Cups and cutlery: short decaying partials at random times (synthetic)."""
    out = np.zeros(length)
    t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    for onset in rng.integers(0, length - t.size, size=int(length / SAMPLE_RATE * 1.5)):
        f0 = rng.uniform(1800, 4200)
        tone = sum(np.sin(2 * np.pi * f0 * r * t) / r for r in (1.0, 2.76, 5.4))
        out[onset:onset + t.size] += rng.uniform(0.3, 1.0) * tone * np.exp(-t * rng.uniform(25, 60))
    return out


def typing(key_files: list[Path], length: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(length)
    onset = 0
    while onset < length:
        click = load_audio(key_files[rng.integers(len(key_files))]).astype(np.float64)
        end = min(length, onset + click.size)
        out[onset:end] += click[:end - onset]
        onset += int(rng.uniform(0.08, 0.22) * SAMPLE_RATE)
    return out / np.sqrt(np.mean(out**2))


def unit(audio: np.ndarray, peak: float = 0.5) -> np.ndarray:
    return (audio * peak / np.max(np.abs(audio))).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, default=REPO / "build" / "asset-sources")
    args = parser.parse_args()
    for lang in VOICES:
        fetch(f"asterisk-core-sounds-{lang}-g722", args.sources)
    keys_root = fetch("bucklespring-data", args.sources)
    key_files = sorted((keys_root / "usr/share/buckle/wav").glob("*.wav"))
    rng = np.random.default_rng(2024)
    length = int(BED_SECONDS * SAMPLE_RATE)

    noise_dir = REPO / "assets" / "noise"
    noise_dir.mkdir(parents=True, exist_ok=True)
    sf.write(noise_dir / "babble.flac", unit(babble(args.sources, 6, rng)), SAMPLE_RATE)
    cafe = babble(args.sources, 10, rng) + 0.6 * clinks(length, rng) / 0.3
    sf.write(noise_dir / "cafe.flac", unit(cafe), SAMPLE_RATE)
    sf.write(noise_dir / "keyboard.flac", unit(typing(key_files, length, rng)), SAMPLE_RATE)

    en = args.sources / "asterisk-core-sounds-en-g722" / "usr/share/asterisk/sounds" / VOICES["en"]
    parts = []
    for name in DEMO_PROMPTS:
        parts.append(trim(decode(next(en.rglob(f"{name}.g722")))))
        parts.append(np.zeros(int(0.4 * SAMPLE_RATE), np.float32))
    speech = np.concatenate(parts)
    noise = typing(key_files, speech.size, rng) + 0.7 * fan_noise(speech.size, rng)
    mix = mix_at_snr(speech, noise, snr_db=5.0, target_level_dbfs=-25.0)
    demo = REPO / "assets" / "demo" / "noisy_speech.flac"
    demo.parent.mkdir(parents=True, exist_ok=True)
    sf.write(demo, mix.noisy, SAMPLE_RATE)
    sf.write(demo.with_name("clean_speech.flac"), mix.clean, SAMPLE_RATE)  # the reference for SI-SNRi
    print(f"demo clip {speech.size / SAMPLE_RATE:.1f} s -> {demo}; noise beds in {noise_dir}")


if __name__ == "__main__":
    main()
