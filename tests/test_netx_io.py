"""Model files: lava-dl netx HDF5 and the N-DNS torch state dict, good and bad."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.errors import ModelFileError
from engine.files.netx import load_model, save_netx
from engine.lava_compat import import_netx
from engine.snn.model import DenseLayer, InputEncoder, SDNNModel
from tests.reference_models import REFERENCE_NETS, reference_path


def datasets(path) -> dict:
    found = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


@pytest.mark.parametrize("name", REFERENCE_NETS)
def test_reading_then_writing_an_official_file_keeps_every_array(name, tmp_path):
    official = reference_path(f"{name}.net")
    written = save_netx(load_model(official), tmp_path / "copy.net")
    before, after = datasets(official), datasets(written)
    assert sorted(before) == sorted(after)
    for key, value in before.items():
        assert np.asarray(after[key]).dtype.kind == np.asarray(value).dtype.kind, key
        np.testing.assert_array_equal(np.asarray(after[key]), np.asarray(value), err_msg=key)


@pytest.mark.filterwarnings("ignore:Found max delay")  # netx clamps the one delay of 64 to 62
def test_netx_loads_a_written_file_with_identical_arrays(tmp_path):
    official = reference_path("spandex_prune75.net")
    written = save_netx(load_model(official), tmp_path / "prune75.net")
    netx = import_netx()
    ours, theirs = netx.hdf5.Network(net_config=str(written)), netx.hdf5.Network(net_config=str(official))
    assert [type(l).__name__ for l in ours.layers] == ["Input", "Dense", "Dense", "Dense"]
    assert len(ours.layers) == len(theirs.layers)
    for mine, reference in zip(ours.layers, theirs.layers):
        assert type(mine.neuron) is type(reference.neuron)
        if hasattr(reference.neuron, "vth"):
            assert mine.neuron.vth.init == reference.neuron.vth.init
        if hasattr(reference, "synapse"):
            np.testing.assert_array_equal(mine.synapse.weights.init, reference.synapse.weights.init)
            if hasattr(reference.synapse, "delays"):
                np.testing.assert_array_equal(mine.synapse.delays.init, reference.synapse.delays.init)


def test_state_dict_matches_the_exported_network():
    from_pt = load_model(reference_path("ndns_baseline.pt"))
    from_net = load_model(reference_path("ndns_baseline.net"))
    assert from_pt.encoder == from_net.encoder
    for a, b in zip(from_pt.layers, from_net.layers):
        np.testing.assert_array_equal(a.weight_mant, b.weight_mant)
        assert a.threshold_mant == b.threshold_mant == 6
        assert a.sigma_output == b.sigma_output
        if b.delays is None:
            assert a.delays is None
        else:
            np.testing.assert_array_equal(a.delays, b.delays)


def test_reference_models_describe_the_ndns_architecture():
    model = load_model(reference_path("ndns_baseline.net"))
    assert model.neuron_counts == (257, 512, 512, 257)
    assert [layer.sigma_output for layer in model.layers] == [False, False, True]
    assert model.layers[1].max_delay == 64
    pruned = load_model(reference_path("spandex_prune75.net"))
    assert 0.75 <= pruned.weight_sparsity < 0.85  # 75% pruned, plus weights that 8 bits round to 0
    assert 0.2 < model.weight_sparsity < 0.3  # the dense baseline: 8-bit rounding alone zeroes ~27%


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.net")


def test_not_hdf5(tmp_path):
    path = tmp_path / "text.net"
    path.write_text("this is not a network\n")
    with pytest.raises(ModelFileError, match="text.net.*not a readable netx HDF5"):
        load_model(path)


def test_truncated_file(tmp_path):
    data = reference_path("ndns_baseline.net").read_bytes()
    path = tmp_path / "truncated.net"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFileError, match="truncated.net"):
        load_model(path)


def tampered_copy(tmp_path, tamper) -> Path:
    """A copy of the official baseline whose HDF5 content ``tamper(handle)`` has changed."""
    path = tmp_path / "bad.net"
    save_netx(load_model(reference_path("ndns_baseline.net")), path)
    with h5py.File(path, "r+") as handle:
        tamper(handle)
    return path


def test_shape_mismatch_between_layers(tmp_path):
    def tamper(handle):
        del handle["layer/2/weight"]
        handle["layer/2/weight"] = np.zeros((512, 500), dtype=np.float32)
        handle["layer/2/inFeatures"][()] = 500

    with pytest.raises(ModelFileError, match="layer 2 expects 500 inputs but the previous layer has 512"):
        load_model(tampered_copy(tmp_path, tamper))


def test_declared_shape_disagrees_with_weight(tmp_path):
    def tamper(handle):
        handle["layer/1/outFeatures"][()] = 100

    with pytest.raises(ModelFileError, match="layer 1 weight has shape"):
        load_model(tampered_copy(tmp_path, tamper))


def test_weights_outside_8_bit_range_are_refused(tmp_path):
    def tamper(handle):
        weight = handle["layer/3/weight"][()]
        weight[0, 0] = 300
        handle["layer/3/weight"][...] = weight

    with pytest.raises(ModelFileError, match="outside the 8-bit range"):
        load_model(tampered_copy(tmp_path, tamper))


def test_missing_dataset_is_named(tmp_path):
    def tamper(handle):
        del handle["layer/2/neuron/vThMant"]

    with pytest.raises(ModelFileError, match="layer 2 has no 'neuron/vThMant'"):
        load_model(tampered_copy(tmp_path, tamper))


def test_corrupt_state_dict(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(ModelFileError, match="broken.pt: not a readable torch state dict"):
        load_model(path)


def test_wrong_state_dict(tmp_path):
    import torch

    path = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ModelFileError, match="not an N-DNS SDNN state dict"):
        load_model(path)


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    model = load_model(reference_path("ndns_baseline.net"))
    target = tmp_path / "models" / "m.net"
    save_netx(model, target)
    original = target.read_bytes()
    broken = SDNNModel.__new__(SDNNModel)  # a model whose layers cannot be written
    object.__setattr__(broken, "encoder", model.encoder)
    object.__setattr__(broken, "layers", (None,))
    with pytest.raises(AttributeError):
        save_netx(broken, target)
    assert target.read_bytes() == original
    assert [p.name for p in target.parent.iterdir()] == ["m.net"]


def test_model_validation_names_the_problem():
    encoder = InputEncoder(size=4, threshold_mant=6)
    hidden = DenseLayer(np.zeros((3, 4), dtype=np.int16), 6, np.zeros(3, dtype=np.int32))
    with pytest.raises(ModelFileError, match="needs one per input bin"):
        SDNNModel(encoder, (hidden, DenseLayer(np.zeros((3, 3), dtype=np.int16), 6, sigma_output=True)))
    with pytest.raises(ModelFileError, match="must be a sigma output"):
        SDNNModel(encoder, (hidden, DenseLayer(np.zeros((4, 3), dtype=np.int16), 6)))
    with pytest.raises(ModelFileError, match="3 delays for 5 neurons"):
        SDNNModel(encoder, (DenseLayer(np.zeros((5, 4), dtype=np.int16), 6, np.zeros(3, dtype=np.int32)),
                            DenseLayer(np.zeros((4, 5), dtype=np.int16), 6, sigma_output=True)))
