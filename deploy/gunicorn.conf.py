"""gunicorn settings of the web process.

The Dockerfile and docker-compose.yml run ``gunicorn -c deploy/gunicorn.conf.py
fashionrec.wsgi:application``, and ``make bench-load`` measures this configuration
(docs/capacity.md, "Web workers on N cores"). Everything is sized from the cores the process may
use (its CPU affinity, capped by a cgroup CPU quota such as ``docker run --cpus``):

* one worker process per core (``WEB_CONCURRENCY`` overrides): Python runs one thread at a time
  per process, so fewer processes than cores leave cores to PostgreSQL or idle, and each worker
  holds its own copy of the vision models (about 1 GB resident);
* ``gthread`` with 4 threads per worker (``GUNICORN_THREADS``): while one request waits for
  PostgreSQL, or runs torch code that releases the GIL, another request's Python runs;
* torch intra-op threads = cores // workers, so 1 with one worker per core
  (``FASHIONREC_TORCH_THREADS`` overrides; recommender/vision/pipeline.py otherwise takes
  min(2, cores) in every process): on 2 cores, 2 workers × 1 torch thread spent about 4 % less
  CPU per request under load than 2 × 2 (2 threads answer a lone photo query sooner: set
  ``FASHIONREC_TORCH_THREADS=2`` where single-query latency matters more than throughput);
* ``OMP_WAIT_POLICY=PASSIVE``: OpenMP threads that wait for work sleep instead of spinning on a
  core (read when torch loads, in each worker, after this file has run in the master); without it,
  2 torch threads on the busy 2-core machine spent 10 times the CPU per photo.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


def available_cores() -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup v2 CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota
    return cores


def torch_threads(cores: int, workers: int) -> int:
    """Intra-op threads per worker so that all workers' threads together fit the cores."""
    return max(1, cores // max(workers, 1))


cores = available_cores()
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or cores)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
timeout = 60


def on_starting(server) -> None:
    # In the master before it forks the workers (they inherit the environment), with the final
    # worker count (a --workers on the command line overrides the one above).
    os.environ.setdefault("FASHIONREC_TORCH_THREADS", str(torch_threads(cores, server.cfg.workers)))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def post_worker_init(worker) -> None:
    # Load the vision models when a worker starts (as the Celery workers do, recommender/tasks.py),
    # not in the first photo query it serves, which would otherwise wait seconds for them.
    import logging

    log = logging.getLogger("gunicorn.error")
    try:
        import torch

        from recommender.vision.pipeline import get_pipeline

        get_pipeline()
        log.info(
            "worker %s: vision models loaded, %d torch threads, OMP_WAIT_POLICY %s",
            worker.pid,
            torch.get_num_threads(),
            os.environ.get("OMP_WAIT_POLICY", "unset"),
        )
    except Exception:  # the photo queries report it properly; the worker must still serve the rest
        log.exception("could not load the vision models at worker start")
