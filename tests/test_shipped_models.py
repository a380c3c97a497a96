"""The models SPANDEX ships: each loads, has a truthful card, and the default really denoises."""

import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.backends import prepare
from engine.denoiser import denoise
from engine.evaluation.metrics import si_snr
from engine.files.audio import load_audio
from engine.files.netx import load_model
from engine.library.card import card_lines
from engine.library.catalog import SHIPPED_DIR, ModelEntry, default_lineup, default_model, list_models
from engine.snn.compaction import idle_hidden_neurons
from engine.snn.model import SDNNModel
from tests import corpus
from tests.reference_models import REFERENCE_DIR, reference_path

SHIPPED = [entry for entry in list_models() if entry.origin == "shipped"]
OFFICIAL = "ndns_baseline"
SPANDEX_REFERENCES = ("spandex_prune50", "spandex_prune75")
DERIVED_CORRELATION = 0.2
"""Mean per-layer correlation of weights above which one network descends from another. Independently
trained networks sit near 0 (the official baseline and its no-delay variant: 0.00); SPANDEX's pruned
nets, fine-tuned from the official baseline, keep 0.27-0.47 of it per layer."""


def test_a_default_model_is_shipped():
    entry = default_model()
    assert entry is not None and entry.path.parent == SHIPPED_DIR


@pytest.mark.parametrize("entry", SHIPPED, ids=[e.name for e in SHIPPED])
def test_shipped_model_loads_and_its_card_matches_the_file(entry):
    model = load_model(entry.path)
    assert entry.card_problem is None
    card = entry.card
    assert card["name"] == entry.name
    assert set(card["data"].get("sources", {})) <= {"train", "validation"}  # never the held-out test set
    assert card["metrics"]["weight_sparsity"] == pytest.approx(model.weight_sparsity)
    assert card["metrics"]["nonzero_params"] == model.n_nonzero_synapses
    assert tuple(card["metrics"]["neurons"]) == model.neuron_counts
    # the N-DNS network's shape; a model trained with drop_idle_neurons, or narrowed (spandex narrow: this model, or
    # the one it was then trained from), may have smaller hidden layers
    assert model.neuron_counts[0] == model.neuron_counts[-1] == 257
    narrowings = [card["narrow"]] if "narrow" in card else card.get("earlier_narrows", [])
    if card["recipe"].get("drop_idle_neurons"):
        assert not any(idle.any() for idle in idle_hidden_neurons(model))
        assert all(n <= 512 for n in model.neuron_counts[1:-1])
    elif card["recipe"].get("widen"):  # widened by its last run (spandex-frugal, after its narrowing): that layout
        assert list(model.neuron_counts[1:-1]) == card["recipe"]["widen"]
    elif narrowings:  # the last narrowing's layout, or smaller
        assert all(n <= to for n, to in zip(model.neuron_counts, narrowings[-1]["to"]))
    else:
        assert model.neuron_counts == (257, 512, 512, 257)


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda e: e.name)
def test_each_stage_of_a_card_goes_on_from_the_stage_before(entry):
    # a stage's parent is the stage before it, or the model itself where a blend or a soup made after the stage
    # before was installed under the model's name (the card lists those beside its stages, each after its stage)
    card = entry.card
    stages = card.get("stages", [])
    made_after = {mix.get("after_stage") for mix in [*card.get("earlier_blends", []), card.get("soup", {})]}
    for before, stage in zip(stages, stages[1:]):
        parent = stage["parent"].split(" (")[0]
        allowed = (before["name"], entry.name) if before["name"] in made_after else (before["name"],)
        assert parent in allowed, (stage["name"], stage["parent"], before["name"])


