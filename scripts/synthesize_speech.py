"""Synthesise multi-voice training speech with the text-to-speech engines Debian packages (no other downloads).

Training-only extra speakers (a minority beside the real recordings): espeak-ng (its voice variants in many
languages), flite (CMU's US/Scottish English voices) and festival (English, Italian, Czech, Finnish and
Catalan voices). The packages are fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x`` into
``CACHE/tts/`` (nothing is installed); the engines run from there. The sentences are real text: Tux Paint's
stamp descriptions, translated into dozens of languages (the ``*.txt`` files of tuxpaint-stamps-default, which
scripts/build_training_data.sh also fetches). Every utterance gets its own speaking rate and pitch (engine
settings) and a small vocal-tract warp (a resampling by ±8 %, which moves pitch and formants together).

Writes 16 kHz mono PCM WAVs, one folder (one group) per voice, high-passed at 60 Hz, peak ≤ 0.9, like
scripts/collect_debian_audio.py::

    DEST/speech/train/tts-<engine>-<voice>/<nnnn>.wav

Deterministic (``--seed``) and idempotent: the plan of utterances (texts, rates, pitches, warps) depends only
on the seed, the minutes and the texts, a longer plan only appends to a shorter one, and files already
written are skipped (espeak-ng, flite and festival then give the same audio; Piper's sampling noise is its
own). About 60 minutes of audio from 80 s of CPU.

    python scripts/synthesize_speech.py CACHE_DIR DEST_DIR [--minutes 60] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.files.audio import SAMPLE_RATE, resample, write_wav  # noqa: E402

HIGHPASS = butter(4, 60, "highpass", fs=SAMPLE_RATE, output="sos")
MIN_SECONDS = 0.5
CHARS_PER_SECOND = 12.0
"""Rough speaking rate of the engines at their default speed, used to plan how much text makes a minute."""
TEXT_PACKAGE = "tuxpaint-stamps-default"
STAMPS = f"{TEXT_PACKAGE}/usr/share/tuxpaint/stamps"
LIB = "usr/lib/x86_64-linux-gnu"

ENGINE_PACKAGES = {
    "espeak-ng": ["espeak-ng", "libespeak-ng1", "espeak-ng-data", "libpcaudio0", "libsonic0"],
    "flite": ["flite", "libflite1", "libasound2"],
    "festival": ["festival", "libestools2.5", "festlex-cmu", "festlex-poslex"],
}


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: ``engine``'s voice ``name`` reading text in ``language`` (a Tux Paint code)."""

    engine: str
    name: str
    language: str
    packages: tuple[str, ...] = ()
    encoding: str = "utf-8"
    """Festival reads its script in the voice's 8-bit encoding."""
    setup: str = ""
    """Festival: Scheme to run before the voice loads (``{share}`` is the unpacked /usr/share/festival)."""
    share: float = 1.0
    """How much audio this voice gets, relative to the others."""

    @property
    def group(self) -> str:
        return "tts-" + re.sub(r"[^A-Za-z0-9.-]+", "-", f"{self.engine}-{self.name}")


def espeak(spec: str, language: str) -> Voice:
    return Voice("espeak-ng", spec, language)


VOICES = [
    # piper: a neural (VITS) voice, the most natural one, so it reads more
    Voice("piper", "joe", "en", share=4.0),
    # espeak-ng: formant synthesis; a language voice plus a variant (m1-m7 male, f1-f5 female, others)
    espeak("en-us+m3", "en"), espeak("en-gb-x-rp+f2", "en"), espeak("en-gb-scotland+m7", "en"),
    espeak("de+m4", "de"), espeak("de+f3", "de"), espeak("fr+m2", "fr"), espeak("fr+f4", "fr"),
    espeak("es+m5", "es"), espeak("es-419+f1", "es"), espeak("it+m1", "it"), espeak("pt-br+f5", "pt_BR"),
    espeak("pt+m6", "pt"), espeak("pl+f2", "pl"), espeak("sv+m3", "sv"), espeak("hu+f1", "hu"),
    espeak("tr+m2", "tr"), espeak("id+f4", "id"), espeak("sk+m4", "sk"), espeak("hr+f3", "hr"),
    espeak("eo+m7", "eo"), espeak("is+klatt", "is"), espeak("nb+f5", "nb"), espeak("lv+m1", "lv"),
    espeak("fi+croak", "fi"),
    # flite: CMU's cluster-unit / diphone voices built into the binary (16 kHz)
    *[Voice("flite", v, "en", ("libflite1",)) for v in ("kal16", "awb", "rms", "slt")],
    # festival: diphone and HTS voices
    Voice("festival", "kal_diphone", "en", ("festvox-kallpc16k",)),
    Voice("festival", "ked_diphone", "en", ("festvox-kdlpc16k",)),
    Voice("festival", "cmu_us_slt_arctic_hts", "en", ("festvox-us-slt-hts",)),
    Voice("festival", "lp_diphone", "it", ("festvox-italp16k", "festlex-ifd"), "latin-1"),
    Voice("festival", "pc_diphone", "it", ("festvox-itapc16k", "festlex-ifd"), "latin-1"),
    *[Voice("festival", f"czech_{name}", "cs", (f"festvox-czech-{name}", "festival-czech"), "iso-8859-2",
            # these voices name their files by absolute /usr/share paths unless told otherwise (defvar)
            f'(set! czech-lexicon-file "{{share}}/czech-lexicon.out") (set! czech-{name}-unisyn-index '
            f'"{{share}}/voices/czech/czech_{name}/group/{name}.group")') for name in ("dita", "machac")],
    Voice("festival", "suo_fi_lj_diphone", "fi", ("festvox-suopuhe-lj", "festvox-suopuhe-common"), "latin-1"),
    Voice("festival", "hy_fi_mv_diphone", "fi", ("festvox-suopuhe-mv", "festvox-suopuhe-common"), "latin-1"),
    Voice("festival", "upc_ca_ona_hts", "ca", ("festvox-ca-ona-hts", "festival-ca"), "latin-1"),
]


