"""lava-nc's process-model base class and Python ports as SPANDEX's Lava process models declare them.

At run time these are lava's own classes; to mypy they are ``Any``, since lava-nc ships no types. One home for
both, so each process model (:mod:`engine.loihi.delay_dense`, :mod:`engine.loihi.frame_io`) imports them from
here. Importing this module imports lava (through :mod:`engine.lava_compat`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from engine.lava_compat import import_lava

_model = import_lava("lava.magma.core.model.py.model")
_ports = import_lava("lava.magma.core.model.py.ports")

if TYPE_CHECKING:
    PyInPort: TypeAlias = Any
    PyOutPort: TypeAlias = Any
else:
    PyInPort, PyOutPort = _ports.PyInPort, _ports.PyOutPort
PyLoihiProcessModel: Any = _model.PyLoihiProcessModel
