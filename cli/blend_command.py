"""``spandex blend MODEL OTHER --share S``: a weight-space blend of two models of one layout, scored on a
validation split and written with its card (:mod:`engine.snn.blend`)."""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from engine.errors import SpandexError
from engine.evaluation.report import model_report
from engine.files.atomic import write_text_atomic
from engine.files.netx import save_netx
from engine.files.output import check_output
from engine.library.card import read_card
from engine.library.catalog import model_file, resolve_model
from engine.snn.blend import blend, kept_from_model
from engine.snn.model import SDNNModel


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "blend", help="blend two models of one layout weight by weight, scored on validation",
        description="SHARE of MODEL's weights plus the rest of OTHER's, rounded to 8 bits: e.g. a fine-tuned "
                    "model blended with the model it was fine-tuned from keeps more of what the parent learnt from "
                    "more varied data (a 'model soup', WiSE-FT). The models must share their layout; the blend "
                    "keeps MODEL's delays, thresholds and input encoder (a note says where OTHER's differ). The "
                    "blend, MODEL and OTHER are scored on the validation split of --dataset, and the blend is written "
                    "to OUT with its card (OUT.json).")
    parser.add_argument("model", metavar="MODEL", help="library name or netx/.pt file: the first model")
    parser.add_argument("other", metavar="OTHER", help="library name or netx/.pt file: the model blended in")
    parser.add_argument("--share", type=float, required=True,
                        help="MODEL's share of each weight, from 0 to 1 (e.g. 0.8: 80 %% MODEL, 20 %% OTHER)")
    parser.add_argument("--keep-zeros", action="store_true",
                        help="weights that are zero in MODEL stay zero (a pruned model keeps its sparsity)")
    parser.add_argument("--dataset", metavar="DIR", required=True,
                        help="dataset folder whose validation split scores the blend and both models")
    parser.add_argument("--out", metavar="OUT", required=True, help="the netx file to write (.net)")
    parser.add_argument("--name", help="the blend's name on its card (default: OUT's file name)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    target = check_output(args.out, "--out").path
    if target.suffix.lower() != ".net":
        raise SpandexError(f"--out {args.out}: a model is written as a netx file; name it .net")
    from engine.training.dataset import PairedClips  # torch: only once the arguments are good
    from engine.training.dataset_layout import split_folder
    from engine.training.validation import validate

    validation = split_folder(args.dataset, "validation")
    model, other = resolve_model(args.model), resolve_model(args.other)
    name = args.name or target.stem
    blended = blend(model, other, args.share, keep_zeros=args.keep_zeros, name=name)
    kept = kept_from_model(model, other)
    for note in kept:
        print(f"note: the blend keeps {model.name}'s {note}")
    clips = PairedClips.load(validation)
    print(f"validation split of {args.dataset}: {len(clips)} clips, {clips.seconds / 60:.1f} min")
    print(f"{'model':<28} {'SI-SNRi dB':>10} {'M-Ops/s':>8}")
    scores = {}
    for label, candidate in ((f"{name} (the blend)", blended), (model.name, model), (other.name, other)):
        scores[label] = validate(candidate, clips)
        print(f"{label:<28} {scores[label].si_snri:>10.2f} {scores[label].power_proxy_mops:>8.2f}", flush=True)
    result = scores[f"{name} (the blend)"]
    save_netx(blended, target)
    card = blend_card(blended, args, result, model_file(args.model), str(args.dataset), len(clips), clips.seconds)
    card["blend"]["kept_from_model"] = kept
    write_text_atomic(target.with_suffix(".json"), json.dumps(card, indent=2) + "\n")
    print(f"{target}: {args.share:.0%} {model.name} + {1 - args.share:.0%} {other.name}, with its card "
          f"{target.with_suffix('.json').name}")
    return 0


def blend_card(blended: SDNNModel, args: argparse.Namespace, result, first_file: Path, dataset: str,
               clips: int, seconds: float) -> dict:
    """The blend's card: the first model's card (its parent, training and data) with the blend and what the blend
    measured."""
    first, _ = read_card(first_file)
    card = {key: value for key, value in first.items() if key in ("parent", "data", "stages", "recipe", "training")}
    if not isinstance(card.get("data"), dict) or card["data"].get("dataset") != dataset:
        card["data"] = {"dataset": dataset}  # where the numbers below were measured (the first model trained elsewhere)
    return {
        "name": blended.name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "parent": args.model,
        **card,
        "blend": {"model": args.model, "other": args.other, "share": args.share, "keep_zeros": args.keep_zeros},
        "input_level": None if blended.encoder.level is None else blended.encoder.level.to_dict(),
        "metrics": {
            "measured_on": f"validation split of {dataset} ({clips} clips, {seconds / 60:.1f} min)",
            "si_snr": result.si_snr, "si_snri": result.si_snri,
            "synops_per_frame": result.synops_per_frame, "power_proxy_mops": result.power_proxy_mops,
            "activity_sparsity": list(result.activity_sparsity),
            **model_report(blended),
        },
    }