@dataclass(frozen=True)
class Utterance:
    """What one WAV says and how: ``rate`` and ``pitch`` are relative (1.0 = the voice's default); ``warp``
    resamples the result (pitch and formants up by that factor). Festival's voices take no pitch setting and
    Piper's none either: there ``pitch`` scales Piper's prosody noise, and the warp alone moves the pitch."""

    index: int
    text: str
    rate: float
    pitch: float
    warp: float


# ---------------------------------------------------------------------------------------------- packages


def unpack_packages(packages: list[str], cache: Path) -> Path:
    """``apt-get download`` + ``dpkg-deb -x`` each package (once) into the shared tree ``cache/tts``."""
    debs, root = cache / "debs", cache / "tts"
    debs.mkdir(parents=True, exist_ok=True)
    (root / ".unpacked").mkdir(parents=True, exist_ok=True)
    for package in packages:
        marker = root / ".unpacked" / package
        if marker.exists():
            continue
        deb = download(package, debs)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        marker.touch()
    return root


def download(package: str, debs: Path) -> Path:
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        if subprocess.run(["apt-get", "download", package], check=False, cwd=debs).returncode != 0:
            print(f"apt-get download {package} failed; running apt-get update and retrying", file=sys.stderr)
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
    return found[0]


def text_folder(cache: Path) -> Path:
    """Tux Paint's stamp folder, unpacked into ``cache/unpacked`` as scripts/build_training_data.sh does."""
    folder = cache / "unpacked" / TEXT_PACKAGE
    if not folder.is_dir():
        partial = folder.with_name(TEXT_PACKAGE + ".partial")
        subprocess.run(["rm", "-rf", str(partial)], check=True)
        subprocess.run(["dpkg-deb", "-x", str(download(TEXT_PACKAGE, cache / "debs")), str(partial)], check=True)
        partial.rename(folder)
    return cache / "unpacked" / STAMPS


# -------------------------------------------------------------------------------------------------- texts


