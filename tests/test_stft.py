"""Streaming framing against torch.stft / torch.istft (the N-DNS front end, zero-padded edges)."""

import numpy as np
import torch

from engine.constants import HOP, N_BINS, N_FFT
from engine.dsp.stft import LATENCY_SAMPLES, StreamingISTFT, StreamingSTFT, streamed_magnitudes


def test_streaming_frames_equal_torch_stft(real_speech):
    audio = real_speech[: 100 * HOP].astype(np.float64)
    expected = torch.stft(torch.tensor(audio), N_FFT, HOP, window=torch.ones(N_FFT, dtype=torch.float64),
                          center=True, pad_mode="constant", return_complex=True).numpy()
    stft, frames = StreamingSTFT(), []
    for hop in np.concatenate([audio, np.zeros(2 * HOP)]).reshape(-1, HOP):
        frame = stft.push(hop)
        if frame is not None:
            frames.append(frame)
    np.testing.assert_allclose(np.stack(frames, axis=1), expected, atol=1e-9)


def test_streamed_magnitudes_are_the_frames_a_runner_gets(real_speech):
    audio = real_speech[: 100 * HOP + 37].astype(np.float64)  # the partial last hop is left out
    expected = torch.stft(torch.tensor(audio[: 100 * HOP]), N_FFT, HOP, window=torch.ones(N_FFT, dtype=torch.float64),
                          center=True, pad_mode="constant", return_complex=True).abs().numpy()
    frames = streamed_magnitudes(audio)
    assert frames.shape == (99, N_BINS)  # the first hop completes no frame
    np.testing.assert_allclose(frames, expected[:, :99].T, atol=1e-9)
    assert streamed_magnitudes(np.zeros(HOP)).shape == (0, N_BINS)


def test_analysis_then_synthesis_gives_the_input_back_delayed(real_speech):
    audio = real_speech[: 60 * HOP].astype(np.float64)
    stft, istft = StreamingSTFT(), StreamingISTFT()
    out = [istft.push(stft.push(hop)) for hop in np.concatenate([audio, np.zeros(LATENCY_SAMPLES)]).reshape(-1, HOP)]
    out = np.concatenate(out)
    np.testing.assert_allclose(out[LATENCY_SAMPLES:], audio, atol=1e-9)
    np.testing.assert_array_equal(out[:LATENCY_SAMPLES - 2 * HOP], 0.0)
