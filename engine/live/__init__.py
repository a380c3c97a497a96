"""The live engine: a microphone (or a file) through every loaded model to the speaker, hop by hop.

The data's way, one module per job::

    PortAudio ──callback──▶ input ring ──worker──▶ LiveDenoiser (every model, every 128-sample hop)
       ▲                                              │            └─▶ one FRAME record per hop ─▶ GUI
       └──────callback◀── output ring ◀──────────────┘

- :mod:`~engine.live.callback` — the real-time callback: copies blocks between the device and the rings;
- :mod:`~engine.live.ring` — lock-free single-producer/single-consumer rings and the worker's doorbell;
- :mod:`~engine.live.record` — the fixed-layout records and counters in shared memory (what the GUI reads);
- :mod:`~engine.live.worker` — the worker loop: hops, commands, events, model loading;
- :mod:`~engine.live.denoiser` — the per-hop DSP: one STFT, every model's mask, crossfaded switches;
- :mod:`~engine.live.paced` — a runner slower than real time (Lava) paced beside a CPU twin;
- :mod:`~engine.live.noise` — noise injected into the input at a chosen SNR, for demos;
- :mod:`~engine.live.devices` — PortAudio devices: listing, opening, and an internal clock;
- :mod:`~engine.live.supervisor` — which devices the engine runs on, and what happens when they fail;
- :mod:`~engine.live.device_watch` — a look for a missing device in a child process with its own PortAudio;
- :mod:`~engine.live.protocol` — everything that crosses the process boundary, as typed records;
- :mod:`~engine.live.host` — runs the engine in its own process (or a thread) for the GUI.

The real-time rules, stated once:

1. The audio callback (:class:`~engine.live.callback.AudioCallback`, on PortAudio's thread) takes no
   lock, allocates no array, and runs no model or Python-heavy code; it only touches the rings, the
   counters and preallocated scratch space. Everything it calls says so in its docstring.
2. Each ring has exactly one producer and one consumer thread; data is written before the counter that
   publishes it. The worker reconfigures the callback by replacing attributes, never by mutating them.
3. Everything else — resampling, models, files, device changes — runs on the worker thread, between
   hops; model files are read on a loader thread at a lower priority, so a load never stalls a hop.
4. The owner (GUI, test) talks to the worker only through the command and event queues and reads
   telemetry from shared memory: the engine never waits for its owner.
5. Nothing here imports Qt.
"""
