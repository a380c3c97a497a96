"""Loihi 2 through Lava: export to netx, Lava process models and I/O, resource estimates.

- :mod:`engine.loihi.export` — models as netx HDF5 files that Lava runs as the same network (or a clear refusal);
- :mod:`engine.loihi.delay_dense` — an event-driven, bit-identical process model for lava-nc's DelayDense;
- :mod:`engine.loihi.frame_io` — Lava processes that move one frame per step between host and network;
- :mod:`engine.loihi.resources` — neurons, synapses, synaptic memory and neuro-cores a model needs on Loihi 2;
- :mod:`engine.loihi.hardware` — whether real Loihi 2 hardware can be used here (lava-loihi), and why not.

The runner that streams audio frames through Lava is :mod:`engine.backends.lava`. Only ``export``
(partly), ``delay_dense``, ``frame_io`` and the backend import lava; ``resources`` and ``hardware`` do not.
"""
