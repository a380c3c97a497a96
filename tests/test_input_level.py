"""Input levelling (engine/dsp/level.py): a levelled model denoises a quiet and a loud microphone alike.

- the step function: the first frame sets the level, it rises fast and falls slowly, gains are exact
  powers of 2^(1/8) within their limits, and a whole batch gets the gains a stream gets frame by frame;
- level invariance: a levelled model's output for the input scaled by 2^(k/8) is the output scaled by the
  same factor, sample for sample (an unlevelled model's is not: the control);
- every path agrees: dense and sparse backends, the live denoiser, the training graph; netx files keep
  the setting (and lava-dl still reads them); a training run can add it and its card says so.
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest
import torch

from engine.backends import prepare
from engine.denoiser import denoise
from engine.dsp.level import LevelNormaliser, LevelParams, frame_gains, frame_power, initial_state, step
from engine.dsp.stft import LATENCY_SAMPLES
from engine.errors import ModelFileError
from engine.files.netx import LEVEL_ATTRIBUTE, load_model, save_netx
from engine.lava_compat import import_netx
from engine.library.card import card_lines
from engine.live.denoiser import LiveDenoiser
from engine.training.graph import SDNNGraph
from tests.live_paths import heard
from tests.reference_models import reference_path

PARAMS = LevelParams()


@pytest.fixture(scope="module")
def plain():
    return load_model(reference_path("spandex_prune75.net"))


@pytest.fixture(scope="module")
def levelled(plain):
    return dataclasses.replace(plain, encoder=dataclasses.replace(plain.encoder, level=PARAMS))


def test_the_first_frame_sets_the_level_then_it_rises_fast_and_falls_slowly():
    target = 10 ** (PARAMS.target_db / 10)
    gain, state = step(np.array(target), initial_state(), PARAMS)
    assert gain == 1.0 and state.level == pytest.approx(target)
    # 20 dB louder for 25 frames (0.2 s): the gain comes down most of the way
    for _ in range(25):
        gain, state = step(np.array(target * 100), state, PARAMS)
    assert 10 * np.log10(state.level / target) > 15
    assert gain < 10 ** (-14 / 20)
    # back to the target for 25 frames: the gain has barely moved up
    louder_gain = gain
    for _ in range(25):
        gain, state = step(np.array(target), state, PARAMS)
    assert gain < louder_gain * 10 ** (5 / 20)


def test_gains_are_exact_eighth_octaves_within_their_limits():
    powers = 10.0 ** np.linspace(-8, 6, 300)
    gains, _ = step(powers, initial_state(powers.size), PARAMS)
    steps = np.round(np.log2(gains) * 8)
    np.testing.assert_array_equal(gains, 2.0 ** (steps / 8))
    assert gains.max() == 2 ** (np.floor(PARAMS.max_gain_db / 20 / np.log10(2) * 8) / 8)
    assert gains.min() == 2 ** (np.ceil(PARAMS.min_gain_db / 20 / np.log10(2) * 8) / 8)
    silent, _ = step(np.zeros(1), initial_state(1), PARAMS)  # silence is raised by the most, not more
    assert silent[0] == gains.max()


def test_a_batch_gets_the_gains_a_stream_gets_frame_by_frame():
    rng = np.random.default_rng(0)
    frames = rng.random((3, 200, 257)) ** 3 * rng.uniform(0.01, 30, size=(3, 1, 1))
    batch = frame_gains(frame_power(frames), PARAMS)
    for row in range(3):
        stream = LevelNormaliser(PARAMS)
        for t in range(200):
            scaled = stream.scale(np.ascontiguousarray(frames[row, t]))
            assert stream.gain == batch[row, t]
            np.testing.assert_array_equal(scaled, frames[row, t] * batch[row, t])


@pytest.mark.parametrize("factor", [0.25, 2.0], ids=["-12dB", "+6dB"])
def test_a_levelled_model_denoises_a_scaled_input_into_the_scaled_output(plain, real_speech, factor):
    """Scaled by a power of two, every magnitude scales exactly; the gain then undoes it exactly, as long as
    it stays inside its limits (wide here: a stream's first frame, mostly the STFT's zero padding, is quiet)."""
    wide = LevelParams(max_gain_db=80, min_gain_db=-80)
    levelled = dataclasses.replace(plain, encoder=dataclasses.replace(plain.encoder, level=wide))
    audio = real_speech[: 4 * 16000] * 0.3
    reference = denoise(audio, prepare(levelled, "sparse")).audio.astype(np.float64)
    scaled = denoise(audio * factor, prepare(levelled, "sparse")).audio.astype(np.float64)
    np.testing.assert_allclose(scaled, reference * factor, rtol=0, atol=1e-6 * factor)
    # the control: without levelling the same model hears a different input and answers differently
    plain_out = denoise(audio, prepare(plain, "sparse")).audio.astype(np.float64)
    plain_scaled = denoise(audio * factor, prepare(plain, "sparse")).audio.astype(np.float64)
    assert np.max(np.abs(plain_scaled - plain_out * factor)) > 100 * 1e-6 * factor


def test_dense_sparse_and_live_paths_agree_on_a_levelled_model(levelled, real_speech):
    audio = real_speech[: 2 * 16000] * 0.05  # quiet: the levelling raises it
    dense = denoise(audio, prepare(levelled, "dense")).audio
    sparse = denoise(audio, prepare(levelled, "sparse")).audio
    np.testing.assert_array_equal(dense, sparse)
    live = LiveDenoiser()
    live.add_model(prepare(levelled, "sparse"))
    out = heard(live, 0, audio)
    assert np.array_equal(out[LATENCY_SAMPLES:], sparse[: out.size - LATENCY_SAMPLES])


def test_the_training_graph_levels_as_the_streaming_engine_does(levelled):
    generator = torch.Generator().manual_seed(3)
    x = torch.rand(1, 257, 160, generator=generator, dtype=torch.float64) ** 3 * 0.05  # a quiet input
    graph = SDNNGraph.from_model(levelled).double()
    assert graph.input_level == PARAMS
    masks = torch.relu(graph(x).y + 1)[0].detach().numpy()
    runner, front = prepare(levelled, "dense"), LevelNormaliser(PARAMS)
    frames = np.ascontiguousarray(x[0].numpy().T)
    streamed = np.stack([runner.step(front.scale(frame))[0] for frame in frames], axis=1)
    np.testing.assert_array_equal(streamed, masks)
    assert graph.to_model().encoder.level == PARAMS


@pytest.mark.filterwarnings("ignore:Found max delay")  # netx clamps the one delay of 64 to 62
def test_netx_files_keep_the_levelling_and_lava_dl_still_reads_them(levelled, tmp_path):
    read_by_netx = save_netx(levelled, tmp_path / "netx.net")
    assert len(import_netx().hdf5.Network(net_config=str(read_by_netx)).layers) == 4
    path = save_netx(levelled, tmp_path / "levelled.net")
    assert load_model(path).encoder == levelled.encoder
    with h5py.File(path, "a") as handle:
        handle["layer/0"].attrs[LEVEL_ATTRIBUTE] = '{"target_db": -1, "attack_frames": 0}'
    with pytest.raises(ModelFileError, match="levelled.net: unreadable input levelling settings"):
        load_model(path)


def test_the_card_says_the_input_is_levelled():
    card = {"name": "m", "input_level": PARAMS.to_dict()}
    line = next(line for line in card_lines(card) if line.startswith("input: "))
    assert "quiet and loud microphones are denoised alike" in line
    assert "-1 dB mean |STFT|² per bin" in line and "attack 0.1 s, release 2 s, gain -18 … +30 dB" in line
    brief = next(line for line in card_lines(card, brief_stages=True) if line.startswith("input: "))  # the app's
    assert brief == "input: levelled — quiet and loud microphones are denoised alike (gain -18 … +30 dB)"
