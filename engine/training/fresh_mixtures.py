"""Training pairs mixed afresh at every step from clean speech and noise held in memory.

A fixed set of mixtures teaches what it holds: the same few thousand speech/noise pairings at the same SNRs
and levels, seen again every epoch. :class:`FreshMixtures` instead draws every training example anew
(`spandex data build --fresh` lays the sources out, see :mod:`engine.training.dataset_layout`):

* speech: a speaker (group) drawn uniformly (or by the square root of its minutes,
  :attr:`MixingRecipe.speaker_weighting`), so a big group does not dominate — synthetic voices
  (``tts-*`` groups) together get :attr:`MixingRecipe.synthetic_share` of the draws — then consecutive
  utterances of that speaker joined by short pauses until the segment is full;
* a room for part of the speech (impulse responses simulated by pyroomacoustics at build time); the target
  is the reverberant speech: the network removes noise, it is not asked to undo the room;
* optionally (:attr:`MixingRecipe.speed_share`) the speech played 0.9-1.1 times as fast: voices between the
  speakers held;
* a microphone channel: a random tilt/peak equaliser and sometimes a band limit (telephone-like or 7 kHz),
  applied to speech and noise alike (the target hears the same channel); optionally
  (:attr:`MixingRecipe.noise_colour_share`) an equaliser of its own on the noise;
* noise: a recording group, generated noise (white, pink, brown, hum, fan) or babble of other training
  speakers, drawn uniformly by kind; sometimes a second noise on top; and a share of examples with no noise
  at all or at a high SNR, where the right answer is to change nothing ("do no harm");
* SNR between active levels as in N-DNS (:func:`engine.dsp.mixing.mix_at_snr`), then a level over a wider range
  than N-DNS's (−45 … −10 dBFS) and a clipping guard.

Everything is drawn from the numpy generator the trainer passes in, so a resumed run mixes what an
uninterrupted one would have.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from engine.constants import SAMPLE_RATE
from engine.dsp.mixing import active_rms, loop_to_length
from engine.errors import SpandexError
from engine.files.audio import AUDIO_SUFFIXES, load_audio
from engine.training import synthetic_noise
from engine.training.config import MixingRecipe

SYNTHETIC_PREFIX = "tts-"


@dataclass
class _Pool:
    """One group's audio: int16 clips with one scale each (value = sample * scale)."""

    name: str
    clips: list[np.ndarray]
    scales: list[float]

    @property
    def seconds(self) -> float:
        return sum(c.size for c in self.clips) / SAMPLE_RATE

    def clip(self, index: int) -> np.ndarray:
        return self.clips[index].astype(np.float32) * np.float32(self.scales[index])


def _load_group(folder: Path, max_seconds: float, rng: np.random.Generator) -> _Pool:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    order = rng.permutation(len(files))
    clips, scales, total = [], [], 0.0
    for index in order:
        audio = load_audio(files[index])
        if audio.size < SAMPLE_RATE // 10 or not np.any(audio):
            continue
        peak = float(np.max(np.abs(audio)))
        scale = peak / 32767.0
        clips.append(np.round(audio / scale).astype(np.int16))
        scales.append(scale)
        total += audio.size / SAMPLE_RATE
        if total >= max_seconds:
            break
    return _Pool(folder.name, clips, scales)


