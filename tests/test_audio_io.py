"""engine.files.audio on real files written to disk: rates, channels, bad input, atomic writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.constants import SAMPLE_RATE
from engine.errors import AudioInputError, SpandexError
from engine.files.audio import MIN_SAMPLES, is_silent, load_audio, resample, write_wav


def sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_freq(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spec)])


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_sine_keeps_its_frequency_and_duration(tmp_path: Path, rate: int) -> None:
    path = tmp_path / f"sine_{rate}.wav"
    sf.write(path, sine(1000.0, rate, 2.0), rate)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - 2 * SAMPLE_RATE) <= 1
    assert dominant_freq(audio, SAMPLE_RATE) == pytest.approx(1000.0, abs=1.0)
    middle = audio[SAMPLE_RATE // 2 : -SAMPLE_RATE // 2]  # away from filter edges
    reference = sine(1000.0, SAMPLE_RATE, 2.0)[SAMPLE_RATE // 2 : -SAMPLE_RATE // 2]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(np.sqrt(np.mean(reference**2)), rel=0.01)


def test_stereo_44k1_is_averaged_to_mono_and_resampled(tmp_path: Path) -> None:
    left = sine(1000.0, 44100, 1.5, amp=0.6)
    right = sine(1000.0, 44100, 1.5, amp=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100)
    audio = load_audio(path)
    assert audio.size == 24000
    assert dominant_freq(audio, SAMPLE_RATE) == pytest.approx(1000.0, abs=1.0)
    peak = np.max(np.abs(audio[4000:-4000]))
    assert peak == pytest.approx(0.4, abs=0.005)  # mean of 0.6 and 0.2


def test_tone_above_new_nyquist_is_filtered_not_aliased(tmp_path: Path) -> None:
    path = tmp_path / "high.wav"
    sf.write(path, sine(12000.0, 48000, 1.0), 48000)  # would alias to 4 kHz
    audio = load_audio(path)
    assert np.sqrt(np.mean(audio[2000:-2000] ** 2)) < 1e-3


def test_16k_flac_and_ogg_load_unchanged_length(tmp_path: Path) -> None:
    x = sine(440.0, SAMPLE_RATE, 1.0)
    sf.write(tmp_path / "a.flac", x, SAMPLE_RATE)
    sf.write(tmp_path / "a.ogg", x, SAMPLE_RATE)
    flac = load_audio(tmp_path / "a.flac")
    np.testing.assert_allclose(flac, x, atol=1e-4)  # 16-bit FLAC
    assert load_audio(tmp_path / "a.ogg").size == x.size


def test_real_speech_file_loads(speech_corpus: list[Path]) -> None:
    audio = load_audio(speech_corpus[0])
    assert audio.size > SAMPLE_RATE and not is_silent(audio)
    assert sf.info(speech_corpus[0]).samplerate == SAMPLE_RATE


def test_resample_uses_reduced_ratio_and_round_trips() -> None:
    x = sine(300.0, SAMPLE_RATE, 1.0)
    up = resample(x, 16000, 44100)
    assert up.size == 44100 and up.dtype == np.float32
    back = resample(up, 44100, 16000)
    np.testing.assert_allclose(back[500:-500], x[500:-500], atol=2e-3)
    assert resample(x, 16000, 16000) is x


def test_resample_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match="positive integers"):
        resample(np.zeros(10), 0, 16000)
    with pytest.raises(ValueError, match="positive integers"):
        resample(np.zeros(10), 16000, 22050.5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is a text file, not audio\n" * 20), "not a readable audio file"),
        (lambda p: p.write_bytes(np.random.default_rng(1).bytes(8000)), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros(0, dtype=np.float32), 16000), "no audio samples"),
        (lambda p: sf.write(p, np.zeros(300, dtype=np.float32), 16000), "too short"),
        (lambda p: sf.write(p, np.zeros(1000, dtype=np.float32), 44100), "too short"),
    ],
    ids=["missing", "empty", "text", "random-bytes", "zero-samples", "300-samples", "1000@44k1"],
)
def test_bad_files_give_a_clear_error(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "input.wav"
    make(path)
    with pytest.raises(AudioInputError, match=message) as info:
        load_audio(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_rejected(tmp_path: Path, bad: float) -> None:
    x = sine(440.0, SAMPLE_RATE, 0.5)
    x[1234] = bad
    path = tmp_path / "bad.wav"
    sf.write(path, x, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="NaN or infinite"):
        load_audio(path)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="a folder, not an audio file"):
        load_audio(tmp_path)


def test_exactly_one_frame_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "frame.wav"
    sf.write(path, np.full(MIN_SAMPLES, 0.1, dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    assert load_audio(path).size == MIN_SAMPLES


def test_silence_is_valid_and_detected(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    audio = load_audio(path)
    assert audio.size == SAMPLE_RATE
    assert is_silent(audio)
    rng = np.random.default_rng(0)
    assert is_silent(1e-4 * rng.standard_normal(SAMPLE_RATE))  # -80 dBFS hiss
    assert not is_silent(sine(440.0, SAMPLE_RATE, 1.0, amp=0.01))  # -43 dBFS tone


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_write_wav_round_trip_creates_folders(tmp_path: Path, subtype: str) -> None:
    x = sine(700.0, SAMPLE_RATE, 0.5)
    path = tmp_path / "deep" / "er" / "out.wav"
    assert write_wav(path, x, subtype=subtype) == path
    info = sf.info(path)
    assert info.samplerate == SAMPLE_RATE and info.subtype == subtype
    np.testing.assert_allclose(load_audio(path), x, atol=1e-4 if subtype == "PCM_16" else 0)
    assert [p.name for p in path.parent.iterdir()] == ["out.wav"]


def test_write_wav_clips_pcm_and_keeps_float(tmp_path: Path) -> None:
    x = np.array([0.5, 1.5, -2.0] * 200, dtype=np.float32)
    write_wav(tmp_path / "pcm.wav", x)
    write_wav(tmp_path / "float.wav", x, subtype="FLOAT")
    pcm, _ = sf.read(tmp_path / "pcm.wav", dtype="float32")
    flt, _ = sf.read(tmp_path / "float.wav", dtype="float32")
    assert pcm.max() == pytest.approx(1.0, abs=1e-4) and pcm.min() == -1.0
    np.testing.assert_array_equal(flt, x)


def test_write_wav_refuses_nan_and_leaves_nothing(tmp_path: Path) -> None:
    x = np.zeros(1000, dtype=np.float32)
    x[3] = np.nan
    with pytest.raises(AudioInputError, match="NaN"):
        write_wav(tmp_path / "out.wav", x)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    """A real mid-write failure (file size limit -> EFBIG) in a child process."""
    path = tmp_path / "take.wav"
    old = sine(440.0, SAMPLE_RATE, 1.0)
    write_wav(path, old)
    before = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from engine.files.audio import write_wav
        from engine.errors import SpandexError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        try:
            write_wav({str(path)!r}, np.ones(160000, dtype=np.float32) * 0.1)
        except SpandexError as exc:
            print("failed:", exc)
        else:
            print("wrote")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("failed:"), result.stdout
    assert "File too large" in result.stdout and str(path) in result.stdout
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["take.wav"]


def test_write_into_a_path_blocked_by_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("not a folder")
    with pytest.raises(SpandexError, match="cannot write"):
        write_wav(tmp_path / "blocker" / "out.wav", np.zeros(600, dtype=np.float32))


def test_written_files_get_the_mode_of_any_new_file(tmp_path: Path) -> None:
    # atomic writes go through a private temporary file; the result must not stay private (0600)
    script = textwrap.dedent(f"""
        import os, numpy as np
        from engine.files.audio import write_wav
        os.umask(0o022)
        write_wav({str(tmp_path / 'a.wav')!r}, np.zeros(160, np.float32))
        os.umask(0o077)
        write_wav({str(tmp_path / 'b.wav')!r}, np.zeros(160, np.float32))
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).resolve().parents[1])
    assert (tmp_path / "a.wav").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.wav").stat().st_mode & 0o777 == 0o600
