"""Weight averaging (``weight_average``): the average follows its formula, a run validates and exports the average
(and reports its last step's own score beside it), and a cancelled run resumes it exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cli.training_run import describe
from engine.errors import SpandexError
from engine.files.netx import load_model
from engine.library.card import card_lines
from engine.training import events as ev
from engine.training.averaging import WeightAverage, averaging_decay
from engine.training.checkpoint import load_checkpoint
from engine.training.config import ConfigError, PruningConfig, TrainConfig, dump_config, load_config
from engine.training.graph import SDNNGraph
from engine.training.trainer import run_training
from tests.test_training_runs import collect, stop_after, tiny_config


def test_the_average_follows_its_formula_and_takes_the_masks_as_they_are():
    graph = SDNNGraph((4, 3, 4), seed=0)
    average = WeightAverage(graph, decay=0.5)
    expected = [p.detach().clone() for p in graph.parameters()]
    generator = torch.Generator().manual_seed(1)
    for step in range(1, 8):
        with torch.no_grad():
            for p in graph.parameters():
                p.copy_(torch.randn(p.shape, generator=generator))
        graph.set_mask(0, (torch.rand(3, 4, generator=generator) > 0.5).float())
        average.update(graph)
        keep = min(0.5, (1 + step) / (10 + step))  # (2/11, 3/12, 4/13, 5/14, 6/15, 0.5, 0.5)
        expected = [keep * e + (1 - keep) * p.detach() for e, p in zip(expected, graph.parameters())]
        for mine, want in zip(average.graph.parameters(), expected):
            torch.testing.assert_close(mine, want, rtol=0, atol=1e-6)
        assert torch.equal(average.graph.mask(0), graph.mask(0))
    assert [averaging_decay(0.999, t) for t in (1, 90, 100_000)] == [2 / 11, 91 / 100, 0.999]
    assert not any(p.requires_grad for p in average.graph.parameters())


@pytest.mark.parametrize("decay", [0, 1, -0.5, "high"])
def test_a_bad_decay_is_refused_by_name(decay):
    with pytest.raises(ConfigError, match="weight_average"):
        TrainConfig(name="x", dataset="d", weight_average=decay)


def test_a_run_exports_the_average_and_a_cancelled_one_resumes_it_exactly(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, steps=30, eval_every=15, checkpoint_seconds=1e9, log_every=5,
                         weight_average=0.8)
    first = collect(config, tmp_path / "run", should_stop=stop_after(11))
    assert isinstance(first[-1], ev.Cancelled) and first[-1].step == 11
    rest = collect(config, tmp_path / "run")
    straight = collect(config, tmp_path / "straight")
    resumed_model, straight_model = load_model(rest[-1].model_path), load_model(straight[-1].model_path)
    for a, b in zip(resumed_model.layers, straight_model.layers):
        np.testing.assert_array_equal(a.weight_mant, b.weight_mant)
    # exactly, not only once rounded to 8 bits (where the first steps' share of the average, ~0.1 %, hides)
    resumed_state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    straight_state = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    for part in ("graph", "weight_average"):
        resumed_part, straight_part = resumed_state[part], straight_state[part]
        if part == "weight_average":
            assert resumed_part["updates"] == straight_part["updates"] == 30
            resumed_part, straight_part = resumed_part["graph"], straight_part["graph"]
        assert resumed_part.keys() == straight_part.keys()
        for key in straight_part:
            assert torch.equal(resumed_part[key], straight_part[key]), (part, key)
    # the exported model is the average rounded, not the last step's weights
    state = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    last_step = SDNNGraph((257, 48, 48, 257))
    last_step.load_state_dict(state["graph"])
    averaged = SDNNGraph((257, 48, 48, 257))
    averaged.load_state_dict(state["weight_average"]["graph"])
    assert state["weight_average"]["updates"] == 30
    own = last_step.to_model()
    assert sum(int(np.count_nonzero(a.weight_mant != b.weight_mant))
               for a, b in zip(own.layers, straight_model.layers)) > 100
    for a, b in zip(averaged.to_model().layers, straight_model.layers):
        np.testing.assert_array_equal(a.weight_mant, b.weight_mant)
    # each validation scores the average and reports the last step's own weights beside it
    evaluations = [e for e in straight if isinstance(e, ev.Evaluated)]
    assert [e.step for e in evaluations] == [15, 30]
    assert all(e.last_step_si_snri is not None and np.isfinite(e.last_step_si_snri) for e in evaluations)
    assert evaluations[-1].last_step_si_snri != evaluations[-1].si_snri
    line = describe(evaluations[-1])
    assert line.startswith("validation at step 30 of the averaged weights: SI-SNR ")
    assert line.endswith(f"; the last step's own weights: SI-SNRi {evaluations[-1].last_step_si_snri:.2f}")
    card = json.loads(Path(straight[-1].card_path).read_text())
    assert any("weights averaged (decay 0.8)" in text for text in card_lines(card))
    plain = collect(tiny_config(tiny_dataset, steps=5, eval_every=5), tmp_path / "plain")
    assert all(e.last_step_si_snri is None and " of the averaged weights" not in describe(e) and
               "last step's own" not in describe(e) for e in plain if isinstance(e, ev.Evaluated))


def test_a_pruning_runs_average_is_pruned_as_the_network_is_to_its_last_step(tiny_dataset, tmp_path):
    # the last prune falls on the last step, after that step's update of the average
    config = tiny_config(tiny_dataset, steps=12, eval_every=12, weight_average=0.9,
                         pruning=PruningConfig(final_sparsity=0.6, frequency=4, n_prunes=3, start_step=0))
    events = collect(config, tmp_path / "run")
    assert [e.step for e in events if isinstance(e, ev.Pruned)][-1] == 12
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    masks = [state["graph"][f"mask_{i}"] for i in range(3)]
    assert all(torch.equal(state["weight_average"]["graph"][f"mask_{i}"], masks[i]) for i in range(3))
    pruned = 1 - sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks)
    assert pruned == pytest.approx(0.6, abs=0.01)
    exported = load_model(events[-1].model_path)
    assert exported.weight_sparsity >= pruned - 1e-9  # the average's weights under the network's masks
    last = [e for e in events if isinstance(e, ev.Evaluated)][-1]
    assert last.step == 12 and last.weight_sparsity == pytest.approx(exported.weight_sparsity)  # what it validated


@pytest.mark.parametrize("edit", [{"weight_average": 0.9}, {"learning_rate": 0.02}])
def test_a_run_folder_whose_settings_were_edited_after_its_checkpoint_is_not_resumed(tiny_dataset, tmp_path, edit):
    # resuming would train on from a checkpoint made under other settings and write those settings on its card
    config = tiny_config(tiny_dataset, steps=20, eval_every=20, checkpoint_seconds=1e9)
    assert isinstance(collect(config, tmp_path / "run", should_stop=stop_after(5))[-1], ev.Cancelled)
    # threads changed too: where it runs, not what — not among the settings to put back
    (tmp_path / "run" / "config.yaml").write_text(dump_config(config.replace(**edit, threads=2)))
    with pytest.raises(SpandexError, match=rf"config.yaml no longer has the settings its checkpoint was made with "
                                           rf"\(differing: {next(iter(edit))}\); put them back to resume"):
        run_training(load_config(tmp_path / "run" / "config.yaml"), tmp_path / "run")
    # where it runs and what its card will say, not what it trains: resumes, and the card carries the new notes
    (tmp_path / "run" / "config.yaml").write_text(dump_config(config.replace(threads=2, notes="said later")))
    finished = run_training(load_config(tmp_path / "run" / "config.yaml"), tmp_path / "run")
    assert isinstance(finished, ev.Finished)
    assert json.loads(Path(finished.card_path).read_text())["recipe"]["notes"] == "said later"
    # given again with other notes (the recipe file edited, not the run folder's): the folder keeps what the run has
    run_training(config.replace(steps=30, notes="said last"), tmp_path / "again", should_stop=stop_after(3))
    assert load_config(tmp_path / "again" / "config.yaml").notes == "said last"
    assert isinstance(run_training(config.replace(steps=30, notes="said at the end"), tmp_path / "again"), ev.Finished)
    assert load_config(tmp_path / "again" / "config.yaml").notes == "said at the end"  # a later --resume keeps it


def test_mixing_settings_on_a_dataset_of_fixed_clips_are_said_to_be_unused(tiny_dataset, tmp_path):
    events = collect(tiny_config(tiny_dataset, steps=2, eval_every=2, mixing={"speed_share": 0.5}), tmp_path / "a")
    started = next(e for e in events if isinstance(e, ev.Started))
    assert started.mixing_unused and "note: the recipe's mixing settings are not used" in describe(started)
    started = next(e for e in collect(tiny_config(tiny_dataset, steps=2, eval_every=2, mixing={}), tmp_path / "c")
                   if isinstance(e, ev.Started))
    assert not started.mixing_unused  # an empty mixing block sets nothing: nothing to say
    started = next(e for e in collect(tiny_config(tiny_dataset, steps=2, eval_every=2), tmp_path / "b")
                   if isinstance(e, ev.Started))
    assert not started.mixing_unused and "mixing settings" not in describe(started)
