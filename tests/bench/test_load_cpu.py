"""bench/load_cpu.py: the CPU limit of the load test's mix and the ledger of the processes that serve it."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from bench.load_cpu import (
    CpuLedger,
    CpuSampler,
    cpu_limit_rps,
    database_process_role,
    refreshed_every,
    runnable_threads,
)


def test_the_limit_is_the_cores_over_the_mix_weighted_cost():
    # given 10 ms per product request and 60 ms per image request, 70 / 30, on 2 cores
    cpu_ms = {"product": 10.0, "image": 60.0}
    shares = {"product": 0.7, "image": 0.3}

    # when
    limit = cpu_limit_rps(cpu_ms, shares, cpus=2)

    # then a mixed request costs 0.7 × 10 + 0.3 × 60 = 25 ms: 2,000 ms per second / 25 ms
    assert limit == pytest.approx(80.0)
    assert cpu_limit_rps(cpu_ms, shares, cpus=4) == pytest.approx(160.0)


@pytest.mark.parametrize(
    ("cpu_ms", "shares"),
    [
        ({"product": 10.0, "image": 60.0}, {"product": 1.0}),  # a type without a share
        ({"product": 10.0, "image": 60.0}, {"product": 0.7, "image": 0.7}),  # shares sum to 1.4
        ({"product": 0.0, "image": 0.0}, {"product": 0.7, "image": 0.3}),  # free requests
    ],
)
def test_a_limit_from_inconsistent_inputs_is_refused(cpu_ms, shares):
    with pytest.raises(ValueError):
        cpu_limit_rps(cpu_ms, shares, cpus=2)


@pytest.mark.parametrize(
    ("title", "role"),
    [
        ("postgres: postgres fashionrec_bench_load [local] idle", "backend"),
        ("postgres: postgres fashionrec_bench_load 127.0.0.1(53412) SELECT", "backend"),
        ("postgres: postgres test_someone [local] idle", None),  # another database's backend
        ("postgres: fashionrec_bench_load fashionrec 10.0.0.5(40000) idle in transaction", None),  # a user so named
        ("postgres: autovacuum worker fashionrec_bench_load", "helper"),
        ("postgres: autovacuum worker test_someone", None),
        ("postgres: io worker 1", "helper"),  # the server's helpers work for every database
        ("postgres: walwriter ", "helper"),
        ("postgres: checkpointer ", "helper"),
        ("/usr/bin/python manage.py runserver", None),
        ("", None),
    ],
)
def test_database_processes_are_told_by_their_title(title, role):
    assert database_process_role(title, "fashionrec_bench_load") == role


def test_the_ledger_keeps_what_an_exited_process_used_and_counts_a_new_one_from_zero():
    # given two processes at the start
    ledger = CpuLedger()
    ledger.start({(1, 0.0): 5.0, (2, 0.0): 1.0})

    # when 1 uses 2 s and exits, 2 uses 0.5 s, and 3 starts and uses 0.25 s
    ledger.update({(1, 0.0): 7.0, (2, 0.0): 1.5})
    ledger.update({(2, 0.0): 1.5, (3, 9.0): 0.25})

    # then
    assert ledger.seconds() == pytest.approx(2.75)


def test_a_pid_reused_by_a_later_process_is_another_process():
    ledger = CpuLedger()
    ledger.start({(7, 100.0): 3.0})

    ledger.update({(7, 200.0): 0.5})  # 7 exited; a new process got its pid

    assert ledger.seconds() == pytest.approx(0.5)


BURN = "import time\nwhile time.process_time() < 0.4:\n    pass\ntime.sleep(0.6)\n"


def test_the_sampler_measures_a_real_process_that_exits_before_the_end():
    # given a process that burns 0.4 s of CPU, then sleeps and exits while the sampler runs
    child = subprocess.Popen([sys.executable, "-c", BURN])
    process = psutil.Process(child.pid)
    sampler = CpuSampler({"burner": lambda: [process], "nobody": lambda: []}, interval=0.05)
    sampler.start()

    # when it has exited (and been reaped) before the sampler stops
    child.wait(timeout=60)
    used = sampler.stop()

    # then its CPU time is counted from its last sample, and an empty group used nothing
    assert used["burner"] >= 0.35
    assert used["nobody"] == 0.0


PARENT = (
    "import subprocess, sys, time\n"
    "time.sleep(0.3)\n"
    "subprocess.run([sys.executable, '-c', 'import time\\nwhile time.process_time() < 1.0:\\n    pass'])\n"
    "time.sleep(0.6)\n"
)


def test_a_child_that_exits_is_counted_once_not_again_in_its_parent():
    # given a parent (a postmaster, a gunicorn master) whose child burns 1 s of CPU and is reaped
    # by it while both are sampled as one group
    parent = psutil.Process(subprocess.Popen([sys.executable, "-c", PARENT]).pid)
    sampler = CpuSampler({"family": lambda: [parent, *parent.children()]}, interval=0.05)
    sampler.start()

    # when
    parent.wait(timeout=60)
    used = sampler.stop()["family"]

    # then the child's second is there once (the parent's own start-up adds a little)
    assert 0.95 <= used < 1.6


def test_a_busy_process_is_runnable_and_a_sleeping_one_is_not():
    # given one process spinning and one sleeping
    busy = subprocess.Popen([sys.executable, "-c", "while True:\n    pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time\ntime.sleep(60)"])
    try:
        time.sleep(0.5)
        # when sampled a few times (a spinning process may wait for a core: it is still runnable)
        counts = [
            (runnable_threads([psutil.Process(busy.pid)]), runnable_threads([psutil.Process(idle.pid)]))
            for _ in range(5)
        ]
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()

    # then
    assert all(spinning == 1 and sleeping == 0 for spinning, sleeping in counts)


def test_a_process_list_is_read_again_only_once_its_period_is_over():
    # given a listing that counts its calls
    calls = []
    listing = refreshed_every(lambda: calls.append(1) or [psutil.Process()], seconds=0.3)

    # when it is asked three times at once, then once after the period
    first = [listing() for _ in range(3)]
    time.sleep(0.35)
    listing()

    # then the table was read twice, and the cached list is the same processes
    assert len(calls) == 2
    assert all(processes == first[0] for processes in first)
