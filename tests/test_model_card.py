"""Model cards that are broken, or that would describe another model: said, never an internal error."""

from __future__ import annotations

import json
import shutil

import pytest

from engine.errors import SpandexError
from engine.library.card import card_lines, check_card_beside, read_card
from engine.live.worker import model_info
from tests.reference_models import reference_path


@pytest.mark.parametrize("card, problem", [
    ({"metrics": []}, "'metrics' is a list, not an object"),
    ({"recipe": "x"}, "'recipe' is a text, not an object"),
    ({"stages": {}}, "'stages' is an object, not a list"),
    ({"name": 3}, "'name' is a number, not a text"),
])
def test_a_card_section_of_another_type_is_a_problem_said_not_a_crash(tmp_path, card, problem):
    (tmp_path / "m.json").write_text(json.dumps(card))
    assert read_card(tmp_path / "m.net") == ({}, f"model card m.json: {problem}")


@pytest.mark.parametrize("card", [{"input_level": {"min_gain_db": 1}}, {"metrics": {"si_snr": "x"}},
                                  {"training": {"wall_time_s": "x"}}])
def test_a_field_of_an_unexpected_form_is_said_in_the_card_and_the_engine_lists_the_model(tmp_path, card):
    """`spandex models m.net` was an internal error; in the app the card is built in the audio engine's loop."""
    lines = card_lines(card)
    assert len(lines) == 1 and lines[0].startswith("the card cannot be shown whole: a field has an unexpected form (")
    shutil.copy(reference_path("spandex_prune75.net"), tmp_path / "m.net")
    (tmp_path / "m.json").write_text(json.dumps(card))
    from engine.backends import prepare
    from engine.files.netx import load_model

    info = model_info(prepare(load_model(tmp_path / "m.net")), 0, 0.0)
    assert info["card"] == lines


def test_an_output_beside_a_model_file_of_its_name_is_refused_its_card_would_be_that_models(tmp_path):
    (tmp_path / "a.net").write_bytes(b"a model")
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(SpandexError, match=r"^OUT .*a\.h5 would share its card a\.json with a\.net beside it"):
        check_card_beside(tmp_path / "a.h5", "OUT", "OUT")
    (tmp_path / "b.pt").write_bytes(b"a state dict")
    with pytest.raises(SpandexError, match="would share its card b.json with b.pt beside it"):
        check_card_beside(tmp_path / "b.net", "--out", "OUT")
    assert check_card_beside(tmp_path / "c.net", "--out", "OUT") == tmp_path / "c.json"


def test_a_blend_installed_under_a_name_the_library_cannot_hold_is_refused(tmp_path, monkeypatch):
    from engine.library.blending import check_blend_output

    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(tmp_path / "library"))
    with pytest.raises(SpandexError, match=r"^--out .*-x\.net: as a library model, its name '-x' must not start"):
        check_blend_output(str(tmp_path / "-x.net"), install=True)
    assert check_blend_output(str(tmp_path / "-x.net"), install=False) == tmp_path / "-x.net"  # a file only: fine
