"""The sparse backend's kernel: one whole SDNN frame, event-driven, in 64-bit fixed point (numba).

:func:`frame_step` does in one compiled call what :func:`engine.snn.network.network_step` does with numpy —
encoder, then per dense layer synapse → sigma → ReLU → delta → shift+delay, then the sigma output and
the mask — and counts the frame's telemetry on the way. Its synapse touches only the inputs that emitted
a nonzero spike, and of those only their nonzero outgoing weights (column-compressed), so its cost is
events × nonzero fan-out (the SynOps) plus one update per neuron.

Units, chosen so that integer arithmetic *is* the float64 arithmetic of :mod:`engine.snn.neurons`:

- neuron values (input, sigma totals, delta residuals and thresholds) are int64 counts of
  2^-:data:`VALUE_BITS` (2^-18);
- graded spikes are counts of :data:`engine.snn.model.SPIKE_STEP` (2^-12); flooring a value to the spike
  grid is an arithmetic shift right by :data:`SPIKE_SHIFT` (which floors negative values too);
- weights are their mantissas (2^-6), so spike × mantissa is again a count of 2^-18.

Every value of the float engine is such a dyadic rational and every sum of them is exact, so the two
agree exactly while values stay within ±:data:`VALUE_LIMIT` — about 2.7e8 in real units, far beyond
anything audio in [-1, 1] (|STFT| ≤ 512) produces. Past it the kernel stops and returns
:data:`OUT_OF_RANGE` rather than diverge; with values inside it and at most :data:`MAX_FAN_IN` nonzero
weights into a neuron, no int64 can overflow.

Real-time rules: no allocation, no Python objects, no locks; ``nogil`` so an audio thread running it does
not hold up the GUI thread. It updates its state arguments in place.
"""

from __future__ import annotations

import numba
import numpy as np

VALUE_BITS = 18
"""Neuron values are integer counts of 2^-VALUE_BITS."""

SPIKE_SHIFT = 6
"""Value units (2^-18) to spike units (2^-12): ``spike = value >> SPIKE_SHIFT``."""

VALUE_LIMIT = 1 << 46
"""Largest |value| (in 2^-18 units) the kernel accepts; beyond it it returns :data:`OUT_OF_RANGE`."""

MAX_FAN_IN = 1 << 13
"""Most nonzero weights into one neuron for which VALUE_LIMIT keeps every int64 sum from overflowing."""

OK = 0
OUT_OF_RANGE = 1

_VALUE_SCALE = 1.0 / (1 << VALUE_BITS)


@numba.njit(cache=True, nogil=True)
def _delta(value, neuron, previous, residual, threshold):
    """Delta encoding of one neuron (:func:`engine.snn.neurons.delta_step`); returns its spike (2^-12 units)."""
    change = value - previous[neuron] + residual[neuron]
    previous[neuron] = value
    if abs(change) >= threshold:
        residual[neuron] = 0
        return change >> SPIKE_SHIFT
    residual[neuron] = change
    return 0


