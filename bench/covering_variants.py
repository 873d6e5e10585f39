"""What the exact plan's covering indexes cost in memory and buy in latency (issue 19, item 7).

    .venv/bin/python bench/covering_variants.py --n 100000 [--queries 100] [--cold 5]

Runs on a catalog that ``bench/recommend.py --n N`` has loaded (same database). Three variants of
the three covering indexes (``garment_category_price_idx``, ``garment_version_price_idx``,
``garment_brand_price_idx``), each built in turn on the same table, then measured with the same
queries:

* **32-bit**: the indexes of ``recommender/0007`` (INCLUDE the 32-bit ``embedding``) and the exact
  form of that time (every filtered row scored at full precision from the index);
* **16-bit** (what ships, ``recommender/0011``): INCLUDE the 16-bit ``embedding_half``; the
  filtered rows are ranked by it and the 3 x pool nearest re-scored at full precision from the heap;
* **not covering**: the same keys without INCLUDE (the exact form reads every filtered row from
  the heap); the floor of what the indexes can cost.

Per variant: the indexes' sizes (``pg_relation_size``, after ``VACUUM ANALYZE``); per selectivity
(10, 3, 1, 0.3 %, filters made as ``bench/recommend.py`` makes them, the same queries for every
variant), the exact plan's statement timed ``--queries`` times with the indexes and the heap read
once beforehand (warm), and ``--cold`` times with the server restarted and the database's files
dropped from the OS page cache before each (cold; as ``bench/recommend_cold.py``). Every variant's
answer is compared with the 32-bit one's (product ids in order); a difference is counted.

Leaves the shipped variant (16-bit) in place. Writes ``bench/reports/covering-<N>.md``; last line
``half_mb_per_m <v> full_mb_per_m <v> half_warm_p95_ms <v> full_warm_p95_ms <v> disagreements <n>``
(the three indexes' MB per million garments, worst warm p95 over the selectivities).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from django.db import connection, transaction  # noqa: E402

import bench.recommend as bench  # noqa: E402  (sets up Django on the benchmark's database)
import bench.recommend_cold as cold_cache  # noqa: E402
from recommender import queries  # noqa: E402
from recommender.models import EXACT_SCAN_COLUMNS  # noqa: E402

SELECTIVITIES = [0.1, 0.03, 0.01, 0.003]
KEY_COLUMNS = {
    "garment_category_price_idx": "encoder_version varchar_pattern_ops, category_path varchar_pattern_ops, price",
    "garment_version_price_idx": "encoder_version, price",
    "garment_brand_price_idx": "encoder_version, brand_id, price",
}
# The columns the exact form reads besides the vector.
FILTER_COLUMNS = [c for c in EXACT_SCAN_COLUMNS if c != "embedding_half"]

# The exact form before recommender/0011, word for word: every filtered row scored at full
# precision from the index's 32-bit vector.
EXACT_FORM_32_BIT = f"""
candidates AS (
    SELECT {queries._CANDIDATE_COLUMNS}, f.distance
    FROM (
        SELECT id, distance
        FROM (
            SELECT g.id, g.embedding <=> %(vector)s::vector AS distance
            FROM recommender_garment g
            WHERE {{where}}
            OFFSET 0
        ) AS filtered
        ORDER BY distance, id
        LIMIT %(pool)s
    ) AS f
    JOIN recommender_garment g ON g.id = f.id
)"""
EXACT_FORM_SHIPPED = queries._CANDIDATES_EXACT

VARIANTS = {
    "32-bit": ("embedding", EXACT_FORM_32_BIT),
    "16-bit": ("embedding_half", EXACT_FORM_SHIPPED),
    "not covering": (None, EXACT_FORM_32_BIT),
}
SHIPPED = "16-bit"


def build(vector_column: str | None) -> float:
    """Replace the three covering indexes by the variant's; seconds."""
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for index, keys in KEY_COLUMNS.items():
            leading = keys.split(",")[1].split()[0]
            included = [c for c in FILTER_COLUMNS if c != leading] + ([vector_column] if vector_column else [])
            include = f" INCLUDE ({', '.join(included)})" if vector_column else ""
            cursor.execute(f"DROP INDEX IF EXISTS {index}")
            cursor.execute(f"CREATE INDEX {index} ON recommender_garment ({keys}){include}")
        cursor.execute("VACUUM ANALYZE recommender_garment")
    return time.perf_counter() - start


def index_bytes() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname = ANY(%s)", [list(KEY_COLUMNS)]
        )
        return dict(cursor.fetchall())


