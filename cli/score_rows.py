"""The validation table that `spandex blend` and `spandex narrow` print as each model is scored."""

from __future__ import annotations

from collections.abc import Callable


def score_printer(heading: str) -> Callable[[str, object], None]:
    """A ``scored(label, scores)`` callback that prints ``heading`` and the table's header before its first row
    (once every check has passed and the first score is in), then a row per model: SI-SNRi dB and M-Ops/s."""
    rows = 0

    def scored(label: str, scores) -> None:
        nonlocal rows
        if rows == 0:
            print(heading)
            print(f"{'model':<32} {'SI-SNRi dB':>10} {'M-Ops/s':>8}")
        rows += 1
        print(f"{label:<32} {scores.si_snri:>10.2f} {scores.power_proxy_mops:>8.2f}", flush=True)

    return scored
