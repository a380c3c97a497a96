"""What a model needs on Loihi 2: neurons, synapses, synaptic memory with and without sparsity, neuro-cores.

An *estimate* from published per-core limits, not the output of Intel's compiler (lava-loihi is not
available here). The figures and where they come from are in :data:`LOIHI2`; the model of memory is:

- delays are the ones Loihi gets (:func:`engine.loihi.export.plan_export`: above 62 moved to the next layer);
- a synapse is stored in the neuro-core of the neuron it feeds (fan-in), as in Loihi's architecture;
- **dense** storage keeps every synapse of a layer, zero weights included: weight bits (+ delay bits when
  the layer has delays) per synapse — what a weight matrix costs when sparsity is not exploited;
- **sparse** storage keeps only nonzero synapses, each with its weight, delay and the index of its target
  neuron (``ceil(log2(n_out))`` bits) — how pruning pays off in memory. A layer uses whichever is smaller;
- each neuron also holds its state (sigma-delta: sigma, activation, residue; 24-bit words, as Loihi 2's
  graded spikes) and, with delays, a dendritic ring of ``max_delay + 1`` accumulators (16-bit, the
  precision of lava-nc's bit-accurate ``DelayDense`` buffer) so that delayed input can wait;
- a layer takes ``max(ceil(neurons / neurons_per_core), ceil(bytes / memory_per_core))`` cores and layers
  do not share cores (compilers can pack small layers together: a conservative assumption).

Nothing here imports lava: the GUI can show it without starting anything.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from engine.loihi.export import plan_export
from engine.snn.model import SDNNModel


@dataclass(frozen=True)
class Loihi2Figures:
    """Published Loihi 2 limits and the storage widths this estimate assumes."""

    cores_per_chip: int = 128
    neurons_per_core: int = 8192
    memory_per_core_bytes: int = 192 * 1024
    weight_bits: int = 8
    delay_bits: int = 6
    state_bits: int = 24
    accumulator_bits: int = 16
    sources: tuple[str, ...] = (
        "128 neuro-cores per chip, up to 1 million neurons and 120 million synapses per chip: Intel Labs, "
        "'Taking Neuromorphic Computing to the Next Level with Loihi 2', technology brief (2021)",
        "up to 8,192 neurons per neuro-core and 192 KB of memory per neuro-core, shared flexibly between "
        "synapses, neuron state and routing: the same brief and Orchard et al., 'Efficient Neuromorphic "
        "Signal Processing with Loihi 2', IEEE SiPS 2021 (press reports also quote 128 KB per core: "
        "treat core counts as +/- 50%)",
        "8-bit weights, 6-bit synaptic delays (0..62 in netx), 24-bit graded spikes: lava-dl netx and "
        "lava-nc DelayDense (PyDelayDenseModelBitAcc), which also fix the 16-bit delay accumulators",
    )


LOIHI2 = Loihi2Figures()


@dataclass(frozen=True)
class LayerResources:
    """One layer's needs. Bytes are estimates (see the module docstring)."""

    name: str
    neurons: int
    synapses: int
    nonzero_synapses: int
    max_delay: int
    dense_synapse_bytes: int
    sparse_synapse_bytes: int
    neuron_bytes: int
    cores_dense: int
    cores_sparse: int

    @property
    def weight_sparsity(self) -> float:
        return 1.0 - self.nonzero_synapses / self.synapses if self.synapses else 0.0


