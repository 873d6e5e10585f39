"""CPU accounting for ``bench/load.py``: what the service costs per request, and who used the machine.

The load test's target is relative (issue 19.6): throughput at least 85 % of what the machine's
cores could serve if they did nothing but serve the mix. That limit comes from a single-client
pass, which measures the CPU time each request type costs in the processes that serve it (the
gunicorn workers and the PostgreSQL processes of the benchmark's database; the client is left
out), so it does not move with the machine's speed or with what else runs on it. During the load
the same ledger, beside the machine's own counters, tells the service's share of the CPU from
the load generator's and from other processes' (on a shared machine, these steal cores).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# A process is known by its pid and start time: a pid can be reused by a later process.
ProcessKey = tuple[int, float]
Snapshot = dict[ProcessKey, float]


def available_cpus() -> int:
    """The cores this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_limit_rps(cpu_ms: dict[str, float], shares: dict[str, float], cpus: int) -> float:
    """Requests per second that ``cpus`` fully busy cores serve for the mix ``shares``.

    ``cpu_ms`` is the CPU time one request of each type costs (milliseconds); ``shares`` the
    fraction of each type in the mix (summing to 1). A mixed request costs the weighted mean,
    and the cores supply ``cpus × 1000`` CPU milliseconds per second.
    """
    if set(shares) != set(cpu_ms):
        raise ValueError(f"request types differ: {sorted(shares)} vs {sorted(cpu_ms)}")
    if abs(sum(shares.values()) - 1) > 1e-9 or min(shares.values()) < 0:
        raise ValueError(f"shares must be non-negative and sum to 1, got {shares}")
    per_request = sum(shares[kind] * cpu_ms[kind] for kind in shares)
    if per_request <= 0:
        raise ValueError("a request must cost some CPU time")
    return cpus * 1000 / per_request


def database_process_role(title: str, database: str) -> str | None:
    """``"backend"`` or ``"helper"`` for a PostgreSQL process working for ``database``, else None.

    Backends are titled ``postgres: <user> <database> <client> <activity>``; they count only for
    their own database, as do autovacuum workers, which name the database they clean. The
    server's own helper processes (``io worker``, ``walwriter``, ``checkpointer``…) serve every
    database of the embedded server, which during the benchmark is the benchmark's own, so they
    count too, apart (a checkpoint or an autovacuum run shows there, not in the backends).
    """
    words = title.split()
    if not words or not words[0].startswith("postgres"):
        return None
    is_backend = len(words) >= 4 and ("[local]" in words[3] or "(" in words[3])
    if is_backend:
        return "backend" if words[2] == database else None
    if "autovacuum worker" in title:
        return "helper" if database in words else None
    return "helper"


def _cpu_seconds(process: psutil.Process) -> float:
    # A process's own time only. The children that matter are sampled themselves (gunicorn's
    # workers, the postmaster's backends), and their time also lands in their parent's
    # children_* counters once they exit: counting both counted every backend that Django closed
    # (CONN_MAX_AGE) twice, about 7 core-seconds in a 60-s load.
    times = process.cpu_times()
    return times.user + times.system


def snapshot(processes: Iterable[psutil.Process]) -> Snapshot:
    """Cumulative CPU seconds of each process still alive (its own threads, not its children)."""
    values: Snapshot = {}
    for process in processes:
        try:
            with process.oneshot():
                values[(process.pid, process.create_time())] = _cpu_seconds(process)
        except psutil.Error:  # exited meanwhile: the ledger keeps its last sample
            continue
    return values


@dataclass
class CpuLedger:
    """CPU seconds a changing set of processes used since :meth:`start`.

    Processes come and go (a connection's backend exits when Django closes it): each one's last
    sample is kept, so a process that exits between samples loses only what it used since its
    last one. A process first seen after the start counts from zero.
    """

    base: Snapshot = field(default_factory=dict)
    last: Snapshot = field(default_factory=dict)

    def start(self, values: Snapshot) -> None:
        self.base, self.last = dict(values), dict(values)

    def update(self, values: Snapshot) -> None:
        for key, seconds in values.items():
            self.base.setdefault(key, 0.0)
            self.last[key] = seconds

    def seconds(self) -> float:
        return sum(self.last[key] - self.base[key] for key in self.last)