def read_sentences(stamps: Path) -> dict[str, list[str]]:
    """Every stamp description by language (``en`` for the untagged first line), translations that merely
    repeat the English left out, duplicates removed, in a fixed order."""
    by_language: dict[str, dict[str, None]] = {}
    for path in sorted(stamps.rglob("*.txt")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if not lines:
            continue
        english = clean(lines[0])
        if english:
            by_language.setdefault("en", {})[english] = None
        for line in lines[1:]:
            match = re.match(r"([A-Za-z_@]+)\.utf8=(.*)", line)
            if match:
                text = clean(match.group(2))
                if text and text != english:
                    by_language.setdefault(match.group(1), {})[text] = None
    return {language: list(texts) for language, texts in by_language.items()}


def clean(text: str) -> str:
    """A sentence as a speech engine should read it: no quotes, brackets or stray symbols."""
    text = text.replace("’", "'").replace("‘", "'")
    text = re.sub(r"[\"“”„«»‹›()\[\]{}*_/\\|<>#~^]", " ", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip(" -")


def plan(voice: Voice, sentences: list[str], seconds: float, seed: int) -> list[Utterance]:
    """The utterances of one voice: 1-3 sentences each, drawn without repetition, until ``seconds``."""
    rng = random.Random(f"{seed}:{voice.group}")
    order = list(sentences)
    rng.shuffle(order)
    utterances: list[Utterance] = []
    planned = 0.0
    while order and planned < seconds:
        take = rng.choice((1, 1, 2, 2, 3))
        text = " ".join(s if s[-1] in ".!?" else s + "." for s in order[:take])
        del order[:take]
        rate = rng.uniform(0.8, 1.25)
        utterances.append(Utterance(len(utterances), text, rate, rng.uniform(0.8, 1.25), rng.uniform(0.92, 1.08)))
        planned += len(text) / CHARS_PER_SECOND / rate
    return utterances


# ---------------------------------------------------------------------------------------------- engines


def synthesize_espeak(root: Path, voice: Voice, utterance: Utterance, wav: Path) -> None:
    subprocess.run(
        [str(root / "usr/bin/espeak-ng"), f"--path={root / LIB}", "-v", voice.name,
         "-s", str(round(165 * utterance.rate)), "-p", str(round(np.clip(50 * utterance.pitch, 0, 99))),
         "-w", str(wav), utterance.text],
        check=False, env=engine_env(root), capture_output=True)


def synthesize_flite(root: Path, voice: Voice, utterance: Utterance, wav: Path) -> None:
    f0 = {"kal16": 105, "awb": 110, "rms": 100, "slt": 170}[voice.name]
    subprocess.run(
        [str(root / "usr/bin/flite"), "-voice", voice.name, "-t", utterance.text, "-o", str(wav),
         "--setf", f"duration_stretch={1 / utterance.rate:.3f}",
         "--setf", f"int_f0_target_mean={f0 * utterance.pitch:.1f}"],
        check=False, env=engine_env(root), capture_output=True)


def synthesize_festival(root: Path, voice: Voice, utterances: list[Utterance], wavs: list[Path]) -> None:
    """One festival process reads a script that synthesises all ``utterances`` (festival starts slowly)."""
    share = root / "usr/share/festival"
    lines = [voice.setup.format(share=share), f"(voice_{voice.name})"]
    for utterance, wav in zip(utterances, wavs):
        text = utterance.text.encode(voice.encoding, errors="replace").decode(voice.encoding)
        text = text.replace("\\", " ").replace('"', " ")
        lines.append(f"(Parameter.set 'Duration_Stretch {1 / utterance.rate:.3f})")
        lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{wav}" \'riff)')
    with tempfile.NamedTemporaryFile("wb", suffix=".scm", delete=False) as script:
        script.write("\n".join(lines).encode(voice.encoding, errors="replace"))
    try:
        done = subprocess.run([str(root / "usr/bin/festival"), "--libdir", str(share), "--datadir", str(share),
                               "-b", script.name], check=False, env=engine_env(root), capture_output=True)
        if done.returncode != 0:  # the files written before the failure are kept
            print(f"festival {voice.name} failed: {done.stderr.decode(errors='replace')[-300:]}", file=sys.stderr)
    finally:
        os.unlink(script.name)


PIPER_WORKER = """
import json, sys, wave
from piper import PiperVoice, SynthesisConfig
voice = PiperVoice.load(sys.argv[1])
for job in json.load(sys.stdin):
    config = SynthesisConfig(length_scale=job["length"], noise_scale=job["noise"], noise_w_scale=job["noise_w"])
    with wave.open(job["wav"], "wb") as wav:
        voice.synthesize_wav(job["text"], wav, syn_config=config)
"""


def synthesize_piper(piper: Path, voice: Voice, utterances: list[Utterance], wavs: list[Path]) -> None:
    """One Python process (the venv's, with ``piper`` on its path) loads the voice and reads all utterances."""
    model = piper / f"{voice.name}_us_piper_voice/data/en_US-{voice.name}-medium.onnx"
    jobs = [{"text": u.text, "wav": str(wav), "length": 1 / u.rate, "noise": 0.667 * u.pitch,
             "noise_w": 0.8 * u.pitch} for u, wav in zip(utterances, wavs)]
    done = subprocess.run([sys.executable, "-c", PIPER_WORKER, str(model)], input=json.dumps(jobs).encode(),
                          env={**os.environ, "PYTHONPATH": str(piper), "OMP_NUM_THREADS": "1"},
                          check=False, capture_output=True)
    if done.returncode != 0:
        print(f"piper {voice.name} failed: {done.stderr.decode(errors='replace')[-300:]}", file=sys.stderr)


def install_piper(cache: Path) -> Path:
    """pip-install requirements/tts.txt (once, without dependencies) into ``cache/piper``, outside the venv."""
    target = cache / "piper"
    requirements = Path(__file__).resolve().parents[1] / "requirements" / "tts.txt"
    marker = target / ".installed"
    if not marker.exists() or marker.read_text() != requirements.read_text():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade",
                        "--target", str(target), "-r", str(requirements)], check=True)
        marker.write_text(requirements.read_text())
    return target


def engine_env(root: Path) -> dict[str, str]:
    return {**os.environ, "LD_LIBRARY_PATH": str(root / LIB)}


