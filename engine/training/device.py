"""Where a training run computes: the torch device a run's ``device`` setting names, its fast precisions, and
how its process keeps the memory it frees.

Everything a training step creates (index tensors, windows, buffers) is made on the device of the tensors it
works on, so the same graph runs on a CPU or a CUDA GPU; this module only turns the setting into a
:class:`torch.device`, refusing with one line what the machine cannot do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

from engine.errors import SpandexError


def training_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as a device this machine has, or a one-line :class:`SpandexError`."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise SpandexError(f"unknown training device {name!r}: use cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise SpandexError(f"unsupported training device {name!r}: use cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise SpandexError(f"--device {name}: CUDA is not available ({why}, torch {torch.__version__}); "
                           f"train with --device cpu")
    index = 0 if device.index is None else device.index
    if index >= torch.cuda.device_count():
        raise SpandexError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return torch.device("cuda", index)


def backward_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype of the graph's backward products for a run's ``backward_precision`` setting.

    ``"float32"``: None (the parameters' own dtype). ``"bfloat16"``: bfloat16. ``"auto"``: bfloat16 where the
    device multiplies it natively (CPUs with AVX512-BF16 or AMX, CUDA GPUs that support it), else None —
    emulated bfloat16 is slower than float32.
    """
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    else:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return torch.bfloat16 if native else None


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling for it on 64-bit systems


def keep_freed_memory() -> bool:
    """glibc: serve allocations up to 32 MiB from the heap and keep what is freed there; True if set.

    A training step allocates and frees dozens of 4-16 MB activation tensors. By default glibc maps each one
    afresh and returns it when freed, and the kernel must then fault in and zero every page again: measured
    here, 13,000-49,000 page faults and 0.46-0.49 s against 0.40 s for a 16 × 4 s CPU step. Kept, a
    run's memory stays at its peak until the process ends — right for a training process, which is why only
    :func:`~engine.training.trainer.run_training` calls this, not the app.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
