"""The streaming engine against lava-dl SLAYER itself, on the real trained reference networks.

Tolerance: none. Spikes are multiples of 2^-12 and weights of 2^-5, so every sum the network forms is
exactly representable (float64 in the engine; and, as measured here, also in slayer's float32 run on
these nets), and thresholds compare exact values: the hop-by-hop engine must give slayer's masks bit for
bit. Whole-file audio differs only by FFT rounding (numpy's FFT vs torch's): below 1e-6.
"""

import numpy as np
import pytest
import torch

from engine.backends import prepare
from engine.constants import HOP, N_FFT
from engine.denoiser import denoise
from engine.files.netx import load_model
from tests.reference_models import REFERENCE_NETS, reference_path
from tests.slayer_reference import offline_denoise, slayer_masks, slayer_network


def magnitudes(audio: np.ndarray) -> np.ndarray:
    spectrum = torch.stft(torch.tensor(audio, dtype=torch.float64), N_FFT, HOP,
                          window=torch.ones(N_FFT, dtype=torch.float64), center=True,
                          pad_mode="constant", return_complex=True)
    return spectrum.abs().numpy()


def streaming_masks(model, magnitude: np.ndarray) -> tuple[np.ndarray, list]:
    runner = prepare(model, "dense")
    masks, telemetry = [], []
    for frame in magnitude.T:
        mask, frame_telemetry = runner.step(frame)
        masks.append(mask)
        telemetry.append(frame_telemetry)
    return np.stack(masks, axis=1), telemetry


@pytest.mark.parametrize("name", REFERENCE_NETS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["slayer-f64", "slayer-f32"])
def test_streaming_masks_equal_slayer_forward(name, dtype, noisy_speech):
    noisy, _ = noisy_speech
    model = load_model(reference_path(f"{name}.net"))
    magnitude = magnitudes(noisy)
    expected = slayer_masks(slayer_network(model, dtype), magnitude, dtype)
    if dtype == torch.float32:  # slayer saw float32 magnitudes: give the engine the same numbers
        magnitude = magnitude.astype(np.float32).astype(np.float64)
    actual, telemetry = streaming_masks(model, magnitude)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)
    # the network really did something on this input: spikes in every layer, masks not all 1
    events = np.sum([t.events for t in telemetry], axis=0)
    assert np.all(events > 0)
    assert np.std(actual) > 0.05


@pytest.mark.parametrize("name", ["ndns_baseline", "spandex_prune75"])
def test_whole_file_streaming_equals_offline_slayer(name, noisy_speech):
    noisy, _ = noisy_speech
    noisy = noisy[: len(noisy) // HOP * HOP]
    model = load_model(reference_path(f"{name}.net"))
    streamed = denoise(noisy, prepare(model, "dense")).audio
    offline = offline_denoise(slayer_network(model), noisy)
    assert streamed.shape == noisy.shape
    assert np.max(np.abs(streamed - offline)) < 1e-6
    # and it denoised: the output is not the input
    assert np.max(np.abs(streamed - noisy)) > 1e-2


def test_reset_restarts_the_stream_exactly(noisy_speech):
    noisy, _ = noisy_speech
    model = load_model(reference_path("spandex_prune50.net"))
    magnitude = magnitudes(noisy[: 200 * HOP])
    runner = prepare(model, "dense")
    first = [runner.step(frame)[0] for frame in magnitude.T]
    runner.reset()
    second = [runner.step(frame)[0] for frame in magnitude.T]
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
