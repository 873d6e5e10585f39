"""The API on a real primary and streaming replica (bench/replica_cluster.py): reads served by the
replica, writes on the primary, and no failed request when the replica dies mid-run.

Counts come from each server's own ``pg_stat_database``, not from the router. About a minute on a
busy 2-core machine, most of it ``migrate`` and gunicorn's start.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from bench.replica_cluster import Cluster

PRODUCTS = 60
# A backend flushes its statistics when it exits (an idle one may otherwise hold them for 10 s):
# the server opens a connection per request (DATABASE_CONN_MAX_AGE=0), so each request's counts
# are in pg_stat_database as soon as its backend has exited.
STATS_FLUSH_S = 1.0


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster()
    try:
        cluster.start_primary()
        tokens = cluster.seed(PRODUCTS)
        cluster.start_replica()
        # One process: its replica health is what every request sees; a dead replica stays out.
        cluster.start_web(workers=1, threads=4, DATABASE_CONN_MAX_AGE="0", DATABASE_REPLICA_DOWN_S="600")
        yield cluster, tokens
    finally:
        cluster.close()


def get(cluster: Cluster, path: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(cluster.base_url + path)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


def post(cluster: Cluster, path: str, body: dict, token: str) -> int:
    request = urllib.request.Request(
        cluster.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def transactions(cluster: Cluster) -> tuple[int, int]:
    time.sleep(STATS_FLUSH_S)
    return cluster.transactions(cluster.primary_port), cluster.transactions(cluster.replica_port)


def test_recommend_reads_are_served_by_the_replica(cluster):
    cluster, _ = cluster
    primary_before, replica_before = transactions(cluster)
    for product_id in range(1, 21):
        status, body = get(cluster, f"/api/v1/products/{product_id}/similar/?k=5")
        assert status == 200 and len(body["results"]) == 5
    primary_after, replica_after = transactions(cluster)
    # four statements per request (context, estimate, recommend, cards) ran on the replica
    assert replica_after - replica_before >= 4 * 20
    assert primary_after - primary_before <= 2  # an anonymous read needs nothing from the primary


def test_writes_go_to_the_primary_and_their_author_reads_them_there(cluster):
    cluster, tokens = cluster
    assert post(cluster, "/api/v1/me/interactions/", {"product_id": 3, "kind": "like"}, tokens[0]) == 201
    assert cluster.interactions(cluster.primary_port) == 1
    primary_before, replica_before = transactions(cluster)
    # the author's next read sees its own write: on the primary, not the (possibly lagging) replica
    status, _ = get(cluster, "/api/v1/products/3/similar/?k=5", token=tokens[0])
    assert status == 200
    primary_after, replica_after = transactions(cluster)
    assert primary_after - primary_before >= 5  # the token, then the four statements of a recommendation
    assert replica_after - replica_before < 4  # (our own counting queries are transactions too)
    # and the replica has streamed the write in
    deadline = time.monotonic() + 10
    while cluster.interactions(cluster.replica_port) != 1:
        assert time.monotonic() < deadline, "the replica never received the write"
        time.sleep(0.1)


def test_no_request_fails_when_the_replica_is_stopped_mid_run(cluster):
    cluster, _ = cluster
    statuses: list[int] = []
    stop = threading.Event()

    def client(offset: int) -> None:
        product_id = offset
        while not stop.is_set():
            statuses.append(get(cluster, f"/api/v1/products/{product_id % PRODUCTS + 1}/similar/?k=5")[0])
            product_id += 1

    threads = [threading.Thread(target=client, args=(n * 7,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    served_before_stop = len(statuses)
    primary_before = cluster.transactions(cluster.primary_port)
    cluster.stop_replica()  # -m immediate, while requests are in flight
    time.sleep(4)
    stop.set()
    for thread in threads:
        thread.join()
    time.sleep(STATS_FLUSH_S)
    assert served_before_stop > 0 and len(statuses) > served_before_stop
    assert [s for s in statuses if s != 200] == []
    # after the stop, the primary served the reads
    assert cluster.transactions(cluster.primary_port) - primary_before >= 4 * (len(statuses) - served_before_stop) // 2
