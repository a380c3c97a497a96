"""Sort the real speech and noise of unpacked Debian packages into training, validation and test folders.

Reads the packages scripts/build_training_data.sh unpacked and writes 16 kHz mono PCM WAVs, one folder per
group (a speaker or a voice set; a noise category), split so that validation shares no speaker, voice or
noise recording with training, and the held-out test set (for reports only) shares none with either —
other languages, speakers, packages and kinds of noise::

    DEST/speech/{train,validation,test}/<group>/*.wav
    DEST/noise/{train,validation,test}/<group>/*.wav

Speech is kept only if it is wideband (recorded at 16 kHz or more), unclipped (fewer than 0.1 % of samples
at full scale: this drops Tux Paint's Spanish set) and at least 0.5 s long; it is high-passed at 60 Hz. A speech
group is kept only if its recordings are clean: their background at least 20 dB under the speech
(``engine.training.sources.background_db``; this drops KTuberling's Galician and Tux Paint's Dutch readers, whose
recordings carry a rumble or hiss 15-18 dB under the voice; every other real group lies at 26.0 dB or more).
Asterisk prompts are G.722 (nothing above 7 kHz); they are decoded with the G722 package. Files already
written are kept; a group the last run made and this one does not is deleted (DEST/collected-groups.txt).

    python scripts/collect_debian_audio.py UNPACKED_DIR DEST_DIR
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
from G722 import G722
from scipy.signal import butter, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.constants import SAMPLE_RATE
from engine.files.atomic import write_text_atomic  # noqa: E402
from engine.files.audio import resample, write_wav  # noqa: E402
from engine.files.digest import file_sha256  # noqa: E402
from engine.training.sources import MIN_BACKGROUND_DB, AudioGroup, background_db  # noqa: E402

MIN_SECONDS = 0.5
CLIPPED_FRACTION = 0.001
HIGHPASS = butter(4, 60, "highpass", fs=SAMPLE_RATE, output="sos")

# Speech: (split, group, package, glob, minimum source rate). Validation: other speakers AND other languages
# or recordings than anything in training (Asterisk's English and French voices; Tux Paint's Lithuanian reader (its
# Dutch one is listed, and dropped for its hiss: MIN_BACKGROUND_DB); KLettres' French, Lithuanian and Dutch
# readers). Asterisk's Russian voice is kept out of every split: tests/test_shipped_models.py's unseen audio speaks
# with it.
TUXPAINT_TRAIN = ("fr", "ru", "ro", "ca", "bg", "be", "el", "da")
TUXPAINT_VALIDATION = ("nl", "lt")
STAMPS = "tuxpaint-stamps-default/usr/share/tuxpaint/stamps"
KLETTRES = "klettres-data/usr/share/klettres"
KLETTRES_TRAIN = ("ar", "cs", "da", "es", "he", "hu", "it", "nb", "pt_BR", "ru", "tn")  # not nds: Low German
KLETTRES_VALIDATION = ("fr", "lt", "nl")  # id and nn hold no recordings
HEDGEWARS_VOICES = "hedgewars-data/usr/share/games/hedgewars/Data/Sounds/voices"
HEDGEWARS_TRAIN = ("Default_pl", "Default_es", "Default_ru", "Russian_pl")  # not "Russian": English, accented
SPEECH = [
    *[("train", f"tuxpaint-{lang}", f"{STAMPS}/**/*_desc_{lang}.ogg") for lang in TUXPAINT_TRAIN],
    ("train", "asterisk-es", "asterisk-core-sounds-es-g722/**/*.g722"),
    ("train", "asterisk-it", "asterisk-core-sounds-it-g722/**/*.g722"),
    ("train", "fillets-cs", "fillets-ng-data-cs/**/*.ogg"),
    ("train", "fillets-nl", "fillets-ng-data-nl/**/*.ogg"),
    # KLettres' spoken letters and syllables, one reader per language; not the test set's languages (de, en,
    # en_GB, uk) nor Low German beside German, not validation's (fr, nl, lt), not Malayalam (its files are clipped)
    *[("train", f"klettres-{lang.lower().replace('_', '-')}", f"{KLETTRES}/{lang}/**/*.ogg")
      for lang in KLETTRES_TRAIN],
    # Hedgewars' voice packs in Polish, Spanish and Russian, and Polish with a Russian accent (Russian_pl); the
    # English packs are left out (a test language), "Russian" among them: English with a Russian accent
    *[("train", f"hedgewars-{pack.lower().replace('_', '-')}", f"{HEDGEWARS_VOICES}/{pack}/*.ogg")
      for pack in HEDGEWARS_TRAIN],
    *[("validation", f"tuxpaint-{lang}", f"{STAMPS}/**/*_desc_{lang}.ogg") for lang in TUXPAINT_VALIDATION],
    ("validation", "asterisk-en", "asterisk-core-sounds-en-g722/**/*.g722"),
    ("validation", "asterisk-fr", "asterisk-core-sounds-fr-g722/**/*.g722"),
    *[("validation", f"klettres-{lang}", f"{KLETTRES}/{lang}/**/*.ogg") for lang in KLETTRES_VALIDATION],
    # test: KTuberling's spoken words, one reader per language, in languages no other split uses
    *[("test", f"ktuberling-{lang}", f"ktuberling-data/usr/share/ktuberling/sounds/{lang}/*.ogg")
      for lang in ("de", "en", "gl", "sl", "uk", "wa")],
]
# Noise: training and validation come from different packages (different recordings and kinds of sound).
SONIC_PI = "sonic-pi-samples/usr/share/sonic-pi/samples"
MEGAGLEST = "megaglest-data/usr/share/games/megaglest"
UFOAI_KINDS = ("ambience", "misc", "doors", "footsteps", "ugv", "geoscape")
NOISE = [
    # one group: most categories hold a handful of sounds (symbols/ and people/ are spoken: left out)
    *[("train", "tuxpaint-sounds", f"{STAMPS}/{kind}/**/*.ogg") for kind in
      ("animals", "clothes", "food", "hobbies", "household", "medical", "military", "naturalforces",
       "plants", "seasonal", "space", "sports", "town", "vehicles")],
    ("train", "colobot", "colobot-common-sounds/**/*.wav"),
    ("train", "colobot", "colobot-common-sounds/**/*.ogg"),
    ("train", "music-on-hold", "asterisk-moh-opsound-g722/**/*.g722"),
    *[("train", "sonic-pi-ambient", f"{SONIC_PI}/{kind}_*.flac") for kind in ("ambi", "vinyl", "misc")],
    *[("train", "sonic-pi-percussion", f"{SONIC_PI}/{kind}_*.flac") for kind in ("drum", "bd", "sn", "perc",
                                                                                  "tabla")],
    *[("train", "sonic-pi-music", f"{SONIC_PI}/{kind}_*.flac") for kind in ("loop", "bass", "guit", "elec",
                                                                             "glitch", "mehackit")],
    ("train", "supertux-effects", "supertux-data/usr/share/games/supertux2/sounds/*.*"),
    ("train", "supertux-music", "supertux-data/usr/share/games/supertux2/music/**/*.ogg"),
    # SuperTuxKart: effects, ambiences (restaurant, rain, river, birds, engines) and music; the spoken airport
    # announcement and vocal effects are left out (:data:`SPOKEN`)
    ("train", "supertuxkart-sounds", "supertuxkart-data/usr/share/games/supertuxkart/data/sfx/*.ogg"),
    ("train", "supertuxkart-sounds", "supertuxkart-data/usr/share/games/supertuxkart/data/tracks/*/*.ogg"),
    ("train", "supertuxkart-music", "supertuxkart-data/usr/share/games/supertuxkart/data/music/*.ogg"),
    # Red Eclipse: weather and machine ambiences, effects, weapons (its voice and announcer sets are left out)
    ("train", "redeclipse-ambience", "redeclipse-data/usr/share/games/redeclipse/data/sounds/ambience/**/*.ogg"),
    ("train", "redeclipse-effects", "redeclipse-data/usr/share/games/redeclipse/data/sounds/sfx/**/*.ogg"),
    ("train", "redeclipse-effects", "redeclipse-data/usr/share/games/redeclipse/data/sounds/weapons/**/*.ogg"),
    ("validation", "keyboard", "bucklespring-data/**/*.wav"),
    ("validation", "alerts", "oxygen-sounds/**/*.ogg"),
    ("validation", "alerts", "sound-theme-freedesktop/**/*.oga"),
    # FlightGear: engines, propellers, rotors, wind, rain, thunder, tyres, cockpit mechanics (its spoken
    # callouts, mk-viii/ and tcas/, lie in subfolders these patterns do not reach)
    ("validation", "flightgear", "flightgear-data-base/usr/share/games/flightgear/Sounds/*.wav"),
    ("validation", "flightgear", "flightgear-data-base/usr/share/games/flightgear/Aircraft/c172p/Sounds/*.wav"),
    # MegaGlest: its maps' day, night, rain and wind ambiences and animal calls (wolves, chickens: many files are
    # copies of one recording); its units' work and movement sounds (their acknowledgements, cries and voices are
    # left out: only these name patterns are taken)
    ("validation", "megaglest-ambience", f"{MEGAGLEST}/tilesets/*/sounds/*.*"),
    *[("validation", "megaglest-work", f"{MEGAGLEST}/techs/megapack/commondata/sounds/**/{kind}*.wav") for kind in
      ("worker_harvest", "worker_mine", "worker_work_end", "anvil", "tech_building_fall",
       "catapult_walk", "golem_walk", "horseman_walk", "orni_")],
    # Widelands: workshops, farms, animals, mills, smithies and a few interface chimes (not its taverns: voices)
    ("validation", "widelands-work", "widelands-data/usr/share/games/widelands/data/sound/**/*.ogg"),
    ("test", "lincity-city", "lincity-ng-data/usr/share/games/lincity-ng/sounds/*.*"),
    ("test", "frozen-bubble", "frozen-bubble-data/usr/share/games/frozen-bubble/snd/*.ogg"),
]


def decode_g722(data: bytes) -> tuple[np.ndarray, int]:
    pcm = G722(SAMPLE_RATE, 64000).decode(data)
    return np.asarray(pcm, dtype=np.float32) / 32768.0, SAMPLE_RATE


def read(name: str, data: bytes) -> tuple[np.ndarray, int]:
    """Decode one file's bytes to mono float32 at its own rate."""
    if name.endswith(".g722"):
        return decode_g722(data)
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


