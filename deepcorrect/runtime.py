"""Process-level settings, applied by the entry points (the CLI, benchmarks, notebook kernels), never by
library functions — CPU memory, how SIGTERM and warnings are handled — the device a run computes on,
resolved once, and a timer of device work.

glibc's ``malloc`` serves large blocks (every activation tensor of a batch) with fresh ``mmap`` pages and
returns them to the OS on ``free``; each new tensor then page-faults in again. On a small CPU box that makes
memory-bound work — ReLU, BN, the stacked swaps of the ranking — several times slower than the arithmetic
(measured here: a 78 MB ReLU 51 ms → 10 ms). Keeping freed memory in the heap costs resident memory, not time.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.utils._python_dispatch import TorchDispatchMode

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
#: The same settings as environment variables, for child processes (papermill kernels) started later.
MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1)}


def keep_freed_memory(children: bool = True) -> bool:
    """Tell glibc's allocator not to mmap large blocks nor trim the heap (this process), and set the
    matching variables for child processes. Returns whether this process's allocator took the settings
    (False off glibc, e.g. macOS: nothing changes there)."""
    if children:
        for key, value in MALLOC_ENV.items():
            os.environ.setdefault(key, value)
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):
        return False


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; an unavailable CUDA request is an error, not a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available here; use device=cpu or auto")
    return dev


class DeviceTimer:
    """Seconds of the work queued on ``device`` between :meth:`start` and :meth:`seconds`: CUDA events on a
    GPU (nothing waits for the GPU inside the timed loop), ``perf_counter`` on the CPU."""

    def __init__(self, device: torch.device | str):
        self.cuda = torch.device(device).type == "cuda"
        self._t0 = 0.0
        self._events = None

    def start(self) -> DeviceTimer:
        if self.cuda:
            self._events = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            self._events[0].record()
        else:
            self._t0 = time.perf_counter()
        return self

    def seconds(self) -> float:
        if not self.cuda:
            return time.perf_counter() - self._t0
        self._events[1].record()
        self._events[1].synchronize()
        return self._events[0].elapsed_time(self._events[1]) / 1e3


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM (what ``kill``, schedulers and torchrun send) into ``SystemExit(143)`` in this process, so
    that ``finally`` blocks and the store's clean-up run — a terminated run leaves no temporary file or empty
    artifact folder — where Python's default ends the process on the spot. Only the main thread may."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


def one_line_warnings() -> None:
    """Print every warning as one ``warning: …`` line (the command line's style), not Python's two lines
    naming the library's source file."""
    warnings.formatwarning = lambda message, *_args, **_kw: f"warning: {message}\n"


@contextmanager
def cudnn_benchmark(on: bool) -> Iterator[None]:
    """cuDNN autotuning of convolution algorithms inside the block (fixed input shapes: worth it), the
    previous setting restored afterwards."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = on
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


#: aten ops whose result (a value or a data-dependent shape) the host must wait for on an accelerator.
HOST_SYNC_OPS = frozenset({"_local_scalar_dense", "nonzero", "_unique2", "unique_dim", "unique_consecutive",
                           "masked_select", "equal", "is_nonzero", "allclose"})


class HostSyncCounter(TorchDispatchMode):
    """Counts the ops in a block that make the host wait for the device (``.item()``, ``.tolist()`` of a
    device tensor, ``nonzero``, ``unique``, boolean masks, copies to the CPU), by name, on any device — so a
    CPU test can check that a CUDA training step never stalls the launch queue. ``ops`` lists them in order."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func._schema.name.split("::")[-1]
        if name in HOST_SYNC_OPS or (name in {"index.Tensor", "index", "index_put_", "index_put"}
                                     and _has_bool_index(args)) or _copies_to_host(name, args, kwargs):
            self.ops.append(name)
        return func(*args, **kwargs)

    @property
    def count(self) -> int:
        return len(self.ops)


def _has_bool_index(args) -> bool:
    indices = args[1] if len(args) > 1 and isinstance(args[1], (list, tuple)) else ()
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices)


def _copies_to_host(name: str, args, kwargs) -> bool:
    """A copy from an accelerator into host memory (``.cpu()``, ``.tolist()``, ``cpu_tensor.copy_(cuda)``)."""
    tensors = [a for a in args[:2] if isinstance(a, torch.Tensor)]
    if name == "_to_copy" and tensors:
        target = torch.device(kwargs.get("device") or tensors[0].device)
        return tensors[0].device.type != "cpu" and target.type == "cpu"
    if name == "copy_" and len(tensors) == 2:
        dst, src = tensors
        return dst.device.type == "cpu" and src.device.type != "cpu"
    return False


@contextmanager
def float32_exact(on: bool = True):
    """Inside: no TF32 in cuDNN convolutions and CUDA matmuls (on by default for convs), so float32 work on a
    GPU (the ranking, the blur) computes in float32 as it claims; the settings are restored on exit.
    Measured on an H200: the blur under TF32 was off by 0.02 grey levels from the CPU's."""
    if not on:
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