def test_a_card_with_dropped_idle_neurons_says_what_is_left_of_the_full_size_network():
    entry = next(e for e in SHIPPED if e.name == "spandex-prune75")
    model = load_model(entry.path)
    lines = card_lines(entry.card)
    assert "  neurons per layer: " + "-".join(map(str, model.neuron_counts)) in lines
    # the layout its last stage trained (a model trained in stages may have dropped neurons in an earlier one)
    trained = entry.card.get("trained_layout", [257, 512, 512, 257])
    assert len(trained) == len(model.neuron_counts) and all(t >= n for t, n in zip(trained, model.neuron_counts))
    full = sum(a * b for a, b in zip(trained, trained[1:]))
    assert (f"  idle neurons dropped from {'-'.join(map(str, trained))}: {model.n_nonzero_synapses:,} of its "
            f"{full:,} weights left ({1 - model.n_nonzero_synapses / full:.1%} zero)") in lines
    dense = next(e for e in SHIPPED if e.name == "spandex-dense")
    assert not any(line.startswith("  idle neurons dropped") for line in card_lines(dense.card))


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda e: e.name)
def test_every_shipped_card_shows_its_card_check(entry):
    """The numbers CI measures again (tests/test_card_numbers.py) are on the card a user reads."""
    check = entry.card["metrics"]["card_check"]
    line = next(line for line in card_lines(entry.card) if line.startswith("  card check ("))
    assert line == (f"  card check ({len(check['si_snr_in'])} short clips that the test suite measures again): "
                    f"SI-SNRi {check['si_snri']:.2f} dB at {check['power_proxy_mops']:.2f} M-Ops/s")
    assert not any(shown.startswith("  card check") for shown in card_lines({"metrics": {"si_snr": 1.0, "card_check": {}}}))
    brief = next(line for line in card_lines(entry.card, brief_stages=True) if line.startswith("  card check ("))
    assert brief == line.replace(" that the test suite measures again", "")  # the app's card, where room is short


def test_a_cards_training_time_says_seconds_under_a_minute():
    def shown(seconds: float) -> str:
        card = {"training": {"steps": 30, "wall_time_s": seconds, "machine": "x86_64 2 cores", "threads": 1}}
        return next(line for line in card_lines(card) if line.startswith("training: "))

    assert shown(10.7) == "training: 30 steps, 11 s on x86_64 2 cores, 1 thread(s)"  # was "0 min"
    assert shown(3725) == "training: 30 steps, 62 min on x86_64 2 cores, 1 thread(s)"


def test_the_full_card_says_how_the_fresh_mixtures_were_drawn_and_the_apps_card_leaves_it_out():
    recipe = {"snr_db": [-5.0, 20.0], "high_snr_db": [20.0, 40.0], "high_snr_share": 0.07, "clean_share": 0.0,
              "level_dbfs": [-45.0, -10.0], "reverb_share": 0.3, "babble_share": 0.0, "speed_share": 0.5,
              "speed": [0.9, 1.1], "noise_colour_share": 0.3, "speaker_weighting": "sqrt_minutes"}
    card = {"data": {"dataset": "d", "train_hours": 1.0, "train_mixing": {"mixing": "fresh", "recipe": recipe}}}
    assert card_lines(card)[-1] == ("mixing: fresh every step — SNR −5…20 dB (7% at 20…40 dB); level −45…−10 dBFS; "
                                    "rooms 30%, noise coloured 30%, speed 0.9…1.1 × 50%; speakers drawn by √(their "
                                    "minutes)")  # draws at 0 % (clean, babble) left out
    assert not any(line.startswith("mixing:") for line in card_lines(card, brief_stages=True))  # room is short
    shipped = card_lines(json.loads((SHIPPED_DIR / "spandex-dense.json").read_text()))
    assert any(line.startswith("mixing (last stage): fresh every step — SNR −5…20 dB (7% at 20…40 dB); 3% clean;")
               for line in shipped)  # its earlier stages drew otherwise


