"""What an earlier run saved, read back from a real INI settings file (app/remembered.py): the launcher and the window
read every saved value through it."""

from __future__ import annotations

from PySide6 import QtCore

from app.launch import AppOptions, engine_config
from app.remembered import remembered
from app.window.controller import _remembered_sharpening


def _settings(path, text: str | None = None) -> QtCore.QSettings:
    if text is not None:
        path.write_text(text)
    return QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat)


def test_values_come_back_as_their_kind_from_the_text_an_ini_file_keeps(tmp_path):
    saved = _settings(tmp_path / "a.ini")
    saved.setValue("virtual_mic", True)
    saved.setValue("buffer", 3)
    saved.setValue("models", ["/m/one.net"])  # a list of one: the file keeps its item alone
    saved.sync()
    again = _settings(tmp_path / "a.ini")
    assert remembered(again, "virtual_mic", bool, False) is True
    assert remembered(again, "buffer", int, 2) == 3
    assert remembered(again, "models", list, []) == ["/m/one.net"]
    assert remembered(again, "backend", str, "sparse") == "sparse"  # never saved
    assert remembered(None, "buffer", int, 2) == 2  # no settings at all (a test, a CLI)


def test_a_hand_edited_file_gives_the_defaults_for_what_it_breaks(tmp_path):
    settings = _settings(tmp_path / "b.ini", "[General]\nbuffer=lots\nvirtual_mic=perhaps\nmodels=\n"
                                              "sharpening=1.5 /m/a.net, own /m/b.net, 99 /m/a.net, x /m/c.net, junk\n")
    assert remembered(settings, "buffer", int, 2) == 2
    assert remembered(settings, "virtual_mic", bool, False) is False
    assert remembered(settings, "models", list, ["default"]) == ["default"]
    # the window's sharpenings: by file, each copy in order; a strength out of range or not a number is the model's own
    assert _remembered_sharpening(settings) == {"/m/a.net": [1.5, None], "/m/b.net": [None], "/m/c.net": [None]}
    one = _settings(tmp_path / "c.ini", "[General]\nsharpening=0.25 /m/a.net\n")  # one entry: kept as text alone
    assert _remembered_sharpening(one) == {"/m/a.net": [0.25]}


def test_a_hand_written_device_name_with_a_comma_is_left_out_not_handed_to_the_engine(tmp_path, capsys):
    """QSettings reads an unquoted comma as a list: `output=c, d` stopped the audio engine ("TypeError: startswith
    first arg must be str or a tuple of str, not list")."""
    settings = _settings(tmp_path / "d.ini", "[General]\noutput=c, d\ninput=HDA Intel PCH: ALC3246 (hw:0,0)\n"
                                              "record_folder=a, b\n")
    assert remembered(settings, "output", str, None) is None
    config = engine_config(AppOptions(models=["x.net"]), settings)
    assert config.output is None and config.input is None and config.file is None
    said = capsys.readouterr().err.splitlines()
    assert said == ["spandex: left out, the saved input device is not one name: HDA Intel PCH: ALC3246 (hw:0, 0) (an "
                    "unquoted comma in the settings file; quote the name)",
                    "spandex: left out, the saved output device is not one name: c, d (an unquoted comma in the "
                    "settings file; quote the name)"]
    good = _settings(tmp_path / "e.ini", '[General]\noutput="c, d"\n')  # quoted, as the app writes it
    assert engine_config(AppOptions(models=["x.net"]), good).output == "c, d"
