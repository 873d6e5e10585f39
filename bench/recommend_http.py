"""The REST columns of the recommend benchmark over real HTTP: gunicorn on the loopback.

gunicorn (``WORKERS`` gthread workers x ``THREADS`` threads, as ``bench/load.py`` runs it) serves
the benchmark's database; clients send ``GET /api/v1/products/{id}/similar/`` with
``http.client`` on keep-alive connections, one connection per client thread. A cell (selectivity,
concurrency) sends each of its queries exactly once; latency is the client's, from sending the
request to having read the whole answer (so it includes HTTP parsing, the 10 queries, the
serialisation and the loopback).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

WORKERS, THREADS = 2, 4


@contextmanager
def gunicorn(database: str, *, port: int, root: Path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fashionrec.settings",
        "DJANGO_DEBUG": "false",
        "FASHIONREC_EMBEDDED_DB_NAME": database,
        "FASHIONREC_ANON_RECOMMEND_RATE": "100000000/min",
        "FASHIONREC_USER_RECOMMEND_RATE": "100000000/min",
        "FASHIONREC_LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": "",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"), "fashionrec.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--worker-class", "gthread",
            "--threads", str(THREADS), "--timeout", "120", "--log-level", "warning",
        ],
        cwd=root, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _path(product_id: int, params: dict, k: int) -> str:
    return f"/api/v1/products/{product_id}/similar/?" + urllib.parse.urlencode({**params, "k": k})


def run_cell(address: str, requests: list[tuple[int, dict]], *, k: int, concurrency: int):
    """Send every request once over ``concurrency`` keep-alive connections; (ids per request, ms per request)."""
    host, port = address.split(":")
    ids: list[list[int] | None] = [None] * len(requests)
    ms: list[float] = [0.0] * len(requests)
    next_index = iter(range(len(requests)))
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            product_id, params = requests[i]
            start = time.perf_counter()
            connection.request("GET", _path(product_id, params, k))
            response = connection.getresponse()
            body = response.read()
            ms[i] = (time.perf_counter() - start) * 1000
            if response.status != 200:
                errors.append(f"{response.status} {body[:200]!r}")
                continue
            ids[i] = [item["product"]["id"] for item in json.loads(body)["results"]]
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} HTTP errors, first: {errors[0]}")
    return ids, ms
