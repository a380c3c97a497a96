"""Batches drawn a step ahead on a worker thread are the batches an unprefetched run draws, and a checkpoint
taken meanwhile keeps the generator where the steps so far left it."""

import threading

import numpy as np
import pytest
import torch

from engine.training.prefetch import BatchPrefetcher


class Noise:
    """A stand-in batch source: what it draws depends on every call made on the generator before."""

    def __init__(self) -> None:
        self.threads: set[str] = set()

    def batch(self, rng: np.random.Generator, rows: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.threads.add(threading.current_thread().name)
        noisy = rng.standard_normal((rows, samples)).astype(np.float32)
        return torch.from_numpy(noisy), torch.from_numpy(noisy * 0.5)


def test_prefetched_batches_and_generator_state_are_an_unprefetched_runs():
    source = Noise()
    plain = np.random.default_rng(3)
    expected, states = [], []
    for _ in range(5):
        expected.append(source.batch(plain, 2, 100))
        states.append(plain.bit_generator.state)
    rng = np.random.default_rng(3)
    prefetcher = BatchPrefetcher(source.batch, rng, 2, 100)
    for step in range(5):
        noisy, clean = prefetcher.next()
        assert torch.equal(noisy, expected[step][0]) and torch.equal(clean, expected[step][1])
        assert prefetcher.generator_state == states[step]  # what a checkpoint after this step keeps
    prefetcher.close()  # waits for the sixth batch, drawn ahead, and drops it
    assert rng.bit_generator.state == states[-1]
    assert torch.equal(source.batch(rng, 2, 100)[0], source.batch(plain, 2, 100)[0])  # and goes on from there
    assert any(name.startswith("spandex-batches") for name in source.threads)


def test_a_failed_draw_raises_in_the_step_that_needed_it():
    calls = []

    def draw(rng, rows, samples):
        calls.append(rows)
        if len(calls) == 2:
            raise OSError("clip unreadable")
        return torch.zeros(rows, samples), torch.zeros(rows, samples)

    prefetcher = BatchPrefetcher(draw, np.random.default_rng(0), 1, 10)
    prefetcher.next()
    with pytest.raises(OSError, match="clip unreadable"):
        prefetcher.next()
    prefetcher.close()


def test_serves_only_the_same_source_and_shape():
    source, other = Noise(), Noise()
    prefetcher = BatchPrefetcher(source.batch, np.random.default_rng(0), 2, 100)
    assert prefetcher.serves(source.batch, 2, 100)
    assert not prefetcher.serves(other.batch, 2, 100)
    assert not prefetcher.serves(source.batch, 2, 200)
    prefetcher.close()


def test_the_worker_prepares_each_batch_before_handing_it_out():
    """A CPU run has its worker make each batch's spectra too (engine/training/trainer.py): prepare(draw(...))."""
    source, prepared_on = Noise(), []

    def prepare(batch):
        prepared_on.append(threading.current_thread().name)
        noisy, clean = batch
        return noisy + clean

    plain = np.random.default_rng(4)
    expected = [sum(source.batch(plain, 2, 50)) for _ in range(3)]
    prefetcher = BatchPrefetcher(source.batch, np.random.default_rng(4), 2, 50, prepare=prepare)
    for step in range(3):
        assert torch.equal(prefetcher.next(), expected[step])
    prefetcher.close()
    assert len(prepared_on) == 4 and all(name.startswith("spandex-batches") for name in prepared_on[1:])
