"""The live DSP without devices: several models on one stream, switching, bypass, noise, telemetry."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backends import prepare
from engine.constants import BYPASS, HOP
from engine.denoiser import denoise
from engine.dsp.mixing import active_rms
from engine.dsp.stft import LATENCY_SAMPLES
from engine.errors import SpandexError
from engine.files.netx import load_model
from engine.live.denoiser import CROSSFADE_SAMPLES, LiveDenoiser
from engine.live.record import FRAME_DTYPE, MAX_MODELS, unpack_fired
from tests.reference_models import reference_path

NETS = ("ndns_baseline", "spandex_prune50", "spandex_prune75")


@pytest.fixture(scope="module")
def models():
    return [load_model(reference_path(f"{name}.net")) for name in NETS]


def run(live: LiveDenoiser, audio: np.ndarray, switch: dict[int, int] | None = None):
    """Stream ``audio`` hop by hop; ``switch`` = {hop index: slot}. Returns output and the records."""
    hops = audio[: audio.size // HOP * HOP].reshape(-1, HOP)
    records = np.zeros(len(hops), FRAME_DTYPE)
    out = []
    for k, hop in enumerate(hops):
        if switch and k in switch:
            live.select(switch[k])
        out.append(live.process(hop, records[k]))
    return np.concatenate(out), records


def test_each_model_equals_offline_denoise_while_all_run(models, real_speech):
    audio = real_speech[: 3 * 16000]
    live = LiveDenoiser()
    for model in models:
        live.add_model(prepare(model))
    for slot, model in enumerate(models):
        live.reset()
        live.select(slot)
        live.fading_from = None  # no crossfade: hear this model from the first sample
        out, records = run(live, audio)
        reference = denoise(audio, prepare(model)).audio
        assert np.array_equal(out[LATENCY_SAMPLES:], reference[: out.size - LATENCY_SAMPLES])
        assert np.all(records["playing"][1:] == slot)
        # every model ran on every hop: each reports its own SynOps
        assert np.all(records["synops"][2:, : len(models)] > 0)


def test_bypass_is_the_input_delayed(models, real_speech):
    audio = real_speech[: 16000]
    live = LiveDenoiser()
    live.add_model(prepare(models[0]))
    live.select(BYPASS)
    live.fading_from = None
    out, records = run(live, audio)
    n = out.size - LATENCY_SAMPLES
    assert np.allclose(out[LATENCY_SAMPLES + 256:], audio[256:n], atol=1e-6)  # after the first frames
    assert np.array_equal(records["in_db"][5:], records["out_db"][5:])


def test_switch_crossfades_without_a_jump(models, real_speech):
    audio = real_speech[: 2 * 16000]
    live = LiveDenoiser()
    for model in models[:2]:
        live.add_model(prepare(model))
    live.select(0)
    live.fading_from = None
    switch_hop = 100
    out, records = run(live, audio, {switch_hop: 1})
    a = denoise(audio, prepare(models[0])).audio
    b = denoise(audio, prepare(models[1])).audio
    start = switch_hop * HOP
    end = start + CROSSFADE_SAMPLES
    lag = LATENCY_SAMPLES
    assert np.allclose(out[lag:start], a[: start - lag], atol=1e-6)
    assert np.allclose(out[end + HOP:], b[end + HOP - lag: out.size - lag], atol=1e-6)
    fade = out[start:end]
    gain = np.linspace(0, 1, CROSSFADE_SAMPLES + 1)[1:]
    expected = a[start - lag:end - lag] + gain * (b[start - lag:end - lag] - a[start - lag:end - lag])
    assert np.allclose(fade, expected, atol=1e-6)
    # no click: the largest step inside the fade is no larger than the signals' own steps
    assert np.max(np.abs(np.diff(fade))) <= 1.05 * max(np.max(np.abs(np.diff(a))), np.max(np.abs(np.diff(b))))
    assert records["playing"][switch_hop] == 1


def test_telemetry_record_matches_the_runner(models, real_speech):
    audio = real_speech[: 16000]
    live = LiveDenoiser()
    live.add_model(prepare(models[2]))
    solo = prepare(models[2])
    _, records = run(live, audio)
    spikes = []
    from engine.dsp.stft import StreamingSTFT
    stft = StreamingSTFT()
    for hop in audio[: audio.size // HOP * HOP].reshape(-1, HOP):
        spectrum = stft.push(hop.astype(np.float64))
        spikes.append(None if spectrum is None else solo.step(np.abs(spectrum))[1])
    for record, telemetry in zip(records[1:], spikes[1:]):
        assert record["synops"][0] == telemetry.synops
        assert record["neuronops"][0] == telemetry.neuronops
        assert list(record["events"][0, :3]) == list(telemetry.events)
        fired = unpack_fired(record, 1281)
        assert np.array_equal(fired, np.concatenate(telemetry.fired))
    assert records["synops"][:, 1:].sum() == 0


def test_noise_injection_sets_the_snr(real_speech):
    live = LiveDenoiser()
    live.noise.set("pink", 10.0)
    audio = real_speech[: 6 * 16000].astype(np.float64)
    noisy = np.concatenate([live.noise.process(h) for h in audio[: audio.size // HOP * HOP].reshape(-1, HOP)])
    noise = noisy - audio[: noisy.size]
    measured = 20 * np.log10(active_rms(audio[16000:noisy.size]) / np.sqrt(np.mean(noise[16000:] ** 2)))
    assert 7.0 < measured < 13.0  # the level tracker follows the speech's active level
    live.noise.set(None, 10.0)
    hop = audio[:HOP]
    assert live.noise.process(hop) is hop


@pytest.mark.parametrize("kind", ["white", "fan", "babble", "cafe", "keyboard"])
def test_every_noise_bed_loads(kind):
    live = LiveDenoiser()
    live.noise.set(kind, 0.0)
    assert abs(np.sqrt(np.mean(live.noise.bed.astype(np.float64) ** 2)) - 1.0) < 1e-3


def test_slots_are_limited_and_checked(models):
    live = LiveDenoiser()
    for _ in range(MAX_MODELS):
        live.add_model(prepare(models[2]))
    with pytest.raises(SpandexError, match="at most"):
        live.add_model(prepare(models[2]))
    with pytest.raises(SpandexError, match="no model in slot"):
        live.select(MAX_MODELS)
    live.select(4)
    live.remove_model(2)
    assert live.playing == 3


def test_a_slots_numbers_after_a_removal_are_its_new_models_alone(models, noisy_speech):
    """Removing slot 0 moves slot 1's model up: the last second of slot 0's numbers held the removed model's hops
    (the A/B table showed them for 1-2 s); each record says which models it was made with."""
    from app.plots.frame_history import FrameHistory

    live = LiveDenoiser()
    live.add_model(prepare(models[0]))  # the dense official net: many SynOps
    live.add_model(prepare(models[2]))  # a pruned one: fewer
    history = FrameHistory()
    hops = noisy_speech[0][: 200 * HOP].reshape(-1, HOP)
    before = np.zeros(100, FRAME_DTYPE)
    for k in range(100):
        live.process(hops[k], before[k])
    history.extend(before)
    live.remove_model(0)
    after = np.zeros(20, FRAME_DTYPE)
    for k in range(20):
        live.process(hops[100 + k], after[k])
    history.extend(after)
    assert after["models_version"][-1] == before["models_version"][-1] + 1
    summary = history.model_summary(0, [257, 512, 512])
    assert summary["synops"] == pytest.approx(after["synops"][:, 0].mean())
    assert before["synops"][-50:, 0].mean() > 1.5 * summary["synops"]  # (the removed model's would have counted)
