"""The SPANDEX desktop app (Qt): the main window, its panels and plots, and how it starts.

The live audio engine runs in a process of its own and is reached only through
:class:`engine.live.host.EngineHost`; the pruning panel runs training jobs through
:mod:`engine.training.job`, and the Loihi panel calls :mod:`engine.loihi` directly. Nothing in
:mod:`engine` imports this package.
"""
