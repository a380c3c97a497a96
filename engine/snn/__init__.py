"""The spiking network itself, independent of any backend or file format.

- :mod:`engine.snn.model` — the SDNN as plain typed data (layers, weight mantissas, thresholds, delays);
- :mod:`engine.snn.neurons` — sigma-delta neuron dynamics as pure ``step(x, state, params) -> (y, state)``;
- :mod:`engine.snn.network` — one frame of the whole network, strung from those steps;
- :mod:`engine.snn.telemetry` — what a frame cost: events, SynOps, NeuronOps, which neurons spiked.
"""
