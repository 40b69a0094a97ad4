"""Efficiency of an unlearning run: wall time and peak memory of a command, measured from outside.

``profile_command`` starts the command, and a thread polls every ``interval`` seconds:

- GPU memory through NVML (``nvidia-ml-py``, the ``[gpu]`` extra): the memory used by the
  command's processes (the command and every descendant) on every GPU, summed; where the driver
  does not list processes (some containers), the growth of the GPUs' used memory since the start.
  Without NVML or a GPU, ``peak_gpu_bytes`` is ``None`` and ``device`` says why.
- CPU memory through ``psutil``: the resident set size (RSS) of the process tree, summed; the
  kernel's own peak of the command (``wait4``'s ``ru_maxrss``) is a floor, so a peak between two
  polls of a single process is not missed.

Peaks between polls of several processes can be missed, so the numbers are lower bounds at the
poll's resolution. Wall time is from start to exit (``time.perf_counter``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import psutil

from canvas_data import __version__

PROFILE_KIND = "canvas-eval profile"


class _Nvml:
    """The GPUs through NVML; ``error`` says why there are none."""

    def __init__(self) -> None:
        self.handles: list = []
        self.names: list[str] = []
        self.error: str | None = None
        self.nvml = None
        try:
            import pynvml
        except ImportError:
            self.error = "nvidia-ml-py not installed"
            return
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as err:  # no driver, no library
            self.error = f"NVML unavailable: {err}"
            return
        self.nvml = pynvml
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            self.handles.append(h)
            name = pynvml.nvmlDeviceGetName(h)
            self.names.append(name.decode() if isinstance(name, bytes) else name)
        if not self.handles:
            self.error = "NVML sees no GPU"
        self.baseline = self.used()

    def used(self) -> int:
        return sum(int(self.nvml.nvmlDeviceGetMemoryInfo(h).used) for h in self.handles)

    def by_processes(self, pids: set[int]) -> int | None:
        """Memory of ``pids`` on every GPU, or ``None`` when the driver lists none of them."""
        total, seen = 0, False
        for h in self.handles:
            for p in self.nvml.nvmlDeviceGetComputeRunningProcesses(h):
                if p.pid in pids and p.usedGpuMemory is not None:
                    total += int(p.usedGpuMemory)
                    seen = True
        return total if seen else None

    def close(self) -> None:
        if self.nvml is not None:
            self.nvml.nvmlShutdown()
            self.nvml = None


class _Poller(threading.Thread):
    def __init__(self, pid: int, interval: float, gpu: _Nvml) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.gpu = pid, interval, gpu
        self.stop = threading.Event()
        self.peak_rss = 0
        self.peak_gpu: int | None = None
        self.gpu_source: str | None = None

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def poll(self) -> None:
        procs = self.tree()
        rss = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):  # gone since listed: so is its memory
                rss += p.memory_info().rss
        self.peak_rss = max(self.peak_rss, rss)
        if self.gpu.handles:
            try:
                used = self.gpu.by_processes({p.pid for p in procs})
                source = "processes"
                if used is None:
                    used, source = max(0, self.gpu.used() - self.gpu.baseline), "device"
            except self.gpu.nvml.NVMLError as err:
                self.gpu.error = f"NVML failed while polling: {err}"
                return
            if self.peak_gpu is None or used > self.peak_gpu:
                self.peak_gpu = used
            if source == "processes" or self.gpu_source is None:
                self.gpu_source = source

    def run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            self.stop.wait(self.interval)


def _wait(proc: subprocess.Popen) -> tuple[int, int]:
    """Wait for ``proc``; its exit code (``-N`` when killed by signal ``N``) and peak RSS."""
    if not hasattr(os, "wait4"):
        return proc.wait(), 0
    while True:
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            break
        except InterruptedError:
            continue
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return proc.returncode, int(usage.ru_maxrss) * scale


def profile_command(
    command: Sequence[str], *, interval: float = 0.05, method: str | None = None
) -> dict[str, Any]:
    """Run ``command`` to its end and measure it; the record as a dict.

    Keys: ``command`` (list), ``exit_code`` (``-N`` when killed by signal ``N``), ``wall_s``,
    ``peak_gpu_bytes`` (``None`` without NVML/GPU), ``gpu_memory_source`` (``processes`` or
    ``device``), ``peak_rss_bytes``, ``device``, ``interval_s``, ``started`` (UTC ISO 8601).
    Raises ``FileNotFoundError`` when the command's program does not exist.
    """
    command = [str(c) for c in command]
    if not command:
        raise ValueError("no command to profile (put it after --)")
    gpu = _Nvml()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(command)
    except (FileNotFoundError, PermissionError) as err:
        gpu.close()
        raise FileNotFoundError(f"cannot run {command[0]}: {err.strerror}") from None
    poller = _Poller(proc.pid, interval, gpu)
    poller.poll()
    poller.start()
    try:
        code, kernel_rss = _wait(proc)
    except KeyboardInterrupt:
        proc.terminate()
        code, kernel_rss = _wait(proc)
    wall = time.perf_counter() - t0
    poller.stop.set()
    poller.join()
    gpu.close()
    device = ", ".join(gpu.names) if gpu.handles else f"cpu ({gpu.error})"
    return {
        "kind": PROFILE_KIND,
        "toolkit_version": __version__,
        "method": method,
        "command": command,
        "exit_code": code,
        "wall_s": wall,
        "peak_gpu_bytes": poller.peak_gpu if gpu.handles else None,
        "gpu_memory_source": poller.gpu_source if gpu.handles else None,
        "peak_rss_bytes": max(poller.peak_rss, kernel_rss),
        "device": device,
        "interval_s": interval,
        "started": started,
    }


def shell_exit_code(code: int) -> int:
    """The exit status a shell gives a command: ``128 + N`` for one killed by signal ``N``."""
    return 128 - code if code < 0 else code
