"""The live denoiser: every loaded model runs on every hop; one is heard, switches crossfade.

:class:`LiveDenoiser` is the DSP of the live app, apart from any audio device or thread: one shared
STFT analysis, then for each model slot its runner and its own inverse STFT, plus a bypass path
(mask 1: the input, delayed by the same 384 samples). Because every model runs on every hop, each
model's state is always warm and switching is instant; the switch crossfades over
:data:`CROSSFADE_SAMPLES` so it does not click. With one model heard and no switch, the output is
exactly :class:`engine.denoiser.StreamingDenoiser`'s, and so equal to :func:`engine.denoiser.denoise`
after its 384-sample lag. A runner that answers late (``latency_frames``) has its masks paired with the
spectra they belong to: its slot is heard that many hops later. The engine loads Lava models as
:class:`engine.live.paced.PacedRunner` (Lava on a thread of its own, a CPU twin keeping the audio
going when Lava is late: heard two hops later); each hop's record says how fast Lava runs and whether
the twin's mask was used.

Per hop it fills one :data:`engine.live.record.FRAME_DTYPE` record (spectra, levels, per-model
SynOps, timings, the displayed model's spikes).

Not thread-safe: one thread (the engine's worker) calls everything. Allocates: not for the callback.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from engine.backends import Runner
from engine.constants import BYPASS, DB_FLOOR, HOP, N_BINS, N_FFT, SAMPLE_RATE
from engine.denoiser import front_end
from engine.dsp.level import LevelNormaliser
from engine.dsp.stft import ALGORITHMIC_LATENCY_S, StreamingISTFT, StreamingSTFT
from engine.errors import SpandexError
from engine.live.noise import NoiseInjector
from engine.live.paced import PacedRunner
from engine.live.record import MAX_LAYERS, MAX_MODELS, RASTER_NEURONS, to_db
from engine.snn.mask import sharpened
from engine.snn.model import sharpening_problem
from engine.snn.telemetry import FrameTelemetry

CROSSFADE_SAMPLES = 320
"""20 ms at 16 kHz."""


@dataclass
class ModelSlot:
    runner: Runner
    synthesis: StreamingISTFT
    level: LevelNormaliser | None = None  # the model's input levelling, if it has one
    sharpening: float = 0.0  # its mask's (engine/snn/mask.py): the model's own until its user sets another
    last: FrameTelemetry | None = None
    spectrum: np.ndarray | None = None  # this hop's masked spectrum
    cpu_ns: int = 0
    # spectra whose masks a late runner (latency_frames > 0: the Lava backend) has not given yet
    waiting: deque = field(default_factory=deque)


class TapRecorder:
    """Keeps the input (after noise injection) and output hops for :meth:`LiveDenoiser.record_stop`."""

    def __init__(self, max_seconds: float) -> None:
        self.max_hops = int(max_seconds * SAMPLE_RATE / HOP)
        self.inputs: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []

    def add(self, hop_in: np.ndarray, hop_out: np.ndarray) -> None:
        if len(self.inputs) < self.max_hops:
            self.inputs.append(hop_in.astype(np.float32))
            self.outputs.append(hop_out.copy())


def heard_after_removal(playing: int, removed: int, left: int) -> int:
    """The slot heard once slot ``removed`` is gone and ``left`` models remain: the same model, renumbered; the first
    one where the one heard was removed (:data:`BYPASS` if none is left)."""
    if playing == removed:
        return 0 if left else BYPASS
    return playing - 1 if playing > removed else playing


class LiveDenoiser:
    """All loaded models on one input stream; ``process`` one 128-sample hop at a time."""

    def __init__(self) -> None:
        self.analysis = StreamingSTFT()
        self.bypass = StreamingISTFT()
        self.slots: list[ModelSlot] = []
        self.noise = NoiseInjector()
        self.playing = BYPASS
        self.models_version = 0  # counts loads and removals (each record carries it: engine/live/record.py)
        self.fading_from: int | None = None
        self.fade_position = 0
        self.recorder: TapRecorder | None = None
        self.hops = 0
        self._magnitude = np.zeros(N_BINS)
        self._fade = np.linspace(0.0, 1.0, CROSSFADE_SAMPLES + 1)[1:]

    # --- control (between hops) ------------------------------------------------------------------

    def add_model(self, runner: Runner) -> int:
        """Add a model slot (its state starts fresh; it is warm a few hops later). Returns its index."""
        if len(self.slots) >= MAX_MODELS:
            raise SpandexError(f"at most {MAX_MODELS} models can be loaded at once: remove one first")
        if runner.model.n_bins != N_BINS:
            raise SpandexError(f"{runner.model.name} takes {runner.model.n_bins} inputs; the live STFT "
                               f"gives {N_BINS} bins (n_fft {N_FFT})")
        if len(runner.model.neuron_counts) - 1 > MAX_LAYERS:
            raise SpandexError(f"{runner.model.name} has more than {MAX_LAYERS} encoding layers")
        self.slots.append(ModelSlot(runner, StreamingISTFT(), level=front_end(runner),
                                    sharpening=runner.model.decoder.sharpening))
        self.models_version += 1
        if self.playing == BYPASS and len(self.slots) == 1:
            self.playing = 0
        return len(self.slots) - 1

    def remove_model(self, index: int) -> None:
        if not 0 <= index < len(self.slots):  # (a GUI that has not yet heard of an earlier removal)
            raise SpandexError(f"no model in slot {index + 1}")
        self.slots[index].runner.close()  # the Lava backend stops its processes
        del self.slots[index]
        self.models_version += 1  # the slots after it are other models now
        self.playing = heard_after_removal(self.playing, index, len(self.slots))
        self.fading_from = None

    def set_sharpening(self, index: int, sharpening: float) -> None:
        """Sharpen slot ``index``'s mask by ``sharpening`` from its next hop on (0: the network's own mask; the model
        loaded with its own, engine/snn/mask.py). Raises :class:`SpandexError` for a slot not there or a strength
        outside 0 … MAX_SHARPENING."""
        if not 0 <= index < len(self.slots):
            raise SpandexError(f"no model in slot {index + 1}")
        problem = sharpening_problem(sharpening)
        if problem:
            raise SpandexError(problem)
        self.slots[index].sharpening = float(sharpening)

    def close(self) -> None:
        """Close every runner (Lava's stop their processes); the slots are gone afterwards."""
        while self.slots:
            self.remove_model(len(self.slots) - 1)

    def select(self, index: int) -> None:
        """Hear slot ``index`` (:data:`BYPASS` for the unprocessed input), crossfading from the current."""
        if index != BYPASS and not 0 <= index < len(self.slots):
            raise SpandexError(f"no model in slot {index + 1}")
        if index == self.playing:
            return
        self.fading_from = self.playing
        self.fade_position = 0
        self.playing = index

    def reset(self) -> None:
        """Start over: framing buffers, every network's state, the noise tracker."""
        self.analysis.reset()
        self.bypass.reset()
        for slot in self.slots:
            slot.synthesis.reset()
            slot.runner.reset()
            if slot.level is not None:
                slot.level.reset()
            slot.waiting.clear()
            slot.last = None
        self.noise.reset()
        self.fading_from = None

    def record_start(self, max_seconds: float = 600.0) -> None:
        self.recorder = TapRecorder(max_seconds)

    def record_stop(self) -> tuple[np.ndarray, np.ndarray]:
        """Stop recording; return (input, output) at 16 kHz: output lags input by 384 samples."""
        recorder, self.recorder = self.recorder, None
        if recorder is None or not recorder.inputs:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        return np.concatenate(recorder.inputs), np.concatenate(recorder.outputs)

    @property
    def latency_s(self) -> float:
        """Algorithmic latency of what is heard: the STFT's, plus the hops a late runner answers later."""
        late = self.slots[self.playing].runner.latency_frames if self.playing != BYPASS else 0
        return ALGORITHMIC_LATENCY_S + late * HOP / SAMPLE_RATE

    @property
    def shown(self) -> int:
        """The slot whose spikes are displayed: the one heard, else the first."""
        if self.playing != BYPASS:
            return self.playing
        return 0 if self.slots else BYPASS

    # --- the hop ---------------------------------------------------------------------------------

    def process(self, hop: np.ndarray, record: np.void | None = None) -> np.ndarray:
        """Denoise one 128-sample hop (16 kHz); return 128 float32 samples; fill ``record`` if given."""
        start = time.perf_counter_ns()
        hop = self.noise.process(np.asarray(hop, dtype=np.float64))
        spectrum = self.analysis.push(hop)
        outputs = []
        magnitude = None if spectrum is None else np.abs(spectrum)
        for slot in self.slots:
            if magnitude is None:
                outputs.append(slot.synthesis.push(None))
                slot.last = None
                continue
            cpu = time.thread_time_ns()
            heard = magnitude if slot.level is None else slot.level.scale(magnitude)
            mask, telemetry = slot.runner.step(heard)
            if mask is not None:  # (a late runner's first answers are None)
                mask = sharpened(mask, slot.sharpening)
            slot.cpu_ns = time.thread_time_ns() - cpu
            slot.last = telemetry
            masked = spectrum
            if slot.runner.latency_frames:  # its mask is for a frame L hops back: pair them up
                slot.waiting.append(spectrum)
                masked = slot.waiting.popleft() if len(slot.waiting) > slot.runner.latency_frames else None
            slot.spectrum = None if masked is None else masked * mask
            outputs.append(slot.synthesis.push(slot.spectrum))
        bypassed = self.bypass.push(spectrum)
        out = self._mix(outputs, bypassed).astype(np.float32)
        if self.recorder is not None:
            self.recorder.add(hop, out)
        if record is not None:
            self._fill(record, spectrum, hop, out, start)
        self.hops += 1
        return out

    def _heard(self, index: int, outputs: list[np.ndarray], bypassed: np.ndarray) -> np.ndarray:
        return bypassed if index == BYPASS or index >= len(outputs) else outputs[index]

    def _mix(self, outputs: list[np.ndarray], bypassed: np.ndarray) -> np.ndarray:
        new = self._heard(self.playing, outputs, bypassed)
        if self.fading_from is None:
            return new
        old = self._heard(self.fading_from, outputs, bypassed)
        gain = np.ones(HOP)
        ramp = self._fade[self.fade_position:self.fade_position + HOP]
        gain[:ramp.size] = ramp
        self.fade_position += HOP
        if self.fade_position >= CROSSFADE_SAMPLES:
            self.fading_from = None
        return old + gain * (new - old)

    def _fill(self, record: np.void, spectrum: np.ndarray | None, hop: np.ndarray, out: np.ndarray,
              start: int) -> None:
        record["hop"] = self.hops
        record["t"] = time.monotonic()
        record["playing"] = self.playing
        shown = self.shown
        record["shown"] = shown
        record["models_version"] = self.models_version
        record["in_peak"] = float(np.max(np.abs(hop)))
        record["out_peak"] = float(np.max(np.abs(out)))
        noise_db = self.noise.level_dbfs
        record["noise_db"] = noise_db if math.isfinite(noise_db) else -np.inf
        for name in ("synops", "synops_dense", "neuronops", "compute_ns", "cpu_ns", "events", "fallback"):
            record[name] = 0
        record["realtime"] = np.nan
        for index, slot in enumerate(self.slots):
            if isinstance(slot.runner, PacedRunner):
                record["realtime"][index] = slot.runner.speed
                record["fallback"][index] = slot.runner.fallback
        if spectrum is None:
            record["in_db"] = DB_FLOOR
            record["out_db"] = DB_FLOOR
            record["fired"] = 0
        else:
            np.abs(spectrum, out=self._magnitude)
            to_db(self._magnitude, record["in_db"])
            heard = self.slots[self.playing].spectrum if self.playing != BYPASS else spectrum
            if heard is None:  # a late runner's first hop: nothing to hear yet
                record["out_db"] = DB_FLOOR
            else:
                np.abs(heard, out=self._magnitude)
                to_db(self._magnitude, record["out_db"])
            for index, slot in enumerate(self.slots):
                t = slot.last
                if t is None:
                    continue
                record["synops"][index] = t.synops
                record["synops_dense"][index] = t.synops_dense
                record["neuronops"][index] = t.neuronops
                record["compute_ns"][index] = t.compute_ns
                record["cpu_ns"][index] = slot.cpu_ns
                record["events"][index, :len(t.events)] = t.events
            last = self.slots[shown].last if shown != BYPASS else None
            if last is None:
                record["fired"] = 0
            else:
                bits = np.concatenate(last.fired)[:RASTER_NEURONS]
                packed = np.packbits(bits)
                record["fired"][:packed.size] = packed
                record["fired"][packed.size:] = 0
        record["worker_ns"] = time.perf_counter_ns() - start
