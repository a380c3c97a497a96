"""The training graph's loops over frames as compiled kernels, where a C compiler is at hand.

A delta encoder, the output layer's sigma (running sum) and a hidden layer's sigma → ReLU → delta chain are sequential over
frames: in torch each frame costs a few kernel calls of a few microseconds whatever their size (~1,500 calls a
layer for 4 s), plus a pass through memory for each step of the chain. ``fused_kernels.c`` does each chain in one
pass, the same arithmetic in the same order, so the values are the torch loops' bit for bit
(tests/test_training_fused.py); bench/training_step.py measures what it saves.

The source is compiled once per machine with the system's C compiler (``$CC``, else ``cc``; half a second) into
the user's cache (``$XDG_CACHE_HOME/spandex``, else ``~/.cache/spandex``; each source version and CPU its own
file, with its SHA-256 beside it: a file cut short by a crash is built again, not loaded) and loaded with ctypes:
no build step, no Python headers. A cache folder others could write to, or none at all, and the process builds
for itself. Where building fails (no compiler), or with ``SPANDEX_FUSED_KERNELS=0``, :func:`available` is False
and the graph keeps its torch loops: the same numbers, slower (:func:`why_unavailable` says why; the bench prints
it). Only contiguous float32/float64 CPU tensors take the kernels; GPU runs keep torch's.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

import torch

from engine.files.atomic import atomic_output

SOURCE = Path(__file__).with_name("fused_kernels.c")
FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-trapping-math", "-shared", "-fPIC")
"""``-march=native``: built for this CPU (the cache key names it); no contraction into fused multiply-adds and
no fast-math, so every sum and product rounds as torch's do."""
SWITCH = "SPANDEX_FUSED_KERNELS"
"""Environment variable: "0" keeps the torch loops (for comparisons); anything else or unset uses the kernels."""

_lock = threading.Lock()
_state: dict[str, object] = {}


def _cache_dir() -> Path | None:
    """``$XDG_CACHE_HOME/spandex`` (else ``~/.cache/spandex``), if it is this user's own and no one else can
    write to it (a library found there is loaded into the process); else None."""
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = base / "spandex"
        folder.mkdir(parents=True, exist_ok=True)
        info = folder.stat()
    except (OSError, RuntimeError):  # RuntimeError: no home directory to be found
        return None
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return folder


