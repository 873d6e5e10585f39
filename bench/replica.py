"""Read replicas under load: primary + one streaming replica, the replica stopped hard mid-run.

    make bench-replica            # or: .venv/bin/python bench/replica.py [--clients 8] [--seconds 30]

Starts a primary and a streaming replica from the embedded server's binaries and gunicorn on
both (``bench/replica_cluster.py``), seeded with a synthetic catalog of ``--products`` products
(one garment each, random unit vectors). ``--clients`` threads send, for ``--seconds``, anonymous
``GET /api/v1/products/{id}/similar/?k=10`` reads mixed with 5 % ``POST /api/v1/me/interactions/``
writes (a like, each client with its own shopper's token). At ``--stop-at`` seconds the replica
is stopped with ``pg_ctl stop -m immediate`` while requests are in flight.

The replica's share of the reads is counted from the replica's own ``pg_stat_database``
(``xact_commit``, sampled every 0.25 s until it stops, the sampler's own queries subtracted),
divided by the replica's transactions per read measured on the replica during a 40-read warm-up
(4 autocommit statements, as ``tests/api/test_recommendations.py`` asserts, plus the search
settings of each new connection and the health checks), not from the router. gunicorn opens a
connection per request (``DATABASE_CONN_MAX_AGE=0``) so that each backend's counts are flushed
when it exits. The lag is the replica's
own (``fashionrec.db_routing.LAG_SQL``, from ``pg_last_xact_replay_timestamp()``), sampled with it:
an upper bound, since while a record is being replayed it reads the time since the previous
replayed commit (seconds when writes are seconds apart, though the replay takes milliseconds);
the report also gives the primary's ``pg_stat_replication.replay_lag``.

Writes the report to ``bench/reports/replica.md``; the last line is
``replica_read_share <v> max_lag_ms <v> errors <n>``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.replica_cluster import DATABASE, Cluster  # noqa: E402
from fashionrec.db_routing import LAG_SQL  # noqa: E402

REPORT = ROOT / "bench" / "reports" / "replica.md"
WARM_UP_READS = 40
WRITE_SHARE = 0.05
# PostgreSQL's own measure on the primary: WAL flushed here until the standby reported it replayed
# (NULL when there was nothing to replay).
REPLAY_LAG_SQL = "SELECT COALESCE(1000 * EXTRACT(EPOCH FROM max(replay_lag)), 0)::float8 FROM pg_stat_replication"
COUNT_SQL = f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{DATABASE}'"


class Sampler(threading.Thread):
    """The replica's committed transactions and lag, every 0.25 s, on one connection of its own."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.samples: list[tuple[float, int, float]] = []  # (time, xact_commit, lag ms)
        self.primary_samples: list[int] = []  # the primary's xact_commit at the same moments
        self.replay_lag_ms: list[float] = []  # the primary's view (pg_stat_replication.replay_lag)
        self.errors: list[str] = []  # failed samples (none expected before the stop)
        self.first = threading.Event()  # the clients start after the first sample
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        def connect(port: int):
            return psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=DATABASE, autocommit=True)

        while not self.stop.is_set():
            # a connection per sample: its backend's two transactions are flushed when it exits
            try:
                with connect(self.cluster.replica_port) as replica:
                    xacts = int(replica.execute(COUNT_SQL).fetchone()[0])
                    sample = (time.monotonic(), xacts, 1000 * float(replica.execute(LAG_SQL).fetchone()[0]))
                with connect(self.cluster.primary_port) as primary:
                    primary_xacts = int(primary.execute(COUNT_SQL).fetchone()[0])
                    self.replay_lag_ms.append(float(primary.execute(REPLAY_LAG_SQL).fetchone()[0]))
            except psycopg.Error as error:
                self.errors.append(str(error).strip()[:120])
                continue
            self.samples.append(sample)
            self.primary_samples.append(primary_xacts)
            self.first.set()
            time.sleep(0.25)