# Spoken files that must never be used as noise: Tux Paint's descriptions and localised sounds
# (``*_desc_fr.ogg``, ``*_en_GB.ogg``), SuperTux's voice samples, SuperTuxKart's airport announcement and vocal
# effects, FlightGear's spoken checklists, greeting and cough, Widelands' taverns.
SPOKEN = re.compile(r"(_desc.*|_[a-z]{2}(_[A-Z]{2})?)\.og[ga]$|/(excellent|welldone|yeti_gna)\.|"
                    r"/(sara_airport_pa|WilhelmScream|ugh|wee)\.|/(checklist\d*|coughing|good_morning)\.|/taverns/")
AUDIO = (".ogg", ".oga", ".wav", ".flac", ".g722")


def files(root: Path, pattern: str, speech: bool) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Audio files matching ``pattern``; as noise, never a spoken one (:data:`SPOKEN`)."""
    for path in sorted(root.glob(pattern)):
        name = str(path.relative_to(root))
        if path.is_file() and path.suffix in AUDIO and (speech or not SPOKEN.search("/" + name)):
            yield name, path.read_bytes


ARCHIVE_PACKAGES = ("ufoai-sound", "0ad-data")
"""Packages read from inside their archives (:func:`ufoai_files`, :func:`zad_files`, :func:`zad_voices`)."""


def ufoai_files(root: Path) -> Iterator[tuple[str, str, Callable[[], bytes]]]:
    """Sounds inside ufoai-sound's pk3 (a zip): (kind, name, reader) for the non-voice categories."""
    for pk3 in sorted(root.glob("ufoai-sound/**/*.pk3")):
        archive = zipfile.ZipFile(pk3)
        for name in sorted(archive.namelist()):
            parts = name.split("/")
            if len(parts) >= 3 and parts[0] == "sound" and parts[1] in UFOAI_KINDS and \
                    name.endswith((".ogg", ".wav")):
                yield parts[1], name, (lambda n=name, a=archive: a.read(n))


