"""Mask sharpening (engine/snn/mask.py, `spandex sharpen`): each frame's mask relu(y + 1) raised to
1 + s·(1 − its mean, bins capped at 1), on the host after the network.

- the arithmetic against values worked out here; a frame the network passes whole keeps its mask;
- every path agrees: dense, sparse and Lava backends, the live denoiser (whose user can set each slot's strength),
  the training graph (its torch version, gradients finite where masks are 0); netx files keep the setting and lava-dl still reads them;
- the command writes the same network with the setting, a card that says so and the scores it printed, and
  refuses bad input in one line; a sweep writes nothing; a blend, an export and a training run keep it.
"""

from __future__ import annotations

import json
import math
import re

import h5py
import numpy as np
import pytest
import torch

from cli.main import main
from engine.backends import prepare
from engine.denoiser import denoise
from engine.dsp.stft import LATENCY_SAMPLES
from engine.errors import ModelFileError, SpandexError
from engine.files.netx import DECODER_ATTRIBUTE, load_model, save_netx
from engine.lava_compat import import_netx
from engine.library.card import card_lines
from engine.library.exporting import host_notes
from engine.live.denoiser import LiveDenoiser
from engine.snn.blend import blend, kept_from_model
from engine.snn.mask import mask_from_output, sharpened
from engine.snn.model import OutputDecoder
from engine.training.dataset import PairedClips
from engine.training.dataset_layout import split_folder
from engine.training.graph import SDNNGraph
from engine.training.graph import sharpen as sharpen_torch
from engine.training.validation import validate
from tests.live_paths import heard
from tests.reference_models import reference_path

STRENGTH = 0.75


@pytest.fixture(scope="module")
def plain():
    return load_model(reference_path("spandex_prune75.net"))


@pytest.fixture(scope="module")
def sharp(plain):
    return plain.sharpened_by(STRENGTH)


def test_the_mask_is_raised_to_one_plus_strength_times_one_minus_its_capped_mean():
    y = np.array([-1.5, -0.75, -0.5, 0.0, 0.25])  # relu(y + 1) = 0, 0.25, 0.5, 1, 1.25; capped mean 2.75 / 5
    exponent = 1 + 0.8 * (1 - 2.75 / 5)
    expected = [0.0, 0.25 ** exponent, 0.5 ** exponent, 1.0, 1.25 ** exponent]
    mask = mask_from_output(y)
    assert mask.tolist() == [0.0, 0.25, 0.5, 1.0, 1.25]  # the network's (N-DNS) mask
    assert sharpened(mask, 0.8).tolist() == pytest.approx(expected, rel=1e-15)
    assert mask.tolist() == [0.0, 0.25, 0.5, 1.0, 1.25]  # left as it was: the runner's array is not written
    assert sharpened(mask, 0.0) is mask
    passed = mask_from_output(np.array([0.0, 0.5, 0.25]))  # every bin at or above 1: a frame passed whole
    assert sharpened(passed, 3.0).tolist() == [1.0, 1.5, 1.25]


def test_the_training_graphs_sharpening_is_the_hosts_frame_by_frame_with_finite_gradients():
    generator = torch.Generator().manual_seed(5)
    y = torch.randn(2, 257, 7, generator=generator, dtype=torch.float64) * 0.8 - 0.3  # some masks exactly 0
    masks = torch.relu(y + 1.0)
    assert int((masks == 0).sum()) > 20
    got = sharpen_torch(masks, 1.2)
    for b in range(2):
        for t in range(7):
            host = sharpened(mask_from_output(y[b, :, t].numpy()), 1.2)
            np.testing.assert_allclose(got[b, :, t].numpy(), host, rtol=1e-14, atol=0)
    y.requires_grad_(True)
    sharpen_torch(torch.relu(y + 1.0), 1.2).sum().backward()
    assert y.grad is not None and bool(torch.isfinite(y.grad).all()) and float(y.grad.abs().sum()) > 0


