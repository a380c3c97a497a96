"""The Loihi 2 resource estimate: counts from the model, memory by its stated rules, pruning made visible."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cli.main import main
from engine.files.netx import load_model
from engine.loihi.resources import LOIHI2, loihi_resource_report
from engine.snn.model import DenseLayer, InputEncoder, SDNNModel
from tests.reference_models import reference_path

PRUNING_SERIES = ("ndns_baseline", "spandex_prune50", "spandex_prune75")


@pytest.fixture(scope="module")
def reports():
    return {name: loihi_resource_report(load_model(reference_path(f"{name}.net"))) for name in PRUNING_SERIES}


def test_counts_come_from_the_model(reports) -> None:
    model = load_model(reference_path("spandex_prune50.net"))
    report = reports["spandex_prune50"]
    assert [l.neurons for l in report.layers] == [257, 512, 512, 257]
    assert [l.synapses for l in report.layers] == [0, 257 * 512, 512 * 512, 512 * 257]
    assert [l.nonzero_synapses for l in report.layers[1:]] == [int(np.count_nonzero(l.weight_mant))
                                                                for l in model.layers]
    assert report.nonzero_synapses == model.n_nonzero_synapses
    # delays as Loihi gets them: layer 2's 64 becomes 62, and 2 frames move onto the output layer
    assert [l.max_delay for l in report.layers] == [0, 56, 62, 2]


def test_memory_follows_the_stated_rules_on_a_hand_checked_model() -> None:
    weights = np.zeros((4, 8), dtype=np.int16)
    weights[0, :5] = 2  # 5 nonzero synapses of 32
    model = SDNNModel(InputEncoder(size=8, threshold_mant=6),
                      (DenseLayer(np.full((4, 8), 2, np.int16), 6, np.array([0, 3, 1, 0], np.int32)),
                       DenseLayer(weights.T.copy(), 0, None, sigma_output=True)), name="hand")
    report = loihi_resource_report(model)
    hidden, output = report.layers[1], report.layers[2]
    # 32 synapses x (8 weight + 6 delay bits) = 448 bits; sparse adds a 2-bit index (4 targets)
    assert hidden.dense_synapse_bytes == 448 // 8 and hidden.sparse_synapse_bytes == 32 * 16 // 8
    # state: 3 words of 24 bits and a ring of max_delay + 1 = 4 accumulators of 16 bits, per neuron
    assert hidden.neuron_bytes == 4 * (3 * 24 + 4 * 16) // 8
    # output layer: 8 targets, no delays -> 8 bits dense; 5 nonzero x (8 + 3 index bits) sparse
    assert output.dense_synapse_bytes == 32 and output.sparse_synapse_bytes == math.ceil(5 * 11 / 8)
    assert report.sparse_bytes == sum(min(l.dense_synapse_bytes, l.sparse_synapse_bytes) + l.neuron_bytes
                                      for l in report.layers)
    assert report.cores_sparse == report.cores_dense == 3  # one core per layer: tiny


def test_pruning_shrinks_sparse_memory_not_dense_memory(reports) -> None:
    base, p50, p75 = (reports[name] for name in PRUNING_SERIES)
    assert base.nonzero_synapses > p50.nonzero_synapses > p75.nonzero_synapses
    assert base.sparse_bytes > p50.sparse_bytes > p75.sparse_bytes
    assert p75.sparse_bytes < 0.5 * base.sparse_bytes
    # stored densely, a pruned matrix costs what the full one does (delay rings differ a little)
    assert abs(p75.dense_bytes - base.dense_bytes) < 0.01 * base.dense_bytes
    assert p75.cores_sparse < base.cores_sparse <= base.cores_dense
    assert all(r.chips == 1 for r in reports.values())


def test_the_figures_name_their_sources(reports) -> None:
    figures = reports["ndns_baseline"].figures
    assert figures is LOIHI2
    assert figures.cores_per_chip == 128
    assert (figures.neurons_per_core, figures.memory_per_core_bytes) == (8192, 192 * 1024)
    assert any("technology brief" in source for source in figures.sources)
    assert any("Orchard" in source for source in figures.sources)
    data = json.loads(json.dumps(reports["ndns_baseline"].as_dict()))
    assert data["totals"]["neurons"] == 1538 and len(data["layers"]) == 4


def test_cli_loihi_report_compares_models(tmp_path, capsys) -> None:
    out = tmp_path / "report.json"
    paths = [str(reference_path(f"{name}.net")) for name in PRUNING_SERIES]
    assert main(["loihi-report", *paths, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in PRUNING_SERIES:
        assert f"Loihi 2 estimate for {name}" in printed
    assert "How the models compare" in printed
    assert "Loihi 2 hardware: not available" in printed
    assert "delays above 62" in printed
    data = json.loads(out.read_text())
    assert [r["model"] for r in data] == list(PRUNING_SERIES)


def test_cli_loihi_report_on_a_missing_model_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["loihi-report", str(tmp_path / "missing.net")]) == 1
    assert "model file not found" in capsys.readouterr().err
