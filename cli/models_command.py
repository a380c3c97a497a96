"""``spandex models [NAME]``: the shipped and user models, with sparsity and size; or one model's card."""

from __future__ import annotations

import argparse
import tempfile
import textwrap
from pathlib import Path

from engine.errors import ModelFileError, SpandexError
from engine.evaluation.report import model_report
from engine.files.netx import NETX_SUFFIXES, TORCH_SUFFIXES, existing_model_file, load_model, save_netx
from engine.library.card import card_lines, read_card
from engine.library.catalog import ModelEntry, install_model, list_models, model_file, user_models_dir
from engine.library.licences import lineage_notices
from engine.training.config import model_name_problem


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list the model library, or show one model's card",
                                   description="List the model library; with NAME, show that model's card "
                                               "(data, recipe, training, metrics).")
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="a library model, or a model file, whose card to show")
    parser.add_argument("--install", metavar="FILE",
                        help="add a model file (a run folder's, say) and the card beside it to your library")
    parser.add_argument("--name", dest="install_name", metavar="NAME",
                        help="with --install: the name it joins the library under (default: the file's name)")
    parser.set_defaults(run=run)


def _number(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def run(args: argparse.Namespace) -> int:
    if args.install is not None or args.install_name is not None:
        return install(args)
    entries = list_models()
    if args.name is not None:  # (an empty NAME, an unset variable in a script, is refused, not the list)
        return show_card(args.name, entries)
    width = max([24, *(len(entry.name) + 2 for entry in entries)])  # a long name does not push its row out of line
    reports = [(entry, _report(entry)) for entry in entries]  # all first: the hidden column fits the widest
    hidden_width = max([9, *(len(_hidden(facts)) for _, facts in reports if isinstance(facts, dict))])
    print(f"{'name':<{width}} {'origin':<8} {'sparsity':>8} {'hidden':>{hidden_width}} {'size KB':>8} {'SI-SNR':>7} "
          f"{'SI-SNRi':>7} {'M-Ops/s':>8} {'clips':>5}  {'measured on':<14} file")
    for entry, facts in reports:
        name = entry.name + (" *" if entry.is_default else "")
        if isinstance(facts, ModelFileError):
            print(f"{name:<{width}} {entry.origin:<8} unusable: {facts}")
            continue
        card_metrics = entry.card.get("metrics", {})
        si_snr, mops = card_metrics.get("si_snr"), card_metrics.get("power_proxy_mops")
        si_snri = card_metrics.get("si_snri")
        data = entry.card.get("data")
        clips = card_metrics.get("clips")  # a blend's: it was measured apart from its first model's training
        if clips is None:
            clips = data.get("validation_clips") if isinstance(data, dict) else None
        print(f"{name:<{width}} {entry.origin:<8} {facts['weight_sparsity']:8.1%} "
              f"{_hidden(facts):>{hidden_width}} {facts['size_kb']:8.1f} "
              f"{_number(si_snr):>7} {_number(si_snri):>7} {_number(mops):>8} {clips if clips else '':>5}  "
              f"{measured_on(entry):<14} {entry.path}")
        if entry.card_problem:
            print(f"    warning: {entry.card_problem}")
    if not entries:
        print("(no models yet)")
    notes = ["* default model.",
             "sparsity: the share of zero weights in the model's own layers; hidden: the hidden layers' sizes. A "
             "model exported without its idle neurons, or narrowed (spandex narrow), has smaller layers, so its share "
             "counts fewer zeros: size KB "
             "(about a byte a nonzero weight) compares across layouts.",
             "SI-SNR, SI-SNRi (the gain over the noisy input) and M-Ops/s are the card's, measured on that many clips "
             "of the validation split of the dataset named, with that split's audio fingerprint where the card gives "
             "it (numbers from different splits, a dataset built again included, or a few clips do not compare).",
             f"User models live in {user_models_dir()}; add one with: spandex models --install FILE [--name NAME]."]
    print("\n" + "\n".join(textwrap.fill(note, width=100, break_on_hyphens=False, break_long_words=False)
                            for note in notes))
    return 0


def _report(entry: ModelEntry) -> dict | ModelFileError:
    """The model file's static facts, or why it cannot be read."""
    try:
        return model_report(load_model(entry.path))
    except ModelFileError as exc:
        return exc


def _hidden(facts: dict) -> str:
    """The hidden layers' sizes, e.g. "512-512"."""
    return "-".join(map(str, facts["neurons"][1:-1]))


def measured_on(entry: ModelEntry) -> str:
    """The split its card's numbers come from: the dataset's folder name and, where the card names it, the split's
    audio fingerprint ("" if the card has no numbers)."""
    measured = entry.measured_split if entry.card.get("metrics") else None
    if measured is None:
        return ""
    return f"{measured.folder} {measured.fingerprint}" if measured.fingerprint else measured.folder


def show_card(name: str, entries: list[ModelEntry]) -> int:
    """The card of library model ``name``, or of the model file ``name`` (the JSON beside it)."""
    entry = next((e for e in entries if e.name == name), None)
    if entry is not None:
        path, card, problem = entry.path, entry.card, entry.card_problem
    else:  # a model file — a run folder's, say, not (yet) in the library — named as --model takes it
        path = model_file(name)
        card, problem = read_card(path)
    model = load_model(path)  # a file that is not a model says so, rather than showing an empty card
    if problem:
        raise ModelFileError(f"{path}: {problem}")
    lines = card_lines(card, model=model) or [f"{name} has no model card ({path.with_suffix('.json')})"]
    notices = lineage_notices(path, card)  # its own and its lineage's: what must go with it where it is shared
    if notices:
        lines.append(f"licence notices (its lineage's; share them with it): {', '.join(str(n) for n in notices)}")
    print("\n".join(lines + [f"file: {path}"]))
    return 0


def install(args: argparse.Namespace) -> int:
    """``--install FILE [--name NAME]``: the model file and its card (if it has one) join the user's library."""
    if args.install is None:
        raise SpandexError("--name goes with --install FILE (the model file to add under that name)")
    if args.name is not None:
        raise SpandexError("give either NAME (to show a card) or --install FILE, not both")
    if not args.install.strip():
        raise SpandexError("--install is empty: give the model file to add")
    path = existing_model_file(Path(args.install).expanduser())
    suffix = path.suffix.lower()
    if suffix == ".json":
        raise ModelFileError(f"{path} is a model card: install the model file beside it (a .net file)")
    if suffix not in (*NETX_SUFFIXES, *TORCH_SUFFIXES):
        raise ModelFileError(f"{path} is not a netx model file ({', '.join(NETX_SUFFIXES)})")
    name = path.stem if args.install_name is None else args.install_name
    problem = model_name_problem(name)
    if problem:
        raise SpandexError(f"--name: {problem}" if args.install_name is not None else
                           f"{path}: {problem}; give the model another with --name")
    # the card beside the file named, else beside the file a link leads to
    carded = next((p for p in (path, path.resolve()) if p.with_suffix(".json").is_file()), None)
    card_path = carded.with_suffix(".json") if carded is not None else None
    if carded is not None:
        _, problem = read_card(carded)
        if problem:
            raise ModelFileError(f"{path}: {problem}")
    if suffix in TORCH_SUFFIXES:  # the library holds netx files: the same network written as one (delays whole)
        with tempfile.TemporaryDirectory() as folder:
            target = install_model(save_netx(load_model(path), Path(folder) / f"{name}.net"), card_path, name=name)
        converted = f"; written as a netx file from {path.name}"
    else:
        target, converted = install_model(path, card_path, name=name), ""
    print(f"joined the model library as {name} ({target})" + converted +
          ("" if card_path else "; it has no card beside it"))
    return 0