def test_dense_sparse_lava_and_live_paths_agree_on_a_sharpened_model(plain, sharp, noisy_speech):
    noisy, _ = noisy_speech
    audio = noisy[: 2 * 16000]
    dense = denoise(audio, prepare(sharp, "dense")).audio
    sparse = denoise(audio, prepare(sharp, "sparse")).audio
    np.testing.assert_array_equal(dense, sparse)
    unsharpened = denoise(audio, prepare(plain, "sparse")).audio
    assert np.max(np.abs(unsharpened - sparse)) > 1e-3  # the control: sharpening changes what is heard
    live = LiveDenoiser()
    live.add_model(prepare(sharp, "sparse"))
    out = heard(live, 0, audio)
    assert np.array_equal(out[LATENCY_SAMPLES:], sparse[: out.size - LATENCY_SAMPLES])


@pytest.mark.filterwarnings("ignore:Found max delay")
def test_the_lava_backend_denoises_a_sharpened_model_as_the_sparse_backend_does(plain, sharp, noisy_speech):
    audio = noisy_speech[0][: 16000 // 2]
    lava = prepare(sharp, "lava")
    try:
        on_lava = denoise(audio, lava).audio
    finally:
        lava.close()
    np.testing.assert_array_equal(on_lava, denoise(audio, prepare(sharp, "sparse")).audio)
    assert not np.array_equal(on_lava, denoise(audio, prepare(plain, "sparse")).audio)


def test_the_live_denoiser_sharpens_each_slot_as_its_user_sets_it(plain, sharp, noisy_speech):
    audio = noisy_speech[0][: 16000]
    live = LiveDenoiser()
    live.add_model(prepare(plain, "sparse"))
    live.add_model(prepare(sharp, "sparse"))
    assert [slot.sharpening for slot in live.slots] == [0.0, STRENGTH]  # each model's own to begin with
    live.set_sharpening(0, STRENGTH)
    live.set_sharpening(1, 0.0)
    # plain sharpened live is the sharpened model; the sharpened model set to 0 is plain
    for slot, model in ((0, sharp), (1, plain)):
        out = heard(live, slot, audio)
        np.testing.assert_array_equal(out[LATENCY_SAMPLES:],
                                      denoise(audio, prepare(model, "sparse")).audio[: out.size - LATENCY_SAMPLES])
    for bad in (-0.1, 4.5, float("nan")):
        with pytest.raises(SpandexError, match="mask sharpening .* is outside 0 … 4"):
            live.set_sharpening(0, bad)
    with pytest.raises(SpandexError, match="no model in slot 3"):
        live.set_sharpening(2, 1.0)


def test_the_validation_graph_scores_a_sharpened_model_as_the_streaming_engine_denoises(sharp, tiny_dataset):
    clips = PairedClips.load(split_folder(tiny_dataset, "validation"))
    graph = SDNNGraph.from_model(sharp).double()
    assert graph.decoder == sharp.decoder and graph.to_model().decoder == sharp.decoder
    scored = validate(sharp, clips)
    from engine.evaluation.metrics import si_snr
    streamed = [si_snr(clean, denoise(noisy, prepare(sharp, "sparse")).audio.astype(np.float64))
                for noisy, clean in zip(clips.noisy, clips.clean)]
    np.testing.assert_allclose(scored.per_clip_si_snr, streamed, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Found max delay")
def test_netx_files_keep_the_sharpening_and_lava_dl_still_reads_them(plain, sharp, tmp_path):
    read_by_netx = save_netx(sharp, tmp_path / "netx.net")  # (lava-dl keeps the file open)
    assert len(import_netx().hdf5.Network(net_config=str(read_by_netx)).layers) == 4
    path = save_netx(sharp, tmp_path / "sharp.net")
    assert load_model(path).decoder == OutputDecoder(sharpening=STRENGTH)
    assert load_model(save_netx(plain, tmp_path / "plain.net")).decoder == OutputDecoder()
    with h5py.File(tmp_path / "plain.net") as handle:  # nothing written for the N-DNS mask
        assert DECODER_ATTRIBUTE not in handle["layer/3"].attrs
    assert sharp.content_digest() != plain.content_digest()
    assert plain.sharpened_by(0.0).content_digest() == plain.content_digest()
    for bad, message in (('{"sharp": 1}', "sharp.net: unreadable output decoder settings: no 'sharpening' in"),
                         ('{"sharpening": 9}', "sharp.net: mask sharpening 9 is outside 0 … 4"),
                         ('{"sharpening": true}', "sharp.net: mask sharpening True is not a number"),
                         ('{"sharpening": "1"}', "sharp.net: mask sharpening '1' is not a number"),
                         ('[1', "sharp.net: unreadable output decoder settings"),
                         ('{"sharpening": NaN}', "sharp.net: mask sharpening nan is outside")):
        with h5py.File(path, "a") as handle:
            handle["layer/3"].attrs[DECODER_ATTRIBUTE] = bad
        with pytest.raises(ModelFileError, match=message):
            load_model(path)


def test_a_blend_keeps_the_first_models_sharpening_and_says_where_the_other_differs(plain, sharp):
    assert blend(sharp, plain, 0.5).decoder == sharp.decoder
    assert "mask sharpening 0.75 (spandex_prune75: 0)" in kept_from_model(sharp, plain)
    assert not any("sharpening" in note for note in kept_from_model(plain, plain))


def test_an_export_says_the_host_must_sharpen_as_it_does(plain, sharp):
    notes = host_notes(sharp)
    assert any("sharpens its mask on the host" in note and "1 + 0.75" in note and "'spandex_decoder'" in note
               for note in notes)
    assert not any("sharpens" in note for note in host_notes(plain))


def test_spandex_sharpen_writes_the_same_network_sharpened_with_its_card_and_scores(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "sharp.net"
    source = reference_path("spandex_prune75.net")
    assert main(["sharpen", str(source), "--strength", "0.75", "--dataset", str(tiny_dataset),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    parent, written = load_model(source), load_model(out)
    assert written.decoder == OutputDecoder(sharpening=0.75)
    assert all(np.array_equal(a.weight_mant, b.weight_mant) for a, b in zip(parent.layers, written.layers))
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["name"] == "sharp" and card["decoder"] == {"sharpening": 0.75}
    assert card["sharpened"]["strength"] == 0.75 and card["sharpened"]["was"] == 0.0
    clips = PairedClips.load(split_folder(tiny_dataset, "validation"))
    noisy = validate(written, clips)
    clean_in = validate(written, clips.clean_as_input())
    assert card["metrics"]["si_snri"] == pytest.approx(noisy.si_snri, abs=1e-9)
    assert card["metrics"]["clean_in_si_snr"] == pytest.approx(clean_in.si_snr, abs=1e-9)
    row = re.search(r"^sharp \(sharpened 0\.75\) +(-?[\d.]+) .* (-?[\d.]+) +([\d.]+)$", printed, re.M)
    assert row and float(row[1]) == pytest.approx(noisy.si_snri, abs=0.006)
    assert float(row[2]) == pytest.approx(clean_in.si_snr, abs=0.006)
    assert re.search(r"^spandex_prune75 \(as it is\) ", printed, re.M)
    assert printed.rstrip().endswith("beside it sharp.json, LICENSE-spandex.md")
    lines = card_lines(card)
    assert any(line.startswith("mask: sharpened by 0.75 on ") for line in lines)
    assert any("clean speech in → out dB: " in line for line in lines)


def test_a_sweep_scores_every_strength_and_writes_nothing(tiny_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = reference_path("spandex_prune75.net")
    assert main(["sharpen", str(source), "--sweep", "--dataset", str(tiny_dataset)]) == 0
    printed = capsys.readouterr().out
    rows = re.findall(r"^(0 \(as it is\)|[\d.]+) +(-?[\d.]+) ", printed, re.M)
    assert [label for label, _ in rows] == ["0 (as it is)", "0.25", "0.5", "0.75", "1", "1.25", "1.5"]
    clips = PairedClips.load(split_folder(tiny_dataset, "validation"))
    half = validate(load_model(source).sharpened_by(0.5), clips).si_snri
    assert float(rows[2][1]) == pytest.approx(half, abs=0.006)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--strength", "9", "--out", "x.net"], "--strength 9.0: give a sharpening from 0"),
    (["--strength", "4.0000001", "--out", "x.net"], "--strength 4.0000001: give a sharpening from 0"),
    (["--strength", "nan", "--out", "x.net"], "--strength nan: give a sharpening from 0"),
    (["--strength", "0.5"], "sharpen --strength writes a model: give --out OUT.net"),
    (["--sweep", "--out", "x.net"], "sharpen --sweep writes nothing"),
    (["--strength", "0.5", "--out", "x.wav"], "--out x.wav: a model is written as a netx file"),
])
def test_spandex_sharpen_refuses_bad_input_in_one_line_and_writes_nothing(args, message, tiny_dataset, tmp_path,
                                                                          capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sharpen", str(reference_path("spandex_prune75.net")), "--dataset", str(tiny_dataset), *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_model_trained_from_a_sharpened_one_learns_through_its_mask_and_keeps_it(plain, sharp, tiny_dataset,
                                                                                     tmp_path):
    from engine.training import events as ev
    from engine.training.config import TrainConfig
    from engine.training.trainer import run_training

    first_losses = []
    for model in (sharp, plain):  # the same seed, so the same first batch: only the mask differs
        init = save_netx(model, tmp_path / f"{model.decoder.sharpening:g}.net")
        config = TrainConfig(name="run", dataset=str(tiny_dataset), init=str(init), steps=2, batch_size=2,
                             segment_seconds=1.0, eval_every=2, log_every=1, threads=1, seed=3)
        events: list = []
        finished = run_training(config, tmp_path / f"run{len(first_losses)}", emit=events.append)
        assert isinstance(finished, ev.Finished)
        assert load_model(finished.model_path).decoder == model.decoder
        card = json.loads(open(finished.card_path).read())
        assert card.get("decoder") == ({"sharpening": STRENGTH} if model is sharp else None)
        losses = [e.loss for e in events if isinstance(e, ev.StepReport)]
        assert losses and all(math.isfinite(loss) for loss in losses)
        first_losses.append(losses[0])
    assert first_losses[0] != pytest.approx(first_losses[1], rel=1e-6)  # the loss was the sharpened mask's


def test_a_cards_clean_speech_number_is_measured_again_with_its_headline(sharp, tiny_dataset):
    from scripts.measure_card_check import headline_again

    split = split_folder(tiny_dataset, "validation")
    clips = PairedClips.load(split)
    old = {"measured_on": "validation split of elsewhere (192 clips)", "si_snri": 5.0, "clean_in_si_snr": 28.3}
    again = headline_again(old, sharp, clips, split)
    assert again["clean_in_si_snr"] == pytest.approx(validate(sharp, clips.clean_as_input()).si_snr, abs=1e-9)
    assert again["earlier"][-1]["clean_in_si_snr"] == 28.3  # the number replaced, kept with where it was measured
    assert "clean_in_si_snr" not in headline_again({"si_snri": 5.0}, sharp, clips, split)  # none asked: none added


def test_a_widened_model_keeps_its_sharpening(sharp):
    from engine.training.widening import widen

    wide = widen(SDNNGraph.from_model(sharp), (520, 520), seed=1)
    assert wide.decoder == sharp.decoder and wide.to_model().decoder == sharp.decoder


def test_denoise_and_eval_take_a_sharpening_for_one_run(plain, sharp, noisy_speech, tiny_dataset, tmp_path, capsys):
    import soundfile

    noisy = tmp_path / "noisy.wav"
    soundfile.write(noisy, noisy_speech[0][: 16000], 16000, subtype="FLOAT")
    model = save_netx(sharp, tmp_path / "sharp.net")
    for value, expected in (("0", plain), ("-0", plain), (None, sharp)):
        out = tmp_path / f"out{value}.wav"
        assert main(["denoise", str(noisy), str(out), "--model", str(model), "--backend", "sparse", "--json",
                     *(["--sharpening", value] if value else [])]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["sharpening"] == expected.decoder.sharpening and str(report["sharpening"]) != "-0.0"
        assert report["model"] == ("sharp" if value is None else "sharp (sharpening 0)")  # named for what ran
        offline = denoise(soundfile.read(noisy)[0], prepare(expected, "sparse")).audio
        np.testing.assert_allclose(soundfile.read(out)[0], offline, atol=1 / 32768)  # (16-bit PCM)
    # the line a person reads names the strength once: asked for, in the name; the model's own, after the backend
    own = f" denoised with sharp on the sparse backend, its mask sharpened by {sharp.decoder.sharpening:g}; "
    for value, said in (("0", " denoised with sharp (sharpening 0) on the sparse backend; "), (None, own),
                        (f"{sharp.decoder.sharpening:g}", own)):  # (asked for as it is: no new name)
        out = tmp_path / f"said{value}.wav"
        assert main(["denoise", str(noisy), str(out), "--model", str(model), "--backend", "sparse",
                     *(["--sharpening", value] if value else [])]) == 0
        assert said in capsys.readouterr().out
    assert main(["denoise", str(noisy), str(tmp_path / "x.wav"), "--model", str(model), "--sharpening", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--sharpening 5.0: give a mask sharpening from 0" in err
    assert not (tmp_path / "x.wav").exists()
    split = split_folder(tiny_dataset, "validation")
    report_path = tmp_path / "eval.json"
    board = tmp_path / "board.yml"
    assert main(["eval", "--model", str(model), "--noisy", str(split / "noisy"), "--clean", str(split / "clean"),
                 "--limit", "2", "--sharpening", "1.5", "--json", str(report_path), "--yaml", str(board)]) == 0
    assert "mask sharpened by 1.5)" in capsys.readouterr().out.splitlines()[0]
    assert json.loads(report_path.read_text())["sharpening"] == 1.5
    assert "model: sharp (sharpening 1.5)" in board.read_text()  # a board entry is not the model as its file has it


def test_a_sharpened_copys_card_names_the_model_it_copied_and_a_card_unlike_its_file_says_so(sharp, tmp_path, capsys):
    copy = {"name": "p75s", "parent": "spandex-prune50", "notes": "Its parent is blended.",
            "sharpened": {"model": "spandex-prune75", "strength": 1.5, "was": 0.75},
            "decoder": {"sharpening": 1.5}}
    lines = card_lines(copy)
    assert "parent: spandex-prune75, sharpened" in lines and "notes (spandex-prune75): Its parent is blended." in lines
    assert any(line.startswith("mask: sharpened by 1.5 on spandex-prune75's network") for line in lines)
    in_place = {**copy, "name": "spandex-prune75", "sharpened": {**copy["sharpened"], "in_place": True}}
    assert "parent: spandex-prune50" in card_lines(in_place)  # the lineup's own model: its own history
    same_name = {**copy, "name": "spandex-prune75"}  # a copy named as its source (in another folder) is a copy
    assert "parent: spandex-prune75, sharpened" in card_lines(same_name)
    off = {**copy, "sharpened": {**copy["sharpened"], "strength": 0.0}}
    del off["decoder"]
    no_decoder = {k: v for k, v in copy.items() if k != "decoder"}  # (a hand-edited card: its record still says 1.5)
    assert any(line.startswith("mask: sharpened by 1.5") for line in card_lines(no_decoder))
    assert "mask: the network's own, not sharpened (spandex-prune75's 0.75 taken off)" in card_lines(off)
    assert ("mask: the card's sharpening 99 is not one a model can have (the model file's is what runs)"
            in card_lines({**copy, "decoder": {"sharpening": 99}}))
    # `spandex models` reads the file too: a card that says otherwise is told
    path = save_netx(sharp, tmp_path / "p75s.net")
    path.with_suffix(".json").write_text(json.dumps({**copy, "decoder": {"sharpening": 0.2}}))
    assert main(["models", str(path)]) == 0
    assert ("mask: the model file sharpens by 0.75, its card says 0.2: what runs is the file's (the card is out of "
            "date or was edited)") in capsys.readouterr().out


def test_a_strength_the_model_has_already_is_scored_once(tiny_dataset, tmp_path, monkeypatch, capsys):
    from engine.library import sharpening

    calls = []
    real = sharpening.score
    monkeypatch.setattr(sharpening, "score", lambda model, *rest: calls.append(model) or real(model, *rest))
    source = save_netx(load_model(reference_path("spandex_prune75.net")).sharpened_by(0.5), tmp_path / "half.net")
    assert main(["sharpen", str(source), "--strength", "0.5", "--dataset", str(tiny_dataset),
                 "--out", str(tmp_path / "again.net")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "(sharpened 0.5)" in line or "(as it is" in line]
    assert len(calls) == 1 and len(rows) == 2 and rows[0].split()[3:] == rows[1].split()[5:]  # the same numbers