@numba.njit(cache=True, nogil=True)
def frame_step(
    magnitude, input_offset, input_step, input_units,
    sizes, thresholds, pointers, targets, mantissas, delays, ring_lengths,
    previous, residual, totals, rings, ring_now,
    active, spikes, current,
    mask, fired, counts,
):
    """Advance the network by one |STFT| frame; return :data:`OK` or :data:`OUT_OF_RANGE`.

    Model (read only; L dense layers, encoding layers = input encoder and the L-1 hidden layers):
        magnitude: float64 (sizes[0],), finite. input_offset, input_step: the encoder's float offset and
            quantisation step; input_units: one input step in 2^-18 units (an integer).
        sizes: int64 (L+1,) neurons per layer. thresholds: int64 (L,) delta thresholds of the encoding
            layers, 2^-18 units.
        pointers, targets, mantissas: the weights column-compressed over all encoding neurons (flat,
            layer after layer): the nonzero outgoing synapses of encoding neuron g are
            ``targets[pointers[g]:pointers[g+1]]`` (index in the next layer) with ``mantissas[...]``.
        delays: int64, per hidden neuron (flat) 1 + its axonal delay; ring_lengths: int64 (L-1,) the
            delay rings' lengths (max delay + 1).
    State (updated in place; all int64):
        previous, residual: per encoding neuron (flat), the delta encoders' memory, 2^-18 units.
        totals: per neuron of layers 1..L (flat), the sigma sums, 2^-18 units.
        rings: per hidden layer, its (ring_length, size) ring of spikes on their way (2^-12 units),
            flat; ring_now: (L-1,) each ring's current slot.
    Scratch: active, spikes (int64, largest encoding layer), current (int64, largest layer).
    Out: mask float64 (sizes[L],) = relu(y + 1); fired bool per encoding neuron (flat): did it spike;
        counts int64 (L+2,): events per encoding layer, then SynOps, then dense SynOps.
    """
    n_layers = sizes.shape[0] - 1
    # input encoder: quantise (same float operations as engine.snn.neurons.quantize_input), delta encode
    n_active = 0
    for i in range(sizes[0]):
        steps = np.rint((magnitude[i] + input_offset) / input_step)
        if abs(steps) * input_units >= VALUE_LIMIT:
            return OUT_OF_RANGE
        spike = _delta(np.int64(steps) * input_units, i, previous, residual, thresholds[0])
        fired[i] = spike != 0
        if spike != 0:
            active[n_active] = i
            spikes[n_active] = spike
            n_active += 1
    counts[0] = n_active

    synops = 0
    synops_dense = 0
    in_offset = 0  # first flat encoding neuron of this layer's input
    out_offset = sizes[0]  # first flat encoding neuron of this layer's output (hidden layers)
    total_offset = 0
    ring_offset = 0
    delay_offset = 0
    for layer in range(n_layers):
        n_out = sizes[layer + 1]
        # synapse: only the delivered events, only their nonzero fan-out
        current[:n_out] = 0
        for k in range(n_active):
            source = in_offset + active[k]
            spike = spikes[k]
            start, stop = pointers[source], pointers[source + 1]
            synops += stop - start
            # column slices, indexed from 0: no negative-index wraparound in the inner loop (2x faster)
            column_targets = targets[start:stop]
            column_mantissas = mantissas[start:stop]
            for p in range(column_targets.shape[0]):
                current[column_targets[p]] += column_mantissas[p] * spike
        synops_dense += n_active * n_out

        if layer == n_layers - 1:  # sigma output and the mask
            for i in range(n_out):
                total = totals[total_offset + i] + current[i]
                if abs(total) >= VALUE_LIMIT:
                    return OUT_OF_RANGE
                totals[total_offset + i] = total
                mask[i] = max(total * _VALUE_SCALE + 1.0, 0.0)
            break

        # hidden block: sigma → ReLU → delta → into the delay ring (1-frame shift + axonal delay)
        length = ring_lengths[layer]
        now = ring_now[layer]
        threshold = thresholds[layer + 1]
        events = 0
        for i in range(n_out):
            total = totals[total_offset + i] + current[i]
            if abs(total) >= VALUE_LIMIT:
                return OUT_OF_RANGE
            totals[total_offset + i] = total
            spike = _delta(max(total, 0), out_offset + i, previous, residual, threshold)
            fired[out_offset + i] = spike != 0
            if spike != 0:
                events += 1
                # The slot is 0: a neuron writes slot s once per ring turn and s is emptied when read.
                slot = now + delays[delay_offset + i]  # delay < length: no modulo (a division) needed
                if slot >= length:
                    slot -= length
                rings[ring_offset + slot * n_out + i] = spike
        counts[layer + 1] = events
        # deliver what leaves the ring this frame: the next layer's input events
        n_active = 0
        row = ring_offset + now * n_out
        for i in range(n_out):
            spike = rings[row + i]
            if spike != 0:
                active[n_active] = i
                spikes[n_active] = spike
                n_active += 1
                rings[row + i] = 0
        ring_now[layer] = now + 1 if now + 1 < length else 0

        in_offset = out_offset
        out_offset += n_out
        total_offset += n_out
        ring_offset += length * n_out
        delay_offset += n_out
    counts[n_layers] = synops
    counts[n_layers + 1] = synops_dense
    return OK