def test_a_card_with_stages_names_its_recipe_the_last_stage_and_times_them_all():
    run = {"steps": 600, "wall_time_s": 600.0, "machine": "x86_64 2 cores", "threads": 1}
    card = {"stages": [{"name": "first", "recipe": {"steps": 600}, "training": run}],
            "recipe": {"steps": 2000}, "training": {**run, "steps": 2000, "wall_time_s": 1200.0}}
    lines = card_lines(card)
    assert [line.split(":")[0] for line in lines] == ["stage first", "last stage", "training"]
    named = card_lines({**card, "recipe": {"name": "second", "steps": 2000}})  # its run named, as the stages are
    assert [line.split(":")[0] for line in named] == ["stage first", "last stage second", "training"]
    assert lines[-1] == "training: 2 stages, 2,600 steps, 30 min on x86_64 2 cores, 1 thread(s)"
    del card["stages"][0]["training"]  # an older card: its stages not timed, so only the last is
    assert card_lines(card)[-1] == "training: last stage, 2,000 steps, 20 min on x86_64 2 cores, 1 thread(s)"
    del card["stages"]
    assert card_lines(card) == ["recipe: 2,000 steps, batch ? × ? s, lr ?",
                                "training: 2,000 steps, 20 min on x86_64 2 cores, 1 thread(s)"]


def test_card_data_line_names_corpora_not_every_group():
    from engine.library.card import speech_summary

    assert speech_summary(["asterisk-es", "asterisk-it", "tts-espeak-fr", "tts-festival-cs", "mine"]) == (
        "asterisk (es, it), mine, 2 synthetic voices")
    assert speech_summary(f"tux-{i}" for i in range(8)) == "tux (8 groups)"
    default = next(e for e in SHIPPED if e.name == "spandex-dense")
    data = next(line for line in card_lines(default.card) if line.startswith("data: "))
    assert "synthetic voices" in data and len(data) < 200, data
    assert " — 5.6 h of training speech (" in data  # fresh mixtures: the clean speech they were drawn from
    brief = next(line for line in card_lines(default.card, brief_stages=True) if line.startswith("data: "))
    assert brief == data.split(" (")[0]  # the app's card, where room is short: how much, not whose


def test_card_data_line_says_fixed_clips_are_clips_and_a_few_minutes_are_minutes():
    """A dataset of 40 fixed 6-s mixtures is not "0.1 h of training speech" (its speech was 0.014 h), and 50 s
    of speech drawn afresh is not "0.0 h"."""
    def line(data: dict) -> str:
        return next(text for text in card_lines({"data": {"dataset": "mine", **data}}) if text.startswith("data: "))

    assert line({"train_hours": 40 * 6 / 3600, "train_clips": 40}).startswith("data: mine — 40 fixed training clips, 4 min")
    assert line({"train_hours": 50 / 3600, "train_clips": None}).startswith("data: mine — 1 min of training speech")
    assert line({"train_hours": 2.3, "train_clips": None}).startswith("data: mine — 2.3 h of training speech")


def is_official(parent: str) -> bool:
    """A card's parent that names the official N-DNS baseline and its licence, as SPANDEX's own cards did."""
    return parent.startswith(OFFICIAL) and "MIT" in parent


REPO = Path(__file__).resolve().parents[1]


def earlier_shipped(parent: str) -> tuple[dict, SDNNModel] | None:
    """For a parent named as an earlier shipped model, "NAME (..., git REV)" (a model replaced since, like the
    spandex-prune75 that spandex-frugal was made from): that revision's card and model, read from git; else None."""
    match = re.fullmatch(r"([\w.-]+) \(.*\bgit ([0-9a-f]{7,40})\)", parent)
    if match is None:
        return None
    name, rev = match.groups()
    shown = {}
    for suffix in (".json", ".net"):
        done = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:assets/models/{name}{suffix}"],
                              capture_output=True)
        assert done.returncode == 0, f"parent {parent!r}: git cannot show it: {done.stderr.decode()[-300:]}"
        shown[suffix] = done.stdout
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.net"
        path.write_bytes(shown[".net"])
        model = load_model(path)
    return json.loads(shown[".json"]), model


