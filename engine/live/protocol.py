"""What crosses the boundary between the live engine and its owner (the GUI, a test, a benchmark).

:class:`EngineConfig` is what the engine starts with; it is pickled into the engine's process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NO_OUTPUT = "none"
"""``EngineConfig.output`` value for "no output device": run on the internal clock."""


@dataclass
class EngineConfig:
    """What the engine starts with. Devices are :attr:`DeviceInfo.key` strings or names; None: default."""

    models: list[str] = field(default_factory=list)
    backend: str = "dense"
    input: str | None = None
    output: str | None = None
    file: str | None = None          # file as microphone (looping); used instead of the input device
    fallback_file: str | None = None  # played as the microphone when no input device exists
    prefill_hops: int = 2
    frame_ring: int = 512            # telemetry records kept (4 s)
    callback_ring: int = 4096
