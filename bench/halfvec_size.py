"""Bytes per garment of the embedding heap and its HNSW graph: ``vector(128)`` against ``halfvec(128)``.

    .venv/bin/python bench/halfvec_size.py [--n 100000]

A throwaway server from the embedded binaries (``bench/replica_cluster.py``), two tables of N
random 128-d unit vectors (the same values; ``halfvec`` stores them as 16-bit floats), each with
the production HNSW index (cosine, m=16; ``ef_construction`` does not change the size, so a
low one keeps the build short). Sizes from ``pg_relation_size``. Memory only: recall and latency
of a halfvec index are not measured here.

Last line: ``vector_heap_b <v> vector_hnsw_b <v> halfvec_heap_b <v> halfvec_hnsw_b <v>`` per row.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.replica_cluster import Cluster

DIM = 128


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    n = parser.parse_args().n
    cluster = Cluster()
    try:
        cluster.start_primary()
        q = lambda sql: cluster.query(cluster.primary_port, sql)  # noqa: E731
        q("CREATE EXTENSION vector")
        q(
            f"CREATE TABLE g_vector AS SELECT i AS id, l2_normalize(ARRAY(SELECT random() - 0.5"
            f" FROM generate_series(1, {DIM}) WHERE i > 0)::vector)::vector({DIM}) AS embedding"
            f" FROM generate_series(1, {n}) i"
        )
        q(f"CREATE TABLE g_halfvec AS SELECT id, embedding::halfvec({DIM}) AS embedding FROM g_vector")
        sizes = {}
        for kind in ("vector", "halfvec"):
            q(f"VACUUM ANALYZE g_{kind}")
            q(
                f"CREATE INDEX g_{kind}_hnsw ON g_{kind} USING hnsw (embedding {kind}_cosine_ops)"
                " WITH (m = 16, ef_construction = 32)"
            )
            ((heap, index),) = q(f"SELECT pg_relation_size('g_{kind}'), pg_relation_size('g_{kind}_hnsw')")
            sizes[kind] = (heap / n, index / n)
            print(f"{kind:8} heap {heap / 2**20:7.1f} MiB ({heap / n:.0f} B/row)", end="  ")
            print(f"hnsw {index / 2**20:7.1f} MiB ({index / n:.0f} B/row)")
    finally:
        cluster.close()
    print(
        f"vector_heap_b {sizes['vector'][0]:.0f} vector_hnsw_b {sizes['vector'][1]:.0f}"
        f" halfvec_heap_b {sizes['halfvec'][0]:.0f} halfvec_hnsw_b {sizes['halfvec'][1]:.0f}"
    )


if __name__ == "__main__":
    main()