def lineage(entry: ModelEntry) -> list[str]:
    """The card's parents up to the root: ``scratch``, or the official baseline."""
    shipped, chain, card = {e.name: e for e in SHIPPED}, [], entry.card
    while True:
        parent = card["parent"]
        assert parent not in chain, f"{entry.name}: its cards' parents loop: {chain + [parent]}"
        chain.append(parent)
        if parent == "scratch" or is_official(parent):
            return chain
        name = parent.split(" (")[0]
        assert name in shipped, (
            f"{entry.name}: parent {parent!r} is neither 'scratch', a shipped model, nor the official N-DNS "
            f"baseline named with its licence (e.g. '{OFFICIAL} (Intel N-DNS baseline, MIT)')")
        earlier = earlier_shipped(parent) if parent != name else None
        if earlier is not None:  # the model shipped under that name at that revision: its own card goes on
            card = earlier[0]
            continue
        # a shipped blend's parent may be named as it was before its blend, exactly as its own card names it
        assert parent == name or parent == shipped[name].card.get("blend", {}).get("model"), (entry.name, parent)
        card = shipped[name].card  # a blend's card keeps the parent of the model it was blended from


def weight_correlation(model: SDNNModel, reference: SDNNModel) -> float:
    """Mean over layers of the correlation of weights (0 where the shapes differ: not derived)."""
    if [layer.weight_mant.shape for layer in model.layers] != [layer.weight_mant.shape for layer in reference.layers]:
        return 0.0
    return float(np.mean([np.corrcoef(a.weight_mant.ravel(), b.weight_mant.ravel())[0, 1]
                          for a, b in zip(model.layers, reference.layers)]))


@pytest.fixture(scope="module")
def references() -> dict[str, SDNNModel]:
    return {name: load_model(reference_path(f"{name}.net")) for name in (OFFICIAL, *SPANDEX_REFERENCES)}


def test_the_weight_resemblance_tells_descent_from_independence(references):
    # the external truth: SPANDEX's nets were fine-tuned from the official baseline; its no-delay
    # variant was trained apart
    official = references[OFFICIAL]
    for name in SPANDEX_REFERENCES:
        assert weight_correlation(references[name], official) > DERIVED_CORRELATION
    nodelay = load_model(reference_path("ndns_baseline_nodelay.net"))
    assert abs(weight_correlation(nodelay, official)) < DERIVED_CORRELATION / 2


@pytest.mark.parametrize("entry", SHIPPED, ids=[e.name for e in SHIPPED])
def test_shipped_model_descends_from_scratch_or_the_official_baseline_never_spandex_nets(entry, references):
    """Trained here from scratch, or from the official N-DNS baseline (MIT: then named as parent and its
    licence notice shipped), through shipped models only. Never from SPANDEX's reference nets: the card
    must not say so, and the weights must not show it — they must resemble no reference more than the
    card admits."""
    chain = lineage(entry)
    init = str(entry.card.get("recipe", {}).get("init", ""))
    # a blend's card names both models it mixed: they are part of the lineage too
    blends = [b for b in [entry.card.get("blend"), *entry.card.get("earlier_blends", [])] if b is not None]
    mixed = [str(b["model"]) for b in blends] + [str(b["other"]) for b in blends]
    assert not any(name in init or name in " ".join(chain + mixed) for name in SPANDEX_REFERENCES), (
        entry.name, init, mixed)
    assert all(is_official(b["other"]) for b in blends), (entry.name, mixed)
    if "blend" in entry.card:
        assert entry.card["blend"]["model"].split(" (")[0] == entry.name, entry.card["blend"]
    model = load_model(entry.path)
    resemblance = {name: weight_correlation(model, ref) for name, ref in references.items()}
    closest = max(resemblance, key=resemblance.get)
    if resemblance[closest] > DERIVED_CORRELATION:
        assert closest == OFFICIAL, f"{entry.name}'s weights descend from SPANDEX's {closest}: {resemblance}"
        assert is_official(chain[-1]), (
            f"{entry.name}'s weights descend from the official baseline ({resemblance}) but its cards' "
            f"lineage {chain} does not name it")
    if is_official(chain[-1]):
        notice = SHIPPED_DIR / "LICENSE-ndns.md"
        assert notice.is_file(), f"{entry.name} descends from the official baseline: ship {notice}"
        assert notice.read_text() == (REFERENCE_DIR / "LICENSE-ndns.md").read_text()


