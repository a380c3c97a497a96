"""Lava processes that carry one frame per time step between the host program and a running network.

:class:`FrameSource` sends into the network the frame the host handed it through :meth:`FrameSource.feed`;
:class:`FrameSink` gathers what its in-ports received on that step (the network's output and, for
telemetry, the spikes of chosen layers) and hands it to the host through :meth:`FrameSink.collect`. Both
use the runtime's external pipes (lava-nc's mechanism for host I/O, as its ``Injector``/``Extractor`` do)
with int32 messages, as the fixed-point neurons expect; lava-nc's own injector speaks float.

The host protocol is strict and synchronous — feed one frame, run one step, collect one frame — so the
pipes never hold more than one message and nothing blocks. Importing this module imports lava.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from engine.lava_compat import import_lava
from engine.loihi.lava_types import PyInPort, PyLoihiProcessModel, PyOutPort

_decorator = import_lava("lava.magma.core.decorator")
_process = import_lava("lava.magma.core.process.process")
_process_ports = import_lava("lava.magma.core.process.ports.ports")
_protocol = import_lava("lava.magma.core.sync.protocols.loihi_protocol")
_resources = import_lava("lava.magma.core.resources")
_type = import_lava("lava.magma.core.model.py.type")

InPort, OutPort = _process_ports.InPort, _process_ports.OutPort
LavaPyType = _type.LavaPyType
AbstractProcess: Any = _process.AbstractProcess  # lava-nc ships no types: to mypy, Any

MESSAGE_BITS = 24
"""Graded spikes and sigma outputs are 24-bit messages on Loihi 2 (int32 in the simulation)."""


class FrameSource(AbstractProcess):
    """Sends, on each time step, the int32 frame the host fed it before that step."""

    def __init__(self, *, size: int) -> None:
        super().__init__(size=size)
        self.frame_in = InPort(shape=(size,))
        self.frame_in.flag_external_pipe(buffer_size=1)
        self.s_out = OutPort(shape=(size,))

    def feed(self, frame: np.ndarray) -> None:
        """Queue the frame for the next time step (call once per step, after the runtime exists)."""
        self.frame_in.external_pipe_csp_send_port.send(frame)


@_decorator.implements(proc=FrameSource, protocol=_protocol.LoihiProtocol)
@_decorator.requires(_resources.CPU)
@_decorator.tag("fixed_pt")
class PyFrameSourceModel(PyLoihiProcessModel):
    frame_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=MESSAGE_BITS)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=MESSAGE_BITS)

    def run_spk(self) -> None:
        self.s_out.send(self.frame_in.recv())


class FrameSink(AbstractProcess):
    """Receives one int32 vector per in-port each time step and hands them to the host, concatenated.

    The in-ports are ``a_in_0`` … ``a_in_{n-1}``, one per entry of ``sizes``.
    """

    def __init__(self, *, sizes: tuple[int, ...]) -> None:
        super().__init__(sizes=sizes)
        self.sizes = tuple(int(size) for size in sizes)
        for index, size in enumerate(self.sizes):
            setattr(self, f"a_in_{index}", InPort(shape=(size,)))
        self.frame_out = OutPort(shape=(sum(self.sizes),))
        self.frame_out.flag_external_pipe(buffer_size=1)

    def in_port(self, index: int):
        return getattr(self, f"a_in_{index}")

    def collect(self) -> list[np.ndarray]:
        """What the in-ports received on the step that just ran, one array per in-port."""
        frame = self.frame_out.external_pipe_csp_recv_port.recv()
        return np.split(frame, np.cumsum(self.sizes)[:-1])


@cache
def frame_sink_model(n_ports: int) -> type:
    """The process model of a :class:`FrameSink` with ``n_ports`` in-ports (Lava types ports per class)."""

    def run_spk(self) -> None:
        self.frame_out.send(np.concatenate([getattr(self, f"a_in_{i}").recv() for i in range(n_ports)]))

    attributes = {f"a_in_{i}": LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=MESSAGE_BITS)
                  for i in range(n_ports)}
    attributes["frame_out"] = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=MESSAGE_BITS)
    attributes["run_spk"] = run_spk
    attributes["__module__"] = __name__
    attributes["__doc__"] = f"Process model of a FrameSink with {n_ports} in-ports."
    model = type(f"PyFrameSinkModel{n_ports}", (PyLoihiProcessModel,), attributes)
    model = _decorator.tag("fixed_pt")(_decorator.requires(_resources.CPU)(model))
    return _decorator.implements(proc=FrameSink, protocol=_protocol.LoihiProtocol)(model)