def refreshed_every(
    list_processes: Callable[[], list[psutil.Process]], seconds: float
) -> Callable[[], list[psutil.Process]]:
    """``list_processes`` called at most once per ``seconds``; the same list in between.

    Finding a process's children reads the whole process table, which on a busy machine cost the
    samplers about 3 % of the 2 cores when done at every sample. A process that starts meanwhile
    is found at the next refresh and counted from zero then, so only its first moments can be lost.
    """
    lock = threading.Lock()
    cached: list[psutil.Process] = []
    refreshed = [-math.inf]

    def processes() -> list[psutil.Process]:
        with lock:
            if time.monotonic() - refreshed[0] >= seconds:
                cached[:] = list_processes()
                refreshed[0] = time.monotonic()
            return list(cached)

    return processes


def gunicorn_processes(master_pid: int) -> Callable[[], list[psutil.Process]]:
    master = psutil.Process(master_pid)
    return lambda: [master, *master.children(recursive=True)]


def postgres_processes(pgdata: Path, database: str, role: str) -> Callable[[], list[psutil.Process]]:
    """The embedded server's processes of ``role`` for ``database`` (see :func:`database_process_role`).

    The postmaster itself counts as a helper.
    """
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))

    def processes() -> list[psutil.Process]:
        chosen = [postmaster] if role == "helper" else []
        for child in postmaster.children():
            try:
                title = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if database_process_role(title, database) == role:
                chosen.append(child)
        return chosen

    return processes


class CpuSampler(threading.Thread):
    """Samples named groups of processes into one ledger each, every ``interval`` seconds."""

    def __init__(self, groups: dict[str, Callable[[], list[psutil.Process]]], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.groups = groups
        self.interval = interval
        self.ledgers = {name: CpuLedger() for name in groups}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        for name, list_processes in groups.items():
            self.ledgers[name].start(snapshot(list_processes()))

    def sample(self) -> None:
        with self._lock:
            for name, list_processes in self.groups.items():
                try:
                    processes = list_processes()
                except psutil.Error:
                    continue
                self.ledgers[name].update(snapshot(processes))

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.sample()

    def stop(self) -> dict[str, float]:
        """Stop sampling (after a last sample) and return each group's CPU seconds."""
        self._stopping.set()
        self.join()
        self.sample()
        return {name: ledger.seconds() for name, ledger in self.ledgers.items()}


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds the cores this process may use have spent busy (niced work included), and stolen.

    Only the cores of this process's affinity count, as in :func:`available_cpus`. ``guest`` time
    is already part of ``user`` on Linux; ``iowait`` is idle time.
    """
    per_cpu = psutil.cpu_times(percpu=True)
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = range(len(per_cpu))
    busy = steal = 0.0
    for times in (per_cpu[core] for core in cores if core < len(per_cpu)):
        busy += times.user + times.nice + times.system + getattr(times, "irq", 0) + getattr(times, "softirq", 0)
        steal += getattr(times, "steal", 0.0)
    return busy, steal


def runnable_threads(processes: Iterable[psutil.Process]) -> int:
    """Threads of ``processes`` running or waiting for a core now (state ``R`` in /proc)."""
    count = 0
    for process in processes:
        try:
            tasks = os.listdir(f"/proc/{process.pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                stat = Path(f"/proc/{process.pid}/task/{tid}/stat").read_text()
            except OSError:
                continue
            # the state follows the command name, which is in parentheses and may hold spaces
            if stat[stat.rindex(")") + 2] == "R":
                count += 1
    return count


class DemandSampler(threading.Thread):
    """How many of the service's threads want a core, sampled every ``interval`` seconds.

    On a shared machine the service gets what the scheduler gives it; whether it would fill the
    cores on a machine to itself shows here: if at least ``cores`` of its threads are running or
    runnable at nearly every sample, no core would have been idle.
    """

    def __init__(self, groups: list[Callable[[], list[psutil.Process]]], interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.groups = groups
        self.interval = interval
        self.samples: list[int] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.samples.append(sum(runnable_threads(list_processes()) for list_processes in self.groups))
            except psutil.Error:
                continue

    def stop(self) -> list[int]:
        self._stopping.set()
        self.join()
        return self.samples