# Unseen material: speech and noise that no dataset split uses (scripts/build_training_data.sh fetches and
# scripts/collect_debian_audio.py sorts what the splits read), fetched from Debian by
# scripts/fetch_corpus.sh unseen. (The Russian voice is one of four in the app's babble noise asset, which
# no training or validation mixture uses.)
UNSEEN_PACKAGES = ("asterisk-core-sounds-ru-g722", "minetest-data")
UNSEEN_MIN_GAIN_DB = 3.0  # mean SI-SNRi; passing the audio through scores 0
UNSEEN_CLEAN_IN_DB = 25.0  # the "clean speech in -> SI-SNR out" target
HIGH_SNR_DB, HIGH_SNR_WORST_DB = 12.0, -1.0  # input this good must not lose more than 1 dB


@pytest.fixture(scope="module")
def unseen_clips() -> list[tuple[np.ndarray, np.ndarray]]:
    try:
        return corpus.unseen_mixtures(*corpus.unseen_files())
    except corpus.CorpusUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


def unseen_verdict(denoiser: Callable[[np.ndarray], np.ndarray], clips, official_gain_db: float) -> list[str]:
    """Why ``denoiser`` fails the unseen-audio bar; empty if it passes."""
    gains, failures = [], []
    for noisy, clean in clips:
        before = si_snr(clean, noisy)
        gains.append(si_snr(clean, denoiser(noisy)) - before)
        if before >= HIGH_SNR_DB and gains[-1] < HIGH_SNR_WORST_DB:
            failures.append(f"a {before:.1f} dB input lost {-gains[-1]:.2f} dB")
    bar = max(UNSEEN_MIN_GAIN_DB, official_gain_db)
    if np.mean(gains) < bar:
        failures.append(f"mean SI-SNRi {np.mean(gains):.2f} dB < {bar:.2f} dB (the larger of {UNSEEN_MIN_GAIN_DB} dB "
                        f"and the official baseline's gain; per clip: {np.round(gains, 2).tolist()})")
    clean_in = float(np.mean([si_snr(clean, denoiser(clean)) for _, clean in clips]))
    if clean_in < UNSEEN_CLEAN_IN_DB:
        failures.append(f"clean speech in -> {clean_in:.2f} dB SI-SNR out < {UNSEEN_CLEAN_IN_DB} dB")
    return failures


def test_no_split_uses_the_unseen_packages():
    # the dataset's packages: those build_training_data.sh downloads and collect_debian_audio.py sorts
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    for script in ("build_training_data.sh", "collect_debian_audio.py"):
        text = (scripts / script).read_text()
        assert not [package for package in UNSEEN_PACKAGES if package in text], script


def test_default_model_denoises_unseen_speech_and_noise(unseen_clips, references):
    # Russian prompts (asterisk-core-sounds-ru-g722) under fire, water, lava, furnace and mine-cart
    # recordings (minetest-data) at -3..18 dB SNR and -35..-18 dBFS: packages no split reads. The bar:
    # a mean gain of 3 dB and no less than the official baseline's on the same clips, no high-SNR clip
    # made worse by more than 1 dB, clean speech through it at >= 25 dB SI-SNR.
    official = prepare(references[OFFICIAL], "sparse")
    official_gain = float(np.mean([si_snr(c, denoise(n, official).audio) - si_snr(c, n) for n, c in unseen_clips]))
    # the bar can fail: passing the audio through (a model that does nothing) does not clear it
    assert unseen_verdict(lambda audio: audio, unseen_clips, official_gain)
    runner = prepare(load_model(default_model().path), "sparse")
    assert unseen_verdict(lambda audio: denoise(audio, runner).audio, unseen_clips, official_gain) == []


