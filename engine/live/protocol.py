"""What crosses the boundary between the live engine and its owner (the GUI, a test, a benchmark).

Everything here is a small picklable record: :class:`EngineConfig` starts the engine; the owner sends
:data:`Command` records (through :class:`engine.live.host.EngineHost`'s methods) and the engine answers
with :data:`Event` records. The worker and the GUI both dispatch on the record's type, so a misspelt
command or event is an error where it is written, not a message that silently does nothing.

Commands are applied by the worker between hops, in the order sent. Events, as the engine sends them:

- :class:`ModelsChanged` after every model load, removal or failed load (and once at start);
- :class:`StreamChanged` whenever the devices, the file source or their state change;
- :class:`Status` four times a second: latencies, and how long a lost device has been gone;
- :class:`DevicesListed` after :class:`ListDevices`; :class:`RecordingStarted` after :class:`RecordStart`,
  :class:`Recorded` after :class:`RecordStop`; :class:`VirtualMicChanged` after :class:`SetVirtualMic`;
- :class:`DeviceLost` when a device disappears (``restart``: the host starts a fresh engine process,
  then hands out :class:`EngineRestarted`);
- :class:`EngineError` for a command or model that failed (the engine runs on); :class:`Fatal` when the
  engine itself failed; :class:`Stopped` last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

NO_OUTPUT = "none"
"""``EngineConfig.output`` value for "no output device": run on the internal clock."""

BUFFER_HOPS = range(1, 101)
"""The output jitter buffers the engine takes, in 8 ms hops (``EngineConfig.prefill_hops``): at least one hop,
at most 800 ms, which the rings (2.7 s at 48 kHz) hold with the late hops' margin beside it."""


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
    virtual_mic: bool = False        # publish the output as a virtual source (engine.live.virtual_mic)
    frame_ring: int = 512            # telemetry records kept (4 s)
    callback_ring: int = 4096


# --- commands: owner → engine ---------------------------------------------------------------------


@dataclass(frozen=True)
class LoadModel:
    """Load a model (library name or path) into a new slot; ``backend`` None: the engine's default."""

    spec: str
    backend: str | None = None


@dataclass(frozen=True)
class RemoveModel:
    slot: int


@dataclass(frozen=True)
class Select:
    """Hear model ``slot`` (:data:`engine.constants.BYPASS`: the unprocessed input), crossfading."""

    slot: int


@dataclass(frozen=True)
class SetSharpening:
    """Sharpen model ``slot``'s mask by ``strength`` (0: the network's own mask; engine/snn/mask.py) from its next hop;
    the model's own strength until this is sent. A :class:`ModelsChanged` follows."""

    slot: int
    strength: float


@dataclass(frozen=True)
class Reset:
    """Reset every network's state and the event counters (not ``hops`` and ``callbacks``)."""


@dataclass(frozen=True)
class SetNoise:
    """Inject noise ``kind`` (one of :data:`engine.live.noise.NOISE_KINDS`; None: none) at ``snr_db``."""

    kind: str | None
    snr_db: float


@dataclass(frozen=True)
class SetInput:
    """Take the microphone from ``device`` (a key or name; None: the default) instead of any file."""

    device: str | None


@dataclass(frozen=True)
class SetFile:
    """Play ``path`` (looping) as the microphone."""

    path: str


@dataclass(frozen=True)
class SetOutput:
    """Play to ``device`` (a key or name; None: the default; :data:`NO_OUTPUT`: none, internal clock)."""

    device: str | None


@dataclass(frozen=True)
class ListDevices:
    """Answer with :class:`DevicesListed`. ``rescan``: look again — PortAudio re-lists only with no
    stream open, so the stream is reopened (a short gap in the sound)."""

    rescan: bool = False


@dataclass(frozen=True)
class RecordStart:
    """Record input and output from the next hop, for at most ``max_seconds``. ``fresh``: reset every
    network first, so that ``denoise()`` of the recorded input reproduces the recorded output exactly."""

    max_seconds: float = 600.0
    fresh: bool = False


@dataclass(frozen=True)
class RecordStop:
    """Write PREFIX-input.wav (after noise injection) and PREFIX-output.wav (float, 16 kHz); the output
    lags the input by 384 samples (the STFT's), exactly as the listener heard it."""

    prefix: str


@dataclass(frozen=True)
class SetVirtualMic:
    """Publish the denoised output as the virtual microphone (:mod:`engine.live.virtual_mic`), or stop."""

    on: bool


@dataclass(frozen=True)
class Shutdown:
    pass


Command = (LoadModel | RemoveModel | Select | SetSharpening | Reset | SetNoise | SetInput | SetFile | SetOutput
           | ListDevices | RecordStart | RecordStop | SetVirtualMic | Shutdown)
