"""``spandex denoise IN OUT``: denoise a file of any length, streaming from disk to disk; report what the network
did."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from cli.progress import ProgressBar
from cli.sharpening_option import add_option, sharpened_as_asked
from engine.backends import BACKEND_NAMES, prepare
from engine.constants import SAMPLE_RATE
from engine.denoiser import AlignedDenoiser
from engine.errors import AudioInputError, SpandexError
from engine.evaluation.report import run_report
from engine.files.audio import open_audio
from engine.files.output import audio_writer, check_output, write_block
from engine.library.catalog import resolve_model


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "denoise", help="denoise an audio file",
        description="Denoise IN (any rate, any channels, any length: it streams from disk to disk) into OUT: "
                    "16 kHz mono, same duration as IN and time-aligned with it. OUT's extension picks the format: "
                    ".wav (16-bit PCM), .flac, .ogg (Vorbis). OUT is replaced only once complete; a folder, a "
                    "device or a symbolic link is never replaced.")
    parser.add_argument("input", metavar="IN", help="noisy audio file (WAV, FLAC, OGG, MP3)")
    parser.add_argument("output", metavar="OUT", help="where to write the denoised audio (.wav, .flac or .ogg)")
    parser.add_argument("--model", metavar="NAME|PATH", help="library model name or netx/.pt file "
                        "(default: the shipped default model)")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default="dense",
                        help="how the network is computed (default: dense); every backend gives the same result "
                             "(sparse: event-driven, fastest on CPU; lava: Loihi 2's fixed-point "
                             "simulation through Lava, 8 ms more latency)")
    add_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object with the measurements")
    parser.add_argument("--allow-silence", action="store_true",
                        help="denoise a silent input anyway instead of stopping with an error")
    parser.add_argument("--follow-link", action="store_true",
                        help="OUT may be a symbolic link: write the result to the file it points to")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    target = check_output(args.output, audio=True, follow_link=args.follow_link)
    if Path(args.input).exists() and target.path.resolve() == Path(args.input).resolve():
        raise SpandexError("OUT is the same file as IN: choose another name so the original is kept")
    model = sharpened_as_asked(resolve_model(args.model), args.sharpening)
    source = open_audio(args.input)
    notes = []
    for problem in source.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if source.silent:
        if not args.allow_silence and source.channels_cancel:
            raise AudioInputError(f"{args.input}: its {source.channels} channels cancel out when mixed to mono (one "
                                  "is the other inverted: a miswired microphone or lead?), so nothing is left to "
                                  "denoise. Save one channel of it as its own file and denoise that "
                                  "(--allow-silence denoises the mix anyway)")
        if not args.allow_silence:
            raise AudioInputError(f"{args.input} is silent (below -60 dBFS): nothing to denoise. Wrong "
                                  "file or recording device? (--allow-silence denoises it anyway)")
        notes.append(f"{args.input} is silent (below -60 dBFS)")
    if source.rate != SAMPLE_RATE or source.channels != 1:
        notes.append(f"converted {source.rate} Hz, {source.channels} channel(s) to {SAMPLE_RATE} Hz mono")
    if source.rate < SAMPLE_RATE:
        notes.append(f"{source.rate} Hz input holds nothing above {source.rate // 2} Hz")
    bar = ProgressBar(f"denoising {source.seconds / 60:.1f} min with {model.name}")
    def announce(folder: Path) -> None:
        notes.append(f"created the folder {folder} for OUT")

    with contextlib.closing(prepare(model, args.backend)) as runner:  # stops Lava's processes, always
        notes.extend(getattr(runner, "notes", ()))
        stream = AlignedDenoiser(runner)
        with audio_writer(target, SAMPLE_RATE, announce=announce) as out:
            done = clipped = 0
            for block in source.blocks():
                clipped += write_block(out, stream.push(block))
                done += block.size
                bar.update(done, source.samples)
            clipped += write_block(out, stream.finish())
        latency_frames = runner.latency_frames
    bar.close()
    if clipped:  # (a float input may go past full scale; the output's format holds no more)
        notes.append(f"{clipped:,} output samples ({100 * clipped / max(1, source.samples):.2g} %) went past full "
                     "scale and were clipped (the output's format holds no more): lower the input's level and denoise "
                     "again")
    report = {
        "input": str(args.input), "output": str(args.output), "input_rate": source.rate,
        "input_channels": source.channels, "duration_s": source.seconds, "model": model.name,
        "model_source": model.source, "backend": args.backend, "sharpening": model.decoder.sharpening,
        **run_report(model, stream.run_totals(), latency_frames), "notes": notes, "warnings": source.problems,
    }
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(report))
    else:
        # (a --sharpening other than the model's own is in its name already: "spandex-dense (sharpening 0)")
        named = model.name.endswith(f"(sharpening {model.decoder.sharpening:g})")
        sharpened = f", its mask sharpened by {model.decoder.sharpening:g}" if model.decoder.sharpening and not named \
            else ""
        print(f"{args.output}: {report['duration_s']:.2f} s denoised with {model.name} on the {args.backend} backend"
              f"{sharpened}; "
              f"{report['synops_per_frame']:.0f} SynOps/frame, {report['power_proxy_mops']:.2f} M-Ops/s, "
              f"{report['compute_us_per_frame']:.0f} µs/frame")
    return 0
