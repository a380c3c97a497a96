"""SPANDEX engine: the SDNN denoiser, its file formats, front end, backends and metrics.

Nothing in this package imports Qt: the GUI (``app/``) and the command line (``cli/``) sit on top of it.
"""
