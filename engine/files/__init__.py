"""What SPANDEX reads from and writes to disk.

- :mod:`engine.files.audio` — audio files to and from float32 mono at 16 kHz, with clear errors;
- :mod:`engine.files.netx` — models as lava-dl netx HDF5 files (and N-DNS torch state dicts);
- :mod:`engine.files.pairing` — noisy recordings paired with their clean references in two folders;
- :mod:`engine.files.atomic` — atomic writes: readers see the old file or the new one, never a part;
- :mod:`engine.files.output` — output paths checked before any work (no folder, device, link; known format);
- :mod:`engine.files.readable` — a file this user may not read, said as such.
"""
