"""Fine-tuning and pruning runs built in code: what ``spandex prune``/``finetune`` and the app's panel start.

Both name a starting model and a few choices (target sparsity and schedule, regulariser, steps, ...); the
rest comes from :func:`fine_tune_defaults`, sized for minutes on a 2-core CPU. No torch, no Qt.
"""

from __future__ import annotations

import os

from engine.errors import SpandexError
from engine.snn.model import SDNNModel
from engine.training.config import PruningConfig, TrainConfig, load_config
from engine.training.schedule import GMPSchedule


def fine_tune_defaults(model_name: str, pruning: PruningConfig | None) -> dict:
    """Settings for fine-tuning ``model_name``, named after what the run does.

    Adam at 3e-3 (cosine to 3e-4): measured by bench/finetune_optimizer.py, 30 steps from spandex-prune75
    with RAdam at 1e-3 (SPANDEX's rate) change no 8-bit weight at all; Adam at 3e-3 changes ~77,000 and
    lowers a held-back batch's loss the most (1e-2 changes more and gains less; 3e-2 makes it worse), on data new
    to the model. On the data it was trained on, mixed by its own recipe (:func:`parent_mixing`), 30 such steps
    keep its validation score (4.81 → 4.80 dB) and 400 lose 0.30 (docs/training.md); the run reports where it
    started (step 0).
    """
    stem = f"gmp{round(pruning.final_sparsity * 100)}" if pruning else "finetuned"
    return {"name": f"{model_name}-{stem}", "steps": 400, "batch_size": 16, "segment_seconds": 4.0,
            "optimizer": "adam", "learning_rate": 0.003, "final_learning_rate": 0.0003, "eval_every": 100}


def fine_tune_config(init: str, model_name: str, pruning: PruningConfig | None,
                     recipe: str | os.PathLike | None = None, **settings) -> TrainConfig:
    """The run that fine-tunes — and with ``pruning``, prunes — the model ``init`` (library name or file).

    ``settings`` (config keys) override :func:`fine_tune_defaults`, or, given a ``recipe`` YAML file, that
    file's settings (whose pruning stays when ``pruning`` is None), which override the defaults in turn: a recipe
    that leaves out the learning rate fine-tunes at the fine-tuning rate, not at a from-scratch run's. The run is
    named after its model (``MODEL-finetuned``, ``MODEL-gmp90``) unless ``settings`` name it: a recipe is shared
    by the models it fine-tunes, and its own name would give every one of them the same run folder and card.
    """
    dataset = settings.get("dataset")
    fresh = dataset is None or _trains_afresh(str(dataset))  # (fixed clips: a mixing recipe would go unused)
    defaults = {**fine_tune_defaults(model_name, pruning), **(parent_mixing(init) if fresh else {})}
    if recipe is not None:
        named = {"name": settings.get("name") or defaults["name"]}
        return load_config(recipe, defaults=defaults, init=init, pruning=pruning, **{**settings, **named})
    return TrainConfig.from_dict({**defaults, "dataset": "", "init": init, **settings, "pruning": pruning})


def _trains_afresh(dataset: str) -> bool:
    from engine.training.dataset_layout import fresh_sources

    try:
        return fresh_sources(dataset) is not None
    except SpandexError:  # an unfinished build: the run refuses it, with the reason
        return True


def parent_mixing(init: str) -> dict:
    """``{"mixing": ...}``: the fresh-mixture recipe the model ``init`` was trained with, as its card's recipe keeps
    it; empty when it has none (a model from elsewhere, or trained on fixed clips). A fine-tune goes on with the
    examples its model learnt from: on the preset's data, 400 steps from spandex-prune75 with the trainer's default
    recipe (more clean and high-SNR examples) cost it 1-2.3 dB of validation SI-SNRi at any rate tried, with its own
    0.04-0.30 (docs/training.md)."""
    from engine.library.card import read_card
    from engine.library.catalog import model_file

    try:
        card = read_card(model_file(init))[0]
    except SpandexError:
        return {}
    mixing = card.get("recipe", {}).get("mixing") if isinstance(card.get("recipe"), dict) else None
    return {"mixing": dict(mixing)} if isinstance(mixing, dict) and mixing else {}


def planned_schedule(config: TrainConfig, model: SDNNModel) -> GMPSchedule | None:
    """The sparsity schedule a run of ``config`` from ``model`` follows, known before it starts.

    Its s_i is the trainer's: the model's own share of zero weights when they stay pruned (``keep_zeros``),
    else 0 — unless the config sets ``initial_sparsity``.
    """
    if config.pruning is None:
        return None
    return config.pruning.schedule(model.weight_sparsity if config.keep_zeros else 0.0)


def check_plan(config: TrainConfig, model: SDNNModel) -> None:
    """Refuse, before anything starts, a run of ``config`` from ``model`` that cannot do what it says: a schedule
    that ends after the run, or a target sparsity the model already has (raises :class:`SpandexError`)."""
    schedule = planned_schedule(config, model)
    if schedule is None:
        return
    if schedule.final_sparsity <= model.weight_sparsity:  # (first: no schedule length makes this one possible)
        raise SpandexError(f"{model.name} already has {model.weight_sparsity:.1%} zero weights: choose a target "
                           f"sparsity above that (or fine-tune it without pruning)")
    if schedule.end_step > config.steps:
        raise SpandexError(f"the schedule's last prune comes at step {schedule.end_step}, after the run's "
                           f"{config.steps} steps: fewer prunes, a shorter Δt or more steps")
