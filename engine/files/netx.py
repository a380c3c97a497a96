"""Read and write models as lava-dl netx HDF5 files, and read N-DNS torch state dicts.

The netx layout (what lava-dl's ``export_hdf5`` writes and ``lava.lib.dl.netx.hdf5.Network`` reads)::

    layer/0/type = [b'input']        layer/0/shape = [257]     layer/0/neuron/{type, activation, vThMant}
    layer/i/type = [b'dense']        layer/i/shape = [n_out]   layer/i/{inFeatures, outFeatures}
    layer/i/weight  float32 (n_out, n_in), the weight mantissas      layer/i/delay  float32 (n_out,)
    layer/i/neuron/{type=b'SDNN', activation=b'relu', vThMant}        last layer: neuron/sigma_output = True

A model with input levelling (:mod:`engine.dsp.level`) keeps its settings as a JSON attribute of the input
layer, ``layer/0.attrs["spandex_level"]``, and one with a sharpened mask (:mod:`engine.snn.mask`) its decoder's
on the output layer, ``layer/L.attrs["spandex_decoder"]``. netx readers look at neither: both run on the CPU,
before the network sees a frame and after it answers.

Everything that can go wrong with a file (missing, not HDF5, truncated, wrong layout, shapes that do not
chain, values a netx runtime would mangle) is reported as :class:`ModelFileError` with the file's name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.dsp.level import LevelParams
from engine.errors import ModelFileError
from engine.files.atomic import atomic_output
from engine.files.readable import unreadable
from engine.snn.model import (
    MANTISSA_MAX,
    MANTISSA_MIN,
    WEIGHT_SCALE,
    DenseLayer,
    InputEncoder,
    OutputDecoder,
    SDNNModel,
    sharpening_problem,
)

NETX_SUFFIXES = (".net", ".h5", ".hdf5")
TORCH_SUFFIXES = (".pt", ".pth")


def load_model(path: str | os.PathLike) -> SDNNModel:
    """Load a model from a netx HDF5 file (``.net``/``.h5``) or an N-DNS state dict (``.pt``)."""
    path = existing_model_file(path)
    if path.suffix.lower() in TORCH_SUFFIXES:
        return load_state_dict(path)
    return load_netx(path)


def existing_model_file(path: str | os.PathLike) -> Path:
    """``path``, refused (:class:`ModelFileError`) where it is a folder, not a regular file (a device, a pipe) or
    not there."""
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file")
    if path.exists() and not path.is_file():
        raise ModelFileError(f"{path} is not a regular file, not a model file")
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    if (why := unreadable(path)) is not None:
        raise ModelFileError(f"{path}: {why}")
    return path


def load_netx(path: str | os.PathLike) -> SDNNModel:
    """Read a netx HDF5 file written by lava-dl (e.g. the N-DNS ``network.net``)."""
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {path}") from None
    except OSError as exc:
        raise ModelFileError(
            f"{path}: not a readable netx HDF5 file (corrupt or truncated?): {_short(exc)}"
        ) from None
    try:
        with handle:
            return _model_from_netx(handle, path)
    except ModelFileError:
        raise
    except (KeyError, OSError, ValueError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: unreadable netx content: {_short(exc)}") from None


def _model_from_netx(handle, path: Path) -> SDNNModel:
    if "layer" not in handle:
        raise ModelFileError(f"{path}: not a netx network (no 'layer' group)")
    group = handle["layer"]
    keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
    if not keys or any(not k.isdigit() for k in keys) or [int(k) for k in keys] != list(range(len(keys))):
        raise ModelFileError(f"{path}: layers must be numbered 0..N-1, found {list(group.keys())}")
    if len(keys) < 2:
        raise ModelFileError(f"{path}: a denoiser needs an input layer and at least one dense layer")

    first = group["0"]
    if _layer_type(first, path, 0) != "input":
        raise ModelFileError(f"{path}: layer 0 must be an 'input' layer")
    encoder = InputEncoder(
        size=int(np.prod(_read(first, "shape", path, 0))),
        threshold_mant=int(_read(first, "neuron/vThMant", path, 0)),
        level=_level(first, path),
    )
    layers = []
    for index in range(1, len(keys)):
        layer = group[str(index)]
        kind = _layer_type(layer, path, index)
        if kind != "dense":
            raise ModelFileError(
                f"{path}: layer {index} is '{kind}'; SPANDEX runs dense sigma-delta layers only"
            )
        neuron_type = _text(_read(layer, "neuron/type", path, index))
        if neuron_type != "SDNN":
            raise ModelFileError(f"{path}: layer {index} has '{neuron_type}' neurons, not SDNN")
        weight = np.asarray(_read(layer, "weight", path, index))
        declared = (int(_read(layer, "outFeatures", path, index)), int(_read(layer, "inFeatures", path, index)))
        if weight.shape != declared:
            raise ModelFileError(
                f"{path}: layer {index} weight has shape {weight.shape} but the layer declares "
                f"{declared[0]} outputs x {declared[1]} inputs"
            )
        delays = None
        if "delay" in layer:
            delays = np.asarray(layer["delay"][()])
            if delays.ndim == 2:
                raise ModelFileError(
                    f"{path}: layer {index} has one delay per synapse, as a Loihi 2 export that moved "
                    "delays above 62 onto the next layer has (spandex export); SPANDEX models hold one "
                    "axonal delay per neuron: load the model this file was exported from")
            delays = _integers(delays.reshape(-1), path, index, "delay")
        sigma_output = "neuron/sigma_output" in layer and bool(layer["neuron/sigma_output"][()])
        layers.append(
            DenseLayer(
                weight_mant=_integers(weight, path, index, "weight").astype(np.int16),
                threshold_mant=int(_read(layer, "neuron/vThMant", path, index)),
                delays=None if delays is None else delays.astype(np.int32),
                sigma_output=sigma_output,
            )
        )
    decoder = _decoder(group[keys[-1]], path)
    return SDNNModel(encoder=encoder, layers=tuple(layers), name=path.stem, source=str(path), decoder=decoder)


def save_netx(model: SDNNModel, path: str | os.PathLike,
              netx_delays: Sequence[np.ndarray | None] | None = None) -> Path:
    """Write ``model`` as a netx HDF5 file, atomically (temp file in the same folder, then rename).

    The result loads in ``lava.lib.dl.netx.hdf5.Network`` with the same arrays as a lava-dl export.
    ``netx_delays``, one entry per dense layer, replaces the model's delays with the ones netx should
    read (``None``: no delay; shape ``(n_out,)``: per neuron; ``(n_out, n_in)``: per synapse) — see
    :mod:`engine.loihi.export`, which uses it to fit delays into Loihi 2's range.
    """
    import h5py

    path = Path(path)
    if netx_delays is None:
        netx_delays = [layer.delays for layer in model.layers]
    if len(netx_delays) != len(model.layers):
        raise ValueError(f"netx_delays has {len(netx_delays)} entries for {len(model.layers)} dense layers")
    text = h5py.string_dtype()
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as handle:
        group = handle.create_group("layer")
        first = group.create_group("0")
        first.create_dataset("type", (1,), "S10", [b"input"])
        first.create_dataset("shape", data=np.array([model.encoder.size], dtype=np.int64))
        _write_neuron(first, model.encoder.threshold_mant, text)
        if model.encoder.level is not None:
            first.attrs[LEVEL_ATTRIBUTE] = json.dumps(model.encoder.level.to_dict())
        for index, (layer, delays) in enumerate(zip(model.layers, netx_delays), start=1):
            g = group.create_group(str(index))
            g.create_dataset("type", (1,), "S10", [b"dense"])
            g.create_dataset("shape", data=np.array([layer.out_features], dtype=np.int64))
            g.create_dataset("inFeatures", data=np.int64(layer.in_features))
            g.create_dataset("outFeatures", data=np.int64(layer.out_features))
            g.create_dataset("weight", data=layer.weight_mant.astype(np.float32))
            if delays is not None:
                g.create_dataset("delay", data=np.asarray(delays).astype(np.float32))
            _write_neuron(g, layer.threshold_mant, text)
            if layer.sigma_output:
                g.create_dataset("neuron/sigma_output", data=True)
                if model.decoder != OutputDecoder():
                    g.attrs[DECODER_ATTRIBUTE] = json.dumps(model.decoder.to_dict())
    return path


LEVEL_ATTRIBUTE = "spandex_level"


def _level(group, path: Path) -> LevelParams | None:
    """The input levelling a SPANDEX file records on its input layer, if any."""
    if LEVEL_ATTRIBUTE not in group.attrs:
        return None
    try:
        return LevelParams(**json.loads(_text(group.attrs[LEVEL_ATTRIBUTE])))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: unreadable input levelling settings: {_short(exc)}") from None


DECODER_ATTRIBUTE = "spandex_decoder"


def _decoder(group, path: Path) -> OutputDecoder:
    """The output decoder a SPANDEX file records on its output layer; the N-DNS mask where none is."""
    if DECODER_ATTRIBUTE not in group.attrs:
        return OutputDecoder()
    text = _text(group.attrs[DECODER_ATTRIBUTE])
    try:
        settings = json.loads(text)
    except ValueError as exc:
        raise ModelFileError(f"{path}: unreadable output decoder settings: {_short(exc)}") from None
    if not isinstance(settings, dict) or "sharpening" not in settings:
        raise ModelFileError(f"{path}: unreadable output decoder settings: no 'sharpening' in {text[:80]!r}")
    problem = sharpening_problem(settings["sharpening"])
    if problem:
        raise ModelFileError(f"{path}: {problem} (the output layer's '{DECODER_ATTRIBUTE}' attribute: "
                             "spandex sharpen writes it)")
    return OutputDecoder(sharpening=float(settings["sharpening"]))


def _write_neuron(group, threshold_mant: int, text) -> None:
    group.create_dataset("neuron/activation", data="relu", dtype=text)
    group.create_dataset("neuron/type", data="SDNN", dtype=text)
    group.create_dataset("neuron/vThMant", data=np.int64(threshold_mant))


def load_state_dict(path: str | os.PathLike) -> SDNNModel:
    """Read the N-DNS baseline's ``network.pt`` (a torch state dict of slayer blocks).

    Weights are quantised exactly as slayer's ``quantize_8bit`` does on export (round to 2/64, clamp to
    [-256, 254]/64); delays are floored to whole frames, thresholds become ``int(threshold * 64)``.
    """
    import torch

    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {path}") from None
    except Exception as exc:  # torch raises many types for corrupt pickles / zip archives
        # torch's own text goes on to suggest weights_only=False, i.e. running the file's code: not shown
        raise ModelFileError(f"{path}: not a readable torch state dict (corrupt, truncated, or not "
                             f"a plain tensor dictionary; {type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: expected a state dict, found {type(state).__name__}")

    def get(key: str) -> np.ndarray:
        if key not in state:
            raise ModelFileError(f"{path}: not an N-DNS SDNN state dict (missing '{key}')")
        return state[key].detach().cpu().double().numpy()

    indices = sorted({int(k.split(".")[1]) for k in state if k.startswith("blocks.") and k.endswith("weight")})
    if not indices or indices != list(range(1, len(indices) + 1)):
        raise ModelFileError(f"{path}: not an N-DNS SDNN state dict (no blocks.N.synapse.weight)")
    threshold0 = get("blocks.0.neuron.delta.threshold")
    first_weight = get(f"blocks.{indices[0]}.synapse.weight")
    encoder = InputEncoder(size=first_weight.shape[1], threshold_mant=int(threshold0.item() * WEIGHT_SCALE))
    layers = []
    for n, index in enumerate(indices):
        weight = get(f"blocks.{index}.synapse.weight")
        weight = weight.reshape(weight.shape[0], weight.shape[1])
        # slayer quantize_8bit: round to a step of 2/w_scale (half to even), clamp, then descale
        mant = np.clip(np.round(weight * WEIGHT_SCALE / 2) * 2, MANTISSA_MIN, MANTISSA_MAX).astype(np.int16)
        delay_key = f"blocks.{index}.delay.delay"
        delays = np.floor(get(delay_key)).astype(np.int32) if delay_key in state else None
        threshold_key = f"blocks.{index}.neuron.delta.threshold"
        threshold = int(get(threshold_key).item() * WEIGHT_SCALE) if threshold_key in state else 0
        layers.append(DenseLayer(mant, threshold, delays, sigma_output=n == len(indices) - 1))
    return SDNNModel(encoder=encoder, layers=tuple(layers), name=path.stem, source=str(path))


def _layer_type(layer, path: Path, index: int) -> str:
    return _text(np.asarray(_read(layer, "type", path, index)).reshape(-1)[0])


def _read(group, key: str, path: Path, index: int):
    if key not in group:
        raise ModelFileError(f"{path}: layer {index} has no '{key}'")
    return group[key][()]


def _text(value) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _integers(values: np.ndarray, path: Path, index: int, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise ModelFileError(f"{path}: layer {index} {what} contains NaN or infinite values")
    if not np.array_equal(values, np.round(values)):
        raise ModelFileError(f"{path}: layer {index} {what} values are not whole numbers")
    if what == "weight" and values.size and (values.min() < MANTISSA_MIN or values.max() > MANTISSA_MAX):
        raise ModelFileError(
            f"{path}: layer {index} weight mantissas span [{values.min():.0f}, {values.max():.0f}], "
            f"outside the 8-bit range [{MANTISSA_MIN}, {MANTISSA_MAX}]"
        )
    return values.astype(np.int64)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