# -------------------------------------------------------------------------------------------------- audio


def finish(raw: Path, utterance: Utterance, target: Path) -> float:
    """Warp, resample to 16 kHz, high-pass and write ``raw``'s audio to ``target``; returns its seconds
    (0 when rejected: unreadable, silent, too short)."""
    try:
        audio, rate = sf.read(raw, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError):
        return 0.0
    audio = audio.mean(axis=1)
    if audio.size < MIN_SECONDS * rate or not np.any(audio):
        return 0.0
    warped_rate = int(round(rate * utterance.warp / 100) * 100)
    audio = sosfilt(HIGHPASS, resample(audio, warped_rate, SAMPLE_RATE).astype(np.float64))
    peak = np.max(np.abs(audio))
    audio = audio / peak * 0.9 if peak > 0.9 else audio
    write_wav(target, audio.astype(np.float32))
    return audio.size / SAMPLE_RATE


def run_voice(root: Path, voice: Voice, utterances: list[Utterance], folder: Path) -> tuple[int, int]:
    """Synthesise the utterances of ``voice`` not yet in ``folder``; returns (files written, failures: no
    output or rejected)."""
    todo = [u for u in utterances if not (folder / f"{u.index:04d}.wav").exists()]
    if not todo:
        return 0, 0
    written = 0
    with tempfile.TemporaryDirectory(prefix="spandex-tts-") as tmp:
        raws = [Path(tmp) / f"{u.index:04d}.wav" for u in todo]
        if voice.engine == "festival":
            synthesize_festival(root, voice, todo, raws)
        elif voice.engine == "piper":
            synthesize_piper(root.parent / "piper", voice, todo, raws)
        else:
            synth = synthesize_espeak if voice.engine == "espeak-ng" else synthesize_flite
            for utterance, raw in zip(todo, raws):
                synth(root, voice, utterance, raw)
        for utterance, raw in zip(todo, raws):
            written += raw.exists() and finish(raw, utterance, folder / f"{utterance.index:04d}.wav") > 0
    return written, len(todo) - written


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path, help="download cache (build/training-audio/cache)")
    parser.add_argument("dest", type=Path, help="sources folder (build/training-audio/sources)")
    parser.add_argument("--minutes", type=float, default=60.0, help="total audio to plan (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="engine processes run at once (default 2)")
    parser.add_argument("--voices", default="", help="only voices whose folder name contains this text")
    parser.add_argument("--texts", type=Path,
                        help="read these sentences (a UTF-8 file, one a line) instead of Tux Paint's, in every voice")
    args = parser.parse_args()

    voices = [v for v in VOICES if args.voices in v.group]
    if not voices:
        raise SystemExit(f"no voice matches {args.voices!r}; voices: {', '.join(v.group for v in VOICES)}")
    if any(v.engine == "piper" for v in voices):
        install_piper(args.cache)
    packages = [p for e in sorted({v.engine for v in voices}) for p in ENGINE_PACKAGES.get(e, [])]
    packages += [p for v in voices for p in v.packages if p not in packages]
    root = unpack_packages(list(dict.fromkeys(packages)), args.cache)
    if args.texts:
        lines = [clean(line) for line in args.texts.read_text(encoding="utf-8").splitlines()]
        sentences = {v.language: [line for line in lines if line] for v in voices}
    else:
        sentences = read_sentences(text_folder(args.cache))
    seconds_per_share = args.minutes * 60 / sum(v.share for v in VOICES)
    start = time.monotonic()
    jobs = []
    for voice in voices:
        utterances = plan(voice, sentences[voice.language], seconds_per_share * voice.share, args.seed)
        for part in chunks(utterances, 25):
            jobs.append((voice, part, args.dest / "speech" / "train" / voice.group))
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda job: (job[0], run_voice(root, *job)), jobs))
    total_files, total_seconds, empty = 0, 0.0, []
    for voice in voices:
        new = sum(n for v, (n, _) in results if v is voice)
        failed = sum(f for v, (_, f) in results if v is voice)
        wavs = sorted((args.dest / "speech" / "train" / voice.group).glob("*.wav"))
        seconds = sum(sf.info(w).duration for w in wavs)
        total_files, total_seconds = total_files + len(wavs), total_seconds + seconds
        print(f"{voice.group}: {len(wavs)} file(s) ({new} new{f', {failed} failed' if failed else ''}), "
              f"{seconds / 60:.1f} min")
        if not wavs:
            empty.append(voice.group)
    print(f"{len(voices)} voices, {total_files} files, {total_seconds / 60:.1f} min; "
          f"{time.monotonic() - start:.0f} s")
    if empty:
        raise SystemExit(f"no audio from {', '.join(empty)}: see the engine errors above")


if __name__ == "__main__":
    main()