def zad_files(root: Path) -> Iterator[tuple[str, str, Callable[[], bytes]]]:
    """Sounds inside 0 A.D.'s public.zip: (group, name, reader). Ambiences (weather, water, day scapes,
    buildings), work and battle sounds, animals and footsteps, and music; its voices are left out."""
    groups = {"ambient": "0ad-ambience", "resource": "0ad-work", "attack": "0ad-battle", "music": "0ad-music",
              "actor/fauna": "0ad-animals", "actor/singlesteps": "0ad-work", "actor/ship": "0ad-work",
              "actor/gate": "0ad-work", "actor/mounted": "0ad-animals"}
    for archive_path in sorted(root.glob("0ad-data/**/public.zip")):
        archive = zipfile.ZipFile(archive_path)
        for name in sorted(archive.namelist()):
            parts = name.split("/")
            if parts[0] != "audio" or not name.endswith((".ogg", ".wav")):
                continue
            group = groups.get("/".join(parts[1:3])) or groups.get(parts[1])
            if group:
                yield group, name, (lambda n=name, a=archive: a.read(n))


def zad_voices(root: Path) -> Iterator[tuple[str, str, Callable[[], bytes]]]:
    """0 A.D.'s unit voices (actors speaking reconstructed Greek, Latin, Persian and Meroitic), one group per
    civilisation: (group, name, reader). The dog sounds under voice/global are left out."""
    for archive_path in sorted(root.glob("0ad-data/**/public.zip")):
        archive = zipfile.ZipFile(archive_path)
        for name in sorted(archive.namelist()):
            parts = name.split("/")
            if parts[:2] == ["audio", "voice"] and len(parts) >= 4 and parts[2] != "global" and \
                    name.endswith(".ogg"):
                yield f"0ad-voice-{parts[2]}", name, (lambda n=name, a=archive: a.read(n))


