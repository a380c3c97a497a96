"""Fresh training mixtures and fine-tuning that works.

- ``spandex data build --fresh`` lays out sources and rooms, and a training run mixes from them anew at every
  step (never the same example twice), reproducibly from the run's seed, and says so on its card;
- the mixing recipe does what it says: levels in range, clean examples untouched, speech joined per speaker;
- a 30-step fine-tune of a pruned model with the shipped recipe changes its 8-bit weights and lowers the loss
  on a fixed training batch, where SPANDEX's old setting (RAdam at 1e-3) changed no weight at all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cli.training_run import describe
from engine.constants import SAMPLE_RATE
from engine.errors import SpandexError
from engine.library.catalog import resolve_model
from engine.training import events as ev
from engine.training.config import ConfigError, MixingRecipe, TrainConfig
from engine.training.dataset import PairedClips
from engine.training.dataset_builder import MixSpec, SplitSources, build_dataset
from engine.training.dataset_layout import dataset_summary, fresh_sources, split_folder, training_split_identity
from engine.training.fresh_mixtures import FreshMixtures, _Pool
from engine.training.loss import denoise_batch, ndns_loss, stft
from engine.training.recipes import fine_tune_config
from engine.training.sources import AudioGroup
from engine.training.trainer import _Run, run_training
from engine.training.validation import validate
from tests.test_training_runs import stop_after

SAMPLES = 16000


@pytest.fixture(scope="module")
def fresh_dataset(tmp_path_factory, speech_corpus: list[Path], keyboard_noise_files: list[Path]) -> Path:
    out = tmp_path_factory.mktemp("fresh")
    half = len(keyboard_noise_files) // 2
    splits = {
        "train": SplitSources([AudioGroup(f"talker{i}", tuple(speech_corpus[i * 10:(i + 1) * 10])) for i in range(3)],
                              [AudioGroup("keys-a", tuple(keyboard_noise_files[:half]))], 0,
                              synthetic_noise=True, fresh=True, rooms=3),
        "validation": SplitSources([AudioGroup("talker3", tuple(speech_corpus[30:40]))],
                                   [AudioGroup("keys-b", tuple(keyboard_noise_files[half:]))], 4),
    }
    return build_dataset(out, splits, MixSpec(clip_seconds=2.0), seed=1)


def rebuild_sources(fresh_dataset: Path) -> tuple[list[AudioGroup], list[AudioGroup]]:
    """Speech and noise for building a dataset again, from the fixture's own sources (a copy's go with its build)."""
    sources = fresh_dataset / "training_sources"
    speech = [AudioGroup(group, tuple(sorted((sources / "speech" / group).iterdir()))) for group in ("talker0", "talker1")]
    return speech, [AudioGroup("keys", tuple(sorted((sources / "noise" / "keys-a").iterdir())))]


def test_fresh_build_lays_out_sources_and_rooms_and_no_training_clips(fresh_dataset):
    sources = fresh_sources(fresh_dataset)
    assert sources is not None and not (fresh_dataset / "training_set").exists()
    assert sorted(p.name for p in (sources / "speech").iterdir()) == ["talker0", "talker1", "talker2"]
    assert len(list((sources / "speech" / "talker0").iterdir())) == 10
    with np.load(sources / "rooms.npz") as rooms:
        assert len(rooms.files) == 3
        assert all(np.max(np.abs(rooms[k])) == pytest.approx(1.0) for k in rooms.files)
    summary = dataset_summary(fresh_dataset)
    assert summary["train_pairs"] is None and summary["validation_pairs"] == 4


def test_a_build_replaces_the_other_way_of_training_built_there_before(tmp_path, fresh_dataset):
    """Fixed clips built into a folder that held fresh-mixture sources trained on the old sources (they win), and
    the other way round the old clips stayed: the folder holds the training split of its last build only."""
    out = tmp_path / "data"
    shutil.copytree(fresh_dataset, out)
    manifest = json.loads((out / "manifest.json").read_text())
    speech, noise = rebuild_sources(fresh_dataset)
    talker2 = sorted((fresh_dataset / "training_sources" / "speech" / "talker2").iterdir())
    validation = SplitSources([AudioGroup("talker2", tuple(talker2))], noise, 2)
    fixed = {"train": SplitSources(speech, noise, 3), "validation": validation}
    build_dataset(out, fixed, MixSpec(clip_seconds=2.0), seed=1)
    assert fresh_sources(out) is None and not (out / "training_sources").exists()
    assert dataset_summary(out)["train_pairs"] == 3 and manifest["splits"]["train"]["fresh"]
    build_dataset(out, {"train": SplitSources(speech, noise, 0, fresh=True), "validation": validation},
                  MixSpec(clip_seconds=2.0), seed=1)
    assert fresh_sources(out) is not None and not (out / "training_set").exists()


def test_a_build_over_a_dataset_it_did_not_make_is_refused_and_leaves_it_as_it_was(tmp_path, fresh_dataset):
    """A downloaded N-DNS folder (no manifest): `data build --fresh` into it had deleted its training_set/."""
    theirs = tmp_path / "ndns"
    (theirs / "training_set" / "noisy").mkdir(parents=True)
    (theirs / "training_set" / "noisy" / "book_fileid_1.wav").write_bytes(b"their recording")
    speech, noise = rebuild_sources(fresh_dataset)
    for fresh in (True, False):
        with pytest.raises(SpandexError, match=r"holds training_set/ that `spandex data build` did not make \(no "
                                               r"manifest.json\): building there would replace it"):
            build_dataset(theirs, {"train": SplitSources(speech, noise, 0 if fresh else 2, fresh=fresh)},
                          MixSpec(clip_seconds=2.0), seed=1)
    assert sorted(p.relative_to(theirs).as_posix() for p in theirs.rglob("*")) == [
        "training_set", "training_set/noisy", "training_set/noisy/book_fileid_1.wav"]
    (theirs / "training_set").rename(theirs / "validation_set.partial")  # a name the builder uses for its own work
    with pytest.raises(SpandexError, match=r"holds validation_set.partial/ that `spandex data build` did not make"):
        build_dataset(theirs, {"train": SplitSources(speech, noise, 2)}, MixSpec(clip_seconds=2.0), seed=1)
    assert (theirs / "validation_set.partial" / "noisy" / "book_fileid_1.wav").is_file()
    # another tool's manifest.json beside their splits (it made the builder take the folder for its own, delete the
    # user's training_set/ and write over that manifest), or one that is not a mapping (an internal error)
    (theirs / "validation_set.partial").rename(theirs / "training_set")
    for other in ('{"name": "my web app"}', "[1, 2]", "not json"):
        (theirs / "manifest.json").write_text(other)
        with pytest.raises(SpandexError, match=r"manifest.json (is not one `spandex data build` wrote|cannot be read as a "
                                               r"dataset's manifest): building in .* would replace it and the splits"):
            build_dataset(theirs, {"train": SplitSources(speech, noise, 2)}, MixSpec(clip_seconds=2.0), seed=1)
        assert (theirs / "manifest.json").read_text() == other
        assert (theirs / "training_set" / "noisy" / "book_fileid_1.wav").is_file()


def test_an_interrupted_build_leaves_a_manifest_that_tells_the_truth(tmp_path, fresh_dataset):
    """The manifest was written only at the end: an interrupted first build could not be run again (its folder taken
    for someone else's), and an interrupted rebuild had replaced the training clips under an unchanged manifest (a
    resumed run would have trained on them without a word)."""
    speech, noise = rebuild_sources(fresh_dataset)
    talker2 = sorted((fresh_dataset / "training_sources" / "speech" / "talker2").iterdir())
    validation = SplitSources([AudioGroup("talker2", tuple(talker2))], noise, 2)

    def stopped_in_validation(split: str, done: int, total: int) -> None:
        if split == "validation":
            raise KeyboardInterrupt

    def build(train_clips: int, progress=None) -> None:
        build_dataset(tmp_path / "data", {"train": SplitSources(speech, noise, train_clips), "validation": validation},
                      MixSpec(clip_seconds=2.0), seed=1, progress=progress)

    with pytest.raises(KeyboardInterrupt):
        build(3, stopped_in_validation)
    built = (tmp_path / "data" / "training_set" / "clean" / "clean_fileid_0.wav").stat().st_mtime_ns
    build(3)  # run again: not refused, and the complete training split is kept
    assert (tmp_path / "data" / "training_set" / "clean" / "clean_fileid_0.wav").stat().st_mtime_ns == built
    before = training_split_identity(tmp_path / "data")
    with pytest.raises(KeyboardInterrupt):
        build(4, stopped_in_validation)  # the training split rebuilt, then stopped
    assert training_split_identity(tmp_path / "data") != before  # a run resumed on it would be refused
    build(3)
    assert len(list((tmp_path / "data" / "training_set" / "clean").iterdir())) == 3
    assert training_split_identity(tmp_path / "data") == before


def test_a_split_whose_rebuild_was_stopped_is_refused_until_the_build_finishes(tmp_path, fresh_dataset, capsys):
    """Stopped while it replaced the training split, a rebuild left the old training clips on disk, and a new run (not
    a resume) trained on them without a word; the rerun of the build did not say which splits it kept."""
    speech, noise = rebuild_sources(fresh_dataset)
    talker2 = sorted((fresh_dataset / "training_sources" / "speech" / "talker2").iterdir())
    validation = SplitSources([AudioGroup("talker2", tuple(talker2))], noise, 2)
    data = tmp_path / "data"

    def stopped_in(name: str):
        def progress(split: str, done: int, total: int) -> None:
            if split == name and done == 1:
                raise KeyboardInterrupt
        return progress

    def build(train_clips: int, progress=None, kept=None) -> None:
        build_dataset(data, {"train": SplitSources(speech, noise, train_clips), "validation": validation},
                      MixSpec(clip_seconds=2.0), seed=1, progress=progress, kept=kept)

    build(3)
    assert split_folder(data, "train") == data / "training_set"
    with pytest.raises(KeyboardInterrupt):
        build(4, stopped_in("train"))  # the training split half made again, the old one still on disk
    assert (data / "training_set" / "clean").is_dir()
    config = TrainConfig(name="new", dataset=str(data), hidden_sizes=(32, 32), steps=2, batch_size=2,
                         segment_seconds=0.5, eval_every=2, log_every=1, threads=1, seed=2)
    with pytest.raises(SpandexError, match=r"data: its training_set/ is not one its last `spandex data build` "
                                           r"finished \(manifest.json does not list a train split: a build stopped"):
        run_training(config, tmp_path / "run")
    with pytest.raises(SpandexError, match="does not list a train split"):
        dataset_summary(data)  # the GUI's dataset picker says the same
    assert split_folder(data, "validation") == data / "validation_set"  # the split it had not touched yet
    kept: list[str] = []
    build(4, kept=kept.append)  # run again: finishes the training split, keeps validation and says so
    assert kept == ["validation"] and len(PairedClips.load(split_folder(data, "train"))) == 4
    assert isinstance(run_training(config, tmp_path / "run"), ev.Finished)
    (data / "manifest.json").write_text("{not json")
    with pytest.raises(SpandexError, match=r"manifest.json: unreadable dataset manifest"):
        split_folder(data, "train")


def test_a_test_split_the_last_build_did_not_make_leaves_training_alone(tmp_path, fresh_dataset):
    """Built with a held-out test split, then again without one: the old test_set/ stays (nothing the user made is
    deleted) and had made the whole dataset refused, training included; only what reads the test split refuses it."""
    speech, noise = rebuild_sources(fresh_dataset)
    talker2 = sorted((fresh_dataset / "training_sources" / "speech" / "talker2").iterdir())
    splits = {"train": SplitSources(speech[:1], noise, 2), "validation": SplitSources(speech[1:], noise, 2),
              "test": SplitSources([AudioGroup("talker2", tuple(talker2))], noise, 2)}
    data = tmp_path / "data"
    build_dataset(data, splits, MixSpec(clip_seconds=2.0), seed=1)
    assert dataset_summary(data)["test_pairs"] == 2
    del splits["test"]
    build_dataset(data, splits, MixSpec(clip_seconds=2.0), seed=1)
    assert (data / "test_set").is_dir() and "test_pairs" not in dataset_summary(data)
    assert split_folder(data, "train") == data / "training_set"
    with pytest.raises(SpandexError, match=r"its test_set/ is not one its last `spandex data build` finished"):
        split_folder(data, "test")


def test_training_sources_left_by_a_switch_to_fixed_clips_are_refused(tmp_path, fresh_dataset):
    """Stopped while it deleted the fresh sources of a build now made of fixed clips, a build left training_sources/
    beside a manifest of fixed clips, and fresh sources win: a run would have trained on them without a word."""
    data = tmp_path / "data"
    shutil.copytree(fresh_dataset, data)
    speech, noise = rebuild_sources(fresh_dataset)
    talker2 = sorted((fresh_dataset / "training_sources" / "speech" / "talker2").iterdir())
    validation = SplitSources([AudioGroup("talker2", tuple(talker2))], noise, 2)
    build_dataset(data, {"train": SplitSources(speech, noise, 3), "validation": validation}, MixSpec(clip_seconds=2.0),
                  seed=1)
    shutil.copytree(fresh_dataset / "training_sources", data / "training_sources")  # as the stopped delete left it
    with pytest.raises(SpandexError, match=r"its training_sources/ is not one its last `spandex data build` finished "
                                           r"\(manifest.json lists the training split the other way"):
        fresh_sources(data)


def test_every_batch_is_new_and_a_seed_repeats_it(fresh_dataset):
    mixtures = FreshMixtures.load(fresh_sources(fresh_dataset))
    first = mixtures.batch(np.random.default_rng(5), 4, SAMPLES)
    again = mixtures.batch(np.random.default_rng(5), 4, SAMPLES)
    other = mixtures.batch(np.random.default_rng(6), 4, SAMPLES)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])


def test_levels_clean_share_and_noise_follow_the_recipe(fresh_dataset):
    recipe = MixingRecipe(clean_share=0.25, high_snr_share=0.0, level_dbfs=(-40.0, -20.0), reverb_share=0.0,
                          equaliser_share=0.0, band_limit_share=0.0)
    mixtures = FreshMixtures.load(fresh_sources(fresh_dataset), recipe)
    rng = np.random.default_rng(0)
    untouched, levels, snrs = 0, [], []
    for _ in range(60):
        noisy, clean = mixtures.example(rng, SAMPLES)
        assert np.max(np.abs(noisy)) <= 0.99 + 1e-6
        noise = noisy - clean
        if not np.any(noise):
            untouched += 1
            continue
        snrs.append(10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum(noise.astype(np.float64) ** 2)))
        active = np.abs(noisy) > 0
        levels.append(20 * np.log10(np.sqrt(np.mean(noisy[active].astype(np.float64) ** 2))))
    assert 5 <= untouched <= 25  # about 15 of 60 examples have no noise: clean in, clean target
    assert min(levels) > -50 and max(levels) < -12  # active level drawn in -40..-20 dBFS
    assert -15 < np.median(snrs) < 20


def _pool(name: str, seconds: float) -> _Pool:
    return _Pool(name, [np.ones(int(seconds * SAMPLE_RATE), dtype=np.int16)], [1.0])


def test_speakers_are_drawn_alike_or_by_the_square_root_of_their_minutes():
    speech = [_pool("a", 1.0), _pool("b", 4.0), _pool("c", 16.0), _pool("tts-x", 9.0), _pool("tts-y", 1.0)]
    noise = [_pool("hum", 1.0)]
    alike = FreshMixtures(speech, noise, [], MixingRecipe(synthetic_share=0.2)).speaker_shares
    assert alike == pytest.approx({"a": 0.8 / 3, "b": 0.8 / 3, "c": 0.8 / 3, "tts-x": 0.1, "tts-y": 0.1})
    weighted = FreshMixtures(speech, noise, [], MixingRecipe(synthetic_share=0.2, speaker_weighting="sqrt_minutes"))
    # real speakers 1 : 2 : 4 by sqrt(seconds) within their 80 %; synthetic voices still alike
    assert weighted.speaker_shares == pytest.approx({"a": 0.8 / 7, "b": 1.6 / 7, "c": 3.2 / 7, "tts-x": 0.1,
                                                     "tts-y": 0.1})
    assert weighted.example(np.random.default_rng(0), 1600)[1].shape == (1600,)
    for share in (0.1, 0.12, 0.15, 0.2, 0.3):  # drawn alike: the probabilities of before, bit for bit
        shares = list(FreshMixtures(speech, noise, [], MixingRecipe(synthetic_share=share)).speaker_shares.values())
        assert shares == [(1 - share) / 3] * 3 + [share / 2] * 2
    assert FreshMixtures(speech[:3], noise, [], MixingRecipe(speaker_weighting="sqrt_minutes")).speaker_shares == \
        pytest.approx({"a": 1 / 7, "b": 2 / 7, "c": 4 / 7})


def _tone_pool(name: str, frequency: float, seconds: float = 2.0) -> _Pool:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return _Pool(name, [np.round(16000 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)], [1 / 32768])


def _peak_hz(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.argmax(spectrum) * SAMPLE_RATE / signal.size)


def test_speed_perturbation_moves_the_voice_and_a_share_of_zero_draws_nothing():
    plain = dict(reverb_share=0.0, equaliser_share=0.0, band_limit_share=0.0, clean_share=1.0, high_snr_share=0.0)
    speech, noise = [_tone_pool("a", 1000.0)], [_pool("hum", 1.0)]
    for speed, heard in (((1.2, 1.2), 1200.0), ((0.8, 0.8), 800.0), ((0.9, 1.1), None)):
        mixtures = FreshMixtures(speech, noise, [], MixingRecipe(**plain, speed_share=1.0, speed=speed))
        rng = np.random.default_rng(3)
        peaks = [_peak_hz(mixtures.example(rng, SAMPLES)[1]) for _ in range(12)]
        if heard is not None:  # a 1 kHz tone played 1.2 times as fast is a 1.2 kHz tone, every time
            assert peaks == pytest.approx([heard] * 12, abs=2.0)
        else:  # factors drawn to the hundredth within the range
            assert 900 - 2 <= min(peaks) < max(peaks) <= 1100 + 2 and len(set(np.round(peaks))) > 3


def test_the_default_recipe_draws_what_it_drew_before_the_optional_draws_existed():
    """A share of 0 takes no number from the generator: a default-recipe batch leaves the generator where the code
    before speed and noise colour (git 999cb90) left it, a state measured with that code and pinned here (it counts
    draws, not floating-point results). One number more taken per example would move it."""
    speech = [_tone_pool("a", 1000.0), _tone_pool("b", 300.0, 0.7)]
    noise = [_pool("hum", 1.0), _tone_pool("whistle", 3000.0, 0.3)]
    rooms = [np.array([1.0, 0.0, 0.5, 0.25], np.float32)]
    rng = np.random.default_rng(21)
    FreshMixtures(speech, noise, rooms, MixingRecipe()).batch(rng, 24, SAMPLES)
    assert rng.bit_generator.state["state"]["state"] == 186239957845064122426150930381226274022
    moved = np.random.default_rng(21)
    FreshMixtures(speech, noise, rooms, MixingRecipe(speed_share=0.01)).batch(moved, 24, SAMPLES)
    assert moved.bit_generator.state["state"]["state"] != 186239957845064122426150930381226274022


def _band_tilt_db(noise: np.ndarray) -> float:
    """Energy in 300-1000 Hz over 3-6 kHz, per hertz, in dB (0 for white noise)."""
    power = np.abs(np.fft.rfft(noise)) ** 2
    hz = np.fft.rfftfreq(noise.size, 1 / SAMPLE_RATE)
    low, high = power[(hz >= 300) & (hz < 1000)].mean(), power[(hz >= 3000) & (hz < 6000)].mean()
    return float(10 * np.log10(low / high))


def test_noise_colouring_gives_the_noise_alone_spectra_of_its_own():
    white = np.random.default_rng(0).standard_normal(4 * SAMPLE_RATE)
    noise = [_Pool("white", [np.round(white * 3000).astype(np.int16)], [1 / 32768])]
    speech = [_tone_pool("a", 1000.0, seconds=4.0)]
    plain = dict(reverb_share=0.0, equaliser_share=0.0, band_limit_share=0.0, clean_share=0.0, high_snr_share=0.0,
                 generated_noise_share=0.0, babble_share=0.0, second_noise_share=0.0, snr_db=(0.0, 0.0))
    tilts = {}
    for share in (0.0, 1.0):
        mixtures = FreshMixtures(speech, noise, [], MixingRecipe(**plain, noise_colour_share=share))
        rng = np.random.default_rng(4)
        examples = [mixtures.example(rng, SAMPLES) for _ in range(16)]
        tilts[share] = [_band_tilt_db(noisy - clean) for noisy, clean in examples]
        # the speech itself is untouched: the target is still the tone alone
        assert all(_peak_hz(clean) == pytest.approx(1000.0, abs=2.0) for _, clean in examples)
    assert max(abs(t) for t in tilts[0.0]) < 1.0  # white stays white
    assert np.median(np.abs(tilts[1.0])) > 1.5 and np.ptp(tilts[1.0]) > 4.0  # each coloured its own way


@pytest.mark.parametrize("mixing, message", [
    ({"clean_share": 2}, "mixing: clean_share = 2: must be at most 1.0"),
    ({"level_dbfs": [-10, -40]}, "mixing: level_dbfs [-10.0, -40.0]: the lower end comes first"),
    ({"clean_share": 0.6, "high_snr_share": 0.5}, "mixing: clean_share + high_snr_share must not exceed 1"),
    ({"clean_shar": 0.1}, "mixing: unknown setting(s) clean_shar"),
    ({"speaker_weighting": "loudest"}, "mixing: speaker_weighting"),
    ({"speed": [1.1, 0.9]}, "mixing: speed [1.1, 0.9]: the lower end comes first"),
    ({"speed": [0.1, 1.0]}, "mixing: speed"),
])
def test_a_bad_mixing_recipe_is_refused_by_name(mixing, message):
    with pytest.raises(ConfigError) as refused:
        TrainConfig(name="x", dataset="d", mixing=mixing)
    assert message in str(refused.value)
    # a good change keeps every other default, lists read as ranges
    recipe = TrainConfig(name="x", dataset="d", mixing={"level_dbfs": [-30, -20]}).mixing_recipe()
    assert recipe.level_dbfs == (-30.0, -20.0) and recipe.clean_share == MixingRecipe().clean_share


def test_a_run_trains_from_fresh_mixtures_and_its_card_says_so(fresh_dataset, tmp_path):
    config = TrainConfig(name="fresh", dataset=str(fresh_dataset), hidden_sizes=(32, 32), steps=4,
                         batch_size=2, segment_seconds=0.5, eval_every=4, log_every=2, threads=1, seed=2)
    events: list = []
    finished = run_training(config, tmp_path / "run", emit=events.append)
    assert isinstance(finished, ev.Finished)
    card = json.loads(Path(finished.card_path).read_text())
    assert card["data"]["train_clips"] is None
    assert card["data"]["train_mixing"]["speech_groups"].keys() == {"talker0", "talker1", "talker2"}
    assert card["data"]["train_mixing"]["rooms"] == 3
    loaded = [e for e in events if isinstance(e, ev.Loading) and e.done == e.total]
    assert [(e.split, e.what) for e in loaded] == [("train", "source folders"), ("validation", "clips")]
    assert describe(loaded[0]).startswith("loaded ") and describe(loaded[0]).endswith(" train source folders")
    # the start line counts the speech recordings the mixtures are drawn from, not "training clips"
    started = next(e for e in events if isinstance(e, ev.Started))
    assert started.fresh_mixtures and "training clips" not in describe(started)
    assert f"fresh mixtures from {started.train_clips} speech recordings (" in describe(started)


def test_a_resumed_run_refuses_a_dataset_rebuilt_another_way(fresh_dataset, tmp_path):
    """A run on fresh mixtures whose dataset was rebuilt as fixed clips had resumed on the clips without a word."""
    data = tmp_path / "data"
    shutil.copytree(fresh_dataset, data)
    config = TrainConfig(name="fresh", dataset=str(data), hidden_sizes=(32, 32), steps=4, batch_size=2,
                         segment_seconds=0.5, eval_every=4, log_every=2, threads=1, seed=2)
    assert isinstance(run_training(config, tmp_path / "run", should_stop=stop_after(2)), ev.Cancelled)
    speech, noise = rebuild_sources(fresh_dataset)
    build_dataset(data, {"train": SplitSources(speech, noise, 3)}, MixSpec(clip_seconds=2.0), seed=1)
    refused: list = []
    with pytest.raises(SpandexError, match=r"^the dataset .*data is no longer the one this run started with \(its "
                                           r"training split was built again, or another way\)"):
        run_training(config, tmp_path / "run", emit=refused.append)
    assert not any(isinstance(e, ev.Loading) for e in refused)  # said before the data's minutes of loading
    shutil.rmtree(data)
    shutil.copytree(fresh_dataset, data)  # the same data again: resumes
    assert isinstance(run_training(config, tmp_path / "run"), ev.Finished)


def _fixed_batch_loss(run: _Run, noisy: torch.Tensor, clean: torch.Tensor) -> float:
    with torch.no_grad():
        spectrum = stft(noisy)
        denoised, magnitude = denoise_batch(run.graph(spectrum.abs()).mask, spectrum, noisy.shape[-1])
        loss, _ = ndns_loss(clean, denoised, stft(clean).abs(), magnitude, run.config.mse_weight)
    return float(loss)


def _changed_weights(before, after) -> int:
    return sum(int(np.count_nonzero(a.weight_mant != b.weight_mant)) for a, b in zip(before.layers, after.layers))


@pytest.mark.slow
def test_a_30_step_fine_tune_of_a_pruned_model_changes_weights_and_lowers_the_loss(tiny_dataset, tmp_path):
    train = PairedClips.load(split_folder(tiny_dataset, "train"), compact=True)
    held_noisy, held_clean = train.batch(np.random.default_rng(1234), 8, SAMPLES)  # one fixed training batch
    pruned = resolve_model("spandex-prune75")
    results = {}
    for label, changes in (("shipped recipe", {}), ("RAdam 1e-3", {"optimizer": "radam", "learning_rate": 1e-3,
                                                                   "final_learning_rate": 1e-4})):
        config = fine_tune_config("spandex-prune75", "spandex-prune75", None, dataset=str(tiny_dataset), steps=30,
                                  batch_size=8, segment_seconds=1.0, threads=1, seed=0, **changes)
        run = _Run(config, tmp_path / label, lambda event: None)
        before = _fixed_batch_loss(run, held_noisy, held_clean)
        for _ in range(30):
            run.train_step(train, SAMPLES)
        after_model = run.graph.to_model()
        results[label] = (_changed_weights(pruned, after_model), before, _fixed_batch_loss(run, held_noisy, held_clean),
                          after_model.weight_sparsity)
    changed, before, after, sparsity = results["shipped recipe"]
    assert changed > 1000, results
    assert after < before - 0.1, results
    assert sparsity >= pruned.weight_sparsity - 1e-9  # a pruned model stays pruned
    assert results["RAdam 1e-3"][0] < changed / 10, results  # why the recipe is not RAdam at SPANDEX's rate


def test_a_run_from_a_model_is_measured_against_it_and_says_when_it_lost(tiny_dataset, tmp_path):
    """30 steps of the shipped fine-tuning recipe from spandex-prune75 on the preset's data lose ~1 dB of validation
    SI-SNRi (bench/finetune_optimizer.py, docs/training.md), and nothing said so: the run validates the model it starts
    from on the same clips first (step 0), its card keeps that score, and the finished line compares the two."""
    config = fine_tune_config("spandex-prune75", "spandex-prune75", None, dataset=str(tiny_dataset), steps=4,
                              batch_size=2, segment_seconds=0.5, eval_every=4, eval_clips=2, threads=1, seed=0)
    events: list = []
    finished = run_training(config, tmp_path / "run", emit=events.append)
    evaluations = [e for e in events if isinstance(e, ev.Evaluated)]
    assert [e.step for e in evaluations] == [0, 4]
    assert describe(evaluations[0]).startswith("validation at step 0 (the model it starts from): ")
    pruned = resolve_model("spandex-prune75")  # step 0 is the parent itself, on the run's clips
    validation = PairedClips.load(split_folder(tiny_dataset, "validation"), limit=2)
    assert evaluations[0].si_snri == pytest.approx(validate(pruned, validation).si_snri, abs=1e-9)
    card = json.loads(Path(finished.card_path).read_text())
    assert card["metrics"]["start_si_snri"] == evaluations[0].si_snri and card["metrics"]["clips"] == 2
    said = describe(finished)
    assert f"the model it started from: {evaluations[0].si_snri:.2f} dB on the same clips" in said
    lost = ev.Finished(4, "m.net", "m.json", {"si_snri": 3.75, "start_si_snri": 4.81, "clips": 192})
    assert "note: 1.06 dB below where it started" in describe(lost) and "can be chance" not in describe(lost)
    assert "--teacher" in describe(lost) and "Pruning" not in describe(lost)
    # a pruning run's loss is the pruning's: the note says so, and not that fine-tuning jolts weights
    pruned_lost = ev.Finished(10, "m.net", "m.json", {"si_snri": 1.03, "start_si_snri": 6.26}, pruned_to=0.8)
    assert "Pruning to 80% zero weights took it" in describe(pruned_lost) and "--teacher" not in describe(pruned_lost)
    few = ev.Finished(4, "m.net", "m.json", {"si_snri": 0.23, "start_si_snri": 0.35, "clips": 8})
    assert "note: scored on 8 validation clips only" in describe(few)
    assert "note:" not in describe(ev.Finished(4, "m.net", "m.json", {"si_snri": 4.80, "start_si_snri": 4.81}))


def test_a_fine_tune_mixes_what_its_model_learnt_from(fresh_dataset, tiny_dataset):
    """`spandex finetune`/`prune` mixed by the trainer's default recipe (8 % clean, 15 % high-SNR examples, speakers
    drawn alike), not the shipped model's (3 %, 7 %, by the square root of their minutes): 400 steps from
    spandex-prune75 lost 2.3 dB of validation SI-SNRi at the default rate, 1.0 at a tenth of it; with its own
    recipe 0.30 and 0.04 (bench/finetune_optimizer.py, docs/training.md)."""
    shipped = json.loads(Path(resolve_model("spandex-prune75").source).with_suffix(".json").read_text())
    own = shipped["recipe"]["mixing"]
    assert own["clean_share"] != MixingRecipe().clean_share  # the trainer's default is another recipe
    config = fine_tune_config("spandex-prune75", "spandex-prune75", None, dataset=str(fresh_dataset))
    assert config.mixing == own
    assert fine_tune_config("spandex-prune75", "x", None, dataset=str(tiny_dataset)).mixing is None  # fixed clips
    chosen = fine_tune_config("spandex-prune75", "x", None, dataset=str(fresh_dataset), mixing={"clean_share": 0.2})
    assert chosen.mixing == {"clean_share": 0.2}  # what the user gives wins