def _cpu_identity() -> str:
    """What ``-march=native`` depends on: the CPU's model and feature flags (first core's)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.machine()
    wanted = [line for line in text.splitlines() if line.startswith(("model name", "flags", "Features"))]
    return platform.machine() + "\n" + "\n".join(dict.fromkeys(wanted))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _intact(library: Path) -> bool:
    """Whether ``library`` is whole: the digest written beside it when it was built still matches (a file cut
    short by a crash would kill the process that loads it, with SIGBUS, before Python could catch anything)."""
    digest = library.with_suffix(".sha256")
    try:
        return digest.read_text(encoding="ascii").strip() == _digest(library.read_bytes())
    except (OSError, UnicodeDecodeError):
        return False


def _compile(command: list[str], target: Path) -> Path:
    """The kernels compiled to ``target``, with their digest beside them (unless another process got there
    first); both written atomically and privately."""
    with tempfile.TemporaryDirectory(prefix="spandex-kernels-") as scratch:
        built = Path(scratch) / "kernels.so"
        subprocess.run([*command, *FLAGS, str(SOURCE), "-o", str(built)], check=True, capture_output=True,
                       timeout=120)
        if not _intact(target):
            library = built.read_bytes()
            for path, data in ((target, library), (target.with_suffix(".sha256"), _digest(library).encode("ascii"))):
                with atomic_output(path, mode=0o600) as tmp:
                    tmp.write_bytes(data)
    return target


def _build() -> ctypes.CDLL:
    """Compile (or find already compiled) and load the kernels; raises on any failure (caught by the caller)."""
    command = shlex.split(os.environ.get("CC") or "cc")
    if not command or shutil.which(command[0]) is None:
        raise OSError(f"no C compiler ({os.environ.get('CC') or 'cc'}) on PATH")
    command[0] = str(shutil.which(command[0]))
    key = hashlib.sha256("\n".join([SOURCE.read_text(encoding="utf-8"), " ".join(FLAGS), " ".join(command),
                                    _cpu_identity()]).encode()).hexdigest()[:16]
    name = f"fused-kernels-{key}.so"
    folder = _cache_dir()
    if folder is not None:
        library = ctypes.CDLL(str(folder / name if _intact(folder / name) else _compile(command, folder / name)))
    else:  # no cache of our own: built for this process alone
        with tempfile.TemporaryDirectory(prefix="spandex-kernels-") as private:
            library = ctypes.CDLL(str(_compile(command, Path(private) / name)))  # loaded: the file may go
    pointer, count = ctypes.c_void_p, ctypes.c_int64
    for suffix, real in (("f", ctypes.c_float), ("d", ctypes.c_double)):
        getattr(library, f"delta_forward_{suffix}").argtypes = [pointer] * 5 + [count, count, real, real, real]
        getattr(library, f"sigma_relu_delta_forward_{suffix}").argtypes = \
            [pointer] * 6 + [count, count, real, real, real]
        getattr(library, f"sigma_relu_delta_backward_{suffix}").argtypes = [pointer] * 3 + [count, count]
        for name in ("sigma_frame_major_forward", "sigma_frame_major_backward"):
            getattr(library, f"{name}_{suffix}").argtypes = [pointer] * 2 + [count, count, count]
        getattr(library, f"shift_forward_{suffix}").argtypes = [pointer] * 3 + [count] * 4
        getattr(library, f"shift_backward_{suffix}").argtypes = [pointer] * 5 + [count] * 4
        getattr(library, f"mask_forward_{suffix}").argtypes = [pointer] * 5 + [count]
        getattr(library, f"mask_backward_{suffix}").argtypes = [pointer] * 6 + [count]
        for name in ("delta_forward", "sigma_relu_delta_forward", "sigma_relu_delta_backward",
                     "sigma_frame_major_forward", "sigma_frame_major_backward", "shift_forward", "shift_backward",
                     "mask_forward", "mask_backward"):
            getattr(library, f"{name}_{suffix}").restype = None
    return library


def _library() -> ctypes.CDLL | None:
    with _lock:
        if "library" not in _state:
            try:
                _state["library"] = _build()
                _state["reason"] = None
            except Exception as exc:  # noqa: BLE001 - whatever fails, the torch loops compute the same
                _state["library"] = None
                detail = getattr(exc, "stderr", b"") or b""
                _state["reason"] = f"{exc}" + (f": {detail.decode(errors='replace').strip()[:300]}" if detail else "")
        return _state["library"]  # type: ignore[return-value]


def available() -> bool:
    """Whether the kernels are in use (compiled and loaded, and not switched off)."""
    return os.environ.get(SWITCH, "1") != "0" and _library() is not None


def why_unavailable() -> str | None:
    """Why :func:`available` is False, in words; None when it is True."""
    if os.environ.get(SWITCH, "1") == "0":
        return f"switched off ({SWITCH}=0)"
    return None if _library() is not None else f"not built: {_state.get('reason')}"


def takes(*tensors: torch.Tensor) -> bool:
    """Whether the kernels can work on these tensors: available, on the CPU, contiguous, one float dtype."""
    first = tensors[0]
    return (first.dtype in (torch.float32, torch.float64)
            and all(t.device.type == "cpu" and t.dtype == first.dtype and t.is_contiguous() for t in tensors)
            and available())


def _call(name: str, dtype: torch.dtype):
    library = _library()
    assert library is not None
    return getattr(library, f"{name}_{'f' if dtype == torch.float32 else 'd'}")


def _ptr(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


def _frames_and_width(x: torch.Tensor) -> tuple[int, int]:
    return x.shape[0], x.numel() // max(x.shape[0], 1)


def delta_forward(x: torch.Tensor, below: float, step: float,
                  keep_delta_input: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The delta unit over ``x`` (T, ...): the floored sent values, and slayer's delta input if asked for."""
    frames, width = _frames_and_width(x)
    out = torch.empty_like(x)
    delta_input = torch.empty_like(x) if keep_delta_input else None
    scratch = x.new_empty((2, width))
    _call("delta_forward", x.dtype)(_ptr(x), _ptr(out), _ptr(delta_input), _ptr(scratch[0]), _ptr(scratch[1]),
                                    frames, width, below, step, 1.0 / step)
    return out, delta_input


