"""engine.live.record: PortAudio's status bits by name, and the shared block's layout."""

from __future__ import annotations

import numpy as np
import sounddevice as sd

from engine.live.protocol import EngineConfig
from engine.live.record import (
    CALLBACK_DTYPE,
    COUNTERS,
    FRAME_DTYPE,
    PA_FLAGS,
    PA_INPUT_OVERFLOW,
    PA_INPUT_UNDERFLOW,
    PA_OUTPUT_OVERFLOW,
    PA_OUTPUT_UNDERFLOW,
    PA_XRUNS,
    RING_LATE,
    SharedBlock,
    status_bits,
    xruns,
)


def test_named_bits_are_portaudios():
    lib = sd._lib  # PortAudio's own constants, as the library sounddevice loaded declares them
    assert (PA_INPUT_UNDERFLOW, PA_INPUT_OVERFLOW, PA_OUTPUT_UNDERFLOW, PA_OUTPUT_OVERFLOW) == (
        lib.paInputUnderflow, lib.paInputOverflow, lib.paOutputUnderflow, lib.paOutputOverflow)
    assert RING_LATE & (PA_XRUNS | lib.paPrimingOutput) == 0  # SPANDEX's own bit is no PortAudio bit


def test_status_bits_read_every_flag_through_the_public_properties():
    assert status_bits(sd.CallbackFlags()) == 0
    for bit, _ in PA_FLAGS:
        assert status_bits(sd.CallbackFlags(bit)) == bit
    assert status_bits(sd.CallbackFlags(PA_XRUNS | sd._lib.paPrimingOutput)) == PA_XRUNS


def test_shared_block_lays_counters_and_rings_out_apart():
    config = EngineConfig(frame_ring=8, callback_ring=16)
    buffer = bytearray(SharedBlock.nbytes(config))
    block = SharedBlock(buffer, config)
    block.counters[:] = np.arange(len(COUNTERS))
    record = block.frames.claim()
    record["hop"] = 7
    block.frames.publish()
    timing = block.callbacks.claim()
    timing["frames"] = 128
    block.callbacks.publish()
    again = SharedBlock(buffer, config)  # what the other process maps
    assert list(again.counters) == list(range(len(COUNTERS)))
    assert again.frames.read_new()["hop"].tolist() == [7]
    assert again.callbacks.read_new()["frames"].tolist() == [128]
    assert FRAME_DTYPE.itemsize > 0 and CALLBACK_DTYPE.itemsize > 0
    assert xruns(again.counters) == int(again.counters[1:5].sum() + again.counters[COUNTERS.index("device_gaps")])
