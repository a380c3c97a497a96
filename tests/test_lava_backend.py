"""The Lava backend: bit-exact with the engine on real speech, and a clean lifecycle.

Every Lava run happens in a child process of its own session with a timeout (tests/lava_session.py):
a hung runtime cannot hang the suite, and whatever a run leaves behind — processes, /dev/shm segments
— is found. The expected masks come from the dense backend, computed here in the test process.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.backends import prepare
from engine.constants import HOP
from engine.denoiser import denoise
from engine.dsp.stft import LATENCY_SAMPLES, streamed_magnitudes
from engine.files.netx import load_model
from engine.live.paced import Fallback
from engine.snn.compaction import drop_idle_neurons
from tests.lava_session import (
    REPO_ROOT,
    children_of,
    run_in_own_session,
    session_members,
    shared_memory_of,
    wait_for_no_children,
    wait_for_session_to_empty,
)
from tests.reference_models import reference_path
from tests.terminal import as_if_from_a_terminal

TIMEOUT_S = 480
FRAMES = 300  # ≥ 200 frames (2.4 s) of real noisy speech
STOCK_FRAMES = 20  # lava-nc's own DelayDense model costs ~0.3 s per step here
EQUIVALENCE_NETS = ("ndns_baseline", "spandex_prune75")

pytestmark = pytest.mark.slow


def _dense_results(model, magnitude: np.ndarray):
    runner = prepare(model, "dense")
    masks, telemetry = zip(*(runner.step(frame) for frame in magnitude))
    return np.array(masks), telemetry


@pytest.fixture(scope="module")
def lava_results(noisy_speech, tmp_path_factory) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run every Lava equivalence case once, in one child session; return (magnitudes, audio, results)."""
    noisy, _ = noisy_speech
    magnitude = streamed_magnitudes(noisy)[:FRAMES]
    audio = noisy[: 16000 * 3 // 2]  # 1.5 s for the whole-file denoiser check
    folder = tmp_path_factory.mktemp("lava")
    np.savez(folder / "inputs.npz", magnitude=magnitude, audio=audio)
    run = run_in_own_session("from tests.test_lava_backend import _equivalence_child; _equivalence_child()",
                             [str(folder / "inputs.npz"), str(folder / "results.npz")], timeout_s=TIMEOUT_S)
    assert run.returncode == 0, run.output
    assert run.leftovers == [], f"Lava left processes behind: {run.leftovers}"
    return magnitude, audio, dict(np.load(folder / "results.npz"))


@pytest.mark.parametrize("name", EQUIVALENCE_NETS)
def test_lava_masks_equal_the_engine_bit_for_bit(name, lava_results) -> None:
    magnitude, _, results = lava_results
    expected, telemetry = _dense_results(load_model(reference_path(f"{name}.net")), magnitude)
    masks = results[f"{name}|masks"]
    assert masks.shape == expected.shape == (FRAMES, 257)
    np.testing.assert_array_equal(masks, expected)
    assert np.std(expected) > 0.05  # the network really shaped the spectrum
    # telemetry from Lava's own spikes: SynOps per frame as the engine counts them, input events too
    np.testing.assert_array_equal(results[f"{name}|synops"], [t.synops for t in telemetry])
    np.testing.assert_array_equal(results[f"{name}|input_events"], [t.events[0] for t in telemetry])
    # hidden-layer spikes are counted when they arrive, after their axonal delay: the same spikes, later
    lava_events, dense_events = results[f"{name}|events"], np.array([t.events for t in telemetry])
    assert lava_events.sum() > 0
    assert abs(int(lava_events.sum()) - int(dense_events.sum())) < 0.05 * dense_events.sum()


def test_a_compacted_net_runs_on_lava_with_the_uncompacted_masks(lava_results) -> None:
    """Hidden layers of other sizes than 512 (a pruned net without its idle neurons) run on Lava, and give
    the masks of the net before compaction."""
    magnitude, _, results = lava_results
    reference = load_model(reference_path("spandex_prune75.net"))
    assert drop_idle_neurons(reference).neuron_counts == (257, 512, 272, 257)
    expected, telemetry = _dense_results(reference, magnitude)
    np.testing.assert_array_equal(results["compacted|masks"], expected)
    np.testing.assert_array_equal(results["compacted|input_events"], [t.events[0] for t in telemetry])


def test_stock_and_fast_delay_dense_give_the_same_network_output(lava_results) -> None:
    magnitude, _, results = lava_results
    expected, _ = _dense_results(load_model(reference_path("ndns_baseline.net")), magnitude[:STOCK_FRAMES])
    np.testing.assert_array_equal(results["stock|masks"], expected)
    np.testing.assert_array_equal(results["stock|masks"], results["ndns_baseline|masks"][:STOCK_FRAMES])


def test_reset_restarts_the_stream_exactly(lava_results) -> None:
    _, _, results = lava_results
    np.testing.assert_array_equal(results["reset|masks"], results["spandex_prune75|masks"][:50])


def test_whole_file_denoising_equals_the_dense_backend(lava_results) -> None:
    _, audio, results = lava_results
    model = load_model(reference_path("spandex_prune50.net"))
    dense = denoise(audio, prepare(model, "dense"))
    np.testing.assert_array_equal(results["denoise|audio"], dense.audio)
    assert int(results["denoise|frames"]) == dense.totals.frames
    assert int(results["denoise|synops"]) == dense.totals.synops


def _equivalence_child() -> None:
    """Child process body: Lava masks and telemetry for every equivalence case."""
    from engine.backends.lava import LavaRunner

    inputs = np.load(sys.argv[1])
    magnitude, audio = inputs["magnitude"], inputs["audio"]
    results = {}

    def stream(runner, frames) -> list:
        answers = [runner.step(frame) for frame in frames]
        answers.append(runner.step(np.zeros(frames.shape[1])))  # one more step brings the last frame out
        assert answers[0] == (None, None)
        return answers[1:]

    for name in EQUIVALENCE_NETS:
        with LavaRunner(load_model(reference_path(f"{name}.net"))) as runner:
            answers = stream(runner, magnitude)
            results[f"{name}|masks"] = np.array([mask for mask, _ in answers])
            results[f"{name}|synops"] = np.array([t.synops for _, t in answers])
            results[f"{name}|input_events"] = np.array([t.events[0] for _, t in answers])
            results[f"{name}|events"] = np.array([t.events for _, t in answers])
            if name == "spandex_prune75":
                runner.reset()
                results["reset|masks"] = np.array([mask for mask, _ in stream(runner, magnitude[:50])])
    with LavaRunner(drop_idle_neurons(load_model(reference_path("spandex_prune75.net")))) as runner:
        answers = stream(runner, magnitude)
        results["compacted|masks"] = np.array([mask for mask, _ in answers])
        results["compacted|input_events"] = np.array([t.events[0] for _, t in answers])
    baseline = load_model(reference_path("ndns_baseline.net"))
    with LavaRunner(baseline, process_models="stock") as runner:
        results["stock|masks"] = np.array([mask for mask, _ in stream(runner, magnitude[:STOCK_FRAMES])])
    with LavaRunner(load_model(reference_path("spandex_prune50.net"))) as runner:
        denoised = denoise(audio, runner)
    results["denoise|audio"] = denoised.audio
    results["denoise|frames"] = np.array(denoised.totals.frames)
    results["denoise|synops"] = np.array(denoised.totals.synops)
    np.savez(sys.argv[2], **results)


def test_runners_stop_their_processes_and_free_shared_memory(tmp_path: Path) -> None:
    """Closed, left by an exception, fed bad input, a process killed, refused at export: nothing stays."""
    out = tmp_path / "lifecycle.json"
    run = run_in_own_session("from tests.test_lava_backend import _lifecycle_child; _lifecycle_child()",
                             [str(out)], timeout_s=TIMEOUT_S)
    assert run.returncode == 0, run.output
    assert run.leftovers == []
    report = json.loads(out.read_text())
    for case in ("closed", "exception", "bad input", "killed child", "dropped"):
        facts = report[case]
        assert facts["lava_processes"] >= 8, f"{case}: Lava did not start ({facts})"
        assert facts["shared_memory"] > 0, f"{case}: no shared memory seen ({facts})"
        assert facts["children_left"] == [], f"{case}: processes left behind"
        assert facts["segments_left"] == [], f"{case}: shared memory left behind"
    assert "a frame is 257 |STFT| magnitudes" in report["exception"]["error"]
    assert "too large" in report["bad input"]["error"]
    assert report["bad input"]["still_runs"] is True
    assert "died" in report["killed child"]["error"]
    assert "closed" in report["use after close"]
    assert "no nonzero weight" in report["refused"]["error"] and report["refused"]["children"] == []


def _lifecycle_child() -> None:
    """Child process body: each way a runner ends, and what it leaves behind."""
    from engine.backends.lava import LavaRunner, LavaRuntimeError
    from engine.errors import SpandexError
    from engine.snn.model import DenseLayer, SDNNModel

    model = load_model(reference_path("spandex_prune75.net"))
    frame = np.full(257, 0.5)
    me = os.getpid()
    report = {}

    def observe(runner) -> tuple[list[int], set[str]]:
        children = children_of(me)
        return children, shared_memory_of([me, *children])

    def leftovers(segments: set[str]) -> dict:
        return {"children_left": wait_for_no_children(me, timeout_s=10),
                "segments_left": sorted(s for s in segments if Path(s).exists())}

    runner = prepare(model, "lava")
    assert runner.name == "lava" and runner.model is model and runner.latency_frames == 1
    for _ in range(5):
        runner.step(frame)
    children, segments = observe(runner)
    runner.close()
    runner.close()  # twice is fine
    report["closed"] = {"lava_processes": len(children), "shared_memory": len(segments), **leftovers(segments)}
    try:
        runner.step(frame)
    except LavaRuntimeError as exc:
        report["use after close"] = str(exc)

    try:
        with LavaRunner(model) as runner:
            runner.step(frame)
            children, segments = observe(runner)
            runner.step(np.zeros(3))
    except ValueError as exc:
        report["exception"] = {"error": str(exc), "lava_processes": len(children),
                               "shared_memory": len(segments), **leftovers(segments)}

    with LavaRunner(model) as runner:
        children, segments = observe(runner)
        try:
            runner.step(np.full(257, 1e6))
        except SpandexError as exc:
            error = str(exc)
        runner.step(frame)
        still_runs = runner.step(frame)[0] is not None
    report["bad input"] = {"error": error, "still_runs": still_runs, "lava_processes": len(children),
                           "shared_memory": len(segments), **leftovers(segments)}

    runner = LavaRunner(model)
    runner.step(frame)
    children, segments = observe(runner)
    os.kill(runner.pids[3], signal.SIGKILL)  # a Lava process dies (the OOM killer, a user)
    time.sleep(0.5)
    try:
        runner.step(frame)
    except LavaRuntimeError as exc:
        report["killed child"] = {"error": str(exc), "lava_processes": len(children),
                                  "shared_memory": len(segments), **leftovers(segments)}

    runner = LavaRunner(model)  # dropped without close(): the garbage collector's finalizer stops it
    runner.step(frame)
    children, segments = observe(runner)
    del runner
    gc.collect()
    report["dropped"] = {"lava_processes": len(children), "shared_memory": len(segments), **leftovers(segments)}

    empty = DenseLayer(np.zeros_like(model.layers[1].weight_mant), 6, model.layers[1].delays)
    pruned_away = SDNNModel(model.encoder, (model.layers[0], empty, model.layers[2]), name="pruned-away")
    try:
        LavaRunner(pruned_away)
    except SpandexError as exc:
        report["refused"] = {"error": str(exc), "children": children_of(me)}
    Path(sys.argv[1]).write_text(json.dumps(report))


def test_live_lava_slots_never_hold_the_audio_up(real_speech, tmp_path: Path) -> None:
    """The app's LiveDenoiser, hops at the real 8 ms pace: a dense slot beside a paced Lava slot, with
    SPANDEX's DelayDense model and with lava-nc's stock one (~0.3 s per step: far slower than real time),
    each in a process of its own. Either Lava slot is heard 1 + LAVA_SLACK_HOPS hops late, every hop, with
    the model's own bits; the stock one's audio
    comes from its CPU twin and its lag is measured; the worker never waits for Lava."""
    audio = real_speech[: 16000 * 3 // 2]
    np.save(tmp_path / "audio.npy", audio)
    run = run_in_own_session("from tests.test_lava_backend import _live_child; _live_child()",
                             [str(tmp_path / "audio.npy"), str(tmp_path / "out.npz")], timeout_s=TIMEOUT_S)
    assert run.returncode == 0, run.output
    assert run.leftovers == []
    result = np.load(tmp_path / "out.npz")
    reference = denoise(audio, prepare(load_model(reference_path("spandex_prune50.net")), "dense")).audio
    from engine.live.paced import LAVA_SLACK_HOPS

    late = 1 + LAVA_SLACK_HOPS
    lag = LATENCY_SAMPLES + late * HOP
    for name in ("fast", "stock"):
        out = result[name]
        np.testing.assert_array_equal(out[lag:], reference[: out.size - lag])  # uninterrupted, exact
        assert np.abs(out[:lag]).max() < 1e-12  # before the input began: FFT round-off only
        synops = result[f"{name}_synops"]
        np.testing.assert_array_equal(synops[late + 1:, 1], synops[1:-late, 0])  # the dense slot's, later
        assert result[f"{name}_checked"][1] == 0  # every Lava answer so far equalled the twin's mask
        assert result[f"{name}_children_after_close"].size == 0
    # the worker does not wait for Lava: were it to, a hop would take a stock Lava step, ~0.3 s. (A bound a third of
    # that: what the worker's time per hop is, on a quiet machine, bench/live.py --backend lava measures.)
    assert np.median(result["stock_worker_ns"]) < 0.1e9
    stock_fallback, stock_speed = result["stock_fallback"][late + 1:, 1], result["stock_realtime"][-1, 1]
    assert np.mean(stock_fallback == Fallback.LATE) > 0.9 and stock_speed < 0.2  # the lag is reported
    fast_fallback = result["fast_fallback"][late + 1:, 1]
    assert set(fast_fallback) <= {Fallback.NONE, Fallback.LATE}
    assert result["fast_checked"][0] > 100
    print(f"fast Lava slot: {np.mean(fast_fallback == Fallback.NONE):.0%} of hops from Lava in time, "
          f"{result['fast_realtime'][-1, 1]:.2f}x real time; stock: {stock_speed:.3f}x; worker ms p50/p90: "
          + ", ".join(f"{n} {np.percentile(result[f'{n}_worker_ns'], [50, 90]) / 1e6}" for n in ("fast", "stock")))


def _live_child() -> None:
    """Child process body: a LiveDenoiser with a dense and a paced Lava slot, fed at the real hop pace;
    once with SPANDEX's DelayDense model, once with lava-nc's stock one (fresh slots: a Lava reset
    takes seconds)."""
    from engine.live.denoiser import LiveDenoiser
    from engine.live.paced import HOP_NS, for_live
    from engine.live.record import FRAME_DTYPE

    sys.setswitchinterval(0.001)  # as the engine's process does (engine/live/worker.py)
    audio = np.load(sys.argv[1])
    model = load_model(reference_path("spandex_prune50.net"))
    hops = audio[: audio.size // HOP * HOP].reshape(-1, HOP)
    results = {}
    for name in ("fast", "stock"):
        live = LiveDenoiser()
        live.add_model(prepare(model, "dense"))
        paced = for_live(model, "lava", process_models=name)
        live.select(live.add_model(paced))
        live.fading_from = None
        records = np.zeros(len(hops), FRAME_DTYPE)
        out, start = [], time.perf_counter_ns()
        for k, hop in enumerate(hops):
            time.sleep(max(0.0, (start + k * HOP_NS - time.perf_counter_ns()) / 1e9))
            out.append(live.process(hop, records[k]))
        results[name] = np.concatenate(out)
        for field in ("synops", "fallback", "realtime", "worker_ns"):
            results[f"{name}_{field}"] = records[field].copy()
        results[f"{name}_checked"] = np.array([paced.matched, paced.mismatched])
        live.close()
        results[f"{name}_children_after_close"] = np.array(wait_for_no_children(os.getpid(), timeout_s=10))
    np.savez(sys.argv[2], **results)


def test_a_runner_left_open_at_exit_is_stopped(tmp_path: Path) -> None:
    """Exiting without close(): the runner's exit hook stops Lava before multiprocessing joins it."""
    out = tmp_path / "segments.json"
    code = ("import json, os, sys; from engine.backends.lava import LavaRunner; "
            "from engine.files.netx import load_model; from tests.lava_session import children_of, shared_memory_of; "
            f"runner = LavaRunner(load_model({str(reference_path('spandex_prune75.net'))!r})); "
            "runner.step(__import__('numpy').ones(257)); "
            "pids = [os.getpid(), *children_of(os.getpid())]; "
            "open(sys.argv[1], 'w').write(json.dumps(sorted(shared_memory_of(pids))))")
    run = run_in_own_session(code, [str(out)], timeout_s=TIMEOUT_S)
    assert run.returncode == 0, run.output
    assert run.leftovers == []
    segments = json.loads(out.read_text())
    assert segments and [s for s in segments if Path(s).exists()] == []


@pytest.fixture(scope="module")
def speech_wav(real_speech, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wav") / "speech.wav"
    sf.write(path, real_speech, 16000, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def long_speech_wav(real_speech, tmp_path_factory) -> Path:
    """Ten minutes of speech: Lava is still denoising it when the test interrupts, however fast the machine
    (with many cores, Lava does a minute in a few seconds; a file that is done has its output complete)."""
    path = tmp_path_factory.mktemp("wav") / "long_speech.wav"
    with sf.SoundFile(path, "w", 16000, 1, subtype="PCM_16") as handle:
        for _ in range(int(np.ceil(600 * 16000 / real_speech.size))):
            handle.write(real_speech)
    return path


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def test_cli_denoise_with_lava_writes_what_the_dense_backend_writes(speech_wav, tmp_path) -> None:
    audio, _ = sf.read(speech_wav, dtype="float32")
    short = tmp_path / "short.wav"
    sf.write(short, audio[:16000], 16000, subtype="FLOAT")
    model = str(reference_path("spandex_prune50.net"))
    outputs = {}
    for backend in ("dense", "lava"):
        outputs[backend] = tmp_path / f"{backend}.wav"
        code = "import sys; from cli.main import main; sys.exit(main(sys.argv[1:]))"
        run = run_in_own_session(code, ["denoise", str(short), str(outputs[backend]), "--model", model,
                                        "--backend", backend, "--json"], timeout_s=TIMEOUT_S)
        assert run.returncode == 0, run.output
        assert run.leftovers == []
        if backend == "lava":
            report = json.loads(run.output.strip().splitlines()[-1])
            assert report["backend"] == "lava"
            assert report["latency_ms"] >= 40.0  # 32 ms framing + 8 ms Loihi pipeline
            assert any("Loihi 2 hardware: not available" in note for note in report["notes"])
            assert any("delays above 62" in note for note in report["notes"])
    np.testing.assert_array_equal(sf.read(outputs["lava"])[0], sf.read(outputs["dense"])[0])


def test_cli_eval_with_lava_scores_what_the_dense_backend_scores(noisy_speech, tmp_path) -> None:
    noisy, clean = noisy_speech
    for folder in ("noisy", "clean"):
        (tmp_path / folder).mkdir()
    for i in range(2):  # two files of 0.75 s: a fresh stream (reset) for each
        part = slice(i * 12000, (i + 1) * 12000)
        sf.write(tmp_path / "noisy" / f"take_fileid_{i}.wav", noisy[part], 16000, subtype="FLOAT")
        sf.write(tmp_path / "clean" / f"clean_fileid_{i}.wav", clean[part], 16000, subtype="FLOAT")
    scores = {}
    for backend in ("dense", "lava"):
        out = tmp_path / f"{backend}.json"
        code = "import sys; from cli.main import main; sys.exit(main(sys.argv[1:]))"
        run = run_in_own_session(code, ["eval", "--model", str(reference_path("ndns_baseline.net")),
                                        "--noisy", str(tmp_path / "noisy"), "--clean", str(tmp_path / "clean"),
                                        "--backend", backend, "--json", str(out)], timeout_s=TIMEOUT_S)
        assert run.returncode == 0, run.output
        assert run.leftovers == []
        scores[backend] = json.loads(out.read_text())
    lava, dense = scores["lava"], scores["dense"]
    assert lava["backend"] == "lava"
    assert [f["si_snr"] for f in lava["files"]] == [f["si_snr"] for f in dense["files"]]
    assert lava["synops_per_frame"] == dense["synops_per_frame"]
    # 32 ms framing + 8 ms for Loihi's extra step + the measured compute per frame
    assert lava["latency_ms"] == pytest.approx(40.0 + lava["compute_us_per_frame"] / 1000)
    assert dense["latency_ms"] == pytest.approx(32.0 + dense["compute_us_per_frame"] / 1000)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_cli_interrupted_mid_run_stops_lava_cleanly(how, long_speech_wav, tmp_path) -> None:
    """Ctrl-C reaches the whole process group (Lava's children too); SIGTERM only the main process."""
    out = tmp_path / "out.wav"
    child = subprocess.Popen(
        _cli("denoise", str(long_speech_wav), str(out), "--model", str(reference_path("ndns_baseline.net")),
             "--backend", "lava"), cwd=REPO_ROOT, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=as_if_from_a_terminal)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".out.wav.*.tmp")) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.1)  # the temporary output appears once Lava runs and denoising begins
        time.sleep(0.5)
        members = session_members(child.pid)
        segments = shared_memory_of(members)
        assert len(members) >= 8 and segments, "Lava did not start"
        assert child.poll() is None, "finished before it could be interrupted"
        if how == "ctrl-c":
            os.killpg(child.pid, signal.SIGINT)
        else:
            os.kill(child.pid, signal.SIGTERM)
        _, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
    assert child.returncode == (130 if how == "ctrl-c" else 143), stderr
    assert "interrupted" in stderr
    assert wait_for_session_to_empty(child.pid, timeout_s=10) == []
    assert [s for s in segments if Path(s).exists()] == []
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
