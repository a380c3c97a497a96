"""Build noisy/clean training pairs from folders of clean speech and of noise, in the N-DNS layout.

Output (what the N-DNS challenge's ``noisyspeech_synthesizer.py`` writes, so trainers read either)::

    OUT/training_set/clean/clean_fileid_<N>.wav
    OUT/training_set/noise/noise_fileid_<N>.wav
    OUT/training_set/noisy/<speech group>_<noise group>_snr<S>_tl<L>_fileid_<N>.wav
    OUT/validation_set/...                         (the same, from other speakers and noise recordings)
    OUT/test_set/...                               (optional held-out set: yet other speakers and noises)
    OUT/manifest.json                              (sources, settings, and every clip's ingredients)

Mixing follows N-DNS: integer SNR uniform in [-5, 20] dB between active levels, target level uniform in
[-35, -15] dBFS, clipping guarded (:func:`engine.dsp.mixing.mix_at_snr`); fixed-length clips (6 s by default,
N-DNS uses 30 s). A clip's speech is one speaker's utterances joined with short pauses; speakers and noise
groups are drawn uniformly by group, not by duration, so a large group (or music) does not dominate.
Training noise can be mixed with generated noise (white, pink, brown, hum or fan, drawn as one group) and
babble of other training speakers (another group).

Each split is written to ``<split>.partial`` and renamed when complete: an interrupted or failed build leaves no
half-split behind, and a rerun skips splits that are complete with the same settings. A first build that fails (bad
input met halfway: an unreadable source file) takes back everything it wrote; one stopped (Ctrl-C) keeps the splits
it finished, for the rerun.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.constants import SAMPLE_RATE
from engine.dsp.mixing import active_rms, mix_at_snr
from engine.errors import AudioInputError, SpandexError
from engine.files.atomic import write_text_atomic
from engine.files.audio import load_audio, write_wav
from engine.files.output import check_folder_to_make
from engine.training.dataset_layout import BUILDER_FORMAT, FRESH_SOURCES, MANIFEST, SPLIT_NAMES, builder_manifest
from engine.training.sources import AudioGroup
from engine.training.synthetic_noise import GENERATORS

MAX_CLIP_SECONDS = 120.0
"""The longest clip a build mixes (N-DNS's are 30 s); a longer one would be held in memory whole for nothing."""


@dataclass(frozen=True)
class MixSpec:
    """How clips are mixed (N-DNS defaults, shorter clips)."""

    clip_seconds: float = 6.0
    snr_db: tuple[int, int] = (-5, 20)
    level_dbfs: tuple[int, int] = (-35, -15)
    pause_seconds: tuple[float, float] = (0.1, 0.6)

    def __post_init__(self) -> None:
        if not 1.0 <= self.clip_seconds <= MAX_CLIP_SECONDS:  # (NaN too)
            raise SpandexError(f"clips must be 1 to {MAX_CLIP_SECONDS:.0f} s long, got {self.clip_seconds:g} "
                               "(--clip-seconds)")
        for name in ("snr_db", "level_dbfs", "pause_seconds"):
            low, high = getattr(self, name)
            if low > high:
                raise SpandexError(f"{name}: the lower bound {low} is above the upper bound {high}")
        if self.level_dbfs[1] > -1:
            raise SpandexError(f"target levels must stay below full scale, got {self.level_dbfs}")


@dataclass(frozen=True)
class SplitSources:
    """What one split is made of."""

    speech: list[AudioGroup]
    noise: list[AudioGroup]
    clips: int
    synthetic_noise: bool = False
    fresh: bool = False
    """Training only: lay the sources out for mixing afresh at every step (no fixed clips)."""
    rooms: int = 200
    """With ``fresh``: how many simulated room impulse responses to write beside the sources."""

    def describe(self) -> dict:
        files = "\n".join(str(p) for g in self.speech + self.noise for p in g.files)
        return {
            "clips": 0 if self.fresh else self.clips,
            "fresh": self.fresh,
            "rooms": self.rooms if self.fresh else 0,
            "synthetic_noise": self.synthetic_noise,
            "speech_groups": {g.name: len(g.files) for g in self.speech},
            "noise_groups": {g.name: len(g.files) for g in self.noise},
            "files_sha1": hashlib.sha1(files.encode()).hexdigest(),
        }


@dataclass
class ClipRecipe:
    fileid: int
    speech_group: str
    speech_files: list[str]
    noise_group: str
    noise_files: list[str]
    snr_db: int
    level_dbfs: int
    extra: dict = field(default_factory=dict)


Progress = Callable[[str, int, int], None]
"""``progress(split, clips_done, clips_total)``."""


def check_dataset_folder(out: str | os.PathLike) -> None:
    """:func:`engine.files.output.check_folder_to_make` for a dataset's folder (made later, when the build starts)."""
    check_folder_to_make(Path(out), f"OUT {out}", "name a folder for the dataset (new, or one `spandex data build` made)")


def build_dataset(out: str | os.PathLike, splits: dict[str, SplitSources], spec: MixSpec = MixSpec(),
                  seed: int = 0, progress: Progress | None = None,
                  kept: Callable[[str], None] | None = None, command: str | None = None) -> Path:
    """Write every split of ``splits`` (keys "train", "validation", "test") under ``out``; return ``out``.

    A split already there from the same sources and settings (a build run again, or stopped after it) is kept, not
    made again; ``kept`` is told its name. ``command``: how the build was asked for, kept in the manifest (a refusal
    of an unfinished split names it)."""
    out = Path(out)
    check_dataset_folder(out)
    settings = json.loads(json.dumps({"spec": asdict(spec), "seed": seed,  # as the manifest stores them
                                      "splits": {name: s.describe() for name, s in splits.items()}}))
    manifest_path = out / MANIFEST
    try:
        previous = builder_manifest(out) if out.is_dir() else None
    except SpandexError:  # (whose it is cannot be told: nothing there is replaced)
        raise SpandexError(f"{manifest_path} cannot be read as a dataset's manifest: building in {out} would replace "
                           "it and the splits beside it; remove them to build there anew, or give another folder") from None
    if previous is None and (manifest_path.exists() or manifest_path.is_symlink()):
        raise SpandexError(f"{manifest_path} is not one `spandex data build` wrote: building in {out} would replace "
                           "it and the splits beside it; give another folder")
    theirs = [name for folder in (*SPLIT_NAMES.values(), FRESH_SOURCES) for name in (folder, f"{folder}.partial")
              if (out / name).exists()]  # (a build of its own writes its manifest first: a .partial is not its)
    if previous is None and theirs:  # the builder replaces only what it made (its manifest says so)
        raise SpandexError(f"{out} holds {', '.join(f'{name}/' for name in theirs)} that `spandex data build` did not "
                           f"make (no {MANIFEST}): building there would replace it; give another folder")
    for name, sources in splits.items():  # all checked before anything on disk changes
        if name not in SPLIT_NAMES:
            raise SpandexError(f"unknown split '{name}': use {', '.join(SPLIT_NAMES)}")
        if not sources.speech or not sources.noise:
            raise SpandexError(f"the {name} split needs speech and noise")
        if sources.fresh and name != "train":
            raise SpandexError("only the training split can be mixed afresh; validation and test stay fixed")
    # What is on disk as complete splits of these settings, written before a split is replaced and after each one is
    # complete: an interrupted build leaves a manifest that tells the truth (a rerun skips what is done and is not
    # taken for someone else's folder; a resumed run sees that its training split changed).
    reusable = previous if (previous is not None and previous.get("spec") == settings["spec"]
                            and previous.get("seed") == seed) else {}
    done = {"format": BUILDER_FORMAT, "spec": settings["spec"], "seed": seed,
            "splits": dict(reusable.get("splits", {})), "clips": dict(reusable.get("clips", {}))}
    if command is not None:
        done["command"] = command
    made_folders = [folder for folder in (out, *out.parents) if not folder.exists()]
    out.mkdir(parents=True, exist_ok=True)
    try:
        _write_splits(out, splits, settings, done, spec, progress, kept)
    except Exception:  # bad input met halfway (Ctrl-C is not one: a rerun finishes what it started)
        if previous is None:
            _remove_first_build(out, made_folders)
        raise
    if "train" in splits:  # built the other way before (by this builder, as its manifest says): a run would train
        # from that (fresh sources win over clips), or keep it
        shutil.rmtree(out / (SPLIT_NAMES["train"] if splits["train"].fresh else FRESH_SOURCES), ignore_errors=True)
    manifest = {"format": BUILDER_FORMAT, **settings, "clips": {name: done["clips"][name] for name in splits}}
    if command is not None:
        manifest["command"] = command
    write_text_atomic(manifest_path, json.dumps(manifest, indent=1))
    return out


def _write_splits(out: Path, splits: dict[str, SplitSources], settings: dict, done: dict, spec: MixSpec,
                  progress: Progress | None, kept: Callable[[str], None] | None) -> None:
    """Write each split of ``splits`` that ``done`` (the manifest of what is finished) does not hold as ``settings``
    describe it, keeping the manifest in ``out`` true before and after each one."""
    manifest_path, seed = out / MANIFEST, done["seed"]
    write_text_atomic(manifest_path, json.dumps(done, indent=1))
    for name, sources in sorted(splits.items()):
        target = out / (FRESH_SOURCES if sources.fresh else SPLIT_NAMES[name])
        if done["splits"].get(name) == settings["splits"][name] and name in done["clips"] and target.is_dir():
            if kept:
                kept(name)
            if progress:
                progress(name, sources.clips, sources.clips)
            continue
        done["splits"].pop(name, None)
        done["clips"].pop(name, None)
        write_text_atomic(manifest_path, json.dumps(done, indent=1))  # before the split on disk changes
        rng = np.random.default_rng([seed, list(SPLIT_NAMES).index(name)])  # adding a split changes no other
        if sources.fresh:
            _write_fresh_sources(target, sources, seed)
            clips: list = []
        else:
            clips = [asdict(r) for r in _write_split(target, sources, spec, rng, name, progress)]
        done["splits"][name], done["clips"][name] = settings["splits"][name], clips
        write_text_atomic(manifest_path, json.dumps(done, indent=1))


def _remove_first_build(out: Path, made_folders: list[Path]) -> None:
    """Take back what a first build of ``out`` that failed wrote — its manifest, its splits, whole or half-written —
    and the folders it made for ``out`` (``made_folders``, ``out`` first): it leaves nothing behind."""
    for name in (MANIFEST, *(f"{folder}{end}" for folder in (*SPLIT_NAMES.values(), FRESH_SOURCES)
                             for end in ("", ".partial"))):
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()
    for folder in made_folders:
        try:
            folder.rmdir()
        except OSError:  # something else put there since: kept
            break


def _write_split(target: Path, sources: SplitSources, spec: MixSpec, rng: np.random.Generator, name: str,
                 progress: Progress | None) -> list[ClipRecipe]:
    mixer = _ClipMaker(sources, spec, rng)
    recipes = []
    with _built_aside(target) as partial:
        for sub in ("clean", "noise", "noisy"):
            (partial / sub).mkdir(parents=True)
        for fileid in range(sources.clips):
            clean, noise, recipe = mixer.make(fileid)
            mix = mix_at_snr(clean, noise, recipe.snr_db, recipe.level_dbfs)
            recipe.extra["level_dbfs_actual"] = round(mix.level_dbfs, 2)
            stem = f"{_tag(recipe.speech_group)}_{_tag(recipe.noise_group)}_snr{recipe.snr_db}_tl{recipe.level_dbfs}"
            write_wav(partial / "clean" / f"clean_fileid_{fileid}.wav", mix.clean)
            write_wav(partial / "noise" / f"noise_fileid_{fileid}.wav", mix.noise)
            write_wav(partial / "noisy" / f"{stem}_fileid_{fileid}.wav", mix.noisy)
            recipes.append(recipe)
            if progress:
                progress(name, fileid + 1, sources.clips)
    return recipes


def _write_fresh_sources(target: Path, sources: SplitSources, seed: int) -> None:
    """``target``/speech/<group>/…, noise/<group>/… (hard links where the file system allows, else copies)
    and ``rooms.npz``; built in ``target.partial`` and renamed when complete."""
    from engine.training.fresh_mixtures import write_rooms  # pyroomacoustics: only when building

    with _built_aside(target) as partial:
        for kind, groups in (("speech", sources.speech), ("noise", sources.noise)):
            for group in groups:
                folder = partial / kind / _tag(group.name)
                folder.mkdir(parents=True, exist_ok=True)
                for index, path in enumerate(group.files):
                    link = folder / f"{index:05d}_{_tag(path.stem)[-80:]}{path.suffix.lower()}"
                    try:
                        os.link(path, link)
                    except OSError:
                        shutil.copy2(path, link)
        if sources.rooms:
            write_rooms(partial / "rooms.npz", sources.rooms, seed)


@contextlib.contextmanager
def _built_aside(target: Path) -> Iterator[Path]:
    """A new, empty ``target.partial`` to build ``target`` in: renamed over ``target`` when the block completes, removed
    when it does not (bad input, Ctrl-C), so no half-written split is ever left behind."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)


def _tag(name: str) -> str:
    return "".join(c if c.isalnum() or c == "-" else "-" for c in name)


class _ClipMaker:
    """Draws one clip's speech and noise (groups uniformly, files at random) for a split."""

    def __init__(self, sources: SplitSources, spec: MixSpec, rng: np.random.Generator) -> None:
        self.sources, self.spec, self.rng = sources, spec, rng
        self.length = int(round(spec.clip_seconds * SAMPLE_RATE))
        # generated noise counts as one group (its kind drawn inside it), babble as another
        self.noise_kinds = [g.name for g in sources.noise]
        if sources.synthetic_noise:
            self.noise_kinds.append("generated")
            if len(sources.speech) >= 2:
                self.noise_kinds.append("gen-babble")

    def make(self, fileid: int) -> tuple[np.ndarray, np.ndarray, ClipRecipe]:
        for _ in range(20):
            speech_group = self.sources.speech[self.rng.integers(len(self.sources.speech))]
            clean, speech_files = self._speech(speech_group)
            kind = self.noise_kinds[self.rng.integers(len(self.noise_kinds))]
            if kind == "generated":
                kind = f"gen-{list(GENERATORS)[self.rng.integers(len(GENERATORS))]}"
            noise, noise_files = self._noise(kind, exclude=speech_group.name)
            if active_rms(clean) > 0 and active_rms(noise) > 0:
                recipe = ClipRecipe(fileid, speech_group.name, speech_files, kind, noise_files,
                                    int(self.rng.integers(self.spec.snr_db[0], self.spec.snr_db[1] + 1)),
                                    int(self.rng.integers(self.spec.level_dbfs[0], self.spec.level_dbfs[1] + 1)))
                return clean, noise, recipe
        raise SpandexError("20 draws in a row gave silent speech or noise: check the source folders")

    def _fill(self, group: AudioGroup, pause: tuple[float, float], lead: bool) -> tuple[np.ndarray, list[str]]:
        """Random files of ``group`` joined with pauses until the clip is full (long files: random part)."""
        out = np.zeros(self.length, dtype=np.float32)
        used: list[str] = []
        position = int(self.rng.uniform(*pause) * SAMPLE_RATE) if lead else 0
        while position < self.length:
            path = group.files[self.rng.integers(len(group.files))]
            try:
                audio = load_audio(path)
            except AudioInputError as exc:
                raise SpandexError(f"cannot use {path} from group {group.name}: {exc}") from None
            room = self.length - position
            if audio.size > room and not used:
                start = int(self.rng.integers(audio.size - room + 1))
                audio = audio[start:start + room]
            take = min(room, audio.size)
            out[position:position + take] = audio[:take]
            used.append(str(path))
            position += take + int(self.rng.uniform(*pause) * SAMPLE_RATE)
        return out, used

    def _speech(self, group: AudioGroup) -> tuple[np.ndarray, list[str]]:
        return self._fill(group, self.spec.pause_seconds, lead=True)

    def _noise(self, kind: str, exclude: str) -> tuple[np.ndarray, list[str]]:
        if kind == "gen-babble":
            others = [g for g in self.sources.speech if g.name != exclude]
            talkers = self.rng.choice(len(others), size=min(len(others), int(self.rng.integers(3, 7))),
                                      replace=len(others) < 3)
            parts = [self._fill(others[i], (0.0, 0.2), lead=False) for i in talkers]
            babble = np.sum([p / max(active_rms(p), 1e-9) for p, _ in parts], axis=0)
            return babble.astype(np.float32), [f for _, files in parts for f in files]
        if kind.startswith("gen-"):
            return GENERATORS[kind[4:]](self.length, self.rng), []
        group = next(g for g in self.sources.noise if g.name == kind)
        return self._fill(group, (0.0, 0.3), lead=False)
