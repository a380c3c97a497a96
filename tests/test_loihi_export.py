"""Export for Lava / Loihi 2: exact fixes, clear refusals, and files netx reads as the same network."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from cli.main import main
from engine.errors import ModelFileError
from engine.files.netx import load_model, save_netx
from engine.loihi.export import NETX_MAX_DELAY, LoihiExportError, export_netx, load_netx_network, plan_export
from engine.snn.model import DenseLayer, InputEncoder, SDNNModel
from tests.reference_models import REFERENCE_NETS, reference_path


def tiny_model(first: np.ndarray, delays=None, last_delays=None, name: str = "tiny") -> SDNNModel:
    """4 bins -> 3 hidden (weights ``first``) -> 4 outputs."""
    rng = np.random.default_rng(1)
    last = (rng.integers(-20, 20, size=(4, 3)) * 2).astype(np.int16)
    return SDNNModel(InputEncoder(size=4, threshold_mant=6),
                     (DenseLayer(first.astype(np.int16), 6,
                                 None if delays is None else np.asarray(delays, np.int32)),
                      DenseLayer(last, 0, None if last_delays is None else np.asarray(last_delays, np.int32),
                                 sigma_output=True)), name=name)


MIXED = np.array([[10, -4, 0, 6], [2, 0, -8, 4], [-2, 12, 4, 0]])


def test_the_baselines_delay_of_64_is_split_exactly_onto_the_next_layer() -> None:
    model = load_model(reference_path("ndns_baseline.net"))
    plan = plan_export(model)
    layer2, layer3 = plan.netx_delays[1], plan.netx_delays[2]
    assert layer2.shape == (512,) and layer2[225] == NETX_MAX_DELAY and layer2.max() == NETX_MAX_DELAY
    np.testing.assert_array_equal(np.delete(layer2, 225), np.delete(model.layers[1].delays, 225))
    assert layer3.shape == (257, 512)  # one delay per synapse: 2 frames on what leaves neuron 225
    np.testing.assert_array_equal(layer3[:, 225], 2)
    assert not np.delete(layer3, 225, axis=1).any()
    np.testing.assert_array_equal(plan.netx_delays[0], model.layers[0].delays)
    assert plan.moved_delays[1][225] == 2 and plan.moved_delays[1].sum() == 2
    assert len(plan.notes) == 1 and "225 (64)" in plan.notes[0]


@pytest.mark.parametrize("name", REFERENCE_NETS)
def test_every_reference_net_exports_to_a_file_netx_reads_as_the_same_network(name, tmp_path) -> None:
    model = load_model(reference_path(f"{name}.net"))
    out = tmp_path / f"{name}.net"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # netx warns when it clamps a delay: it must have nothing to clamp
        plan = export_netx(model, out)
        network = load_netx_network(out)
    for index, block in enumerate(network.layers[1:]):
        # netx scales weights up to fill 8 bits and sets an exponent that scales the sums back down
        weights, exponent = np.asarray(block.synapse.weights.init), block.synapse.proc_params["weight_exp"]
        assert exponent <= 0
        np.testing.assert_array_equal(weights, model.layers[index].weight_mant.astype(np.int64) << -exponent)
        expected = plan.synapse_delays(index)
        if expected is None:
            assert not hasattr(block.synapse, "delays")
        else:
            np.testing.assert_array_equal(block.synapse.delays.init, expected)
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


def test_a_layer_without_weights_is_refused_and_nothing_is_written(tmp_path) -> None:
    out = tmp_path / "out.net"
    with pytest.raises(LoihiExportError, match="layer 1 has no nonzero weight"):
        export_netx(tiny_model(np.zeros((3, 4))), out)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_delays_that_cannot_fit_even_when_moved_are_refused(tmp_path) -> None:
    # hidden neuron 0 needs 70 frames: 8 move onto layer 2, whose synapses from neuron 0 then need 8 -
    # fine; but make layer 2 a hidden layer with its own delay of 60 and the sum is 68 > 62.
    rng = np.random.default_rng(2)
    hidden = DenseLayer(MIXED.astype(np.int16), 6, np.array([70, 0, 3], np.int32))
    second = DenseLayer((rng.integers(-10, 10, size=(3, 3)) * 2 + 1).astype(np.int16), 6,
                        np.array([60, 1, 2], np.int32))
    last = DenseLayer(np.ones((4, 3), np.int16), 0, None, sigma_output=True)
    model = SDNNModel(InputEncoder(size=4, threshold_mant=6), (hidden, second, last), name="deep")
    with pytest.raises(LoihiExportError, match="would need a delay of 68"):
        export_netx(model, tmp_path / "out.net")
    assert not (tmp_path / "out.net").exists()


def test_a_delay_moved_onto_the_output_layer_reads_back_through_netx(tmp_path) -> None:
    model = tiny_model(MIXED, delays=[70, 0, 3])
    plan = export_netx(model, tmp_path / "out.net")
    assert plan.netx_delays[0].tolist() == [62, 0, 3]
    np.testing.assert_array_equal(plan.netx_delays[1], np.tile([8, 0, 0], (4, 1)))
    # SPANDEX models hold one delay per neuron: a file with per-synapse delays is named for what it is
    with pytest.raises(ModelFileError, match="one delay per synapse"):
        load_model(tmp_path / "out.net")


def test_netx_weight_fitting_that_would_change_weights_is_refused(tmp_path) -> None:
    # An all-negative layer whose largest magnitude is 128: netx scales it by 2 to -256, and the synapse
    # model then clips -256 to -255 (inhibitory weights hold 8 magnitude bits) - a silent change.
    inhibitory = np.array([[-128, -2, -4, -6], [-8, -10, -12, -14], [-16, -18, -20, -22]])
    with pytest.raises(LoihiExportError, match="would change layer 1's weights"):
        export_netx(tiny_model(inhibitory), tmp_path / "out.net")
    assert not (tmp_path / "out.net").exists()


def test_output_layer_delays_are_left_out_and_said_so(tmp_path) -> None:
    plan = export_netx(tiny_model(MIXED, last_delays=[1, 2, 3, 4]), tmp_path / "out.net")
    assert plan.netx_delays[1] is None
    assert any("output-layer delays" in note for note in plan.notes)
    with h5py.File(tmp_path / "out.net") as handle:
        assert "delay" not in handle["layer/2"]


def test_mantissas_outside_the_8_bit_range_are_refused_before_export(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.net"
    save_netx(tiny_model(MIXED), bad)
    with h5py.File(bad, "r+") as handle:
        weight = handle["layer/1/weight"]
        weight[0, 0] = 300.0  # what an unclamped fine-tuning step could leave
    assert main(["export", str(bad), str(tmp_path / "out.net")]) == 1
    assert "outside the 8-bit range [-256, 254]" in capsys.readouterr().err
    assert not (tmp_path / "out.net").exists()


def test_cli_export_writes_and_reports_the_fix(tmp_path, capsys) -> None:
    out = tmp_path / "baseline-loihi.net"
    assert main(["export", str(reference_path("ndns_baseline.net")), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "delays above 62" in printed and "checked through netx" in printed
    assert out.is_file()
    # beside it: a card saying where it came from (the reference net has none of its own) and its licence notice
    assert "has no card: baseline-loihi.json says only where it was exported from" in printed
    assert "beside it baseline-loihi.json, LICENSE-ndns.md" in printed
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["name"] == "baseline-loihi" and card["export"]["from"].startswith("ndns_baseline (MIT License")
    assert card["export"]["notes"] and card["export"]["licences"] == ["LICENSE-ndns.md"]
    notice = reference_path("ndns_baseline.net").parent / "LICENSE-ndns.md"
    assert (tmp_path / "LICENSE-ndns.md").read_bytes() == notice.read_bytes()
    assert not (tmp_path / "LICENSE-spandex.md").exists()  # the notice named for another model stays behind
    source = reference_path("spandex_prune75.net")
    assert main(["export", str(source), str(source)]) == 1
    assert "would replace spandex_prune75.net (or its card), which it is exported from" in capsys.readouterr().err


def test_cli_export_can_drop_idle_neurons(tmp_path, capsys) -> None:
    """The smaller network is what the file holds (that it computes the same is tests/test_compaction.py's)."""
    source = reference_path("spandex_prune75.net")
    out = tmp_path / "compact.net"
    assert main(["export", str(source), str(out), "--drop-idle-neurons"]) == 0
    printed = capsys.readouterr().out
    assert "dropped 240 idle hidden neurons: 257-512-512-257 -> 257-512-272-257" in printed
    assert "checked through netx" in printed
    with h5py.File(out, "r") as handle:
        assert [handle[f"layer/{i}/weight"].shape[:2] for i in (1, 2, 3)] == [(512, 257), (272, 512), (257, 272)]
    dropped = json.loads(out.with_suffix(".json").read_text())["export"]["dropped_idle_neurons"]
    assert dropped == {"from": [257, 512, 512, 257], "to": [257, 512, 272, 257]}
    assert main(["export", str(reference_path("ndns_baseline_nodelay.net")), str(tmp_path / "b.net"),
                 "--drop-idle-neurons"]) == 0
    assert "idle hidden neurons" in capsys.readouterr().out


def test_an_exported_shipped_model_keeps_its_card_and_licence(tmp_path, capsys) -> None:
    """The card goes with the file (less the lineup's own settings), and the notice of the official N-DNS baseline
    that every shipped model descends from."""
    from engine.library.card import card_lines

    out = tmp_path / "exports" / "dense-loihi.net"
    assert main(["export", "spandex-dense", str(out)]) == 0
    assert "beside it dense-loihi.json, LICENSE-ndns.md" in capsys.readouterr().out
    shipped = Path("assets/models")
    card, original = (json.loads(p.read_text()) for p in (out.with_suffix(".json"), shipped / "spandex-dense.json"))
    assert "default" not in card and "ab_with" not in card and card["name"] == "dense-loihi"
    assert card["parent"] == original["parent"] and card["metrics"] == original["metrics"]
    assert card["export"]["from"] == "spandex-dense" and card["export"]["dropped_idle_neurons"] is None
    assert (out.parent / "LICENSE-ndns.md").read_bytes() == (shipped / "LICENSE-ndns.md").read_bytes()
    assert any(line.startswith("exported: from spandex-dense for Lava / Loihi 2") for line in card_lines(card))
    # exported again beside the same notice: it is kept as it is
    assert main(["export", "spandex-prune75", str(out.with_name("p75.net"))]) == 0
    assert json.loads(out.with_name("p75.json").read_text())["export"]["licences"] == ["LICENSE-ndns.md"]


def test_export_refuses_to_replace_the_models_card_or_to_write_into_the_library(tmp_path, capsys, monkeypatch):
    library = tmp_path / "library"
    library.mkdir()
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(library))
    copy = tmp_path / "mine.net"
    copy.write_bytes(Path("assets/models/spandex-frugal.net").read_bytes())
    copy.with_suffix(".json").write_text('{"name": "mine", "default": true}')
    before = sorted(tmp_path.rglob("*"))
    for out, message in ((tmp_path / "mine.h5", "would replace mine.net (or its card), which it is exported from"),
                         (library / "other.net", "is in the model library"),
                         (Path("assets/models/spandex-frugal.h5"), "is in the model library")):
        assert main(["export", str(copy), str(out)]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(tmp_path.rglob("*")) == before and not Path("assets/models/spandex-frugal.h5").exists()
    assert json.loads(copy.with_suffix(".json").read_text()) == {"name": "mine", "default": True}


def test_an_export_carries_the_licences_of_its_lineage_and_says_what_it_is(tmp_path, capsys, monkeypatch):
    """A library model fine-tuned from a shipped one, or from the official baseline's file, carries the N-DNS
    notice; a link to the same notice is no conflict; an export exported again keeps the earlier record; a card of
    a compacted export describes the file it sits beside."""
    library = tmp_path / "library"
    library.mkdir()
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(library))
    frugal = Path("assets/models/spandex-frugal.net").read_bytes()
    notice = Path("assets/models/LICENSE-ndns.md")
    chain = [(f"gen{n}", "spandex-dense" if n == 1 else f"gen{n - 1}") for n in range(1, 13)]
    for name, parent in (("child", "spandex-dense"), ("grandchild", "child"),
                         ("from-file", "ndns_baseline (MIT License, see LICENSE-ndns.md)"), ("orphan", "scratch"),
                         ("loop-a", "loop-b"), ("loop-b", "loop-a"), *chain):
        (library / f"{name}.net").write_bytes(frugal)
        (library / f"{name}.json").write_text(json.dumps({"name": name, "parent": parent}))
    for name, carried in (("child", ["LICENSE-ndns.md"]), ("grandchild", ["LICENSE-ndns.md"]),
                          ("from-file", ["LICENSE-ndns.md"]), ("orphan", []), ("loop-a", []),
                          ("gen12", ["LICENSE-ndns.md"])):  # twelve generations down: no depth limit
        out = tmp_path / name / "x.net"
        assert main(["export", name, str(out)]) == 0
        assert json.loads(out.with_suffix(".json").read_text())["export"]["licences"] == carried, name
        assert sorted(p.name for p in out.parent.glob("LICENSE-*")) == carried
    capsys.readouterr()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "LICENSE-ndns.md").symlink_to(notice.resolve())
    assert main(["export", "child", str(linked / "x.net")]) == 0
    assert (linked / "LICENSE-ndns.md").is_symlink()  # left as it is
    # an export of a file without a card says which file; exported again, the earlier record stays
    plain = tmp_path / "plain" / "p.net"
    assert main(["export", str(reference_path("ndns_baseline_nodelay.net")), str(plain)]) == 0
    record = json.loads(plain.with_suffix(".json").read_text())["export"]
    assert record["file"] == str(reference_path("ndns_baseline_nodelay.net").resolve()) and len(record["sha256"]) == 64
    again = tmp_path / "again" / "a.net"
    assert main(["export", str(plain), str(again)]) == 0
    card = json.loads(again.with_suffix(".json").read_text())
    assert card["earlier_exports"] == [record] and card["export"]["from"] == "p"
    # compacted: the card's layout and sparsity are the file's
    thin = tmp_path / "thin" / "t.net"
    assert main(["export", "spandex-prune90", str(thin), "--drop-idle-neurons"]) == 0
    card = json.loads(thin.with_suffix(".json").read_text())
    dropped = card["export"]["dropped_idle_neurons"]
    assert card["metrics"]["neurons"] == dropped["to"] != dropped["from"] == card["trained_layout"]
    with h5py.File(thin, "r") as handle:
        assert [handle[f"layer/{i}/weight"].shape[0] for i in (1, 2, 3)] == dropped["to"][1:]
