"""``spandex denoise IN OUT``: denoise a file, report what the network did."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import soundfile as sf

from cli.progress import ProgressBar
from engine.backends import BACKEND_NAMES, prepare
from engine.constants import SAMPLE_RATE
from engine.denoiser import denoise
from engine.errors import AudioInputError, SpandexError
from engine.evaluation.report import run_report
from engine.files.audio import is_silent, load_audio, write_wav
from engine.library.catalog import resolve_model


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "denoise", help="denoise an audio file",
        description="Denoise IN (any rate, any channels) into OUT: 16 kHz mono WAV, same duration as IN "
                    "and time-aligned with it.")
    parser.add_argument("input", metavar="IN", help="noisy audio file (WAV, FLAC, OGG)")
    parser.add_argument("output", metavar="OUT", help="where to write the denoised 16 kHz WAV")
    parser.add_argument("--model", metavar="NAME|PATH", help="library model name or netx/.pt file "
                        "(default: the shipped default model)")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default="dense",
                        help="how the network is computed; every backend gives the same result "
                             "(sparse: event-driven, fastest on CPU; lava: Loihi 2's fixed-point "
                             "simulation through Lava, 8 ms more latency)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the measurements")
    parser.add_argument("--allow-silence", action="store_true",
                        help="denoise a silent input anyway instead of stopping with an error")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if Path(args.output).resolve() == Path(args.input).resolve():
        raise SpandexError("OUT is the same file as IN: choose another name so the original is kept")
    model = resolve_model(args.model)
    audio = load_audio(args.input)
    info = sf.info(args.input)
    notes = []
    if is_silent(audio):
        if not args.allow_silence:
            raise AudioInputError(f"{args.input} is silent (below -60 dBFS): nothing to denoise. Wrong "
                                  "file or recording device? (--allow-silence denoises it anyway)")
        notes.append(f"{args.input} is silent (below -60 dBFS)")
    if info.samplerate != SAMPLE_RATE or info.channels != 1:
        notes.append(f"converted {info.samplerate} Hz, {info.channels} channel(s) to {SAMPLE_RATE} Hz mono")
    if info.samplerate < SAMPLE_RATE:
        notes.append(f"{info.samplerate} Hz input holds nothing above {info.samplerate // 2} Hz")
    bar = ProgressBar(f"denoising {model.name}")
    with contextlib.closing(prepare(model, args.backend)) as runner:  # stops Lava's processes, always
        notes.extend(getattr(runner, "notes", ()))
        result = denoise(audio, runner, progress=bar.update)
    bar.close()
    write_wav(args.output, result.audio, SAMPLE_RATE)
    report = {
        "input": str(args.input), "output": str(args.output), "input_rate": info.samplerate,
        "input_channels": info.channels,
        "duration_s": len(audio) / SAMPLE_RATE, "model": model.name, "model_source": model.source,
        "backend": args.backend, **run_report(model, result.totals, runner.latency_frames), "notes": notes,
    }
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.output}: {report['duration_s']:.2f} s denoised with {model.name} ({args.backend}); "
              f"{report['synops_per_frame']:.0f} SynOps/frame, {report['power_proxy_mops']:.2f} M-Ops/s, "
              f"{report['compute_us_per_frame']:.0f} µs/frame")
    return 0
