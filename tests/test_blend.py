"""Blending two models weight by weight (engine/snn/blend.py, `spandex blend`): the arithmetic against values
worked out here, zeros kept, refusals, and the command's model, card and scores."""

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from engine.files.netx import load_model
from engine.library.card import card_lines
from engine.snn.blend import BlendError, blend, kept_from_model
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


def test_a_blend_is_the_share_weighted_sum_rounded_to_even_mantissas():
    a = _model([[[10, -20, 0], [6, 0, 254]], [[2, 4], [0, -256], [8, 8]]], "a", delays=[1, 2])
    b = _model([[[20, -10, 4], [0, 2, -256]], [[4, 4], [2, 254], [-8, 8]]], "b", delays=[1, 2])
    share = 0.75
    mixed = blend(a, b, share)
    for mine, theirs, got in zip(a.layers, b.layers, mixed.layers):
        for x, y, z in zip(mine.weight_mant.ravel().tolist(), theirs.weight_mant.ravel().tolist(),
                           got.weight_mant.ravel().tolist()):
            exact = share * x + (1 - share) * y
            assert z == 2 * round(exact / 2), (x, y, z)  # Python's round: half to even
            assert abs(z - exact) <= 1
    # worked by hand: 0.75*10 + 0.25*20 = 12.5 -> 12; 0.75*6 + 0.25*0 = 4.5 -> 4; 0.75*254 - 0.25*256 = 126.5 -> 126
    assert mixed.layers[0].weight_mant.tolist() == [[12, -18, 0], [4, 0, 126]]
    assert mixed.encoder == a.encoder and mixed.name == "a"
    assert [list(layer.delays) for layer in mixed.layers[:1]] == [[1, 2]]
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


def test_models_of_different_layouts_are_refused():
    a = _model([[[2, 4, 6], [8, 10, 12]], [[2, 4], [6, 8], [10, 12]]], "a")
    with pytest.raises(BlendError, match=re.escape("a and narrow cannot be blended: their layouts differ (3-2-3 "
                                                   "against 3-1-3)")):
        blend(a, _model([[[2, 2, 2]], [[2], [2], [2]]], "narrow"), 0.5)


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_a_share_outside_zero_to_one_is_refused(share):
    a = _model([[[2, 4]], [[2], [4]]], "a")
    with pytest.raises(BlendError, match="give the first model's share of the weights, from 0 to 1"):
        blend(a, a, share)


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
    assert card["name"] == "soup" and card["blend"] == {"model": SHIPPED_DENSE, "other": official, "share": 0.8,
                                                         "keep_zeros": False,
                                                         "kept_from_model": ["input levelling on (ndns_baseline: off)"]}
    assert "note: the blend keeps spandex-dense's input levelling on (ndns_baseline: off)" in printed
    assert card["metrics"]["si_snri"] == pytest.approx(score.si_snri, abs=1e-9)
    assert card["metrics"]["power_proxy_mops"] == pytest.approx(score.power_proxy_mops, abs=1e-9)
    assert card["parent"].startswith("ndns_baseline")  # the first model's parent: the blend adds no training
    shipped = json.loads(Path(f"assets/models/{SHIPPED_DENSE}.json").read_text())
    assert card["stages"] == shipped["stages"] and card["recipe"] == shipped["recipe"]  # how the first was trained
    assert card["data"] == {"dataset": str(tiny_dataset)}  # measured on another dataset than it trained on
    assert re.search(rf"^soup \(the blend\) +{score.si_snri:.2f} +{score.power_proxy_mops:.2f}$", printed, re.M)
    assert "blend: 80% spandex-dense + 20% ndns_baseline, weight by weight, rounded to 8 bits" in card_lines(card)


@pytest.mark.parametrize("args, message", [
    (["spandex-dense", "spandex-prune75", "--share", "0.5"], "their layouts differ (257-512-512-257 against 257-499-199-257)"),
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
    assert main(["blend", "spandex-dense", "spandex-dense", "--share", "0.5", "--dataset", str(tmp_path),
                 "--out", str(tmp_path / "soup.wav")]) == 1
    assert "name it .net" in capsys.readouterr().err
    assert main(["blend", "spandex-dense", "spandex-dense", "--share", "0.5", "--dataset", str(tmp_path),
                 "--out", str(tmp_path / "soup.net")]) == 1
    assert "has no validation_set/ folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
