"""Decode a fixed subset of G.722 speech prompts to 16 kHz WAV.

Used by scripts/fetch_corpus.sh on the files of the Debian package
asterisk-core-sounds-en-g722 (raw 64 kbit/s G.722, one US-English voice). The subset is
deterministic: the prompts of at least --min-seconds, sorted by path, taken at even steps
until --count are chosen. Decoding uses the PyPI package G722 (sippy's libg722).

    python scripts/decode_g722.py SOURCE_DIR DEST_DIR [--count 40] [--min-seconds 3] [--exclude NAME ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from G722 import G722

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.files.audio import write_wav  # noqa: E402

BIT_RATE = 64000
RATE = 16000
BYTES_PER_SECOND = BIT_RATE // 8


def select(source: Path, count: int, min_seconds: float, exclude: tuple[str, ...] = ()) -> list[Path]:
    """The prompts to decode: long enough, not the silence/ fillers nor the ``exclude`` names (stems),
    evenly spread by name."""
    candidates = sorted(
        p
        for p in source.rglob("*.g722")
        if "silence" not in p.relative_to(source).parts
        and p.stem not in exclude
        and p.stat().st_size >= min_seconds * BYTES_PER_SECOND
    )
    if len(candidates) < count:
        raise SystemExit(f"only {len(candidates)} prompts of >= {min_seconds} s in {source}")
    picks = np.linspace(0, len(candidates) - 1, count).round().astype(int)
    return [candidates[i] for i in picks]


def decode(path: Path) -> np.ndarray:
    """Decode one raw G.722 file to float32 samples in [-1, 1) at 16 kHz."""
    pcm = G722(RATE, BIT_RATE).decode(path.read_bytes())
    return np.asarray(pcm, dtype=np.float32) / 32768.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--exclude", action="append", default=[], help="a prompt's name to leave out (repeatable)")
    args = parser.parse_args()
    total = 0.0
    for path in select(args.source, args.count, args.min_seconds, tuple(args.exclude)):
        audio = decode(path)
        name = "_".join(path.relative_to(args.source).with_suffix(".wav").parts)
        write_wav(args.dest / name, audio, RATE)
        total += audio.size / RATE
    print(f"decoded {args.count} prompts, {total:.0f} s, to {args.dest}")


if __name__ == "__main__":
    main()
