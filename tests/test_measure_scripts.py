"""The measuring scripts refuse bad input in one line, before any measuring and without touching a card."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine.training.dataset_layout import split_folder

CARDS = sorted(Path("assets/models").glob("*.json"))


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, f"scripts/{name}", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": "."}, timeout=300)


def _refused(done: subprocess.CompletedProcess[str], said: str) -> bool:
    return done.returncode != 0 and said in done.stderr and "Traceback" not in done.stderr


def test_measure_card_check_refuses_a_split_that_is_not_a_validation_set(tmp_path):
    before = {card: card.read_bytes() for card in CARDS}
    (tmp_path / "data" / "test_set").mkdir(parents=True)
    (tmp_path / "data" / "validation_set").mkdir()
    assert _refused(_script("measure_card_check.py", "--validation", str(tmp_path / "missing" / "validation_set")),
                    "no such folder")
    assert _refused(_script("measure_card_check.py", "--validation", str(tmp_path / "data" / "test_set")),
                    "give a dataset's validation_set folder")
    assert _refused(_script("measure_card_check.py", "--validation", str(tmp_path / "data" / "validation_set")),
                    "measure_card_check.py: error: the noisy folder")
    assert {card: card.read_bytes() for card in CARDS} == before


def test_measure_clean_passthrough_refuses_a_model_twice_and_a_split_without_groups(tiny_dataset, tmp_path):
    split = str(split_folder(tiny_dataset, "validation"))
    done = _script("measure_clean_passthrough.py", "spandex-dense", "assets/models/spandex-dense.net", "--split", split)
    assert _refused(done, "given more than once")
    assert _refused(_script("measure_clean_passthrough.py", "no-such-model", "--split", split), "no-such-model")
    mine = tmp_path / "myclips"
    shutil.copytree(split, mine)
    assert _refused(_script("measure_clean_passthrough.py", "spandex-dense", "--split", str(mine), "--by-group"),
                    "is not a split of a dataset")
    listed = tmp_path / "data" / "validation_set"
    shutil.copytree(split, listed)
    assert _refused(_script("measure_clean_passthrough.py", "spandex-dense", "--split", str(listed), "--by-group"),
                    "manifest.json is missing")
