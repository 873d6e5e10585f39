"""Fixtures for the ingestion tests: photos, a staff client, Redis, and real Celery workers.

The worker tests start ``celery worker`` subprocesses over the local Redis, on a queue
name of their own (and a Redis database number of their own, ``FASHIONREC_TEST_REDIS_URL``),
connected to the test database (``DATABASE_URL`` built from the embedded server's socket),
so they never mix with a developer's worker or another test run.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("FASHIONREC_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
TRAIN = Path(settings.FASHIONREC_DATASET) / "train"


# --- Photos -------------------------------------------------------------------------------


def dataset_photos(category: str, count: int, *, start: int = 0) -> list[Path]:
    paths = sorted((TRAIN / category).glob("*.jpg"))[start : start + count]
    assert len(paths) == count, f"the clothing dataset at {TRAIN} has fewer than {start + count} {category} photos"
    return paths


def small_jpeg(path: Path, *, width: int = 200) -> bytes:
    """A dataset photo scaled down (faster to decode; detection runs at 320 px anyway)."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((width, width * 2))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


@pytest.fixture
def media_root(settings, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def staff_client(db):
    from rest_framework.test import APIClient

    from tests.factories import staff_user_create

    user = staff_user_create("staff")
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- Redis and workers --------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as error:
        pytest.fail(
            f"The ingestion worker tests need Redis at {REDIS_URL} ({error}). Start it with "
            "`redis-server --daemonize yes --bind 127.0.0.1 --port 6379`, or point "
            "FASHIONREC_TEST_REDIS_URL at another one.",
            pytrace=False,
        )
    return REDIS_URL


@contextlib.contextmanager
def celery_broker(url: str, queue: str) -> Iterator[None]:
    """Make this (test) process send tasks to ``url``/``queue`` instead of running them in-process."""
    from fashionrec.celery import app

    # The app reads Django settings with the CELERY_ namespace: those keys win over plain ones.
    keys = ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "CELERY_TASK_DEFAULT_QUEUE")
    saved = {key: app.conf[key] for key in keys}

    def reset_pools() -> None:
        from kombu import pools

        pools.reset()  # closes the pooled broker connections and forgets them (kombu keeps one registry)
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.update(CELERY_BROKER_URL=url, CELERY_TASK_ALWAYS_EAGER=False, CELERY_TASK_DEFAULT_QUEUE=queue)
    reset_pools()
    try:
        yield
    finally:
        app.conf.update(saved)
        reset_pools()


def database_url_for_workers() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}/{db['NAME']}"


class Worker:
    """A ``celery worker`` subprocess (its own session, so SIGKILL takes all its processes)."""

    def __init__(self, *, broker: str, queue: str, media_root: Path, log_path: Path, env: dict | None = None):
        self.broker, self.queue, self.media_root, self.log_path = broker, queue, media_root, log_path
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    def start(self, *, pool: str = "solo", concurrency: int = 1) -> Worker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.ingestion.worker_settings",
            "DATABASE_URL": database_url_for_workers(),
            "DATABASE_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": self.broker,
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "CELERY_VISIBILITY_TIMEOUT": "6",
            "FASHIONREC_MEDIA_ROOT": str(self.media_root),
            "FASHIONREC_INGEST_RETRY_BACKOFF_S": "0.5",
            "FASHIONREC_INGEST_RETRY_BACKOFF_MAX_S": "2",
            "CELERY_SKIP_CHECKS": "1",
            **self.env,
        }
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "fashionrec",
                "worker",
                "--queues",
                self.queue,
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_for_log(" ready.", timeout=90)
        return self

    def log(self, since: int = 0) -> str:
        """The worker's output, from character ``since`` (see :meth:`mark`)."""
        return self.log_path.read_text(errors="replace")[since:]

    def mark(self) -> int:
        """Where the log ends now: a test sharing the worker reads only what came after."""
        return len(self.log())

    def wait_for_log(self, text: str, *, timeout: float, since: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(since):
            assert self.process.poll() is None, f"the worker exited ({self.process.returncode}):\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} in the worker log after {timeout}s:\n{self.log()[-3000:]}"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the worker and every process it started: no shutdown, no acknowledgement."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture(scope="module")
def shared_worker(django_db_setup, redis_url, tmp_path_factory) -> Iterator[Worker]:
    """One worker for the tests of a module that do not kill it (starting one costs seconds)."""
    import redis

    queue = f"test-ingest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    media = tmp_path_factory.mktemp("shared-worker-media")
    log_path = tmp_path_factory.mktemp("worker-logs") / "shared.log"
    worker = Worker(broker=redis_url, queue=queue, media_root=media, log_path=log_path)
    with celery_broker(redis_url, queue):
        try:
            yield worker.start()
        finally:
            worker.stop()
            client = redis.Redis.from_url(redis_url)
            client.delete(queue, *client.keys(f"{queue}*"))


@pytest.fixture
def worker(shared_worker, settings) -> Worker:
    """The module's worker, with this process storing files where the worker reads them."""
    settings.MEDIA_ROOT = shared_worker.media_root
    return shared_worker


@pytest.fixture
def worker_factory(redis_url, media_root, tmp_path_factory) -> Iterator[Callable[..., Worker]]:
    """Start workers on a queue of this test's own; they are stopped and the queue deleted after it."""
    import redis

    queue = f"test-ingest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    logs = tmp_path_factory.mktemp("worker-logs")
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        env = kwargs.pop("env", None)
        log_path = logs / f"{len(workers)}.log"
        worker = Worker(broker=redis_url, queue=queue, media_root=media_root, log_path=log_path, env=env)
        workers.append(worker)
        return worker.start(**kwargs)

    start.queue = queue
    with celery_broker(redis_url, queue):
        try:
            yield start
        finally:
            for worker in workers:
                worker.stop()
            client = redis.Redis.from_url(redis_url)
            client.delete(queue, *client.keys(f"{queue}*"))


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what or condition}"
        time.sleep(interval)
