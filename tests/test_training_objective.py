"""What training optimises, checked against independent computations, and that training does optimise it.

- the N-DNS loss (100 − SI-SNR + 0.001·MSE(|STFT|)) of the trainer's own functions against numpy: its own
  framing, FFTs, overlap-add and SI-SNR, nothing shared with engine/;
- the learning rate the real trainer gives its optimiser at each step against the warm-up + cosine formula;
- a real run lowers the loss on a fixed batch of its training data and moves the quantised weights;
- a run with a teacher (distillation) moves towards the teacher's output, a run without does not.
"""

import dataclasses
import hashlib
import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from cli.training_run import describe
from engine.errors import SpandexError
from engine.files.netx import load_model, save_netx
from engine.library.card import card_lines
from engine.library.catalog import find_model
from engine.training import events as ev
from engine.training import trainer
from engine.training.config import ConfigError, TrainConfig
from engine.training.dataset import PairedClips
from engine.training.dataset_layout import split_folder
from engine.training.graph import SDNNGraph
from engine.training.loss import batch_spectra, denoise_batch, istft, magnitude, ndns_loss, si_snr, stft
from engine.training.trainer import build_graph, run_training
from tests.test_training_runs import stop_after, tiny_config

N_FFT, HOP = 512, 128


def numpy_stft(audio: np.ndarray) -> np.ndarray:
    """(frames, 257): centred frames (256 zeros each side), rectangular window, hop 128."""
    padded = np.pad(audio, N_FFT // 2)
    frames = 1 + (padded.size - N_FFT) // HOP
    return np.stack([np.fft.rfft(padded[t * HOP:t * HOP + N_FFT]) for t in range(frames)])


def numpy_istft(spectrum: np.ndarray, length: int) -> np.ndarray:
    """Overlap-add of the inverse FFTs divided by the number of frames covering each sample; centre removed."""
    frames = spectrum.shape[0]
    out = np.zeros(N_FFT + HOP * (frames - 1))
    cover = np.zeros_like(out)
    for t in range(frames):
        out[t * HOP:t * HOP + N_FFT] += np.fft.irfft(spectrum[t], N_FFT)
        cover[t * HOP:t * HOP + N_FFT] += 1.0
    return (out / cover)[N_FFT // 2:N_FFT // 2 + length]


def numpy_si_snr(clean: np.ndarray, estimate: np.ndarray) -> float:
    clean, estimate = clean - clean.mean(), estimate - estimate.mean()
    target = (clean @ estimate) / (clean @ clean) * clean
    return 10 * math.log10(np.sum(target**2) / np.sum((estimate - target) ** 2))


def test_loss_equals_an_independent_numpy_computation(noisy_speech):
    noisy_all, clean_all = noisy_speech
    length = 16000
    rows = [(noisy_all[s:s + length], clean_all[s:s + length]) for s in (0, 40000, 90000)]
    noisy = torch.tensor(np.stack([r[0] for r in rows]), dtype=torch.float64)
    clean = torch.tensor(np.stack([r[1] for r in rows]), dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    mask = torch.relu(torch.rand(3, 257, 126, generator=generator, dtype=torch.float64) * 1.6 - 0.3)

    spectrum = stft(noisy)
    denoised, magnitude = denoise_batch(mask, spectrum, length, spectrum.abs())
    loss, score = ndns_loss(clean, denoised, stft(clean).abs(), magnitude, mse_weight=0.001)

    scores, squared = [], []
    for row, (x, s) in enumerate(rows):
        masked = numpy_stft(x.astype(np.float64)) * mask[row].numpy().T
        scores.append(numpy_si_snr(s.astype(np.float64), numpy_istft(masked, length)))
        squared.append((np.abs(masked) - np.abs(numpy_stft(s.astype(np.float64)))) ** 2)
    mse = float(np.mean(squared))
    expected = 100 - np.mean(scores) + 0.001 * mse
    np.testing.assert_allclose(score.numpy(), scores, rtol=0, atol=1e-6)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    # the spectral term alone (at λ = 0.001 it is ~1e-3 of the loss): the trainer's equals numpy's
    with_mse, without = (ndns_loss(clean, denoised, stft(clean).abs(), magnitude, w)[0] for w in (1.0, 0.0))
    spectral = with_mse - without
    assert mse > 0.1 and spectral.item() == pytest.approx(mse, rel=1e-9)
    assert min(scores) < 20 and max(scores) > -20  # a real, partial denoising: neither term is degenerate


def test_a_silent_target_has_no_si_snr_and_leaves_the_loss_and_its_gradient_finite(noisy_speech):
    """A batch row whose clean speech is silent (a pause in a small dataset) gave 0/0: the loss became NaN and a
    fine-tune stopped. Its SI-SNR is NaN (it means nothing); the loss's SI-SNR term is the other rows' mean and the
    MSE term still teaches it to stay quiet; no NaN reaches a gradient."""
    noisy_all, clean_all = noisy_speech
    length = 8000
    noisy = torch.tensor(np.stack([noisy_all[:length], noisy_all[:length]]), dtype=torch.float64)
    clean = torch.tensor(np.stack([clean_all[:length], np.zeros(length)]), dtype=torch.float64)
    mask = torch.full((2, 257, 63), 0.7, dtype=torch.float64, requires_grad=True)
    spectrum = stft(noisy)
    denoised, magnitude = denoise_batch(mask, spectrum, length, spectrum.abs())
    loss, score = ndns_loss(clean, denoised, stft(clean).abs(), magnitude, mse_weight=0.001)
    assert math.isnan(score[1].item()) and math.isfinite(score[0].item())
    alone, _ = ndns_loss(clean[:1], denoised[:1], stft(clean[:1]).abs(), magnitude[:1], mse_weight=0.0)
    mse = torch.nn.functional.mse_loss(magnitude, stft(clean).abs())
    assert loss.item() == pytest.approx(alone.item() + 0.001 * mse.item(), rel=1e-12)
    loss.backward()
    assert torch.isfinite(mask.grad).all() and mask.grad[1].abs().sum() > 0  # the silent row learns from the MSE
    silent_only, none = ndns_loss(clean[1:], denoised[1:], stft(clean[1:]).abs(), magnitude[1:], mse_weight=0.001)
    assert math.isfinite(silent_only.detach().item()) and math.isnan(none[0])


def expected_learning_rate(step: int, steps: int, warmup: int, high: float, low: float | None) -> float:
    if step <= warmup:
        return high * step / warmup
    if low is None:
        return high
    angle = math.pi * (step - warmup) / (steps - warmup)
    return low + (high - low) * (math.cos(angle) + 1) / 2


@pytest.mark.parametrize("warmup, final", [(4, 1e-4), (0, 2e-3), (3, None)])
def test_the_optimiser_gets_the_scheduled_learning_rate(tiny_dataset, tmp_path, warmup, final):
    config = tiny_config(tiny_dataset, steps=12, learning_rate=0.01, final_learning_rate=final,
                         warmup_steps=warmup, log_every=1, eval_every=12, eval_clips=1)
    events: list = []
    run_training(config, tmp_path / "run", emit=events.append)
    reported = {e.step: e.learning_rate for e in events if isinstance(e, ev.StepReport)}
    assert sorted(reported) == list(range(1, 13))
    for step, lr in reported.items():
        assert lr == pytest.approx(expected_learning_rate(step, 12, warmup, 0.01, final), rel=1e-12, abs=1e-15)
    if final is not None:
        assert reported[12] == pytest.approx(final, rel=1e-12)  # the decay lands on the final rate


def fixed_batch_loss(graph: SDNNGraph, noisy: torch.Tensor, clean: torch.Tensor) -> float:
    with torch.no_grad():
        spectrum = stft(noisy)
        out = graph(spectrum.abs())
        denoised, magnitude = denoise_batch(out.mask, spectrum, noisy.shape[-1], spectrum.abs())
        return float(ndns_loss(clean, denoised, stft(clean).abs(), magnitude, 0.001)[0])


def test_training_lowers_the_loss_on_a_fixed_batch_and_moves_quantised_weights(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, steps=30, eval_every=30, eval_clips=1, log_every=10)
    clips = PairedClips.load(split_folder(tiny_dataset, "train"))
    noisy, clean = clips.batch(np.random.default_rng(123), 8, 8000)  # not the run's own draws
    before_graph, _ = build_graph(config)  # the run's starting point (same seed)
    before = before_graph.to_model()
    events: list = []
    run_training(config, tmp_path / "run", emit=events.append)
    after = load_model(events[-1].model_path)
    moved = [float(np.mean(a.weight_mant != b.weight_mant)) for a, b in zip(before.layers, after.layers)]
    assert all(m > 0.05 for m in moved), moved  # each layer's 8-bit weights changed, not only float shadows
    loss_before = fixed_batch_loss(SDNNGraph.from_model(before), noisy, clean)
    loss_after = fixed_batch_loss(SDNNGraph.from_model(after), noisy, clean)
    print(f"fixed-batch loss {loss_before:.3f} -> {loss_after:.3f}; 8-bit weights moved {moved}")
    assert loss_after < loss_before - 1.0, (loss_before, loss_after)  # at least 1 dB of SI-SNR gained


def imitation_score(student: SDNNGraph, teacher: SDNNGraph, noisy: torch.Tensor) -> float:
    """Mean SI-SNR (dB) of the student's denoised batch against the teacher's: how alike the two denoise."""
    with torch.no_grad():
        spectrum = stft(noisy)
        outputs = [denoise_batch(g(spectrum.abs()).mask, spectrum, noisy.shape[-1])[0] for g in (student, teacher)]
        return float(si_snr(outputs[1], outputs[0]).mean())


@pytest.mark.parametrize("weight", [None, 1.0])
def test_distillation_moves_the_student_towards_its_teacher(tiny_dataset, tmp_path, weight):
    """A run with a teacher (weight 1: the teacher alone) learns what the teacher makes of each batch; the same
    run without one (None) learns the clean targets. Measured on a fixed batch the run never drew: the distilled
    student ends much closer to its teacher than it started, the control does not."""
    teacher_path = save_netx(SDNNGraph((257, 32, 32, 257), seed=11).to_model("teacher"), tmp_path / "teacher.net")
    config = tiny_config(tiny_dataset, steps=40, eval_every=40, eval_clips=1, log_every=10,
                         teacher=None if weight is None else str(teacher_path), teacher_weight=weight)
    clips = PairedClips.load(split_folder(tiny_dataset, "train"))
    noisy, _ = clips.batch(np.random.default_rng(123), 8, 8000)
    teacher = SDNNGraph.from_model(load_model(teacher_path))
    start, _ = build_graph(config)
    events: list = []
    run_training(config, tmp_path / "run", emit=events.append)
    finished = SDNNGraph.from_model(load_model(events[-1].model_path))
    before, after = imitation_score(start, teacher, noisy), imitation_score(finished, teacher, noisy)
    print(f"teacher weight {weight}: SI-SNR against the teacher's output {before:.2f} -> {after:.2f} dB")
    card = json.loads(Path(events[-1].card_path).read_text())
    assert card["recipe"]["teacher_weight"] == weight
    if weight:
        assert card["recipe"]["teacher"] == str(teacher_path)
        assert after > before + 3.0, (before, after)
        # the CLI's start line and the card's recipe line name the teacher alike (one phrase, teacher_phrase)
        started = next(e for e in events if isinstance(e, ev.Started))
        assert "; distilling from teacher (100% of the loss)" in describe(started)
        assert "distilled from teacher (100% of the loss)" in " ".join(card_lines(card))
    else:
        assert card["recipe"]["teacher"] is None
        assert after < before + 3.0, (before, after)


def test_the_teacher_weight_defaults_to_half_and_needs_a_teacher():
    assert TrainConfig(name="a", dataset="d", teacher="spandex-dense").distillation_weight == 0.5
    assert TrainConfig(name="a", dataset="d", teacher="t", teacher_weight=0.8).distillation_weight == 0.8
    assert TrainConfig(name="a", dataset="d").distillation_weight == 0.0
    with pytest.raises(ConfigError, match="teacher_weight = 0.7 needs a teacher"):
        TrainConfig(name="a", dataset="d", teacher_weight=0.7)
    with pytest.raises(ConfigError, match="teacher_weight = 0.0: must be above 0"):
        TrainConfig(name="a", dataset="d", teacher="t", teacher_weight=0.0)


def test_a_distilled_step_mixes_the_two_objectives_by_the_teacher_weight(tiny_dataset, tmp_path):
    """The first step's reported loss is (1 − W)·loss(clean) + W·loss(teacher's output), each the N-DNS
    objective computed here independently of the trainer, on the batch the step drew."""
    teacher_path = save_netx(SDNNGraph((257, 32, 32, 257), seed=11).to_model("teacher"), tmp_path / "teacher.net")
    config = tiny_config(tiny_dataset, steps=1, log_every=1, eval_every=1, eval_clips=1, teacher=str(teacher_path),
                         teacher_weight=0.25)
    student, _ = build_graph(config)
    teacher = SDNNGraph.from_model(load_model(teacher_path))
    drawn: list = []
    original = PairedClips.batch

    def remember(self, rng, rows, samples):  # the batch the step draws, kept for the check
        drawn.append(original(self, rng, rows, samples))
        return drawn[-1]

    make_teacher, threads = trainer.build_teacher, []

    def teacher_that_says_where(config):  # the thread each of the teacher's forward passes runs on
        made, file_digest, network_digest = make_teacher(config)
        for graph in made.graphs:
            graph.register_forward_pre_hook(lambda module, inputs: threads.append(threading.current_thread().name))
        return made, file_digest, network_digest

    events: list = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PairedClips, "batch", remember)
        patch.setattr(trainer, "build_teacher", teacher_that_says_where)
        run_training(config, tmp_path / "run", emit=events.append)
    # a CPU run has the thread that draws the batches run the teacher too, off the step's own thread (but for the
    # first batch, made when the first step asks for it)
    assert len(threads) >= 2 and threads[0] == threading.main_thread().name, threads
    assert all(name.startswith("spandex-batches") for name in threads[1:]), threads
    noisy, clean = drawn[0]
    with torch.no_grad():
        spectrum = stft(noisy)
        denoised, magnitude = denoise_batch(student(spectrum.abs()).mask, spectrum, noisy.shape[-1])
        taught, taught_magnitude = denoise_batch(teacher(spectrum.abs()).mask, spectrum, noisy.shape[-1])
        on_clean = float(ndns_loss(clean, denoised, stft(clean).abs(), magnitude, 0.001)[0])
        on_teacher = float(ndns_loss(taught, denoised, taught_magnitude, magnitude, 0.001)[0])
    reported = next(e for e in events if isinstance(e, ev.StepReport)).loss
    assert abs(on_clean - on_teacher) > 1.0  # the two objectives differ: the mix is visible
    assert reported == pytest.approx(0.75 * on_clean + 0.25 * on_teacher, abs=1e-4)


def test_an_ensemble_teacher_teaches_the_mean_of_its_masks(tiny_dataset, tmp_path):
    """With more teachers (``teacher_ensemble``, ``--teacher`` given twice), the first step's loss at teacher weight
    1 is the N-DNS loss against the batch denoised by the mean of the teachers' masks, computed here from the
    teachers' own graphs; not against either teacher alone. The card names both files and says so."""
    paths = [save_netx(SDNNGraph((257, 32, 32, 257), seed=seed).to_model(f"teacher{seed}"),
                       tmp_path / f"teacher{seed}.net") for seed in (11, 12)]
    config = tiny_config(tiny_dataset, steps=1, log_every=1, eval_every=1, eval_clips=1, teacher=str(paths[0]),
                         teacher_ensemble=(str(paths[1]),), teacher_weight=1.0)
    student, _ = build_graph(config)
    teachers = [SDNNGraph.from_model(load_model(path)) for path in paths]
    drawn: list = []
    original = PairedClips.batch

    def remember(self, rng, rows, samples):
        drawn.append(original(self, rng, rows, samples))
        return drawn[-1]

    events: list = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PairedClips, "batch", remember)
        run_training(config, tmp_path / "run", emit=events.append)
    noisy, _ = drawn[0]
    with torch.no_grad():
        spectrum = stft(noisy)
        denoised, magnitude = denoise_batch(student(spectrum.abs()).mask, spectrum, noisy.shape[-1])
        masks = [teacher(spectrum.abs()).mask for teacher in teachers]

        def loss_against(mask):
            taught, taught_magnitude = denoise_batch(mask, spectrum, noisy.shape[-1])
            return float(ndns_loss(taught, denoised, taught_magnitude, magnitude, 0.001)[0])

        ensemble, alone = loss_against((masks[0] + masks[1]) / 2), [loss_against(mask) for mask in masks]
    reported = next(e for e in events if isinstance(e, ev.StepReport)).loss
    assert min(abs(ensemble - value) for value in alone) > 0.5  # the teachers differ: which target is visible
    assert reported == pytest.approx(ensemble, abs=1e-4)
    card = json.loads(Path(events[-1].card_path).read_text())
    assert card["training"]["teacher_sha256"] == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    assert card["training"]["teacher_ensemble_sha256"] == [hashlib.sha256(paths[1].read_bytes()).hexdigest()]
    assert card["recipe"]["teacher_ensemble"] == [str(paths[1])]
    started = next(e for e in events if isinstance(e, ev.Started))
    assert "; distilling from teacher11 + teacher12, masks averaged (100% of the loss)" in describe(started)
    assert "distilled from teacher11 + teacher12, masks averaged (100% of the loss)" in " ".join(card_lines(card))
    # the app's card, where room is short: the ensemble counted, the machine without torch's version or threads
    brief = card_lines(card, brief_stages=True)
    assert "distilled from an ensemble of 2 models, masks averaged (100% of the loss)" in " ".join(brief)
    full_training, brief_training = (next(line for line in lines if line.startswith("training: "))
                                     for lines in (card_lines(card), brief))
    assert ", torch " in full_training and full_training.endswith("1 thread(s)")
    assert brief_training == full_training.split(", torch ")[0]


def test_a_resumed_run_refuses_an_ensemble_teacher_that_changed(tiny_dataset, tmp_path):
    paths = [save_netx(SDNNGraph((257, 32, 32, 257), seed=seed).to_model("teacher"), tmp_path / f"t{seed}.net")
             for seed in (11, 12)]
    config = tiny_config(tiny_dataset, steps=6, eval_every=6, eval_clips=1, teacher=str(paths[0]),
                         teacher_ensemble=(str(paths[1]),))
    run_training(config, tmp_path / "run", should_stop=stop_after(2))
    save_netx(SDNNGraph((257, 32, 32, 257), seed=13).to_model("teacher"), paths[1])  # the second one changed
    with pytest.raises(SpandexError, match=r"^the teacher '[^']*t12.net' is no longer the network this run started "
                                           r"with .*; resume with that model, or start a new run$"):
        run_training(config, tmp_path / "run")


def test_an_ensemble_refuses_one_network_under_two_names(tmp_path):
    """A byte copy of a teacher under another name passes the config's check by path; the networks tell."""
    original = save_netx(SDNNGraph((257, 32, 32, 257), seed=11).to_model("teacher"), tmp_path / "a.net")
    copy = tmp_path / "b.net"
    copy.write_bytes(original.read_bytes())
    other = save_netx(SDNNGraph((257, 32, 32, 257), seed=12).to_model("teacher"), tmp_path / "c.net")
    with pytest.raises(SpandexError, match=r"teachers '.*a.net' and '.*b.net' are the same network"):
        trainer.load_teachers((str(original), str(other), str(copy)))
    assert len(trainer.load_teachers((str(original), str(other)))) == 2


def test_an_ensemble_needs_a_teacher_and_different_models():
    assert TrainConfig(name="a", dataset="d", teacher="t", teacher_ensemble=("u", "v")).teachers == ("t", "u", "v")
    assert TrainConfig(name="a", dataset="d").teachers == ()
    with pytest.raises(ConfigError, match=r"teacher_ensemble = \['u'\] is averaged with a teacher: name one"):
        TrainConfig(name="a", dataset="d", teacher_ensemble=("u",))
    with pytest.raises(ConfigError, match="teacher 'spandex-dense' is given twice"):
        TrainConfig(name="a", dataset="d", teacher=str(find_model("spandex-dense").path),
                    teacher_ensemble=("spandex-frugal", "spandex-dense"))
    # the starting model as one of several teachers at weight 1: the ensemble teaches it something
    TrainConfig(name="a", dataset="d", init="spandex-dense", teacher="spandex-dense",
                teacher_ensemble=("spandex-prune50",), teacher_weight=1.0)
    config = TrainConfig(name="a", dataset="d", teacher="t", teacher_ensemble=("u",))
    assert TrainConfig.from_dict(config.to_dict()) == config
    # in a recipe: null is none, as for the other settings; a list as teacher says where the others go
    assert TrainConfig.from_dict({"name": "a", "dataset": "d", "teacher_ensemble": None}).teachers == ()
    with pytest.raises(ConfigError, match=r"teacher: one model, not \['t', 'u'\]: give the others as "
                                          r"teacher_ensemble: \[MODEL, ...\]"):
        TrainConfig.from_dict({"name": "a", "dataset": "d", "teacher": ["t", "u"]})


def test_a_resumed_run_refuses_a_teacher_that_changed(tiny_dataset, tmp_path):
    teacher_path = save_netx(SDNNGraph((257, 32, 32, 257), seed=11).to_model("teacher"), tmp_path / "teacher.net")
    config = tiny_config(tiny_dataset, steps=6, eval_every=6, eval_clips=1, teacher=str(teacher_path))
    run_training(config, tmp_path / "run", should_stop=stop_after(2))
    save_netx(SDNNGraph((257, 32, 32, 257), seed=12).to_model("teacher"), teacher_path)  # another net, same name
    refused: list = []
    with pytest.raises(SpandexError, match="the teacher .* is no longer the network this run started with"):
        run_training(config, tmp_path / "run", emit=refused.append)
    assert not any(isinstance(e, ev.Loading) for e in refused)  # said before the data's minutes of loading
    save_netx(SDNNGraph((257, 32, 32, 257), seed=11).to_model("teacher"), teacher_path)  # the same net again,
    _add_file_metadata(teacher_path)  # in a file whose bytes differ (it had been refused)
    events: list = []
    run_training(config, tmp_path / "run", emit=events.append)
    card = json.loads(Path(events[-1].card_path).read_text())
    assert card["training"]["teacher_sha256"] == hashlib.sha256(teacher_path.read_bytes()).hexdigest()


def test_a_resumed_run_refuses_an_init_file_that_changed(tiny_dataset, tmp_path):
    """A library name or a file overwritten can come to mean another model, of another layout: resuming said
    "internal error: RuntimeError: Error(s) in loading state_dict" (the shipped prune75 lost 37 neurons once)."""
    init = save_netx(SDNNGraph((257, 48, 48, 257), seed=11).to_model("parent"), tmp_path / "parent.net")
    config = tiny_config(tiny_dataset, steps=6, eval_every=6, eval_clips=1, init=str(init))
    run_training(config, tmp_path / "run", should_stop=stop_after(2))
    save_netx(SDNNGraph((257, 40, 48, 257), seed=11).to_model("parent"), init)  # another layout, same name
    refused: list = []
    with pytest.raises(SpandexError, match=r"^init '.*parent.net' is no longer the network this run started "
                                           r"from \(its layout, weights, thresholds, delays or input encoding "
                                           r"changed\); resume with that model"):
        run_training(config, tmp_path / "run", emit=refused.append)
    assert not any(isinstance(e, ev.Loading) for e in refused)
    save_netx(SDNNGraph((257, 48, 48, 257), seed=11).to_model("parent"), init)  # the same net again
    _add_file_metadata(init)  # in a file whose bytes differ: resumes (it had been refused)
    assert isinstance(run_training(config, tmp_path / "run"), ev.Finished)


def _add_file_metadata(path: Path) -> None:
    """Give a netx file an attribute that changes its bytes and not its network (as another exporter would)."""
    import h5py

    before = path.read_bytes()
    with h5py.File(path, "a") as file:
        file.attrs["saved_by"] = "another tool"
    assert path.read_bytes() != before


def test_a_content_digest_tells_networks_apart_and_not_files():
    model = SDNNGraph((257, 32, 32, 257), seed=11).to_model("a")
    assert model.content_digest() == SDNNGraph((257, 32, 32, 257), seed=11).to_model("b").content_digest()
    layers = list(model.layers)
    changed = layers[1].weight_mant.copy()
    changed[0, 0] += 1
    variants = [dataclasses.replace(layers[1], weight_mant=changed),
                dataclasses.replace(layers[1], threshold_mant=layers[1].threshold_mant + 1),
                dataclasses.replace(layers[1], delays=None if layers[1].delays is not None else np.zeros(32, int))]
    digests = {dataclasses.replace(model, layers=(layers[0], v, layers[2])).content_digest() for v in variants}
    digests.add(dataclasses.replace(model, encoder=dataclasses.replace(model.encoder, offset=-0.1)).content_digest())
    assert len(digests) == 4 and model.content_digest() not in digests


def test_a_teacher_must_teach_something():
    with pytest.raises(ConfigError, match="would learn nothing from itself"):
        TrainConfig(name="a", dataset="d", init="spandex-dense", teacher="spandex-dense", teacher_weight=1.0)
    # pruning or regularising it, its own output keeps the student close to what it was: allowed
    TrainConfig(name="a", dataset="d", init="spandex-dense", teacher="spandex-dense", teacher_weight=1.0,
                regularizer={"weight": 10.0})
    # named by its file, it is the same model
    with pytest.raises(ConfigError, match="would learn nothing from itself"):
        TrainConfig(name="a", dataset="d", init="spandex-dense", teacher_weight=1.0,
                    teacher=str(find_model("spandex-dense").path))
    # beside the clean speech (the default half of the loss), it anchors a fine-tune to where it started: allowed
    assert TrainConfig(name="a", dataset="d", init="spandex-dense", teacher="spandex-dense").distillation_weight == 0.5


@pytest.mark.parametrize("length", [64000, 16000, 1000, 300])
def test_istft_is_torch_istft_of_the_engine_framing(length):
    """The loss's frame-major inverse STFT (its backward pass stays contiguous) rebuilds what torch.istft does,
    edges (fewer frames cover them) and short clips included."""
    generator = torch.Generator().manual_seed(length)
    audio = torch.randn(2, length, generator=generator, dtype=torch.float64)
    spectrum = stft(audio)
    spectrum = spectrum * torch.rand(spectrum.shape, generator=generator, dtype=torch.float64)
    expected = torch.istft(spectrum, N_FFT, HOP, window=torch.ones(N_FFT, dtype=torch.float64), center=True,
                           length=length)
    torch.testing.assert_close(istft(spectrum, length), expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("length", [64000, 1000])
def test_istft_gradient_is_torch_istfts(length):
    """The overlap-add's own backward (each quarter's gradient a slice of the blocks') is the gradient autograd
    takes through torch.istft."""
    generator = torch.Generator().manual_seed(length)
    spectrum = stft(torch.randn(2, length, generator=generator, dtype=torch.float64)).requires_grad_(True)
    weights = torch.randn(2, length, generator=generator, dtype=torch.float64)
    ours, = torch.autograd.grad((istft(spectrum, length) * weights).sum(), spectrum)
    rebuilt = torch.istft(spectrum, N_FFT, HOP, window=torch.ones(N_FFT, dtype=torch.float64), center=True,
                          length=length)
    expected, = torch.autograd.grad((rebuilt * weights).sum(), spectrum)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-13)
    assert expected.abs().max() > 0.01


def test_the_masks_gradient_is_autograds_of_the_plain_product():
    """denoise_batch's mask gradient (re·re' + im·im', its own backward) is what autograd makes of the masked
    spectrum written out plainly; and a spectrum that itself learns gets its gradient too."""
    generator = torch.Generator().manual_seed(5)
    audio = torch.randn(3, 8000, generator=generator, dtype=torch.float64)
    spectrum = stft(audio)
    mask = torch.rand(spectrum.shape, generator=generator, dtype=torch.float64).requires_grad_(True)
    weights = torch.randn(3, 8000, generator=generator, dtype=torch.float64)
    ours, = torch.autograd.grad((denoise_batch(mask, spectrum, 8000)[0] * weights).sum(), mask)
    plain = torch.view_as_complex(torch.view_as_real(spectrum) * mask.unsqueeze(-1))
    expected, = torch.autograd.grad((istft(plain, 8000) * weights).sum(), mask)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-15)
    learning = spectrum.clone().requires_grad_(True)
    grads = torch.autograd.grad((denoise_batch(mask, learning, 8000)[0] * weights).sum(), (mask, learning))
    torch.testing.assert_close(grads[0], expected, rtol=1e-12, atol=1e-15)
    assert grads[1].abs().max() > 0


