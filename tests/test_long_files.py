"""Files of any length stream from disk to disk with the samples of the whole-file path; damaged files are said;
an interrupted `spandex denoise` leaves the old OUT and no temporary file."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from engine.backends import prepare
from engine.constants import HOP
from engine.denoiser import AlignedDenoiser, StreamingDenoiser, denoise
from engine.dsp.block_resampler import BlockResampler
from engine.evaluation.evaluate import WHOLE_FILE_SECONDS, evaluate
from engine.evaluation.metrics import SISNRSums, si_snr
from engine.files.audio import load_audio, open_audio, resample
from engine.files.netx import load_model
from engine.files.pairing import Pair
from tests.reference_models import reference_path
from tests.terminal import as_if_from_a_terminal

REPO = Path(__file__).resolve().parents[1]


def whole_file_denoise(audio: np.ndarray, runner) -> np.ndarray:
    """What `spandex denoise` computed before it streamed: the whole signal padded, hop by hop, then aligned."""
    n = audio.size
    padded = np.zeros(-(-n // HOP) * HOP)
    padded[:n] = audio
    denoiser = StreamingDenoiser(runner)
    denoiser.reset()
    out = [denoiser.process(padded[k:k + HOP])[0] for k in range(0, padded.size, HOP)]
    out.append(denoiser.finish()[0])
    return np.concatenate(out)[denoiser.latency_samples:denoiser.latency_samples + n].astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 16000])
def test_block_resampling_is_bit_identical_to_resample_poly(rate):
    x = np.random.default_rng(rate).standard_normal(3 * rate + 17)
    whole = resample_poly(x, *(np.array([16000, rate]) // np.gcd(16000, rate))) if rate != 16000 else x
    for block in (1000, 4096, 65536):
        resampler = BlockResampler(x.size, rate, 16000)
        parts = [resampler.push(x[i:i + block]) for i in range(0, x.size, block)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("rate, channels", [(16000, 1), (44100, 2), (8000, 1)])
def test_streamed_file_denoising_is_the_whole_file_denoising(tmp_path, noisy_speech, rate, channels):
    noisy = noisy_speech[0][:16000 * 6]
    audio = resample(noisy, 16000, rate) if rate != 16000 else noisy.astype(np.float32)
    sf.write(tmp_path / "in.wav", np.stack([audio] * channels, axis=1), rate, subtype="FLOAT")
    runner = prepare(load_model(reference_path("spandex_prune75.net")), "sparse")
    data, _ = sf.read(tmp_path / "in.wav", dtype="float32", always_2d=True)  # as load_audio read files before
    expected = whole_file_denoise(resample(data.mean(axis=1), rate, 16000).astype(np.float64), runner)
    source = open_audio(tmp_path / "in.wav")
    for block in (777, 65536):
        stream = AlignedDenoiser(runner)
        parts = [stream.push(b) for b in source.blocks(block)] + [stream.finish()]
        np.testing.assert_array_equal(np.concatenate(parts), expected)
    np.testing.assert_array_equal(load_audio(tmp_path / "in.wav"), resample(data.mean(axis=1), rate, 16000))
    np.testing.assert_array_equal(denoise(load_audio(tmp_path / "in.wav"), runner).audio, expected)


def spandex(*args, cwd=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "cli.main", *map(str, args)], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)}, **kwargs)


def test_cli_writes_the_whole_file_samples_in_the_format_its_name_says(tmp_path, noisy_speech):
    noisy = noisy_speech[0][:16000 * 5].astype(np.float32)
    sf.write(tmp_path / "in.wav", noisy, 16000, subtype="FLOAT")
    model = reference_path("spandex_prune75.net")
    expected = whole_file_denoise(noisy.astype(np.float64), prepare(load_model(model), "dense"))
    reference = {kind: tmp_path / f"reference.{kind}" for kind in ("wav", "flac")}  # each format's own rounding
    for path in reference.values():
        sf.write(path, np.clip(expected, -1, 1), 16000, subtype="PCM_16")
    for name, kind in (("new/deeper/out.wav", "WAV"), ("out.flac", "FLAC"), ("out.ogg", "OGG")):
        result = spandex("denoise", tmp_path / "in.wav", tmp_path / name, "--model", model)
        assert result.returncode == 0, result.stderr
        assert sf.info(tmp_path / name).format == kind
    first = spandex("denoise", tmp_path / "in.wav", tmp_path / "fresh" / "out.wav", "--model", model)
    assert f"note: created the folder {tmp_path / 'fresh'} for OUT" in first.stderr
    np.testing.assert_array_equal(sf.read(tmp_path / "new/deeper/out.wav", dtype="int16")[0],
                                  sf.read(reference["wav"], dtype="int16")[0])
    np.testing.assert_array_equal(sf.read(tmp_path / "out.flac", dtype="int16")[0],
                                  sf.read(reference["flac"], dtype="int16")[0])
    assert not list(tmp_path.rglob(".*.tmp"))


def test_follow_link_writes_through_to_the_target(tmp_path, noisy_speech):
    sf.write(tmp_path / "in.wav", noisy_speech[0][:16000 * 2], 16000)
    (tmp_path / "real.wav").write_bytes(b"old")
    (tmp_path / "link.wav").symlink_to("real.wav")
    result = spandex("denoise", "in.wav", "link.wav", "--model", reference_path("ndns_baseline.net"), "--follow-link",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "link.wav").is_symlink() and sf.info(tmp_path / "real.wav").duration == pytest.approx(2.0)


def test_a_truncated_file_is_processed_with_a_warning_naming_both_lengths(tmp_path, noisy_speech):
    sf.write(tmp_path / "full.wav", noisy_speech[0][:32000], 16000, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:44 + 2 * 16000])  # the header still says 2 s
    result = spandex("denoise", tmp_path / "cut.wav", tmp_path / "out.wav", "--model",
                     reference_path("ndns_baseline.net"))
    assert result.returncode == 0, result.stderr
    assert "warning: " in result.stderr and "the header says 2.00 s (32,000 samples) but the file holds 1.00 s " \
                                            "(16,000 samples)" in result.stderr
    assert sf.info(tmp_path / "out.wav").frames == 16000


def test_damaged_flac_is_read_up_to_the_damage_with_a_warning(tmp_path, noisy_speech):
    sf.write(tmp_path / "full.flac", noisy_speech[0][:16000 * 4], 16000)
    data = (tmp_path / "full.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[:len(data) // 2])
    with pytest.warns(UserWarning, match=r"the audio data is damaged after .* the header says 4.00 s"):
        audio = load_audio(tmp_path / "cut.flac")
    assert 0 < audio.size < 16000 * 4


def long_input(folder: Path, noisy: np.ndarray, minutes: float) -> Path:
    path = folder / "long.wav"
    with sf.SoundFile(path, "w", 16000, 1, subtype="PCM_16") as out:
        for _ in range(int(minutes * 60 * 16000 / noisy.size) + 1):
            out.write(noisy)
    return path


def wait_for_temporary(folder: Path, process: subprocess.Popen) -> list[Path]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        found = list(folder.glob(".out.wav.*.tmp"))
        if found and found[0].stat().st_size > 0:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no temporary file appeared (exit {process.poll()}): {process.stderr.read()}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_file_keeps_the_old_output_and_leaves_no_temporary_file(tmp_path, noisy_speech, signum):
    long_input(tmp_path, noisy_speech[0].astype(np.float32), minutes=20)
    (tmp_path / "out.wav").write_bytes(b"the previous result")
    before = hashlib.sha256((tmp_path / "out.wav").read_bytes()).hexdigest()
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "denoise", "long.wav", "out.wav", "--model",
                                str(reference_path("ndns_baseline.net"))], cwd=tmp_path, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                               preexec_fn=as_if_from_a_terminal)  # a suite run in the background ignores Ctrl-C
    wait_for_temporary(tmp_path, process)
    process.send_signal(signum)
    assert process.wait(timeout=60) == 128 + signum  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM
    assert "spandex: interrupted" in process.stderr.read()
    assert hashlib.sha256((tmp_path / "out.wav").read_bytes()).hexdigest() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_temporary_file_left_by_a_killed_process_goes_with_the_next_write(tmp_path, noisy_speech):
    long_input(tmp_path, noisy_speech[0].astype(np.float32), minutes=20)
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "denoise", "long.wav", "out.wav", "--model",
                                str(reference_path("ndns_baseline.net"))], cwd=tmp_path, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    left = wait_for_temporary(tmp_path, process)
    process.kill()  # SIGKILL: nothing can clean up
    process.wait(timeout=30)
    assert left[0].exists()
    sf.write(tmp_path / "short.wav", noisy_speech[0][:16000], 16000)
    assert spandex("denoise", "short.wav", "out.wav", "--model", reference_path("ndns_baseline.net"),
                   cwd=tmp_path).returncode == 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_streamed_si_snr_sums_equal_the_whole_signal_formula():
    rng = np.random.default_rng(5)
    clean = rng.standard_normal(50_000) + 0.3
    estimate = clean + 0.2 * rng.standard_normal(50_000)
    sums = SISNRSums()
    for start in range(0, clean.size, 7000):
        sums.add(clean[start:start + 7000], estimate[start:start + 7000])
    assert sums.value() == pytest.approx(si_snr(clean, estimate), abs=1e-9)


def test_eval_scores_a_pair_longer_than_a_segment_in_bounded_pieces(tmp_path, noisy_speech):
    noisy, clean = noisy_speech
    repeats = int(WHOLE_FILE_SECONDS * 16000 / noisy.size) + 2
    noisy, clean = np.tile(noisy, repeats), np.tile(clean, repeats)
    sf.write(tmp_path / "noisy.wav", noisy, 16000, subtype="FLOAT")
    sf.write(tmp_path / "clean.wav", clean, 16000, subtype="FLOAT")
    model = load_model(reference_path("spandex_prune75.net"))
    score = evaluate(model, [Pair(tmp_path / "noisy.wav", tmp_path / "clean.wav", "long")], "sparse").files[0]
    expected = whole_file_denoise(noisy.astype(np.float32).astype(np.float64), prepare(model, "sparse"))
    clean32 = clean.astype(np.float32)
    assert score.si_snr == pytest.approx(si_snr(clean32, expected), abs=1e-6)
    assert score.si_snr_noisy == pytest.approx(si_snr(clean32, noisy.astype(np.float32)), abs=1e-6)
    assert "mean over 60 s segments" in score.note and 1.0 <= score.pesq <= 4.7 and 0 < score.stoi <= 1