@dataclass(frozen=True)
class LoihiResourceReport:
    """A model's Loihi 2 estimate: per layer, totals, and the figures it rests on."""

    model: str
    layers: tuple[LayerResources, ...]
    figures: Loihi2Figures

    def _total(self, field: str) -> int:
        return sum(getattr(layer, field) for layer in self.layers)

    @property
    def neurons(self) -> int:
        return self._total("neurons")

    @property
    def synapses(self) -> int:
        return self._total("synapses")

    @property
    def nonzero_synapses(self) -> int:
        return self._total("nonzero_synapses")

    @property
    def dense_bytes(self) -> int:
        """Synaptic memory without exploiting sparsity, plus neuron state."""
        return self._total("dense_synapse_bytes") + self._total("neuron_bytes")

    @property
    def sparse_bytes(self) -> int:
        """Synaptic memory storing only nonzero synapses (where that is smaller), plus neuron state."""
        return sum(min(l.dense_synapse_bytes, l.sparse_synapse_bytes) + l.neuron_bytes for l in self.layers)

    @property
    def cores_dense(self) -> int:
        return self._total("cores_dense")

    @property
    def cores_sparse(self) -> int:
        return self._total("cores_sparse")

    @property
    def chips(self) -> int:
        return math.ceil(self.cores_sparse / self.figures.cores_per_chip)

    def as_dict(self) -> dict:
        """Plain data for JSON and the GUI: per-layer rows, totals, and the sources of the figures."""
        return {
            "model": self.model,
            "layers": [{**asdict(layer), "weight_sparsity": layer.weight_sparsity} for layer in self.layers],
            "totals": {
                "neurons": self.neurons, "synapses": self.synapses,
                "nonzero_synapses": self.nonzero_synapses,
                "dense_bytes": self.dense_bytes, "sparse_bytes": self.sparse_bytes,
                "cores_dense": self.cores_dense, "cores_sparse": self.cores_sparse, "chips": self.chips,
            },
            "figures": asdict(self.figures),
        }


def loihi_resource_report(model: SDNNModel, figures: Loihi2Figures = LOIHI2) -> LoihiResourceReport:
    """Estimate what ``model`` needs on Loihi 2 (see the module docstring for the assumptions)."""
    plan = plan_export(model)  # the delays as Loihi gets them (above 62 moved onto the next layer)
    layers = [_layer("input (delta)", model.encoder.size, None, 0, state_words=2, figures=figures)]
    for index, layer in enumerate(model.layers):
        kind = "sigma" if layer.sigma_output else "sigma-delta"
        delays = plan.synapse_delays(index)
        max_delay = 0 if delays is None else int(delays.max())
        layers.append(_layer(f"dense {index + 1} ({kind})", layer.out_features, layer.weight_mant,
                             max_delay, state_words=1 if layer.sigma_output else 3, figures=figures))
    return LoihiResourceReport(model=model.name, layers=tuple(layers), figures=figures)


def _layer(name: str, neurons: int, weights: np.ndarray | None, max_delay: int, state_words: int,
           figures: Loihi2Figures) -> LayerResources:
    synapses = 0 if weights is None else int(weights.size)
    nonzero = 0 if weights is None else int(np.count_nonzero(weights))
    delay_bits = figures.delay_bits if max_delay > 0 else 0
    word_bits = figures.weight_bits + delay_bits
    index_bits = max(1, math.ceil(math.log2(neurons))) if neurons > 1 else 1
    dense = _bytes(synapses * word_bits)
    sparse = _bytes(nonzero * (word_bits + index_bits))
    ring = (max_delay + 1) * figures.accumulator_bits if max_delay > 0 else 0
    neuron = _bytes(neurons * (state_words * figures.state_bits + ring))

    def cores(synapse_bytes: int) -> int:
        by_neurons = math.ceil(neurons / figures.neurons_per_core)
        by_memory = math.ceil((synapse_bytes + neuron) / figures.memory_per_core_bytes)
        return max(1, by_neurons, by_memory)

    return LayerResources(name=name, neurons=neurons, synapses=synapses, nonzero_synapses=nonzero,
                          max_delay=max_delay, dense_synapse_bytes=dense, sparse_synapse_bytes=sparse,
                          neuron_bytes=neuron, cores_dense=cores(dense), cores_sparse=cores(min(dense, sparse)))


def _bytes(bits: int) -> int:
    return -(-bits // 8)
