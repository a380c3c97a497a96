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


def test_the_starting_banner_says_what_the_window_waits_for():
    assert status_text.starting_text(3).startswith("<b>Starting the audio engine and loading 3 models…</b>")
    assert "loading 1 model…" in status_text.starting_text(1)
    assert "loading" not in status_text.starting_text(0)


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


def test_stream_line_says_a_missing_device_is_being_looked_for():
    from engine.live import protocol

    event = protocol.StreamChanged(state="no-device", message="no microphone found: playing the demo clip",
                                   rate=16000, input=None, output=None, file="/x/demo.wav", device_latency_s=0.0,
                                   prefill_hops=2, priority="normal")
    line = status_text.stream_line(event)
    assert line.startswith("sound device missing, looking for it: file demo.wav → no output at 16 kHz.")
    assert line.endswith("no microphone found: playing the demo clip")
    # only the microphone missing (the output plays): the line does not say a sound device is, or which
    event = protocol.StreamChanged(state="no-device", message="microphone 'USB mic' not found: playing the demo clip",
                                   rate=48000, input=None, output="headset", file="/x/demo.wav",
                                   device_latency_s=0.0, prefill_hops=2, priority="normal")
    assert status_text.stream_line(event).startswith("microphone missing, looking for it: file demo.wav → headset at "
                                                     "48 kHz (resampled to 16 kHz).")


def test_the_xrun_line_names_the_rarer_glitches_once_they_happen_and_its_tooltip_all():
    from engine.live.record import COUNTERS

    counters = dict.fromkeys(COUNTERS, 0)
    counters.update(callbacks=500, hops=900, output_underflow=2, ring_late=1)
    assert status_text.xrun_line(counters, [120.0], True) == "xruns 2 · worker late 1 · callback p99 120 µs"
    counters.update(latency_trims=3, clock_late=4)
    assert status_text.xrun_line(counters, [], False) == \
        "xruns 2 · worker late 1 · latency trimmed 3 · clock late 4 · clock tick p99 0 µs"
    details = status_text.xrun_details(counters).splitlines()
    assert "output underflow: 2" in details and "device losses: 0" in details and "clock late: 4" in details
    assert not any(line.startswith(("callbacks", "hops")) for line in details)
