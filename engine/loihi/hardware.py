"""Whether SPANDEX can run on real Loihi 2 hardware here — and if not, why, in words for the user.

Real Loihi 2 runs need Intel's ``lava-loihi`` extension (available to Intel Neuromorphic Research
Community members, not on PyPI) and access to a Loihi 2 system. Without it lava-nc's ``Loihi2HwCfg``
does not fail: it quietly falls back to the CPU process models, which would be pretending. SPANDEX
therefore never uses ``Loihi2HwCfg`` by itself; it runs Lava's bit-accurate ``Loihi2SimCfg`` and says so.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass


@dataclass(frozen=True)
class LoihiHardwareStatus:
    """``available``: SPANDEX can run on a Loihi 2 chip now; ``reason``: a sentence for the user."""

    available: bool
    reason: str


def loihi2_hardware() -> LoihiHardwareStatus:
    """Check (without importing lava) whether Loihi 2 hardware can be used."""
    try:
        version = importlib.metadata.version("lava-loihi")
    except importlib.metadata.PackageNotFoundError:
        return LoihiHardwareStatus(
            False, "not available: lava-loihi (Intel's Loihi 2 runtime, for INRC members) is not installed; "
                   "SPANDEX runs Lava's bit-accurate Loihi 2 simulation on the CPU instead")
    return LoihiHardwareStatus(
        False, f"not used: lava-loihi {version} is installed, but SPANDEX's Lava backend has only been built "
               "and verified on the CPU simulation (Loihi 2 needs embedded frame I/O in place of host pipes); "
               "SPANDEX runs Lava's bit-accurate Loihi 2 simulation on the CPU instead")