def keep_speech(audio: np.ndarray, rate: int) -> str | None:
    """Why a speech file is rejected, or None to keep it."""
    if rate < SAMPLE_RATE:
        return "narrowband"
    if audio.size < MIN_SECONDS * rate:
        return "short"
    if np.mean(np.abs(audio) >= 0.99) > CLIPPED_FRACTION:
        return "clipped"
    if not np.any(audio):
        return "silent"
    return None


def drop_noisy_speech_groups(dest: Path, counts: Counter) -> None:
    """Delete every speech group whose background lies less than :data:`MIN_BACKGROUND_DB` under its speech."""
    for key in sorted(k for k, n in counts.items() if isinstance(k, tuple) and k[0] == "speech" and n > 0):
        folder = dest.joinpath(*key)
        gap = background_db(AudioGroup(key[2], tuple(sorted(folder.glob("*.wav")))))
        if gap >= MIN_BACKGROUND_DB:
            continue
        if folder.is_symlink():  # not this script's to delete
            print(f"note: {folder} is a link: its background lies {gap:.1f} dB under the speech (at least "
                  f"{MIN_BACKGROUND_DB:g} needed), but the group is kept", file=sys.stderr)
        else:
            shutil.rmtree(folder)
            print(f"dropped {folder}: its background lies {gap:.1f} dB under the speech "
                  f"(at least {MIN_BACKGROUND_DB:g} needed)", file=sys.stderr)
            counts[f"background under {MIN_BACKGROUND_DB:g} dB (a group of {counts[key]})"] += 1
            counts[key] = 0


def convert(audio: np.ndarray, rate: int, speech: bool) -> np.ndarray:
    audio = resample(audio, rate, SAMPLE_RATE).astype(np.float64)
    if speech:
        audio = sosfilt(HIGHPASS, audio)
    peak = np.max(np.abs(audio))
    return (audio / peak * 0.9 if peak > 0.9 else audio).astype(np.float32)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit(".", 1)[0]).strip("_")[-120:] + ".wav"


KINDS, SPLITS = ("speech", "noise"), ("train", "validation", "test")


def drop_copies_of_training(dest: Path, counts: Counter) -> None:
    """Delete every validation and test file whose audio is a byte-for-byte copy of a training file: games share
    recordings (MegaGlest's rain is SuperTuxKart's, its cow Tux Paint's, LinCity's Mill1 SuperTux's saw), and neither
    split may hold one that training hears. (Until 2026-12-07 the test split kept its one, as its published scores had
    used it; it was built again then without the Galician reader, see :data:`MIN_BACKGROUND_DB`.)"""
    training = {file_sha256(path) for kind in KINDS for path in (dest / kind / "train").rglob("*.wav")}
    for kind in KINDS:
        for split in ("validation", "test"):
            for path in sorted((dest / kind / split).rglob("*.wav")):
                if file_sha256(path) not in training:
                    continue
                path.unlink()
                counts[(kind, split, path.parent.name)] -= 1
                counts[f"a copy of a training file ({split})"] += 1


GROUPS_MADE = "collected-groups.txt"
"""In DEST: the group folders (``speech/train/asterisk-es``…) the last run made, one a line."""
GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _own_group(dest: Path, line: str) -> bool:
    """Whether a line of the record names a group folder this script could have made: kind/split/group, a plain
    group name, a real folder (no link on the way) inside DEST. A hand-edited or corrupted line is not deleted."""
    parts = line.split("/")
    if len(parts) != 3 or parts[0] not in KINDS or parts[1] not in SPLITS or not GROUP_NAME.fullmatch(parts[2]):
        return False
    steps = [dest / parts[0], dest / parts[0] / parts[1], dest / line]
    return all(step.is_dir() and not step.is_symlink() for step in steps)


