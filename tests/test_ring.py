"""Lock-free rings: wrap-around, all-or-nothing reads, lapped consumers, the doorbell."""

from __future__ import annotations

import threading

import numpy as np

from engine.live.ring import Doorbell, RecordRing, SampleRing


def test_sample_ring_wraps_and_keeps_order():
    ring = SampleRing(100)
    assert ring.capacity == 128
    sent, got = np.arange(1000, dtype=np.float32), []
    position = 0
    out = np.empty(48, dtype=np.float32)
    while len(got) * 48 < 960:
        position += ring.write(sent[position:position + 70])
        while ring.read_into(out):
            got.append(out.copy())
    assert np.array_equal(np.concatenate(got), sent[:len(got) * 48])


def test_sample_ring_never_overwrites_and_reads_all_or_nothing():
    ring = SampleRing(16)
    assert ring.write(np.ones(20, np.float32)) == 16
    assert ring.write(np.ones(1, np.float32)) == 0
    out = np.zeros(32, np.float32)
    assert ring.read_into(out) == 0 and ring.available() == 16
    ring.skip(10)
    assert ring.available() == 6 and ring.read_all().size == 6


def test_sample_ring_between_threads():
    ring, total = SampleRing(256), 200_000
    got = []

    def consume():
        out = np.empty(64, np.float32)
        while sum(g.size for g in got) < total:
            if ring.read_into(out):
                got.append(out.copy())

    consumer = threading.Thread(target=consume)
    consumer.start()
    data, position = np.arange(total, dtype=np.float32), 0
    while position < total:
        position += ring.write(data[position:position + 96])
    consumer.join(30)
    assert np.array_equal(np.concatenate(got), data)


def test_record_ring_in_a_shared_buffer():
    dtype = np.dtype([("n", np.int64), ("x", np.float32, (3,))])
    buffer = bytearray(RecordRing.nbytes(dtype, 8))
    producer, consumer = RecordRing(dtype, 8, buffer), RecordRing(dtype, 8, buffer)
    for n in range(5):
        record = producer.claim()
        record["n"], record["x"] = n, n
        producer.publish()
    assert list(consumer.read_new()["n"]) == [0, 1, 2, 3, 4]
    assert consumer.read_new().size == 0
    for n in range(5, 30):  # lap the consumer
        producer.claim()["n"] = n
        producer.publish()
    got = consumer.read_new()["n"]
    assert list(got) == list(range(23, 30)) and consumer.lost == 18
    for n in range(30, 34):
        producer.claim()["n"] = n
        producer.publish()
    assert list(consumer.read_new(limit=2)["n"]) == [32, 33]


def test_doorbell_wakes_and_clears():
    bell = Doorbell()
    try:
        assert not bell.wait(0.01)
        for _ in range(10_000):  # more rings than the pipe holds: never blocks
            bell.ring()
        assert bell.wait(0.01)
        assert not bell.wait(0.01)
    finally:
        bell.close()