def _groups(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise SpandexError(f"{folder}: the fresh-mixture sources need this folder (spandex data build --fresh)")
    groups = sorted(p for p in folder.iterdir() if p.is_dir())
    if not groups:
        raise SpandexError(f"{folder}: no group folders (one subfolder per speaker or noise kind)")
    return groups


def _speaker_weights(speech: list[_Pool], recipe: MixingRecipe) -> np.ndarray:
    """Each speech group's probability of being drawn: real speakers share 1 − synthetic_share (alike, or by
    the square root of their minutes), synthetic voices (``tts-*`` groups) share the rest alike."""
    real = [i for i, p in enumerate(speech) if not p.name.startswith(SYNTHETIC_PREFIX)]
    synthetic = [i for i, p in enumerate(speech) if p.name.startswith(SYNTHETIC_PREFIX)]
    weights = np.zeros(len(speech))
    real_share = 1 - recipe.synthetic_share if real and synthetic else 1.0
    if real and recipe.speaker_weighting == "sqrt_minutes":
        sizes = np.array([math.sqrt(speech[i].seconds) for i in real])
        weights[real] = real_share * sizes / sizes.sum()
    elif real:
        weights[real] = real_share / len(real)
    if synthetic:
        weights[synthetic] = (recipe.synthetic_share if real else 1.0) / len(synthetic)
    return weights


class FreshMixtures:
    """Clean speech, noise and room responses in memory; :meth:`batch` mixes a new batch every call."""

    def __init__(self, speech: list[_Pool], noise: list[_Pool], rooms: list[np.ndarray],
                 recipe: MixingRecipe = MixingRecipe()) -> None:
        if not speech or not noise:
            raise SpandexError("fresh mixtures need at least one speech group and one noise group")
        self.speech, self.noise, self.rooms, self.recipe = speech, noise, rooms, recipe
        self._speech_weights = _speaker_weights(speech, recipe)

    @property
    def speaker_shares(self) -> dict[str, float]:
        """Each speech group's probability of being drawn for an example."""
        return {pool.name: float(p) for pool, p in zip(self.speech, self._speech_weights, strict=True)}

    @classmethod
    def load(cls, root: str | Path, recipe: MixingRecipe = MixingRecipe(), seed: int = 0,
             progress: Callable[[int, int], None] | None = None) -> FreshMixtures:
        """Read ``root``/speech/<group>/…, ``root``/noise/<group>/… and ``root``/rooms.npz."""
        root = Path(root)
        folders = [("speech", g) for g in _groups(root / "speech")] + [("noise", g) for g in _groups(root / "noise")]
        rng = np.random.default_rng(seed)
        speech: list[_Pool] = []
        noise: list[_Pool] = []
        for done, (kind, folder) in enumerate(folders):
            pool = _load_group(folder, recipe.max_group_minutes * 60, rng)
            if pool.clips:
                (speech if kind == "speech" else noise).append(pool)
            if progress is not None:
                progress(done + 1, len(folders))
        rooms: list[np.ndarray] = []
        if (root / "rooms.npz").is_file():
            with np.load(root / "rooms.npz") as data:
                rooms = [data[k].astype(np.float32) for k in sorted(data.files)]
        return cls(speech, noise, rooms, recipe)

    # --- what a model card says -------------------------------------------------------------------------

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.speech)

    def __len__(self) -> int:
        return sum(len(p.clips) for p in self.speech)

    def describe(self) -> dict:
        return {
            "mixing": "fresh mixtures every step (engine/training/fresh_mixtures.py)",
            "recipe": self.recipe.to_dict(),
            "speech_groups": {p.name: round(p.seconds / 60, 1) for p in self.speech},
            "noise_groups": {p.name: round(p.seconds / 60, 1) for p in self.noise},
            "generated_noise": sorted(synthetic_noise.GENERATORS),
            "rooms": len(self.rooms),
        }

    # --- drawing ----------------------------------------------------------------------------------------

    def batch(self, rng: np.random.Generator, size: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` new (noisy, clean) examples of ``samples`` each, float32."""
        noisy = np.zeros((size, samples), dtype=np.float32)
        clean = np.zeros((size, samples), dtype=np.float32)
        for row in range(size):
            noisy[row], clean[row] = self.example(rng, samples)
        return torch.from_numpy(noisy), torch.from_numpy(clean)

    def example(self, rng: np.random.Generator, samples: int) -> tuple[np.ndarray, np.ndarray]:
        recipe = self.recipe
        group = int(rng.choice(len(self.speech), p=self._speech_weights))
        if recipe.speed_share > 0.0 and rng.random() < recipe.speed_share:
            speech = self._faster_or_slower(self.speech[group], rng, samples)
        else:
            speech = self._utterances(self.speech[group], rng, samples)
        if self.rooms and rng.random() < recipe.reverb_share:
            room = self.rooms[int(rng.integers(len(self.rooms)))]
            speech = fftconvolve(speech, room)[:samples]
        draw = rng.random()
        if draw < recipe.clean_share:
            noise = None
        else:
            noise = self._noise(rng, samples, exclude=group)
            if rng.random() < recipe.second_noise_share:
                extra = self._noise(rng, samples, exclude=group)
                noise = noise + extra * np.float32(10 ** (rng.uniform(-10, 3) / 20))
            if recipe.noise_colour_share > 0.0 and rng.random() < recipe.noise_colour_share:
                noise = sosfilt(_random_equaliser(rng), noise)
        channel = self._channel(rng)
        if channel is not None:
            speech = sosfilt(channel, speech)
            if noise is not None:
                noise = sosfilt(channel, noise)
        speech_rms = active_rms(speech)
        if speech_rms == 0.0:
            return np.zeros(samples, np.float32), np.zeros(samples, np.float32)
        if noise is not None:
            noise_rms = active_rms(noise)
            if noise_rms > 0.0:
                high = draw < recipe.clean_share + recipe.high_snr_share
                low_db, high_db = recipe.high_snr_db if high else recipe.snr_db
                snr = rng.uniform(low_db, high_db)
                noise = noise * (speech_rms / noise_rms) * 10.0 ** (-snr / 20.0)
                mixture = speech + noise
            else:
                mixture = speech
        else:
            mixture = speech
        level = rng.uniform(*recipe.level_dbfs)
        gain = 10.0 ** (level / 20.0) / max(active_rms(mixture), 1e-9)
        peak = float(np.max(np.abs(mixture))) * gain
        if peak > 0.99:
            gain *= 0.99 / peak
        return (mixture * gain).astype(np.float32), (speech * gain).astype(np.float32)

    def _utterances(self, pool: _Pool, rng: np.random.Generator, samples: int) -> np.ndarray:
        """One speaker's utterances joined by 0.1-0.6 s pauses, starting somewhere inside the first."""
        parts, total = [], 0
        index = int(rng.integers(len(pool.clips)))
        first = pool.clip(index)
        start = int(rng.integers(max(1, first.size - SAMPLE_RATE // 2)))
        parts.append(first[start:])
        total += parts[-1].size
        while total < samples:
            parts.append(np.zeros(int(rng.uniform(0.1, 0.6) * SAMPLE_RATE), np.float32))
            index = int(rng.integers(len(pool.clips)))
            parts.append(pool.clip(index))
            total += parts[-2].size + parts[-1].size
        return np.concatenate(parts)[:samples].astype(np.float64)

    def _faster_or_slower(self, pool: _Pool, rng: np.random.Generator, samples: int) -> np.ndarray:
        """The speaker's utterances played ``f`` times as fast, ``f`` drawn from :attr:`MixingRecipe.speed` to
        the hundredth (a polyphase resampler, 100 / round(100 f)): tempo, pitch and formants move together."""
        low, high = self.recipe.speed
        down = int(round(100 * rng.uniform(low, high)))
        source = self._utterances(pool, rng, -(-samples * down // 100) + 1)
        return resample_poly(source, 100, down)[:samples]

    def _noise(self, rng: np.random.Generator, samples: int, exclude: int) -> np.ndarray:
        recipe = self.recipe
        draw = rng.random()
        if draw < recipe.generated_noise_share:
            kinds = sorted(synthetic_noise.GENERATORS)
            return synthetic_noise.GENERATORS[kinds[int(rng.integers(len(kinds)))]](samples, rng).astype(np.float64)
        if draw < recipe.generated_noise_share + recipe.babble_share and len(self.speech) > 1:
            others = [i for i in range(len(self.speech)) if i != exclude]
            babble = np.zeros(samples)
            for _ in range(int(rng.integers(3, 7))):
                voice = self._utterances(self.speech[others[int(rng.integers(len(others)))]], rng, samples)
                babble += voice / max(math.sqrt(float(np.mean(voice**2))), 1e-9)
            return babble
        pool = self.noise[int(rng.integers(len(self.noise)))]
        clip = pool.clip(int(rng.integers(len(pool.clips)))).astype(np.float64)
        if clip.size > samples:
            start = int(rng.integers(clip.size - samples + 1))
            return clip[start:start + samples]
        offset = int(rng.integers(clip.size))
        return loop_to_length(np.roll(clip, -offset), samples)

    def _channel(self, rng: np.random.Generator) -> np.ndarray | None:
        """A random microphone/line channel as second-order sections, or None (flat)."""
        recipe = self.recipe
        sections = []
        if rng.random() < recipe.equaliser_share:
            sections.append(_random_equaliser(rng))
        if rng.random() < recipe.band_limit_share:
            cutoff = rng.choice([3400.0, 4000.0, 5500.0, 7000.0])
            sections.append(butter(4, cutoff, "lowpass", fs=SAMPLE_RATE, output="sos"))
            if cutoff <= 4000.0:
                sections.append(butter(2, 300.0, "highpass", fs=SAMPLE_RATE, output="sos"))
        return np.concatenate(sections) if sections else None


def _random_equaliser(rng: np.random.Generator) -> np.ndarray:
    """A peak (150 Hz-5 kHz, ±8 dB) and a high shelf (1-4 kHz, ±6 dB), as second-order sections."""
    return np.concatenate([_peaking(rng.uniform(150, 5000), rng.uniform(-8, 8), rng.uniform(0.5, 2.0)),
                           _shelf(rng.uniform(1000, 4000), rng.uniform(-6, 6))])


def _peaking(frequency: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ audio-EQ-cookbook peaking filter as one second-order section."""
    a = 10 ** (gain_db / 40)
    w = 2 * math.pi * frequency / SAMPLE_RATE
    alpha = math.sin(w) / (2 * q)
    b0, b1, b2 = 1 + alpha * a, -2 * math.cos(w), 1 - alpha * a
    a0, a1, a2 = 1 + alpha / a, -2 * math.cos(w), 1 - alpha / a
    return np.array([[b0 / a0, b1 / a0, b2 / a0, 1.0, a1 / a0, a2 / a0]])


def _shelf(frequency: float, gain_db: float) -> np.ndarray:
    """RBJ high-shelf filter (slope 1) as one second-order section: a tilt of the upper band."""
    a = 10 ** (gain_db / 40)
    w = 2 * math.pi * frequency / SAMPLE_RATE
    alpha = math.sin(w) / 2 * math.sqrt(2)
    cos, root = math.cos(w), 2 * math.sqrt(a) * alpha
    b0 = a * ((a + 1) + (a - 1) * cos + root)
    b1 = -2 * a * ((a - 1) + (a + 1) * cos)
    b2 = a * ((a + 1) + (a - 1) * cos - root)
    a0 = (a + 1) - (a - 1) * cos + root
    a1 = 2 * ((a - 1) - (a + 1) * cos)
    a2 = (a + 1) - (a - 1) * cos - root
    return np.array([[b0 / a0, b1 / a0, b2 / a0, 1.0, a1 / a0, a2 / a0]])


def simulate_rooms(count: int, seed: int) -> dict[str, np.ndarray]:
    """``count`` room impulse responses (pyroomacoustics shoebox rooms, image method + ray tracing off):
    rooms 3-12 m, RT60 0.15-0.9 s, source 0.5-3 m from the microphone; each normalised so its direct path
    is 1 and cut at 0.5 s."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    rooms: dict[str, np.ndarray] = {}
    while len(rooms) < count:
        size = np.array([rng.uniform(3, 12), rng.uniform(3, 10), rng.uniform(2.4, 4)])
        rt60 = rng.uniform(0.15, 0.9)
        try:
            absorption, max_order = pra.inverse_sabine(rt60, size)
        except ValueError:
            continue
        room = pra.ShoeBox(size, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=min(max_order, 12))
        mic = np.array([rng.uniform(0.5, size[0] - 0.5), rng.uniform(0.5, size[1] - 0.5), rng.uniform(0.8, 1.8)])
        direction = rng.normal(size=3)
        direction[2] *= 0.2
        source = mic + direction / np.linalg.norm(direction) * rng.uniform(0.5, 3.0)
        if np.any(source < 0.3) or np.any(source > size - 0.3):
            continue
        room.add_source(source)
        room.add_microphone(mic)
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], dtype=np.float64)
        onset = int(np.argmax(np.abs(rir)))
        rir = rir[max(0, onset - 40):][: SAMPLE_RATE // 2]
        rir /= np.max(np.abs(rir))
        rooms[f"room{len(rooms):03d}_rt{int(rt60 * 1000):03d}"] = rir.astype(np.float32)
    return rooms


def write_rooms(path: Path, count: int, seed: int) -> None:
    from engine.files.atomic import atomic_output

    rooms = simulate_rooms(count, seed)
    with atomic_output(path) as temporary, open(temporary, "wb") as out:
        np.savez_compressed(out, **rooms)
