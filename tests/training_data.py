"""A tiny real dataset for training tests: corpus speech and keyboard noise mixed by the real builder.

Speakers and noises of the validation split are disjoint from training's (different prompts and key sounds
stand in for different speakers and recordings); clips are 2 s so a training step takes a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

from engine.training.dataset_builder import MixSpec, SplitSources, build_dataset
from engine.training.sources import AudioGroup

CLIP_SECONDS = 2.0


def build_tiny_dataset(out: Path, speech: list[Path], keys: list[Path], train_clips: int = 24,
                       val_clips: int = 6) -> Path:
    train_speech = [AudioGroup(f"talker{i}", tuple(speech[i * 10:(i + 1) * 10])) for i in range(3)]
    val_speech = [AudioGroup("talker3", tuple(speech[30:40]))]
    half = len(keys) // 2
    splits = {
        "train": SplitSources(train_speech, [AudioGroup("keys-a", tuple(keys[:half]))], train_clips,
                              synthetic_noise=True),
        "validation": SplitSources(val_speech, [AudioGroup("keys-b", tuple(keys[half:]))], val_clips),
    }
    return build_dataset(out, splits, MixSpec(clip_seconds=CLIP_SECONDS), seed=1)