"""Every command the engine's worker applies."""


# --- events: engine → owner -----------------------------------------------------------------------


class ModelInfo(TypedDict):
    """What the GUI shows about a loaded model (plain data, read as a mapping by the panels)."""

    slot: int
    name: str
    source: str | None
    backend: str
    twin: str | None                 # a paced (Lava) slot's CPU twin: its audio when it lags
    layer_sizes: list[int]           # encoding layers: input encoder, hidden layers
    layer_weight_sparsity: list[float]
    weight_sparsity: float
    synapses: int
    nonzero_synapses: int
    card: list[str]                  # the model card's lines (engine.library.card)
    sharpening: float                # its mask's sharpening now (engine/snn/mask.py)
    own_sharpening: float            # the model's own (its file's), which it loaded with


class DeviceEntry(TypedDict):
    """A device PortAudio lists (:class:`engine.live.devices.DeviceInfo` as a mapping, with its key)."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    key: str


@dataclass(frozen=True)
class ModelsChanged:
    models: tuple[ModelInfo, ...]
    playing: int                     # the slot heard (BYPASS: none)
    loading: int                     # loads still in progress
    loads_taken: int = 0             # LoadModel commands this engine has taken (its config's models not counted)
    slot_commands_taken: int = 0     # RemoveModel, SetSharpening and Select commands taken (applied or refused)


@dataclass(frozen=True)
class StreamChanged:
    state: str                       # "starting", "running", "internal-clock" or "no-device"
    message: str
    rate: int | None                 # the stream's sample rate
    input: str | None                # device keys
    output: str | None
    file: str | None                 # the file played as the microphone
    device_latency_s: float
    prefill_hops: int
    priority: str                    # how the engine's process is scheduled
    missing_output: str | None = None  # the output device asked for by name and not found (looked for)


@dataclass(frozen=True)
class Status:
    state: str
    playing: int
    buffer_latency_s: float
    algorithmic_latency_s: float
    device_latency_s: float
    lost_for_s: float                # how long a lost device has been missing (0: none lost)


@dataclass(frozen=True)
class DevicesListed:
    devices: tuple[DeviceEntry, ...]


@dataclass(frozen=True)
class DeviceLost:
    devices: str                     # "input / output" keys
    restart: bool                    # PortAudio is stuck: a fresh engine process is needed


@dataclass(frozen=True)
class EngineRestarted:
    """Sent by :class:`engine.live.host.EngineHost` (not the engine) after it replaced a stuck engine: the models it
    brings back, in their slots, and the slot to be heard, until the fresh engine reports them (the user's changes the
    stuck engine took and never reported are in them: slot numbers from now on are these)."""

    count: int
    models: tuple[ModelInfo, ...] = ()
    playing: int = -1                # BYPASS


@dataclass(frozen=True)
class RecordingStarted:
    """The recorder is armed (after :class:`RecordStart`; the networks reset first if asked)."""

    max_seconds: float
    from_hop: int                    # the first hop recorded


@dataclass(frozen=True)
class VirtualMicChanged:
    """The virtual microphone was published or removed (a failure comes as :class:`EngineError` first)."""

    on: bool
    name: str                        # what applications list ("SPANDEX denoised microphone")
    source: str                      # the sound server's source name
    dropped: int                     # samples the sound server did not take in time


@dataclass(frozen=True)
class Recorded:
    paths: tuple[str, ...]
    seconds: float
    note: str = ""
    """Why the files are not where they were asked to be (the folder could not be written), else empty."""


LOAD_FAILED = "Cannot load the model"
"""How the :class:`EngineError` message of every failed model load starts."""

RECORD_FAILED = "The recording could not be saved"
"""How the :class:`EngineError` message of a recording not saved where it was asked to be starts."""

FILE_FAILED = "Cannot play this file as the microphone"
"""How the :class:`EngineError` message of a file that cannot play as the microphone starts."""

FILE_SILENT = "A silent file plays as the microphone"
"""How the :class:`EngineError` message of a file that plays and is silent starts (both are about the source:
the window drops them once another source plays)."""


@dataclass(frozen=True)
class EngineError:
    """A command or model load failed; the engine runs on."""

    message: str


@dataclass(frozen=True)
class Fatal:
    """The engine itself failed and stops."""

    message: str


@dataclass(frozen=True)
class Stopped:
    pass


Event = (ModelsChanged | StreamChanged | Status | DevicesListed | DeviceLost | EngineRestarted | RecordingStarted
         | Recorded | VirtualMicChanged | EngineError | Fatal | Stopped)
"""Every event the owner of an engine receives."""
