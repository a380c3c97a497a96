"""How much a model harms clean speech, beside its validation score: every clean reference of a split denoised
and scored against itself (SI-SNR, dB), and the split's SI-SNRi and M-Ops/s on its noisy clips.

Both through :func:`engine.training.validation.validate` (the float64 graph the streaming engine matches). The
"clean in -> out" column of bench/quality.py measures the same on the held-out split; this one is for choosing
on the validation split, which the held-out split must not do.

    PYTHONPATH=. .venv/bin/python scripts/measure_clean_passthrough.py MODEL [MODEL ...] [--split DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.library.catalog import resolve_model  # noqa: E402
from engine.training.dataset import PairedClips  # noqa: E402
from engine.training.validation import validate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="MODEL", help="library name or netx file")
    parser.add_argument("--split", default="build/data/debian/validation_set",
                        help="a split folder with noisy/ and clean/ (default: %(default)s)")
    args = parser.parse_args()
    clips = PairedClips.load(args.split)
    clean_in = PairedClips(clips.names, [c.copy() for c in clips.clean], clips.clean)
    print(f"{args.split}: {len(clips)} clips")
    print("| model | SI-SNRi dB | M-Ops/s | clean in -> out dB (mean) | median | worst clip |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for spec in args.models:
        model = resolve_model(spec)
        noisy = validate(model, clips)
        passed = np.array(validate(model, clean_in).per_clip_si_snr)
        print(f"| {spec} | {noisy.si_snri:.3f} | {noisy.power_proxy_mops:.2f} | {passed.mean():.2f} | "
              f"{np.median(passed):.2f} | {passed.min():.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
