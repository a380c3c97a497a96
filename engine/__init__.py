"""SPANDEX engine: the spiking denoiser, its files, its live audio path, its measurements and training.

Nothing in this package imports Qt: the GUI (``app/``) and the command line (``cli/``) sit on top of it.

- :mod:`engine.snn` — the network as typed data and pure step functions;
- :mod:`engine.backends` — how it runs frame by frame: dense, sparse event-driven, Lava;
- :mod:`engine.dsp` — STFT, resampling, mixing;
- :mod:`engine.denoiser` — STFT → network mask → inverse STFT, one hop at a time;
- :mod:`engine.live` — microphone to speaker in real time, in a process of its own;
- :mod:`engine.files`, :mod:`engine.library` — audio and model files, the model library;
- :mod:`engine.evaluation` — quality and cost as the N-DNS challenge measures them;
- :mod:`engine.training` — pruning and fine-tuning; :mod:`engine.loihi` — Loihi 2 through Lava;
- :mod:`engine.constants` (rate, hop, FFT size), :mod:`engine.errors`, :mod:`engine.lava_compat`.
"""

__version__ = "0.1.0"
