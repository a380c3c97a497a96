"""The window's words (app/window/status_text.py): plain functions, checked without a window."""

from __future__ import annotations

from pathlib import Path

from app.window import status_text


def test_record_folder_label_shortens_home_and_cuts_a_long_path_at_the_front():
    assert status_text.folder_label(Path.home() / "rec") == "to ~/rec"
    long = Path("/srv") / ("x" * 40) / "takes"
    label = status_text.folder_label(long)
    assert label.startswith("to …") and label.endswith("/takes")
    assert len(label) == len("to ") + status_text.FOLDER_CHARS


def test_no_model_banner_says_why_the_last_model_did_not_load():
    assert status_text.no_model_text("") == status_text.NO_MODEL_TEXT
    assert status_text.no_model_text("Cannot load the model x").endswith("<br>Cannot load the model x")


def test_event_lines():
    assert status_text.recording_line(600.0, Path("/tmp/r")) == "recording (at most 10 min) — files will go to /tmp/r"
    assert status_text.recorded_line(2.5, ("a.wav", "b.wav")) == "recorded 2.5 s: a.wav, b.wav"
    assert '"SPANDEX denoised microphone"' in status_text.virtual_mic_line("SPANDEX denoised microphone")
    assert status_text.device_lost_notice("hw:1 / hw:2").startswith("Audio device lost (hw:1 / hw:2).")
    assert status_text.abx_notice("A and B are the same model").startswith("ABX: A and B are the same model (")
    assert status_text.fps_line(29.6) == "GUI 30 fps"