def warm(vector_column: str | None) -> None:
    """Read the heap and each index whole, so the timed queries find them in memory."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(stock_total), count(embedding) FROM recommender_garment")
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort", "enable_incremental_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        for keys in KEY_COLUMNS.values():
            order = ", ".join(part.split()[0] + (" USING ~<~" if "pattern" in part else "") for part in keys.split(","))
            column = vector_column or "price"
            cursor.execute(
                f"SELECT count({column}) FROM (SELECT {column} FROM recommender_garment"
                f" WHERE encoder_version = %s ORDER BY {order}) AS entries",
                [bench.VERSION],
            )


def exact_statement(query, form: str) -> tuple[list[int], float]:
    queries._CANDIDATES_EXACT = form
    try:
        start = time.perf_counter()
        rows = queries.recommend(
            vector=queries.vector_literal(query.vector),
            version=bench.VERSION,
            filters=query.filters,
            k=bench.K,
            plan="exact",
            today=bench.TODAY,
        )
        return [r.product_id for r in rows], (time.perf_counter() - start) * 1000
    finally:
        queries._CANDIDATES_EXACT = EXACT_FORM_SHIPPED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100, help="warm, per selectivity and variant")
    parser.add_argument("--cold", type=int, default=5, help="cold, per selectivity and variant")
    args = parser.parse_args()

    database_dir = cold_cache.database_directory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(pg_column_size(embedding_half)) FROM recommender_garment")
        (half_column_bytes,) = cursor.fetchone()
    catalog = bench.catalog_from_database()
    if catalog.n != args.n:
        raise SystemExit(f"the database holds {catalog.n} garments, not {args.n}: run bench/recommend.py first")
    rng = np.random.default_rng(31)  # other products than bench/recommend.py's and recommend_cold.py's
    picks = rng.choice(catalog.query_garments, size=args.queries * len(SELECTIVITIES), replace=False)
    cells = {
        s: [bench.make_query(catalog, s, rng, int(g)) for g in picks[i * args.queries : (i + 1) * args.queries]]
        for i, s in enumerate(SELECTIVITIES)
    }
    answers: dict[str, dict[float, list[list[int]]]] = {}
    results: dict[str, dict] = {}
    for name, (vector_column, form) in VARIANTS.items():
        build_s = build(vector_column)
        sizes = index_bytes()
        print(f"{name}: indexes built in {build_s:.0f} s, {sum(sizes.values()) / 2**20:.0f} MB", flush=True)
        warm(vector_column)
        answers[name], per_cell = {}, {}
        for selectivity, cell in cells.items():
            timed = [exact_statement(q, form) for q in cell]
            answers[name][selectivity] = [ids for ids, _ in timed]
            warm_ms = [ms for _, ms in timed]
            cold_ms = []
            for query in cell[: args.cold]:
                cold_cache.cold_start(database_dir)
                cold_ms.append(exact_statement(query, form)[1])
            warm(vector_column)  # the next cell starts warm again
            per_cell[selectivity] = (warm_ms, cold_ms)
            print(
                f"  {selectivity * 100:5.1f} %: warm p50/p95 {np.percentile(warm_ms, 50):.1f}/"
                f"{np.percentile(warm_ms, 95):.1f} ms, cold p50/max {np.percentile(cold_ms, 50):.1f}/"
                f"{max(cold_ms):.1f} ms (load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
        results[name] = {"sizes": sizes, "build_s": build_s, "cells": per_cell}
    build(VARIANTS[SHIPPED][0])  # leave what ships (the last variant built was another)

    disagreements = {
        name: sum(a != b for s in SELECTIVITIES for a, b in zip(answers[name][s], answers["32-bit"][s], strict=True))
        for name in VARIANTS
    }
    per_million = 1e6 / args.n / 2**20
    lines = [
        f"# Covering indexes of the exact plan: memory against latency, {args.n:,} garments",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `bench/covering_variants.py --n {args.n} "
        f"--queries {args.queries} --cold {args.cold}` (database `{bench.BENCH_DB}`; the exact plan's statement "
        "only, forced, at each selectivity; estimate not included). Warm: indexes and heap read once before; "
        "cold: server restarted and the database's files dropped from the OS page cache before the query. "
        f"1-minute load average at the end {os.getloadavg()[0]:.1f} (2 shared cores).",
        "",
        f"The 16-bit copy is a stored column: {half_column_bytes / 2**20:,.1f} MB of the heap "
        f"({half_column_bytes * per_million:,.0f} MB per million garments), counted in the 16-bit row's total.",
        "",
        "| variant | 3 indexes MB | MB per million | + heap column per million | answers unlike 32-bit |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        total = sum(result["sizes"].values())
        extra = half_column_bytes if name == SHIPPED else 0
        lines.append(
            f"| {name} | {total / 2**20:,.1f} | {total * per_million:,.0f} | {(total + extra) * per_million:,.0f} "
            f"| {disagreements[name]} of {args.queries * len(SELECTIVITIES)} |"
        )
    lines += [
        "",
        "| selectivity | "
        + " | ".join(f"{n} warm p50 / p95" for n in VARIANTS)
        + " | "
        + " | ".join(f"{n} cold p50 / max" for n in VARIANTS)
        + " |",
        "|---:|" + "---:|" * (2 * len(VARIANTS)),
    ]
    for s in SELECTIVITIES:
        warm_cells = [results[n]["cells"][s][0] for n in VARIANTS]
        cold_cells = [results[n]["cells"][s][1] for n in VARIANTS]
        lines.append(
            f"| {s * 100:g} % | "
            + " | ".join(f"{np.percentile(w, 50):.1f} / {np.percentile(w, 95):.1f} ms" for w in warm_cells)
            + " | "
            + " | ".join(f"{np.percentile(c, 50):.1f} / {max(c):.1f} ms" for c in cold_cells)
            + " |"
        )

    def worst_warm(name: str) -> float:
        return max(float(np.percentile(results[name]["cells"][s][0], 95)) for s in SELECTIVITIES)

    half_total = sum(results["16-bit"]["sizes"].values()) + half_column_bytes
    full_total = sum(results["32-bit"]["sizes"].values())
    lines += [
        "",
        f"half_mb_per_m {half_total * per_million:.0f} full_mb_per_m {full_total * per_million:.0f} "
        f"half_warm_p95_ms {worst_warm('16-bit'):.1f} full_warm_p95_ms {worst_warm('32-bit'):.1f} "
        f"disagreements {disagreements['16-bit']}",
    ]
    out = ROOT / "bench" / "reports" / f"covering-{args.n}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
