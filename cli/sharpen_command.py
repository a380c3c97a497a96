"""``spandex sharpen MODEL --strength S --dataset DIR --out OUT.net``: the model with its mask sharpened (frames
mostly noise suppressed harder), scored beside the model as it is; ``--sweep`` scores a range of strengths and writes
nothing (:mod:`engine.library.sharpening`)."""

from __future__ import annotations

import argparse

from cli.beside import beside_it
from engine.evaluation.metrics import SNR_BANDS
from engine.library.sharpening import SWEEP, SharpenedScores, make_sharpened


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sharpen", help="sharpen a model's mask (more noise suppressed, a little clean speech lost), scored on "
                        "validation",
        description="The network's mask relu(y + 1) is raised, frame by frame, to the power 1 + S·(1 − the frame's "
                    "mean mask): frames the network finds mostly noise are suppressed harder, frames it passes nearly "
                    "whole keep their mask. The network is unchanged (every backend, the Loihi report and export "
                    "alike); the sharpening runs on the CPU after it. It trades clean speech kept for noise removed: "
                    "the model sharpened and as it is are scored on the validation split of --dataset, SI-SNRi by "
                    "input SNR and clean speech in -> out side by side. --sweep scores strengths "
                    f"{', '.join(f'{s:g}' for s in SWEEP)} and writes nothing.")
    parser.add_argument("model", metavar="MODEL", help="library name or netx/.pt file")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--strength", type=float, metavar="S",
                     help="the sharpening S, from 0 (the N-DNS mask) to 4; written to --out")
    how.add_argument("--sweep", action="store_true", help="score a range of strengths; write nothing")
    parser.add_argument("--dataset", metavar="DIR", required=True,
                        help="dataset folder whose validation split scores the strengths")
    parser.add_argument("--out", metavar="OUT", help="the netx file to write (.net), with --strength")
    parser.add_argument("--install", action="store_true",
                        help="also add it to your model library, named by OUT's file name")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows = 0

    def scored(label: str, scores: SharpenedScores) -> None:
        nonlocal rows
        if rows == 0:
            print(f"scored on the validation split of {args.dataset}: SI-SNRi in dB, over all clips and by input SNR "
                  "(dB); clean speech in -> out in dB")
            bands = "".join(f" {name:>8}" for name, _, _ in SNR_BANDS)
            print(f"{'strength' if args.sweep else 'model':<32} {'SI-SNRi':>8}{bands} {'clean in→out':>12} "
                  f"{'M-Ops/s':>8}")
        rows += 1
        by_band = "".join(f" {'–' if v is None else format(v, '.2f'):>8}" for v in scores.si_snri_by_band)
        print(f"{label:<32} {scores.si_snri:>8.2f}{by_band} {scores.clean_in_si_snr:>12.2f} "
              f"{scores.power_proxy_mops:>8.2f}", flush=True)

    outcome = make_sharpened(args.model, args.strength, args.dataset, args.out, args.install, scored)
    print(f"({outcome.clips} clips, {outcome.seconds / 60:.1f} min; clean in→out: the SI-SNR of the output when the "
          "clean speech alone goes in)")
    if outcome.path is not None:
        print(f"{outcome.path}: {args.model} with its mask sharpened by {args.strength:g}; "
              f"{beside_it(outcome.path.with_suffix('.json'), outcome.licences)}")
    if outcome.installed is not None:
        print(f"joined the model library as {outcome.installed.stem} ({outcome.installed})")
    return 0