def groups_made_before(dest: Path) -> set[str]:
    """The groups DEST/collected-groups.txt lists (none without it), read before any work: a record that cannot be
    read stops the run here, not after the whole collection."""
    record = dest / GROUPS_MADE
    if not record.exists() and not record.is_symlink():
        return set()
    try:
        return {line.strip() for line in record.read_text(encoding="utf-8").splitlines() if line.strip()}
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"{record}: cannot be read as this script's record of the groups it made ({exc}); "
                         f"move it away to collect again (no group is then deleted)") from None


def remove_stale_groups(dest: Path, made: set[str], before: set[str] | None = None) -> list[str]:
    """Delete the group folders the last run made and this one did not (a group the patterns no longer take,
    which an old build would otherwise keep mixing from), then record what this run made. Only groups listed in
    DEST/collected-groups.txt are ever deleted, and only as :func:`_own_group` allows: folders other scripts write
    beside them (the synthesised voices of scripts/synthesize_speech.py) are not this script's. Returns the groups
    deleted."""
    if before is None:
        before = groups_made_before(dest)
    stale = sorted(group for group in before - made if _own_group(dest, group))
    for group in stale:
        shutil.rmtree(dest / group)
    write_text_atomic(dest / GROUPS_MADE, "".join(f"{group}\n" for group in sorted(made)))
    return stale


def collect(unpacked: Path, dest: Path) -> Counter:
    counts: Counter = Counter()
    jobs = [("speech", *job) for job in SPEECH] + [("noise", *job) for job in NOISE]
    before = groups_made_before(dest)
    packages = {pattern.split("/")[0] for *_, pattern in jobs} | set(ARCHIVE_PACKAGES)
    for package in sorted(packages):  # all of them first: a group not made is deleted (remove_stale_groups)
        if not (unpacked / package).is_dir():
            raise SystemExit(f"{unpacked / package} is missing: run scripts/build_training_data.sh")
    for kind, split, group, pattern in jobs:
        for name, read_bytes in files(unpacked, pattern, kind == "speech"):
            write_one(dest / kind / split / group, name, read_bytes, kind == "speech", counts, (kind, split, group))
    for ufo_kind, name, read_bytes in ufoai_files(unpacked):
        write_one(dest / "noise" / "validation" / f"ufoai-{ufo_kind}", name, read_bytes, False, counts,
                  ("noise", "validation", f"ufoai-{ufo_kind}"))
    for group, name, read_bytes in zad_files(unpacked):
        write_one(dest / "noise" / "train" / group, name, read_bytes, False, counts, ("noise", "train", group))
    for group, name, read_bytes in zad_voices(unpacked):
        write_one(dest / "speech" / "train" / group, name, read_bytes, True, counts, ("speech", "train", group))
    drop_noisy_speech_groups(dest, counts)
    # stale groups go before the copy check: a group moved from training to validation is not a copy of itself
    made = {"/".join(key) for key, n in counts.items() if isinstance(key, tuple) and n > 0}
    for group in remove_stale_groups(dest, made, before):
        print(f"removed {dest / group}: a group the last run made and this one does not", file=sys.stderr)
    drop_copies_of_training(dest, counts)
    return counts


def write_one(folder: Path, name: str, read_bytes, speech: bool, counts: Counter, key: tuple) -> None:
    target = folder / safe_name(name)
    if target.exists():
        counts[key] += 1
        return
    try:
        audio, rate = read(name, read_bytes())
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        print(f"skipped {name}: unreadable ({exc})", file=sys.stderr)
        counts["unreadable"] += 1
        return
    problem = keep_speech(audio, rate) if speech else (
        "silent" if not np.any(audio) else "short" if audio.size < 0.2 * rate else None)
    if problem:
        counts[problem] += 1
        return
    write_wav(target, convert(audio, rate, speech))
    counts[key] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("unpacked", type=Path, help="folder with one unpacked Debian package per subfolder")
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    counts = collect(args.unpacked, args.dest)
    for key, n in sorted(counts.items(), key=str):
        print(f"{'/'.join(key) if isinstance(key, tuple) else 'rejected: ' + key}: {n}")


if __name__ == "__main__":
    main()
