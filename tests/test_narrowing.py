"""`spandex narrow`: fewer hidden neurons, those whose spikes carry the most signal forward; the rest dropped with
their synapses, the model scored and written with its card."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cli.main import main
from engine.errors import SpandexError
from engine.files.netx import load_model
from engine.library.card import card_lines
from engine.snn.model import DenseLayer, InputEncoder, SDNNModel
from engine.training import events as ev
from engine.training.config import TrainConfig
from engine.training.narrowing import narrow, neuron_signal
from engine.training.trainer import build_graph, run_training


def _toy(rng: np.random.Generator) -> SDNNModel:
    sizes = (257, 6, 4, 257)
    layers = tuple(DenseLayer(rng.integers(-40, 40, (n_out, n_in)).astype(np.int64), 6,
                              None if index == 2 else rng.integers(0, 3, n_out).astype(np.int64), index == 2)
                   for index, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])))
    return SDNNModel(InputEncoder(257, 6), layers, name="toy")


def test_narrow_keeps_the_neurons_of_most_signal_and_drops_the_rest_with_their_synapses():
    model = _toy(np.random.default_rng(3))
    signal = [np.array([5.0, 0.0, 3.0, 9.0, 1.0, 2.0]), np.array([0.5, 4.0, 4.0, 1.0])]
    narrowed = narrow(model, (3, 2), signal, name="thin")
    assert narrowed.model.neuron_counts == (257, 3, 2, 257) and narrowed.model.name == "thin"
    assert narrowed.kept_signal == pytest.approx((17 / 20, 8 / 9.5))
    first, second, out = narrowed.model.layers
    keep1, keep2 = [0, 2, 3], [1, 2]  # in the model's order
    assert np.array_equal(first.weight_mant, model.layers[0].weight_mant[keep1])
    assert np.array_equal(first.delays, model.layers[0].delays[keep1])
    assert np.array_equal(second.weight_mant, model.layers[1].weight_mant[np.ix_(keep2, keep1)])
    assert np.array_equal(out.weight_mant, model.layers[2].weight_mant[:, keep2])
    for sizes, message in (((3,), "give one size for each"), ((0, 2), "at least one neuron"),
                           ((7, 2), r"wider than toy \(257-6-4-257\)"), ((6, 4), "nothing to narrow")):
        with pytest.raises(SpandexError, match=message):
            narrow(model, sizes, signal, name="thin")


def test_idle_neurons_rank_last_and_a_neuron_cut_off_by_the_narrowing_goes_too():
    model = _toy(np.random.default_rng(6))
    first, second, out = (layer.weight_mant.copy() for layer in model.layers)
    first[5] = 0  # hidden neuron 5 of layer 1 hears nothing: idle (and its signal is high: it must still rank last)
    second[3, :] = 0
    second[3, 0] = 7  # layer 2's neuron 3 hears layer 1's neuron 0 alone
    layers = [replace(model.layers[0], weight_mant=first), replace(model.layers[1], weight_mant=second),
              replace(model.layers[2], weight_mant=out)]
    model = replace(model, layers=tuple(layers))
    with pytest.raises(SpandexError, match="hidden layer 1 of toy has 5 connected neurons of 6"):
        narrow(model, (6, 4), [np.ones(6), np.ones(4)], name="thin")
    signal = [np.array([0.0, 8.0, 3.0, 9.0, 1.0, 99.0]), np.array([1.0, 2.0, 3.0, 9.0])]
    narrowed = narrow(model, (3, 4), signal, name="thin")  # keeps 1, 2, 3 (not idle 5, not silent 0)
    # layer 2's neuron 3 heard only neuron 0, dropped: it goes too, and the card will say 4 were asked
    assert narrowed.model.neuron_counts == (257, 3, 3, 257) and narrowed.asked == (3, 4)
    assert narrowed.kept_signal[0] == pytest.approx(20 / 120) and narrowed.kept_signal[1] == pytest.approx(6 / 15)
    assert narrow(model, (3, 3), [np.zeros(6), np.zeros(4)], name="thin").kept_signal == (None, None)


def test_neuron_signal_is_what_the_next_layer_hears():
    """A neuron with no outgoing weight carries nothing, however much it spikes; the rest carry in proportion to
    their outgoing weights (the same spikes, twice the weights: twice the signal)."""
    model = _toy(np.random.default_rng(4))
    layers = list(model.layers)
    second = layers[1].weight_mant.copy()
    second[:, 1] = 0
    second[:, 2] = 2 * second[:, 3]
    layers[1] = DenseLayer(second, 6, layers[1].delays)
    model = SDNNModel(model.encoder, tuple(layers), name="toy")
    magnitudes = [torch.rand(2, 257, 40, generator=torch.Generator().manual_seed(5)) * 3]
    signal = neuron_signal(model, magnitudes)
    assert [s.shape for s in signal] == [(6,), (4,)]
    assert signal[0][1] == 0 and (signal[0][[0, 2, 3, 4, 5]] >= 0).all() and signal[1].sum() > 0


def test_spandex_narrow_writes_a_scored_model_with_its_card_and_joins_the_library(tiny_dataset, tmp_path, capsys,
                                                                                   monkeypatch):
    library = tmp_path / "library"
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(library))
    out = tmp_path / "thin.net"
    assert main(["narrow", "spandex-prune75", "--hidden", "200", "100", "--dataset", str(tiny_dataset),
                 "--out", str(out), "--install"]) == 0
    printed = capsys.readouterr().out
    assert "thin (narrowed)" in printed and "spandex-prune75" in printed
    assert "narrowed from 257-479-245-257 to 257-200-100-257, keeping " in printed
    assert printed.rstrip().splitlines()[-2].endswith("; beside it thin.json, LICENSE-ndns.md")
    model = load_model(out)
    assert model.neuron_counts == (257, 200, 100, 257)
    assert (library / "thin.net").read_bytes() == out.read_bytes()
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["narrow"]["model"] == "spandex-prune75" and card["narrow"]["to"] == [257, 200, 100, 257]
    assert all(0 < share <= 1 for share in card["narrow"]["kept_signal"])
    assert card["metrics"]["clips"] == 6 and card["metrics"]["power_proxy_mops"] > 0
    lines = card_lines(card)
    assert lines[1] == "parent: spandex-prune75, narrowed" and card["parent"] == "spandex-prune75"
    assert (tmp_path / "LICENSE-ndns.md").read_bytes() == Path("assets/models/LICENSE-ndns.md").read_bytes()
    assert any(line.startswith("narrowed: spandex-prune75, 257-479-245-257 → 257-200-100-257, keeping ") for line in lines)
    assert "  neurons per layer: 257-200-100-257" in lines  # not "its parent's", and no idle-neuron line
    assert not any("idle neurons dropped from" in line for line in lines)
    # the same again: the same model (the signal is measured on seeded draws), and the name is taken now
    again = tmp_path / "again.net"
    assert main(["narrow", "spandex-prune75", "--hidden", "200", "100", "--dataset", str(tiny_dataset),
                 "--out", str(again)]) == 0
    assert all(np.array_equal(a.weight_mant, b.weight_mant) for a, b in zip(load_model(again).layers, model.layers))
    assert main(["narrow", "spandex-prune75", "--hidden", "200", "100", "--dataset", str(tiny_dataset),
                 "--out", str(tmp_path / "x" / "thin.net"), "--install"]) == 1
    assert "the library already holds a model named 'thin'" in capsys.readouterr().err


@pytest.mark.parametrize("hidden, message", [
    (["512", "100"], "--hidden 512 100: wider than spandex-prune75 (257-479-245-257)"),
    (["100"], "--hidden 100: spandex-prune75 (257-479-245-257) has 2 hidden layer(s): give one size for each"),
])
def test_spandex_narrow_refuses_sizes_that_do_not_narrow_before_any_work(hidden, message, tmp_path, capsys):
    assert main(["narrow", "spandex-prune75", "--hidden", *hidden, "--dataset", str(tmp_path / "none"),
                 "--out", str(tmp_path / "thin.net")]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_a_narrowed_model_narrowed_again_keeps_the_first_narrowing(tiny_dataset, tmp_path, capsys):
    first, second = tmp_path / "first.net", tmp_path / "second.net"
    assert main(["narrow", "spandex-prune75", "--hidden", "300", "150", "--dataset", str(tiny_dataset),
                 "--out", str(first)]) == 0
    assert main(["narrow", str(first), "--hidden", "200", "100", "--dataset", str(tiny_dataset),
                 "--out", str(second)]) == 0
    card = json.loads(second.with_suffix(".json").read_text())
    # a file is named by its stem, which the library cannot follow: the name keeps its lineage's notice
    first_named = "first (a file made from spandex-prune75; its lineage's licence notices: LICENSE-ndns.md)"
    assert card["parent"] == first_named and card["narrow"]["from"][1:3] == [300, 150]
    assert [earlier["model"] for earlier in card["earlier_narrows"]] == ["spandex-prune75"]
    lines = card_lines(card)
    assert lines[1] == f"parent: {first_named}, narrowed"
    assert [line.split(":")[0] for line in lines if line.startswith(("earlier narrowing", "narrowed"))] == [
        "earlier narrowing", "narrowed"]


def test_a_fine_tune_of_a_narrowed_file_keeps_its_lineages_licence(tiny_dataset, tmp_path, capsys, monkeypatch):
    library = tmp_path / "library"
    library.mkdir()
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(library))
    thin = tmp_path / "work" / "thin.net"
    assert main(["narrow", "spandex-prune75", "--hidden", "300", "150", "--dataset", str(tiny_dataset),
                 "--out", str(thin)]) == 0
    # a run from the file (not from the library) names it with what it was made from and the notice the file's
    # lineage carries, and writes that notice beside its model
    events: list = []
    run_training(TrainConfig(name="tuned", dataset=str(tiny_dataset), init=str(thin), steps=2, batch_size=2,
                             segment_seconds=0.5, eval_every=2, threads=1), tmp_path / "run", emit=events.append)
    finished = next(event for event in events if isinstance(event, ev.Finished))
    parent = json.loads(Path(finished.card_path).read_text())["parent"]
    assert parent == "thin (a file made from spandex-prune75; its lineage's licence notices: LICENSE-ndns.md)"
    assert finished.licences == ("LICENSE-ndns.md",)
    assert (tmp_path / "run" / "LICENSE-ndns.md").read_bytes() == Path("assets/models/LICENSE-ndns.md").read_bytes()
    _, shipped = build_graph(TrainConfig(name="x", dataset=str(tiny_dataset), init="assets/models/spandex-dense.net"))
    assert shipped == "spandex-dense"  # a library model's file: the library is followed
    # installed with that card and exported: the export carries the N-DNS notice (before, nothing)
    (library / "tuned.net").write_bytes(thin.read_bytes())
    (library / "tuned.json").write_text(json.dumps({"name": "tuned", "parent": parent}))
    thin.unlink()
    thin.with_suffix(".json").unlink()
    out = tmp_path / "export" / "tuned.net"
    assert main(["export", "tuned", str(out)]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["export"]["licences"] == ["LICENSE-ndns.md"]
    capsys.readouterr()


@pytest.mark.parametrize("out, message", [
    ("{model}", "would replace mine.net (or its card), which it is made from"),
    ("{folder}/mine.NET", "would replace mine.net (or its card), which it is made from"),
    ("{folder}/sub/../mine.net", "would replace mine.net (or its card), which it is made from"),
    ("assets/models/spandex-thin.net", "is among the shipped models"),
])
def test_spandex_narrow_never_replaces_its_own_model_or_card_nor_writes_among_the_shipped(out, message, tmp_path,
                                                                                         capsys):
    model = tmp_path / "mine.net"
    model.write_bytes(Path("assets/models/spandex-prune75.net").read_bytes())
    model.with_suffix(".json").write_text('{"name": "mine"}')
    (tmp_path / "sub").mkdir()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    target = out.format(model=model, folder=tmp_path)
    assert main(["narrow", str(model), "--hidden", "300", "150", "--dataset", str(tmp_path / "none"),
                 "--out", target]) == 1
    err = capsys.readouterr().err
    assert message.format(folder=tmp_path) in err and len(err.strip().splitlines()) == 1, err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not Path("assets/models/spandex-thin.net").exists()


def test_narrow_refuses_sizes_that_cut_the_network_in_two():
    """Layer 2's one kept neuron hears nothing of layer 1's one kept neuron: no path would be left through them."""
    model = _toy(np.random.default_rng(7))
    second = model.layers[1].weight_mant.copy()
    second[2, 0] = 0  # layer 2's best (2) does not hear layer 1's best (0)
    model = replace(model, layers=(model.layers[0], replace(model.layers[1], weight_mant=second), model.layers[2]))
    signal = [np.array([9.0, 1.0, 1.0, 1.0, 1.0, 1.0]), np.array([1.0, 1.0, 9.0, 1.0])]
    with pytest.raises(SpandexError, match="would be cut in two"):
        narrow(model, (1, 1), signal, name="thin")


def test_the_signal_follows_each_neuron_whatever_order_the_graph_works_in():
    """The graph works on hidden neurons sorted by delay; the signal is reported in the model's order: the same
    network with its first hidden layer's neurons permuted gives the same signal, permuted the same way."""
    model = _toy(np.random.default_rng(8))
    first, second = model.layers[0], model.layers[1]
    first = replace(first, delays=np.array([2, 0, 1, 2, 0, 1]))  # an order the graph will change
    model = replace(model, layers=(first, second, model.layers[2]))
    perm = np.array([3, 5, 0, 2, 4, 1])
    permuted = replace(model, layers=(
        replace(first, weight_mant=first.weight_mant[perm], delays=first.delays[perm]),
        replace(second, weight_mant=second.weight_mant[:, perm]), model.layers[2]))
    magnitudes = [torch.rand(2, 257, 40, generator=torch.Generator().manual_seed(9)) * 3]
    signal, moved = neuron_signal(model, magnitudes), neuron_signal(permuted, magnitudes)
    assert len(set(signal[0].tolist())) == 6  # six different values: a wrong order cannot pass by chance
    assert np.array_equal(moved[0], signal[0][perm])


def test_a_model_trained_after_its_parent_was_narrowed_shows_the_narrowing_before_its_stages():
    """spandex-frugal: prune75 narrowed, then its training stages; the card tells them in that order."""
    card = {"name": "m", "recipe": {"name": "last", "steps": 5}, "stages": [{"name": "one", "recipe": {"steps": 3}}],
            "earlier_narrows": [{"model": "p", "from": [257, 8, 8, 257], "asked": [4, 4], "to": [257, 4, 4, 257]}]}
    for lines, stages in ((card_lines(card), "stage one"), (card_lines(card, brief_stages=True), "stages")):
        order = [line.split(":")[0] for line in lines if line.startswith(("earlier narrowing", "stage", "last"))]
        assert order == ["earlier narrowing", stages, "last stage last"]  # (the app's card: the stages in one line)
