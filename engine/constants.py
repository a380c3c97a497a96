"""The numbers the whole engine agrees on: the N-DNS signal format and the live engine's conventions.

Every module takes these from here; none spells 16 kHz, the hop or the FFT size out again.
"""

SAMPLE_RATE = 16000
"""Everything the engine processes is float32 mono at this rate (N-DNS's), in Hz."""

N_FFT = 512
"""STFT frame length in samples (rectangular window, centred frames: N-DNS's ``torch.stft(x, 512)``)."""

HOP = 128
"""STFT hop in samples: one network time step, 8 ms at :data:`SAMPLE_RATE`."""

N_BINS = N_FFT // 2 + 1
"""Frequency bins per frame (257): the network's input and output width."""

HOP_S = HOP / SAMPLE_RATE
"""One hop (one network time step) in seconds: 8 ms."""

STOI_SEGMENT_FRAMES = round(0.384 / HOP_S)
"""STOI's 384 ms analysis segment in hops (48): what the training loss's intelligibility term correlates over."""

MIN_INTELLIGIBILITY_SECONDS = (STOI_SEGMENT_FRAMES - 1) * HOP_S
"""The shortest training segment that holds one such segment (centred frames: 1 + samples // HOP of them)."""

DB_FLOOR = -120.0
"""Spectra and levels shown in dB are floored here (silence is -120 dB, not -inf)."""

BYPASS = -1
"""The model slot that means "no model": the unprocessed input, heard with the same delay."""
