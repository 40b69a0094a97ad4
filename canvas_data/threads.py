"""How many threads torch's CPU kernels get: from the cores this process may run on and the
workers the command starts beside them, unless ``--threads`` says.

torch's default is one thread per core of the machine. That is wrong twice over on a shared
machine: a process pinned to a few cores (``taskset``, a cgroup cpuset, a CPU quota) still starts
one thread per core of the machine, and a command's own decode threads or DataLoader processes
compete with those threads for the same cores. Oversubscribed OpenMP kernels wait at every
barrier for a thread that is not running, which made ``canvas-eval generate`` on 2 busy cores
10 times slower than with one thread.

The rule (``choose_threads``): ``requested`` when given; else ``OMP_NUM_THREADS`` when the
environment sets it to a whole number (the OpenMP convention, which torch follows at start); else
the usable cores (the affinity mask, ``os.sched_getaffinity``, capped by the cgroup's CPU quota
when there is one) less the workers that run alongside torch, and at least 1.
``use_torch_threads`` applies it; every CPU path of ``canvas-eval generate``, ``accuracy``,
``fid`` and ``canvas-train`` calls it once, before its first torch operation.

The rule does not look at the load other processes put on the machine (a count that changed
with the load would make outputs differ from run to run); when the load average exceeds the
machine's cores, ``use_torch_threads`` says (``ThreadChoice.busy``) that ``--threads 1`` may be
much faster, and the commands print it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

OMP_ENV = "OMP_NUM_THREADS"
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "QUOTA PERIOD" or "max PERIOD"


def cpu_quota(path: Path = CGROUP_CPU_MAX) -> int | None:
    """The cgroup v2 CPU quota in whole cores (rounded up), ``None`` when there is none or it
    cannot be read."""
    try:
        quota, period = path.read_text().split()[:2]
        if quota == "max":
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def usable_cores() -> int:
    """The cores this process may run on: its affinity mask (``os.cpu_count()`` where the
    platform has none), capped by the cgroup's CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity mask
        cores = os.cpu_count() or 1
    quota = cpu_quota()
    return max(1, min(cores, quota) if quota else cores)


@dataclass(frozen=True)
class ThreadChoice:
    """Torch's intra-op thread count and why: ``requested`` (``--threads``), ``OMP_NUM_THREADS``
    (``from_env``), or chosen from ``cores`` less ``workers``."""

    threads: int
    cores: int
    workers: int
    requested: bool
    from_env: bool = False
    busy: str | None = None  # the warning of busy_warning, set by use_torch_threads

    def describe(self) -> str:
        if self.requested:
            return f"{self.threads} torch threads (--threads)"
        if self.from_env:
            return f"{self.threads} torch threads ({OMP_ENV})"
        return (
            f"{self.threads} torch threads ({self.cores} usable cores, {self.workers} workers "
            "beside torch)"
        )


def choose_threads(
    requested: int | None = None, workers: int = 0, cores: int | None = None
) -> ThreadChoice:
    """Torch's thread count: ``requested`` when given (at least 1), else ``OMP_NUM_THREADS``
    when set to a whole number of at least 1, else ``cores`` (default: ``usable_cores()``) less
    the ``workers`` (decode threads, DataLoader processes) that run beside torch, at least 1.
    ``ValueError`` for a ``requested`` below 1 or ``workers`` below 0."""
    if requested is not None and requested < 1:
        raise ValueError(f"--threads must be at least 1, got {requested}")
    if workers < 0:
        raise ValueError(f"workers must be 0 or more, got {workers}")
    cores = usable_cores() if cores is None else cores
    if requested is not None:
        return ThreadChoice(requested, cores, workers, True)
    env = os.environ.get(OMP_ENV, "").strip()
    if env.isdigit() and int(env) >= 1:
        return ThreadChoice(int(env), cores, workers, False, from_env=True)
    return ThreadChoice(max(1, cores - workers), cores, workers, False)


def busy_warning(choice: ThreadChoice, load: float, machine_cores: int) -> str | None:
    """A warning when torch was given several threads (not by ``--threads`` or
    ``OMP_NUM_THREADS``) on a machine whose ``load`` average exceeds its cores: there, threads
    that wait for each other at every barrier can make torch many times slower."""
    if choice.requested or choice.from_env or choice.threads < 2 or load <= machine_cores:
        return None
    return (
        f"the machine is busy (load {load:.1f} on {machine_cores} cores): torch runs "
        f"{choice.threads} threads, and --threads 1 may be much faster"
    )


def use_torch_threads(requested: int | None = None, workers: int = 0) -> ThreadChoice:
    """Set torch's intra-op thread count by ``choose_threads`` and return the choice, with
    ``busy`` set when the machine is busier than its cores (``busy_warning``)."""
    import torch

    choice = choose_threads(requested, workers)
    torch.set_num_threads(choice.threads)
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has no load average
        load = 0.0
    return replace(choice, busy=busy_warning(choice, load, os.cpu_count() or 1))
