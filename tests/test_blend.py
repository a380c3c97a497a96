"""Blending two models weight by weight (engine/snn/blend.py, `spandex blend`): the arithmetic against values
worked out here, zeros kept, refusals, and the command's model, card and scores."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from engine.dsp.level import LevelParams
from engine.files.netx import load_model
from engine.library.card import card_lines
from engine.library.catalog import ModelEntry
from engine.snn.blend import BlendError, average, blend, greedy_members, kept_from_model
from engine.snn.model import DenseLayer, InputEncoder, SDNNModel
from engine.training.dataset import PairedClips
from engine.training.dataset_layout import split_folder
from engine.training.validation import validate
from tests.reference_models import reference_path

SHIPPED_DENSE = "spandex-dense"


def _model(weights: list[list[list[int]]], name: str, threshold: int = 6, delays: list[int] | None = None) -> SDNNModel:
    layers = []
    for index, w in enumerate(weights):
        last = index == len(weights) - 1
        layers.append(DenseLayer(np.array(w, dtype=np.int16), threshold,
                                 None if last or delays is None else np.array(delays, dtype=np.int32),
                                 sigma_output=last))
    return SDNNModel(InputEncoder(size=len(weights[0][0]), threshold_mant=6), tuple(layers), name=name)


def _exact_grid(share: float, x: int, y: int) -> int:
    """share·x + (1 − share)·y in exact arithmetic (the share as written), to the nearest even mantissa, ties to
    the even multiple of 2 — worked out here with fractions, not floats."""
    exact = Fraction(str(share)) * x + (1 - Fraction(str(share))) * y
    return 2 * round(exact / 2)  # round() of a Fraction: ties to even


@pytest.mark.parametrize("share", [0.75, 0.9, 0.7, 0.3, 0.95])
def test_a_blend_is_the_share_weighted_sum_rounded_to_even_mantissas(share):
    a = _model([[[10, -20, 0, 2], [6, 0, 254, -2]], [[2, 4], [0, -256], [8, 8], [2, 14]]], "a", delays=[1, 2])
    b = _model([[[20, -10, 4, 12], [0, 2, -256, -12]], [[4, 4], [2, 254], [-8, 8], [12, 4]]], "b", delays=[1, 2])
    mixed = blend(a, b, share)
    for mine, theirs, got in zip(a.layers, b.layers, mixed.layers):
        for x, y, z in zip(mine.weight_mant.ravel().tolist(), theirs.weight_mant.ravel().tolist(),
                           got.weight_mant.ravel().tolist()):
            assert z == _exact_grid(share, x, y), (share, x, y, z)
    assert mixed.encoder == a.encoder and mixed.name == "a"
    assert [list(layer.delays) for layer in mixed.layers[:1]] == [[1, 2]]


def test_ties_go_to_the_even_mantissa_and_the_ends_give_either_model():
    a = _model([[[2, 6, 2, -2, 2]], [[2], [4], [6], [8], [10]]], "a")
    b = _model([[[4, 8, 8, -4, 12]], [[4], [6], [8], [10], [12]]], "b")
    # halfway: 3 -> 4 (1.5 steps: to 2), 7 -> 8 (3.5: to 4), 5 -> 4 (2.5: to 2), -3 -> -4, 7 -> 8;
    # 0.9·2 + 0.1·12 = 3 exactly (2.9999999999999996 in floats) -> 4
    assert blend(a, b, 0.5).layers[0].weight_mant.tolist() == [[4, 8, 4, -4, 8]]
    assert blend(a, b, 0.9).layers[0].weight_mant.tolist()[0][4] == 4
    assert all(np.array_equal(x.weight_mant, y.weight_mant) for x, y in zip(blend(a, b, 1.0).layers, a.layers))
    assert all(np.array_equal(x.weight_mant, y.weight_mant) for x, y in zip(blend(a, b, 0.0).layers, b.layers))


def test_keep_zeros_keeps_the_first_models_zero_weights():
    a = _model([[[0, 10], [0, 0]], [[2, 0], [0, 2]]], "pruned")
    b = _model([[[40, 10], [-40, 20]], [[2, 40], [30, 2]]], "parent")
    loose, kept = blend(a, b, 0.5), blend(a, b, 0.5, keep_zeros=True)
    assert loose.layers[0].weight_mant.tolist() == [[20, 10], [-20, 10]]
    assert kept.layers[0].weight_mant.tolist() == [[0, 10], [0, 0]]
    assert kept.layers[1].weight_mant.tolist() == [[2, 0], [0, 2]]
    assert kept.n_nonzero_synapses == a.n_nonzero_synapses


def test_a_blend_keeps_the_first_models_delays_thresholds_and_encoder_and_says_where_the_other_differs():
    a = _model([[[2, 4, 6], [8, 10, 12]], [[2, 4], [6, 8], [10, 12]]], "a", delays=[0, 1])
    b = dataclasses.replace(a, name="b", encoder=dataclasses.replace(a.encoder, threshold_mant=3),
                            layers=(dataclasses.replace(a.layers[0], delays=np.array([0, 5]), threshold_mant=4,
                                                        weight_mant=a.layers[0].weight_mant + 8), a.layers[1]))
    mixed = blend(a, b, 0.5)
    assert mixed.encoder == a.encoder and mixed.layers[0].delays.tolist() == [0, 1]
    assert mixed.layers[0].threshold_mant == 6 and mixed.layers[0].weight_mant.tolist() == [[6, 8, 10], [12, 14, 16]]
    assert kept_from_model(a, b) == ["input threshold 6/64 (b: 3/64)", "layer 1's threshold 6/64 (b: 4/64)",
                                     "layer 1's axonal delays (1 of 2 neurons differ in b)"]
    assert kept_from_model(a, a) == []
    c = dataclasses.replace(a, name="c", encoder=dataclasses.replace(a.encoder, offset=0.0, step=1 / 32),
                            layers=(dataclasses.replace(a.layers[0], delays=None), a.layers[1]))
    assert kept_from_model(a, c) == ["input offset -0.2 (c: 0)", "input step 0.015625 (c: 0.03125)",
                                     "layer 1's axonal delays (some; c: none)"]


def test_a_blend_says_when_the_other_model_levels_its_input_otherwise():
    a = _model([[[2, 4, 6], [8, 10, 12]], [[2, 4], [6, 8], [10, 12]]], "a")
    levelled = dataclasses.replace(a, encoder=dataclasses.replace(a.encoder, level=LevelParams()))
    other = dataclasses.replace(a, name="b", encoder=dataclasses.replace(a.encoder, level=LevelParams(target_db=-6.0)))
    assert kept_from_model(levelled, other) == ["input levelling settings (b levels its input otherwise)"]
    assert kept_from_model(levelled, dataclasses.replace(a, name="b")) == ["input levelling on (b: off)"]


def test_models_of_different_layouts_are_refused():
    a = _model([[[2, 4, 6], [8, 10, 12]], [[2, 4], [6, 8], [10, 12]]], "a")
    with pytest.raises(BlendError, match=re.escape("a and narrow cannot be blended: their layouts differ (3-2-3 "
                                                   "against 3-1-3)")):
        blend(a, _model([[[2, 2, 2]], [[2], [2], [2]]], "narrow"), 0.5)


def test_an_average_is_the_mean_of_the_weights_rounded_once_and_keeps_the_first_models_delays():
    a = _model([[[2, 6, 2, -2, 2]], [[8], [4], [6], [8], [10]]], "a", threshold=5, delays=[3])
    b = _model([[[4, 8, 8, -4, 12]], [[4], [6], [8], [10], [12]]], "b", delays=[5])
    c = _model([[[6, 2, 2, -6, 14]], [[0], [2], [4], [6], [-8]]], "c", delays=[7])
    # means 4, 16/3, 4, -4, 28/3 -> 4, 6 (2.67 steps of 2), 4, -4, 10 (4.67 steps); every layer averaged
    soup = average([a, b, c])
    assert soup.layers[0].weight_mant.tolist() == [[4, 6, 4, -4, 10]]
    assert soup.layers[1].weight_mant.ravel().tolist() == [4, 4, 6, 8, 4]
    # the rest is the first model's: delays, thresholds, encoder, name
    assert list(soup.layers[0].delays) == [3] and soup.name == "a"
    assert [layer.threshold_mant for layer in soup.layers] == [5, 5] and soup.encoder is a.encoder
    # two models: the same as a blend at one half; one model: itself
    assert all(np.array_equal(x.weight_mant, y.weight_mant) for x, y in zip(average([a, b]).layers,
                                                                           blend(a, b, 0.5).layers))
    assert all(np.array_equal(x.weight_mant, y.weight_mant) for x, y in zip(average([c]).layers, c.layers))
    with pytest.raises(BlendError, match="layouts differ"):
        average([a, _model([[[2, 2]], [[2], [2]]], "narrow")])
    with pytest.raises(BlendError, match="no models"):
        average([])
    # rounded once: 0, 2, 2 average to 4/3 -> 2, where blending two at a time rounds 1 to 0 first, then 2/3 to 0
    zero, two = _model([[[0]], [[2]]], "zero"), _model([[[2]], [[2]]], "two")
    assert average([zero, two, two]).layers[0].weight_mant.tolist() == [[2]]
    assert blend(blend(zero, two, 0.5), two, 2 / 3).layers[0].weight_mant.tolist() == [[0]]


@pytest.mark.parametrize("share, hint", [(-0.1, ""), (1.5, " (0.015 for 1.5 %)"), (float("nan"), ""),
                                         (80.0, " (0.8 for 80 %)"), (250.0, "")])
def test_a_share_outside_zero_to_one_is_refused(share, hint):
    a = _model([[[2, 4]], [[2], [4]]], "a")
    with pytest.raises(BlendError, match=re.escape(f"give the first model's share of the weights, from 0 to 1{hint}") + "$"):
        blend(a, a, share)


def test_a_card_shows_an_earlier_blend_after_the_stage_it_followed():
    def blended(model: str, after: object) -> dict:
        return {"model": model, "other": "o", "share": 0.8, "keep_zeros": False, "after_stage": after}

    card = {"name": "m", "recipe": {"name": "four", "steps": 40},
            "stages": [{"name": "one", "recipe": {"steps": 10}}, {"name": "m", "recipe": {"name": "two", "steps": 20}},
                       {"name": "three", "recipe": {"steps": 30}}],
            "earlier_blends": [blended("nowhere", "elsewhere"), blended("by-recipe", "two"),
                               blended("by-name", "one")]}
    shown = [line.split(",")[0] for line in card_lines(card)
             if line.startswith(("stage", "last stage", "earlier", "blend"))]
    # a blend in its place, matched by the stage's name or by its run's name; one that names no stage of this
    # card after the last stage
    assert shown == ["stage one: 10 steps", "blend: 80% by-name + 20% o", "stage m: 20 steps",
                     "blend: 80% by-recipe + 20% o", "stage three: 30 steps", "last stage four: 40 steps",
                     "earlier blend: 80% nowhere + 20% o"]
    assert card_lines({**card, "earlier_blends": [blended("x", ["two"]), "junk"]})  # hand-edited: no crash


def test_the_apps_card_shows_a_blend_by_what_it_mixed():
    """The app's card (brief): a blend's shares and names, without the card's notes after a name or how it was
    rounded; a model file keeps its whole name, brackets and all."""
    blend = {"model": "m (before its blend, git abc)", "other": "ndns_baseline (MIT License, see LICENSE-ndns.md)",
             "share": 0.8, "keep_zeros": True}
    for card in ({"name": "m", "blend": blend}, {"name": "m", "earlier_blends": [blend]},
                 {"name": "m", "blend": {**blend, "model": "runs/m (copy).net", "other": "n (v2) tuned (git abc)"}}):
        full, brief = ([line for line in lines if "blend: " in line] for lines in (card_lines(card),
                                                                                 card_lines(card, brief_stages=True)))
        assert len(brief) == 1 and "weight by weight" in full[0] and "weight by weight" not in brief[0]
    assert brief[0] == "blend: 80% m (copy) + 20% n (v2) tuned"
    assert card_lines({"name": "m", "blend": blend}, brief_stages=True)[-1] == "blend: 80% m + 20% ndns_baseline"


def test_a_card_shows_a_soup_after_its_last_stage():
    soup = {"members": ["long", "voices.net"], "weights": "rounded once", "kept_from": "long (delays)",
            "kept_from_model": ["layer 2's axonal delays (12 of 512 neurons differ in voices)"],
            "chosen_by": "greedy soup of 9"}
    card = {"name": "m", "recipe": {"name": "voices", "steps": 40}, "stages": [{"name": "long", "recipe": {"steps": 10}}],
            "soup": soup}
    lines = [line.split(",")[0] if line.startswith(("stage", "last")) else line for line in card_lines(card)
             if line.startswith(("stage", "last stage", "soup"))]
    assert lines == ["stage long: 10 steps", "last stage voices: 40 steps",
                     "soup: the weights of long and voices averaged (rounded once); the rest from long (delays), where "
                     "the others differ: layer 2's axonal delays (12 of 512 neurons differ in voices); chosen by a "
                     "greedy soup of 9"]
    assert "soup: long and voices averaged" in card_lines(card, brief_stages=True)  # the app's, where room is short
    # a blend of the soup: the soup first, then the blend
    blended = [line[:5] for line in card_lines({**card, "blend": {"model": "m", "other": "o", "share": 0.8}})
               if line.startswith(("soup", "blend"))]
    assert blended == ["soup:", "blend"]
    assert "soup: ?" in card_lines({"name": "m", "soup": {"members": "junk"}})  # hand-edited: no crash
    # a soup trained on: it names the stage it followed and is shown there, before the last stage
    trained_on = {**card, "recipe": {"name": "after", "steps": 50},
                  "stages": [*card["stages"], {"name": "voices", "recipe": {"steps": 40}}],
                  "soup": {**soup, "after_stage": "voices"}}
    order = [line[:line.index(":")] for line in card_lines(trained_on) if line.startswith(("stage", "last", "soup"))]
    assert order == ["stage long", "stage voices", "soup", "last stage after"]


def test_a_card_shows_no_minus_on_a_number_that_rounds_to_zero():
    lines = card_lines({"name": "m", "metrics": {"si_snr": -0.004, "si_snri": -0.04, "synops_per_frame": -0.2}})
    assert "  SI-SNR dB: 0.00; SI-SNRi dB: -0.04" in lines and "  SynOps/frame: 0" in lines


def test_spandex_blend_writes_the_blend_its_card_and_the_scores(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "models" / "soup.net"
    official = str(reference_path("ndns_baseline.net"))
    assert main(["blend", SHIPPED_DENSE, official, "--share", "0.8", "--dataset", str(tiny_dataset),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    written = load_model(out)
    expected = blend(load_model(f"assets/models/{SHIPPED_DENSE}.net"), load_model(official), 0.8)
    assert all(np.array_equal(x.weight_mant, y.weight_mant) for x, y in zip(written.layers, expected.layers))
    assert written.encoder.level is not None  # the first model's levelled input

    clips = PairedClips.load(split_folder(tiny_dataset, "validation"))
    score = validate(expected, clips)
    card = json.loads(out.with_suffix(".json").read_text())
    official_named = "ndns_baseline (MIT License, see LICENSE-ndns.md)"  # the licence beside the file, named
    kept = ["input levelling on (ndns_baseline: off)", "mask sharpening 0.75 (ndns_baseline: 0)", "layer 1's axonal delays (2 of 512 neurons differ in ndns_baseline)",
            "layer 2's axonal delays (32 of 512 neurons differ in ndns_baseline)"]  # its training moved some delays
    assert card["name"] == "soup" and card["blend"] == {
        "model": SHIPPED_DENSE, "other": official_named, "share": 0.8, "keep_zeros": False, "kept_from_model": kept,
        "after_stage": json.loads(Path(f"assets/models/{SHIPPED_DENSE}.json").read_text())["recipe"]["name"]}
    assert all(f"note: the blend keeps spandex-dense's {note}" in printed for note in kept)
    for key in ("si_snr", "si_snri", "power_proxy_mops", "synops_per_frame"):
        assert card["metrics"][key] == pytest.approx(getattr(score, key), abs=1e-9), key
    assert card["metrics"]["nonzero_params"] == expected.n_nonzero_synapses
    # the first model's card as it is (the blend adds no training); the blend's numbers say where they were measured
    shipped = json.loads(Path(f"assets/models/{SHIPPED_DENSE}.json").read_text())
    for key in ("parent", "data", "stages", "recipe", "training", "soup"):
        assert card.get(key) == shipped.get(key), key
    assert ModelEntry("soup", out, "user", card).measured_on == str(tiny_dataset)
    assert re.search(rf"^soup \(the blend\) +{score.si_snri:.2f} +{score.power_proxy_mops:.2f}$", printed, re.M)
    assert printed.rstrip().splitlines()[-1].endswith("; beside it soup.json, LICENSE-ndns.md")
    assert (out.parent / "LICENSE-ndns.md").is_file()
    lines = card_lines(card)
    assert ("blend: 80% spandex-dense + 20% ndns_baseline (MIT License, see LICENSE-ndns.md), weight by weight, "
            "rounded to 8 bits") in lines
    # what the card keeps of the first model is said to be the first model's: the blend itself trains nothing
    assert "parent (before the blend): ndns_baseline (MIT License, see LICENSE-ndns.md)" in lines
    assert f"last stage {shipped['recipe']['name']} (before the blend): {shipped['recipe']['steps']:,} steps" in "\n".join(lines)
    runs = [shipped, *shipped["stages"]]
    assert any(line.startswith(f"training (before the blend): {len(runs)} stages, "
                               f"{sum(run['training']['steps'] for run in runs):,} steps") for line in lines)


def test_a_blend_of_a_blend_keeps_the_earlier_blend_and_can_join_the_library(tiny_dataset, tmp_path, capsys,
                                                                             monkeypatch):
    library = tmp_path / "library"
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(library))
    first, second = tmp_path / "first.net", tmp_path / "second.net"
    official = str(reference_path("ndns_baseline.net"))
    assert main(["blend", "spandex-prune50", official, "--share", "0.9", "--keep-zeros", "--dataset",
                 str(tiny_dataset), "--out", str(first)]) == 0
    assert main(["blend", str(first), SHIPPED_DENSE, "--share", "0.5", "--dataset", str(tiny_dataset),
                 "--out", str(second), "--install"]) == 0
    assert f"joined the model library as second ({library / 'second.net'})" in capsys.readouterr().out
    card = json.loads((library / "second.json").read_text())
    assert (library / "second.net").read_bytes() == second.read_bytes()
    shipped = json.loads(Path("assets/models/spandex-prune50.json").read_text())
    first_card = json.loads(first.with_suffix(".json").read_text())
    assert first_card["earlier_blends"] == [shipped["blend"]]  # the shipped prune50 is a blend itself
    assert card["earlier_blends"] == [shipped["blend"], first_card["blend"]]
    # a file: named with what it was made from and its lineage's notices
    assert card["blend"]["model"] == "first (a file made from spandex-prune50; its lineage's licence notices: " \
        "LICENSE-ndns.md)"
    assert card["blend"]["other"] == SHIPPED_DENSE
    lines = card_lines(card)
    assert [line.split(":")[0] for line in lines if "blend: " in line][-2:] == ["earlier blend", "blend"]
    # installing again under the same name is refused before any work, and the library keeps the first
    assert main(["blend", str(first), SHIPPED_DENSE, "--share", "0.5", "--dataset", str(tiny_dataset),
                 "--out", str(tmp_path / "again" / "second.net"), "--install"]) == 1
    assert "the library already holds a model named 'second'" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()
    assert main(["blend", str(first), SHIPPED_DENSE, "--share", "0.5", "--dataset", str(tiny_dataset),
                 "--out", str(tmp_path / "again" / "second.NET"), "--install"]) == 1  # the library's name is the stem
    assert not (tmp_path / "again").exists()
    # written straight into the library, --install has nothing more to do
    assert main(["blend", str(first), SHIPPED_DENSE, "--share", "0.4", "--dataset", str(tiny_dataset),
                 "--out", str(library / "third.net"), "--install"]) == 0
    assert f"joined the model library as third ({library / 'third.net'})" in capsys.readouterr().out
    assert not list(library.glob("LICENSE-*"))  # no notices into the library: its models' cards carry them
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    third = next(line for line in listing.splitlines() if line.startswith("third "))
    assert f" {len(PairedClips.load(split_folder(tiny_dataset, 'validation')))}  " in third  # the blend's own clips
    # straight into the library, with or without --install, a taken name is refused before any work: a user
    # model's (it would be replaced without a word) or a shipped one's (the library would go on finding that)
    kept = (library / "third.net").read_bytes()
    for name, install, message in (("third", ["--install"], "the library already holds a model named 'third'"),
                                   ("third", [], "the library already holds a model named 'third'"),
                                   ("spandex-dense", [], "'spandex-dense' is the name of a shipped model")):
        assert main(["blend", str(first), SHIPPED_DENSE, "--share", "0.3", "--dataset", str(tmp_path / "none"),
                     "--out", str(library / f"{name}.net"), *install]) == 1
        err = capsys.readouterr().err
        assert message in err and "name --out otherwise" in err
    assert (library / "third.net").read_bytes() == kept and not (library / "spandex-dense.net").exists()


@pytest.mark.parametrize("args, message", [
    (["spandex-dense", "spandex-prune75", "--share", "0.5"], "their layouts differ (257-512-512-257 against 257-479-245-257)"),
    (["spandex-dense", "spandex-prune90", "--share", "2"], "share 2: give the first model's share"),
    (["spandex-dense", "no-such-model", "--share", "0.5"], "no model named 'no-such-model'"),
])
def test_spandex_blend_refuses_bad_input_in_one_line_and_writes_nothing(args, message, tiny_dataset, tmp_path,
                                                                        capsys):
    out = tmp_path / "soup.net"
    assert main(["blend", *args, "--dataset", str(tiny_dataset), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_spandex_blend_refuses_a_bad_output_or_dataset_before_any_work(tmp_path, capsys):
    assert main(["blend", "spandex-dense", "spandex-prune50", "--share", "0.5", "--dataset", "README.md",
                 "--out", str(tmp_path / "soup.net")]) == 1
    assert "dataset README.md is a file, not a folder" in capsys.readouterr().err
    assert main(["blend", "spandex-dense", "spandex-prune50", "--share", "0.5", "--dataset", str(tmp_path),
                 "--out", str(tmp_path / "soup.wav")]) == 1
    assert "name it .net" in capsys.readouterr().err
    assert main(["blend", "spandex-dense", "spandex-prune50", "--share", "0.5", "--dataset", str(tmp_path),
                 "--out", str(tmp_path / "soup.net")]) == 1
    assert "has no validation_set/ folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, message", [
    (lambda out: out.with_suffix(".json").mkdir(),
     "--out's card {card} (written beside OUT) is a folder: remove it, or name --out otherwise"),
    (lambda out: out.with_suffix(".json").symlink_to(out.parent / "elsewhere.json"),
     "--out's card {card} (written beside OUT) is a symbolic link: remove it, or name --out otherwise"),
    (lambda out: out.mkdir(), "--out {out} is a folder: give a file name, e.g. {out}/blend.net"),
    (lambda out: out.symlink_to(out.parent / "elsewhere.net"),
     "--out {out} is a symbolic link to {target}: refusing to replace it (give the target's own path)"),
])
def test_spandex_blend_refuses_an_output_or_card_it_must_not_write_before_any_work(make, message, tmp_path, capsys):
    out = tmp_path / "soup.net"
    make(out)
    before = sorted(tmp_path.iterdir())
    assert main(["blend", "spandex-dense", "spandex-prune50", "--share", "0.5", "--dataset", str(tmp_path / "none"),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert message.format(card=out.with_suffix(".json"), out=out, target=tmp_path / "elsewhere.net") in err
    assert len(err.splitlines()) == 1 and sorted(tmp_path.iterdir()) == before


def _greedy_soup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "scripts/greedy_soup.py", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": "."}, timeout=600)


def test_greedy_soup_adds_a_model_only_when_the_soup_scores_higher(tiny_dataset, tmp_path):
    split = str(split_folder(tiny_dataset, "validation"))
    models = [f"assets/models/{SHIPPED_DENSE}.net", "assets/models/spandex-prune50.net", str(reference_path("ndns_baseline.net"))]
    out = tmp_path / "soup.net"
    done = _greedy_soup(*models, "--split", split, "--out", str(out))
    assert done.returncode == 0, done.stderr
    clips = PairedClips.load(split)
    alone = {spec: validate(load_model(spec), clips).si_snri for spec in models}
    ranked = sorted(models, key=alone.__getitem__, reverse=True)
    members, best = [ranked[0]], alone[ranked[0]]  # the greedy rule, worked out here from the scores
    for spec in ranked[1:]:
        score = validate(average([load_model(m) for m in [*members, spec]]), clips).si_snri
        verdict = "joins" if score > best else "left out"
        assert re.search(rf"^\| \+ {re.escape(spec)} \| {len(members) + 1} members \| {score:.3f} \| {verdict} \|$",
                         done.stdout, re.M), done.stdout
        if score > best:
            members, best = [*members, spec], score
    written, expected = load_model(out), average([load_model(m) for m in members])
    assert all(np.array_equal(x.weight_mant, y.weight_mant) for x, y in zip(written.layers, expected.layers))
    assert f"validation SI-SNRi {best:.3f} dB -> {out} (beside it LICENSE-ndns.md)" in done.stdout


def test_greedy_soup_refuses_bad_input_in_one_line(tiny_dataset, tmp_path):
    split = str(split_folder(tiny_dataset, "validation"))
    dense = str(tmp_path / "dense.net")
    shutil.copyfile(f"assets/models/{SHIPPED_DENSE}.net", dense)
    shipped = f"assets/models/{SHIPPED_DENSE}.net"
    cases = [([dense, "assets/models/spandex-prune75.net", "--out", str(tmp_path / "s.net")], "layouts differ"),
             ([dense, str(tmp_path / "missing.net"), "--out", str(tmp_path / "s.net")], "missing.net"),
             ([dense, "assets/models/spandex-prune50.net", "--out", dense], "would replace"),
             ([dense, "assets/models/spandex-prune50.net", "--out", shipped], "): write it elsewhere\n"),
             ([dense, "--out", str(tmp_path / "s.net")], "two or more models"),
             ([dense, dense, "--out", str(tmp_path / "s.net")], "given more than once")]
    for args, said in cases:
        done = _greedy_soup(*args, "--split", split)
        assert done.returncode != 0 and said in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    assert not (tmp_path / "s.net").exists()


def test_greedy_soup_writes_nothing_when_no_model_raises_the_best_ones_score(tiny_dataset, tmp_path):
    split = str(split_folder(tiny_dataset, "validation"))
    # the shipped dense and a copy of it: the copy cannot raise the score of the model it equals
    copy = tmp_path / "copy.net"
    shutil.copyfile(f"assets/models/{SHIPPED_DENSE}.net", copy)
    done = _greedy_soup(f"assets/models/{SHIPPED_DENSE}.net", str(copy), "--split", split, "--out", str(tmp_path / "s.net"))
    assert done.returncode == 0, done.stderr
    assert "no soup: no other model raised" in done.stdout and "nothing written" in done.stdout
    assert not (tmp_path / "s.net").exists()


def test_a_soup_of_models_from_the_official_net_carries_its_licence(tiny_dataset, tmp_path):
    split = str(split_folder(tiny_dataset, "validation"))
    out = tmp_path / "soup" / "s.net"
    out.parent.mkdir()
    done = _greedy_soup(f"assets/models/{SHIPPED_DENSE}.net", "assets/models/spandex-prune50.net",
                        str(reference_path("ndns_baseline.net")), "--split", split, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.exists(), done.stdout  # on this split a soup forms (see the greedy test above for the rule)
    assert (out.parent / "LICENSE-ndns.md").is_file() and "beside it LICENSE-ndns.md" in done.stdout


def test_greedy_members_compare_each_try_with_the_soup_so_far():
    # scores of soups by their members (a fake scorer), a alone 0.6: b raises it (0.7); c lowers it; d would raise
    # the first model's 0.6 but not the soup's 0.7, so it stays out; e raises the soup so far
    scores = {"ab": 0.7, "abc": 0.5, "abd": 0.65, "abe": 0.9}
    heard = []
    members, best = greedy_members(["a", "b", "c", "d", "e"], 0.6, lambda ms: scores["".join(ms)],
                                   lambda m, n, score, joined: heard.append((m, n, score, joined)))
    assert (members, best) == (["a", "b", "e"], 0.9)
    assert heard == [("b", 2, 0.7, True), ("c", 3, 0.5, False), ("d", 3, 0.65, False), ("e", 3, 0.9, True)]
    # no rise, no member: the first alone; equal is not higher
    assert greedy_members(["a", "b"], 0.7, lambda ms: 0.7) == (["a"], 0.7)