def sigma_relu_delta_forward(current: torch.Tensor, below: float, step: float,
                             keep_delta_input: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Sigma (the running sum of ``current``), ReLU, delta unit: the floored sent values, sigma, and slayer's
    delta input if asked for."""
    frames, width = _frames_and_width(current)
    out, sigma = torch.empty_like(current), torch.empty_like(current)
    delta_input = torch.empty_like(current) if keep_delta_input else None
    scratch = current.new_empty((2, width))
    _call("sigma_relu_delta_forward", current.dtype)(_ptr(current), _ptr(sigma), _ptr(out), _ptr(delta_input),
                                                     _ptr(scratch[0]), _ptr(scratch[1]), frames, width, below, step,
                                                     1.0 / step)
    return out, sigma, delta_input


def sigma_relu_delta_backward(grad_out: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The gradient of the synapses' output from that of the spikes (delta, ReLU and sigma backward)."""
    frames, width = _frames_and_width(grad_out)
    grad_current = torch.empty_like(grad_out)
    _call("sigma_relu_delta_backward", grad_out.dtype)(_ptr(grad_out), _ptr(sigma), _ptr(grad_current), frames, width)
    return grad_current


def sigma_frame_major_forward(current: torch.Tensor) -> torch.Tensor:
    """The running sum over frames of ``current`` (T, B, C), laid out frame-major: (B, T, C)."""
    frames, batch, width = current.shape
    out = current.new_empty((batch, frames, width))
    _call("sigma_frame_major_forward", current.dtype)(_ptr(current), _ptr(out), frames, batch, width)
    return out


def sigma_frame_major_backward(grad: torch.Tensor) -> torch.Tensor:
    """Its backward: from the gradient of the (B, T, C) sums, that of ``current`` (T, B, C)."""
    batch, frames, width = grad.shape
    out = grad.new_empty((frames, batch, width))
    _call("sigma_frame_major_backward", grad.dtype)(_ptr(grad), _ptr(out), frames, batch, width)
    return out


def runs_fit(runs: tuple[tuple[int, int, int], ...], width: int) -> bool:
    """Whether each run ``(start, stop, shift)`` lies within ``width`` channels and shifts forward (a NaN delay,
    after training diverged, gives a huge negative shift: the torch loops take it, the kernels must not)."""
    return all(0 <= start <= stop <= width and shift >= 0 for start, stop, shift in runs)


def _run_table(runs: tuple[tuple[int, int, int], ...]) -> torch.Tensor:
    return torch.tensor(runs, dtype=torch.int64, device="cpu").reshape(-1, 3).contiguous()


def shift_forward(x: torch.Tensor, runs: tuple[tuple[int, int, int], ...]) -> torch.Tensor:
    """``y[t, :, c] = x[t - shift, :, c]`` (0 before) for each run of channels ``(start, stop, shift)``."""
    frames, batch, width = x.shape
    y = torch.empty_like(x)
    table = _run_table(runs)
    _call("shift_forward", x.dtype)(_ptr(x), _ptr(y), _ptr(table), len(runs), frames, batch, width)
    return y


def shift_backward(grad: torch.Tensor, y: torch.Tensor | None,
                   runs: tuple[tuple[int, int, int], ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The gradient of the undelayed spikes, and with ``y`` (the delayed ones) each channel's delay gradient
    (summed in float64, returned in ``grad``'s dtype)."""
    frames, batch, width = grad.shape
    grad_x = torch.empty_like(grad)
    grad_delay = grad.new_empty(width, dtype=torch.float64) if y is not None else None
    table = _run_table(runs)
    _call("shift_backward", grad.dtype)(_ptr(grad), _ptr(y), _ptr(grad_x), _ptr(grad_delay), _ptr(table), len(runs),
                                        frames, batch, width)
    return grad_x, None if grad_delay is None else grad_delay.to(grad.dtype)


def frame_major(x: torch.Tensor) -> bool:
    """Whether a ``(B, bins, T)`` tensor is laid out frame-major, ``(B, T, bins)`` contiguous, as the spectra."""
    return x.dim() == 3 and x.transpose(1, 2).is_contiguous()


def takes_mask(y: torch.Tensor, parts: torch.Tensor, magnitude: torch.Tensor) -> bool:
    """Whether :func:`mask_forward` can work on these: the graph's output ``y`` and the noisy spectra's parts
    ``(B, bins, T, 2)`` and magnitudes, all frame-major on the CPU, one float dtype."""
    return (y.shape == magnitude.shape == parts.shape[:3] and parts.shape[3:] == (2,)
            and frame_major(y) and frame_major(magnitude) and parts.permute(0, 2, 1, 3).is_contiguous()
            and takes(y.transpose(1, 2), magnitude.transpose(1, 2), parts.permute(0, 2, 1, 3)))


def _frame_major_like(x: torch.Tensor, last: tuple[int, ...] = ()) -> torch.Tensor:
    batch, bins, frames = x.shape
    order = (0, 2, 1, *range(3, 3 + len(last)))
    return x.new_empty((batch, frames, bins, *last)).permute(order)


def mask_forward(y: torch.Tensor, parts: torch.Tensor,
                 magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``mask = relu(y + 1)``: the masked parts and the denoised magnitude ``mask · magnitude``, frame-major."""
    masked, denoised = _frame_major_like(y, (2,)), _frame_major_like(y)
    _call("mask_forward", y.dtype)(_ptr(y), _ptr(parts), _ptr(magnitude), _ptr(masked), _ptr(denoised), y.numel())
    return masked, denoised


def mask_backward(y: torch.Tensor, parts: torch.Tensor, magnitude: torch.Tensor, grad_masked: torch.Tensor,
                  grad_magnitude: torch.Tensor) -> torch.Tensor:
    """``y``'s gradient from those of the masked parts and the denoised magnitude (frame-major, as ``y``)."""
    grad_y = _frame_major_like(y)
    _call("mask_backward", y.dtype)(_ptr(y), _ptr(parts), _ptr(magnitude), _ptr(grad_masked), _ptr(grad_magnitude),
                                    _ptr(grad_y), y.numel())
    return grad_y