def test_default_model_denoises_the_demo_clip_audibly():
    # the clip the app plays when there is no microphone, scored against its clean speech
    noisy = load_audio(SHIPPED_DIR.parent / "demo" / "noisy_speech.flac")
    clean = load_audio(SHIPPED_DIR.parent / "demo" / "clean_speech.flac")
    result = denoise(noisy, prepare(load_model(default_model().path), "sparse"))
    assert si_snr(clean, result.audio) - si_snr(clean, noisy) > 3.0  # measured 5.61 dB (2026-12-06, session 17)


def test_sparsity_ladder_is_what_the_names_say_and_costs_less_on_real_speech(noisy_speech):
    noisy, _ = noisy_speech
    ladder = [e for e in SHIPPED if e.name.startswith("spandex-prune")]
    assert [e.name for e in ladder] == ["spandex-prune50", "spandex-prune75", "spandex-prune90"]
    costs = [denoise(noisy, prepare(load_model(default_model().path), "sparse")).totals.power_proxy_mops]
    for entry in ladder:
        target = int(entry.name.removeprefix("spandex-prune")) / 100
        # the pruning run is the card's own or, for a model fine-tuned after it, its first stage's
        runs = [stage["recipe"] for stage in entry.card.get("stages", [])] + [entry.card["recipe"]]
        assert [r["pruning"]["final_sparsity"] for r in runs if r.get("pruning")] == [target]
        model = load_model(entry.path)
        # GMP masks exactly the target share; weights left alive that round to 0 in 8 bits add a few points
        assert target - 0.005 <= model.weight_sparsity <= target + 0.1
        costs.append(denoise(noisy, prepare(model, "sparse")).totals.power_proxy_mops)
    assert costs == sorted(costs, reverse=True) and costs[-1] < costs[0] / 2, costs


def test_frugal_model_is_pruned_and_regularised_and_spikes_less_than_its_parent(noisy_speech):
    noisy, _ = noisy_speech
    entries = {e.name: e for e in SHIPPED}
    frugal = entries["spandex-frugal"]
    # the model it was made from: the one it was narrowed from (its card's history is that model's), else its parent
    named = frugal.card["narrow"]["model"] if "narrow" in frugal.card else frugal.card["parent"]
    assert named.startswith("spandex-prune")
    earlier = earlier_shipped(named)  # made from a prune75 shipped before the one shipped now
    parent_card = earlier[0] if earlier is not None else entries[named].card
    # regularised: by its own last stage, or (narrowed from it, then distilled: since session 22) by its parent's
    regularised = [card["recipe"].get("regularizer") or {} for card in (frugal.card, parent_card)]
    assert any(reg.get("weight", 0) > 0 for reg in regularised), regularised
    model = load_model(frugal.path)
    parent_model = earlier[1] if earlier is not None else load_model(entries[named].path)
    # pruned weights stayed pruned: the regulariser changed activity, not the mask (where the fine-tune left
    # idle neurons that its export dropped, the layers are smaller: then fewer nonzero weights is what is left)
    if model.neuron_counts == parent_model.neuron_counts:
        for layer, parent_layer in zip(model.layers, parent_model.layers):
            assert not np.any(layer.weight_mant[parent_layer.weight_mant == 0])
    else:
        assert all(n <= p for n, p in zip(model.neuron_counts, parent_model.neuron_counts))
        assert model.n_nonzero_synapses <= parent_model.n_nonzero_synapses
    synops = [denoise(noisy, prepare(m, "sparse")).totals.synops_per_frame for m in (model, parent_model)]
    assert synops[0] < synops[1], synops


def test_the_app_opens_on_the_default_model_with_cheaper_ones_to_ab_against():
    from app.launch import AppOptions, engine_config

    lineup = default_lineup()
    assert [e.name for e in lineup] == ["spandex-dense", "spandex-prune75", "spandex-frugal"]
    costs = [e.card["metrics"]["power_proxy_mops"] for e in lineup]
    assert costs == sorted(costs, reverse=True)
    assert engine_config(AppOptions(), None).models == [str(e.path) for e in lineup]
    assert engine_config(AppOptions(models=["x.net"]), None).models == ["x.net"]  # naming models replaces it
