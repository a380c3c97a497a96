"""Test equipment: play a signal into the virtual microphone and record the virtual speaker at once,
as one duplex JACK client (PortAudio through PipeWire's JACK libraries), on PipeWire's real-time thread.

    python tests/jack_loop.py SIGNAL.npy OUT.npy --rate 16000 --tail 1.5

Run it with ``VirtualAudio.jack_env()`` in its environment. Clients of pipewire-pulse (pacat, parec)
and pw-play lost samples under load on the shared 2-core machine without telling; this one runs like
the engine's own stream and counts what it loses. Prints one JSON line: frames recorded and xruns seen (PortAudio status flags,
and cycles the server skipped, seen as jumps of the stream clock).
"""

from __future__ import annotations

import argparse
import json
import threading

import numpy as np
import sounddevice as sd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("signal")
    parser.add_argument("out")
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--tail", type=float, default=1.5, help="seconds recorded after the signal ends")
    args = parser.parse_args()
    signal = np.load(args.signal).astype(np.float32)
    total = signal.size + int(args.tail * args.rate)
    recorded = np.zeros(total, dtype=np.float32)
    state = {"position": 0, "flags": 0, "last": 0.0}
    done = threading.Event()
    names = [d["name"] for d in sd.query_devices()]
    speaker, mic = names.index("app_out"), names.index("mic_feed")

    def callback(indata, outdata, frames, time, status):
        if status:
            state["flags"] += 1
        if state["last"] and time.currentTime - state["last"] > 1.5 * frames / args.rate:
            state["flags"] += 1  # a cycle skipped by the server: PortAudio flags nothing (measured)
        state["last"] = time.currentTime
        position = state["position"]
        n = max(0, min(frames, total - position))
        recorded[position:position + n] = indata[:n, 0]
        play = max(0, min(frames, signal.size - position))
        outdata[:play, 0] = signal[position:position + play]
        outdata[play:] = 0.0
        state["position"] = position + frames
        if state["position"] >= total:
            done.set()

    with sd.Stream(device=(speaker, mic), samplerate=args.rate, blocksize=0, channels=1, dtype="float32",
                   latency="low", callback=callback):
        done.wait(timeout=total / args.rate + 30)
    sd._terminate()
    np.save(args.out, recorded)
    print(json.dumps({"frames": int(min(state["position"], total)), "flags": state["flags"]}))


if __name__ == "__main__":
    main()
