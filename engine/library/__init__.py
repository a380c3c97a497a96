"""The model library: the models shipped with SPANDEX and the user's own, and their cards.

- :mod:`engine.library.catalog` — models found by name or path, the shipped default, installing new ones;
- :mod:`engine.library.card` — a model card (the JSON beside a model file) as the lines people read.
"""
