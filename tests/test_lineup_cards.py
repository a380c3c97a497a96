"""scripts/lineup_cards.py: what scripts/train_lineup.sh's card steps share (a run's card with its teachers named,
a stage's share of a card, shipping a model with its card)."""

import json

import pytest

from scripts.lineup_cards import install, run_card, shipped_card, stage_of


def _run(runs, name, recipe):
    folder = runs / name
    folder.mkdir(parents=True)
    card = {"name": name, "parent": "p", "recipe": recipe, "metrics": {"si_snri_db": 5.0}, "training": {"steps": 9},
            "data": {"clips": 3}}
    (folder / f"{name}.json").write_text(json.dumps(card))
    return card


def test_a_run_card_names_its_teachers_as_the_lineup_knows_them(tmp_path):
    _run(tmp_path, "x", {"teacher": "build/runs/a/spandex-dense-long.net",
                         "teacher_ensemble": ["b/spandex-dense-voices.net", "../shared/ndns_baseline.net"]})
    names = {"spandex-dense-long": "spandex-dense-long (a stage)", "spandex-dense-voices": "voices (a stage)"}
    recipe = run_card(tmp_path, "x", names)["recipe"]
    assert recipe["teacher"] == "spandex-dense-long (a stage)"
    assert recipe["teacher_ensemble"] == ["voices (a stage)", "ndns_baseline"]  # one not named: its stem


def test_a_run_without_a_teacher_keeps_its_recipe(tmp_path):
    _run(tmp_path, "y", {"steps": 10, "teacher": None})
    assert run_card(tmp_path, "y", {})["recipe"] == {"steps": 10, "teacher": None}


def test_a_stage_keeps_name_parent_recipe_metrics_and_training_only():
    card = {"name": "n", "parent": "p", "recipe": {}, "training": {}, "data": {}, "notes": "x", "stages": []}
    assert stage_of(card) == {"name": "n", "parent": "p", "recipe": {}, "training": {}}  # (no metrics: none kept)


def test_install_ships_the_network_and_its_card_over_the_old_ones(tmp_path):
    shipped = tmp_path / "models"
    shipped.mkdir()
    (shipped / "m.net").write_bytes(b"old")
    (shipped / "m.json").write_text("{}")
    net = tmp_path / "run.net"
    net.write_bytes(b"new network")
    install("m", net, {"name": "m", "notes": "é"}, shipped)
    assert (shipped / "m.net").read_bytes() == b"new network"
    assert shipped_card("m", shipped) == {"name": "m", "notes": "é"}
    assert (shipped / "m.json").read_text(encoding="utf-8").endswith("\n")
    assert sorted(p.name for p in shipped.iterdir()) == ["m.json", "m.net"]  # no temporary file left


def test_install_of_a_missing_network_changes_nothing(tmp_path):
    shipped = tmp_path / "models"
    shipped.mkdir()
    (shipped / "m.net").write_bytes(b"old")
    (shipped / "m.json").write_text('{"name": "m"}')
    with pytest.raises(FileNotFoundError):
        install("m", tmp_path / "absent.net", {"name": "other"}, shipped)
    assert (shipped / "m.net").read_bytes() == b"old"
    assert (shipped / "m.json").read_text() == '{"name": "m"}'
    assert sorted(p.name for p in shipped.iterdir()) == ["m.json", "m.net"]


@pytest.mark.parametrize("name", ["spandex-dense", "spandex-prune50", "spandex-prune75", "spandex-prune90",
                                  "spandex-frugal"])
def test_a_shipped_card_says_which_sharpening_its_network_was_trained_with(name):
    """Session 28's sharpening step, run twice, wrote the strength it set as the one the network had before
    ("was" 0.75 for a network trained with the plain mask): a card sharpened in place keeps its network's own."""
    sharpened = shipped_card(name)["sharpened"]
    assert sharpened["in_place"] and sharpened["strength"] > 0
    assert sharpened["was"] == 0.0  # every lineup network was trained with the plain mask (recipes: no sharpening)
