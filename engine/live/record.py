"""What the live engine publishes, hop by hop, for the GUI: fixed-layout records in shared memory.

:class:`SharedBlock` lays the counters and both rings out in one buffer that the engine and the GUI
process both map (:mod:`engine.live.host` makes it a memory-mapped file).

One :data:`FRAME_DTYPE` record per 8 ms hop (the worker writes it into a
:class:`engine.live.ring.RecordRing`), one :data:`CALLBACK_DTYPE` record per audio callback, and an int64
array of running :data:`COUNTERS`. Fixed sizes keep the rings allocation-free:
up to :data:`MAX_MODELS` models, :data:`MAX_LAYERS` encoding layers (input encoder + hidden layers),
and a spike raster of the first :data:`RASTER_NEURONS` encoding neurons of the model on display.
"""

from __future__ import annotations

import numpy as np
import sounddevice

from engine.constants import DB_FLOOR, N_BINS
from engine.live.protocol import EngineConfig
from engine.live.ring import RecordRing

MAX_MODELS = 9
"""Models loaded at once (keys 1-9 select them)."""

MAX_LAYERS = 6
RASTER_NEURONS = 2048
"""Encoding neurons shown in the raster (257 + 512 + 512 = 1281 for the N-DNS network)."""

FRAME_DTYPE = np.dtype([
    ("hop", np.int64),               # hops processed since the engine started
    ("t", np.float64),               # engine time (time.monotonic) when the hop was processed
    ("playing", np.int16),           # model slot heard now (-1: bypass)
    ("shown", np.int16),             # model slot whose spikes are in `fired` (-1: none)
    ("models_version", np.uint32),   # counts loads and removals: the slots' numbers meant other models before
    ("in_db", np.float32, (N_BINS,)),   # |input spectrum| in dB (after noise injection)
    ("out_db", np.float32, (N_BINS,)),  # |output spectrum| in dB (what the listener hears)
    ("in_peak", np.float32),         # peak |sample| of the input hop
    ("out_peak", np.float32),
    ("worker_ns", np.int64),         # wall time of the whole hop in the worker
    ("synops", np.int64, (MAX_MODELS,)),
    ("synops_dense", np.int64, (MAX_MODELS,)),
    ("neuronops", np.int64, (MAX_MODELS,)),
    ("compute_ns", np.int64, (MAX_MODELS,)),   # wall time of the network step
    ("cpu_ns", np.int64, (MAX_MODELS,)),       # thread CPU time of the network step
    ("realtime", np.float32, (MAX_MODELS,)),   # paced slots (Lava): its speed, × real time (else NaN)
    ("fallback", np.int8, (MAX_MODELS,)),      # paced slots: engine.live.paced.Fallback of this hop
    ("events", np.int32, (MAX_MODELS, MAX_LAYERS)),
    ("fired", np.uint8, (RASTER_NEURONS // 8,)),  # packed bits: did neuron i of `shown` spike?
    ("noise_db", np.float32),        # injected noise level in dBFS (-inf: none)
    ("out_ring_samples", np.int32),  # output jitter buffer fill, at the device rate
])

CALLBACK_DTYPE = np.dtype([
    ("t", np.float64),
    ("duration_ns", np.int64),       # time spent inside the audio callback
    ("frames", np.int32),
    ("flags", np.int32),             # PortAudio's status bits (PA_FLAGS) | RING_LATE
])

COUNTERS = ("callbacks", "input_underflow", "input_overflow", "output_underflow", "output_overflow",
            "ring_late", "latency_trims", "input_dropped", "device_gaps", "clock_late", "hops", "device_losses")
"""Running counts, an int64 each, in this order (``ring_late``: callbacks that found the output ring
short because the worker was late; ``latency_trims``: times the callback dropped output that had
piled up after late hops, to bring the latency back to its target; ``input_dropped``: input samples
lost because the input ring was full (the worker stalled for seconds); ``device_gaps``: callbacks
whose stream time jumped by more than 1.5 blocks — cycles the sound server skipped this client, for
which PortAudio sets no status flag under PipeWire's JACK (measured); ``clock_late``: internal-clock ticks more than a hop late)."""
CALLBACKS, INPUT_UNDERFLOW, INPUT_OVERFLOW, OUTPUT_UNDERFLOW, OUTPUT_OVERFLOW, RING_LATE_COUNT, \
    LATENCY_TRIMS, INPUT_DROPPED, DEVICE_GAPS, CLOCK_LATE, HOPS, DEVICE_LOSSES = range(len(COUNTERS))

PA_INPUT_UNDERFLOW = 1
"""PortAudio's ``paInputUnderflow`` status bit (the values are PortAudio's ABI; tests/test_live_record.py checks them)."""
PA_INPUT_OVERFLOW = 2
"""``paInputOverflow``: input data was discarded by PortAudio."""
PA_OUTPUT_UNDERFLOW = 4
"""``paOutputUnderflow``: the device played silence the callback did not give it in time."""
PA_OUTPUT_OVERFLOW = 8
"""``paOutputOverflow``."""
RING_LATE = 256
"""SPANDEX's own flag bit, beside PortAudio's: the output ring held less than the callback needed (the
worker was late)."""

PA_FLAGS = ((PA_INPUT_UNDERFLOW, INPUT_UNDERFLOW), (PA_INPUT_OVERFLOW, INPUT_OVERFLOW),
            (PA_OUTPUT_UNDERFLOW, OUTPUT_UNDERFLOW), (PA_OUTPUT_OVERFLOW, OUTPUT_OVERFLOW))
"""PortAudio's callback status bits and the counters they go to."""
PA_XRUNS = PA_INPUT_UNDERFLOW | PA_INPUT_OVERFLOW | PA_OUTPUT_UNDERFLOW | PA_OUTPUT_OVERFLOW
"""Every PortAudio bit that means an xrun (over- or underflow, either direction)."""


def status_bits(status: sounddevice.CallbackFlags) -> int:
    """sounddevice's status object as PortAudio's bits, read through its public properties.

    Callback-safe: no allocation beyond small ints."""
    bits = 0
    if status.input_underflow:
        bits |= PA_INPUT_UNDERFLOW
    if status.input_overflow:
        bits |= PA_INPUT_OVERFLOW
    if status.output_underflow:
        bits |= PA_OUTPUT_UNDERFLOW
    if status.output_overflow:
        bits |= PA_OUTPUT_OVERFLOW
    return bits


def xruns(counters: np.ndarray) -> int:
    """Stream xruns: PortAudio's status flags (over- and underflows, both directions) plus the device
    gaps (skipped cycles that PortAudio does not flag)."""
    return int(counters[[INPUT_UNDERFLOW, INPUT_OVERFLOW, OUTPUT_UNDERFLOW, OUTPUT_OVERFLOW, DEVICE_GAPS]].sum())


def unpack_fired(record: np.void, n_neurons: int) -> np.ndarray:
    """The ``fired`` bits of one record as bools, for the first ``n_neurons`` neurons."""
    return np.unpackbits(record["fired"], count=min(n_neurons, RASTER_NEURONS)).astype(bool)


def to_db(magnitude: np.ndarray, out: np.ndarray) -> None:
    """Write ``20·log10(magnitude)`` into ``out``, floored at :data:`DB_FLOOR`."""
    np.maximum(magnitude, 10.0 ** (DB_FLOOR / 20.0), out=magnitude)
    out[:] = 20.0 * np.log10(magnitude)


class SharedBlock:
    """The engine's counters and telemetry rings, laid out in one buffer the GUI process can map."""

    def __init__(self, buffer, config: EngineConfig) -> None:
        n = len(COUNTERS) * 8
        self.counters: np.ndarray = np.ndarray((len(COUNTERS),), dtype=np.int64, buffer=buffer, offset=0)
        frames_bytes = RecordRing.nbytes(FRAME_DTYPE, config.frame_ring)
        self.frames = RecordRing(FRAME_DTYPE, config.frame_ring, memoryview(buffer)[n:n + frames_bytes])
        start = n + frames_bytes
        self.callbacks = RecordRing(CALLBACK_DTYPE, config.callback_ring,
                                    memoryview(buffer)[start:start + self.callback_bytes(config)])

    @staticmethod
    def callback_bytes(config: EngineConfig) -> int:
        return RecordRing.nbytes(CALLBACK_DTYPE, config.callback_ring)

    @classmethod
    def nbytes(cls, config: EngineConfig) -> int:
        return (len(COUNTERS) * 8 + RecordRing.nbytes(FRAME_DTYPE, config.frame_ring)
                + cls.callback_bytes(config))
