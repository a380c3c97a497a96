"""How good and how costly a model is, in the Intel N-DNS challenge's terms.

- :mod:`engine.evaluation.metrics` — SI-SNR, PESQ, STOI and the cost formulas (plain numbers in, out);
- :mod:`engine.evaluation.evaluate` — a model run over pairs of noisy and clean files;
- :mod:`engine.evaluation.report` — those numbers named as the CLI's JSON and the GUI show them.
"""