def client(cluster: Cluster, token: str, products: int, until: float, seed: int, log: list) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        write = rng.random() < WRITE_SHARE
        product_id = rng.randint(1, products)
        if write:
            request = urllib.request.Request(
                f"{cluster.base_url}/api/v1/me/interactions/",
                data=json.dumps({"product_id": product_id, "kind": "like"}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
            )
        else:
            request = urllib.request.Request(f"{cluster.base_url}/api/v1/products/{product_id}/similar/?k=10")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        log.append((started, time.monotonic() - started, "write" if write else "read", status))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--stop-at", type=float, default=15)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (4 threads each)")
    args = parser.parse_args()

    cluster = Cluster()
    try:
        cluster.start_primary()
        tokens = cluster.seed(args.products)
        cluster.start_replica()
        # A connection per request: a backend flushes its statistics when it exits, while an idle
        # persistent one may hold them for 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL), which would
        # hide the replica's last seconds of work from the count.
        cluster.start_web(workers=args.workers, threads=4, DATABASE_CONN_MAX_AGE="0")
        # Warm-up, which also measures the replica's transactions per read (the four statements, the
        # search settings of each new connection, the share of health checks) on the replica itself.
        before = cluster.transactions(cluster.replica_port)
        for product_id in range(1, WARM_UP_READS + 1):
            urllib.request.urlopen(f"{cluster.base_url}/api/v1/products/{product_id}/similar/?k=10").read()
        time.sleep(1.5)
        per_read = (cluster.transactions(cluster.replica_port) - before - 1) / WARM_UP_READS  # -1: our count
        writes_before = cluster.interactions(cluster.primary_port)
        sampler = Sampler(cluster)
        sampler.start()
        sampler.first.wait(timeout=60)
        log: list = []
        started = time.monotonic()
        until = started + args.seconds
        threads = [
            threading.Thread(target=client, args=(cluster, tokens[n % len(tokens)], args.products, until, n, log))
            for n in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        time.sleep(max(0.0, started + args.stop_at - time.monotonic()))
        sampler.stop.set()
        sampler.join()
        stopped_at = time.monotonic()
        cluster.stop_replica()
        for thread in threads:
            thread.join()
        time.sleep(1.5)
        writes_stored = cluster.interactions(cluster.primary_port) - writes_before
    finally:
        cluster.close()

    # the replica's own count between the first sample and the last one, less the sampler's queries
    (_, first_xacts, _), (_, last_xacts, _) = sampler.samples[0], sampler.samples[-1]
    sampler_queries = 2 * (len(sampler.samples) - 1)
    replica_reads = max(0, last_xacts - first_xacts - sampler_queries) / per_read
    reads = [entry for entry in log if entry[2] == "read"]
    writes = [entry for entry in log if entry[2] == "write"]
    errors = [entry for entry in log if not 200 <= entry[3] < 300]
    writes_ok = sum(1 for entry in writes if 200 <= entry[3] < 300)
    share = replica_reads / len(reads) if reads else 0.0
    reads_before_stop = sum(1 for t, *_ in reads if t < stopped_at)
    first_at, last_at = sampler.samples[0][0], sampler.samples[-1][0]
    # reads answered inside the sampled window: what the replica's count can include at most
    reads_in_window = sum(1 for t, d, *_ in reads if t + d <= last_at)
    window = last_xacts - first_xacts
    primary_xacts_before_stop = (
        sampler.primary_samples[-1] - sampler.primary_samples[0] - 2 * (len(sampler.samples) - 1)
    )
    max_lag_ms = max(lag for _, _, lag in sampler.samples)
    elapsed = args.seconds

    def latencies(before: bool) -> str:
        values = [1000 * d for t, d, _, _ in reads if (t < stopped_at) == before]
        return f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f}"

    median_lag_ms = statistics.median(lag for *_, lag in sampler.samples)

    rows = [
        ("clients × seconds", f"{args.clients} × {args.seconds:g} (replica stopped at {args.stop_at:g} s)"),
        ("catalog", f"{args.products} products, one garment each (synthetic, exact plan)"),
        ("gunicorn", f"{args.workers} workers × 4 threads"),
        ("reads / writes sent", f"{len(reads)} / {len(writes)} ({len(log) / elapsed:.0f} requests/s)"),
        ("replica transactions per read (warm-up, on the replica)", f"{per_read:.2f}"),
        ("reads served by the replica (its pg_stat_database)", f"{replica_reads:.0f} ({share:.2f} of all reads)"),
        ("reads sent before the stop", str(reads_before_stop)),
        ("reads answered before the last replica sample", str(reads_in_window)),
        ("replica samples, window s, transactions", f"{len(sampler.samples)}, {last_at - first_at:.1f}, {window}"),
        ("primary transactions before the stop (writes, auth)", str(primary_xacts_before_stop)),
        ("read p50 / p95 before the stop (ms)", latencies(True)),
        ("read p50 / p95 after the stop (ms)", latencies(False)),
        ("replica lag, its own measure (ms): max, median", f"{max_lag_ms:.0f}, {median_lag_ms:.0f}"),
        ("replay_lag on the primary (ms): max", f"{max(sampler.replay_lag_ms):.0f}"),
        ("writes answered 201 / rows on the primary", f"{writes_ok} / {writes_stored}"),
        ("failed requests", str(len(errors))),
        ("failed replica samples before the stop", str(len(sampler.errors))),
    ]  # fmt: skip
    for name, value in rows:
        print(f"{name:52} {value}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        "# Read replicas under load (`make bench-replica`)\n\n"
        + "Generated by `bench/replica.py`; see its docstring for how each figure is counted.\n\n"
        + "| measure | value |\n|---|---|\n"
        + "".join(f"| {name} | {value} |\n" for name, value in rows)
    )
    print(f"replica_read_share {share:.3f} max_lag_ms {max_lag_ms:.0f} errors {len(errors)}")


if __name__ == "__main__":
    main()
