"""``spandex devices``: the audio devices PortAudio lists, by the names ``--input`` and ``--output`` take."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "devices", help="list the audio devices (the names --input and --output take)",
        description="The audio devices PortAudio lists now, each by the name the app's --input and --output take "
                    "(\"name (host API)\"; the name alone, or its start, also does), with its channels and rate; "
                    "the defaults are marked. Devices through PipeWire's JACK server (the app's --jack): "
                    "pw-jack spandex devices.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.live.devices import find_device, list_devices  # (PortAudio starts here)

    devices = list_devices()
    if not devices:
        print("no audio devices: PortAudio lists none (the app then plays its demo clip on its internal clock)")
        return 0
    defaults = {kind: found.key for kind in ("input", "output") if (found := find_device(None, kind)) is not None}
    print(f"{'in':>3} {'out':>3} {'rate':>6}  device")
    for device in devices:
        marks = [f"default {kind}" for kind, key in defaults.items() if key == device.key]
        print(f"{device.max_input_channels:>3} {device.max_output_channels:>3} {device.default_samplerate:>6.0f}  "
              f"{device.key}{'  (' + ', '.join(marks) + ')' if marks else ''}")
    return 0