def test_magnitude_is_abs():
    """hypot in single precision on the CPU; abs where a gradient flows (hypot's is NaN at a zero bin) and in
    double precision (the two differ in the last bit now and then)."""
    spectrum = stft(torch.randn(4, 16000, generator=torch.Generator().manual_seed(1)) * 1e3)
    assert torch.equal(magnitude(spectrum), spectrum.abs())
    silent = stft(torch.cat([torch.zeros(1, 4000), torch.randn(1, 4000)], dim=1)).requires_grad_(True)
    assert (silent.detach() == 0).any()
    gradient, = torch.autograd.grad(magnitude(silent).sum(), silent)
    expected, = torch.autograd.grad(silent.abs().sum(), silent)
    assert torch.isfinite(gradient).all() and torch.equal(gradient, expected)


def test_batch_spectra_hold_what_a_step_needs_without_gradients():
    generator = torch.Generator().manual_seed(2)
    noisy, clean = torch.randn(2, 4000, generator=generator), torch.randn(2, 4000, generator=generator)
    batch = batch_spectra((noisy.requires_grad_(True), clean.requires_grad_(True)))
    assert not any(getattr(batch, name).requires_grad for name in ("noisy_spectrum", "noisy_magnitude",
                                                                    "clean_magnitude"))
    assert batch.noisy is noisy and batch.clean is clean
    with torch.no_grad():
        assert torch.equal(batch.noisy_spectrum, stft(noisy))
        assert torch.equal(batch.noisy_magnitude, stft(noisy).abs())
        assert torch.equal(batch.clean_magnitude, stft(clean).abs())
