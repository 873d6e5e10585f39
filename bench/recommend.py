"""Benchmark of the recommend query: recall, rows and latency per filter selectivity.

    make bench-recommend N=100000        # or: .venv/bin/python bench/recommend.py --n 100000
    make bench-recommend-clothing        # the real clothing catalog: --catalog clothing

Builds a synthetic catalog of N garments in its own database on the embedded server
(``fashionrec_bench_recommend_<N>``; the development database is not touched): a category tree,
Zipf-distributed brands, log-normal prices per category, sizes with stock (some sold out),
seasons. The vectors (``--vectors realistic``, the default) are drawn from a model of the shipped
encoder's embeddings of the clothing photos and their augmented crops, fitted so that the
nearest-neighbour cosines match the real catalog's, with no reference to any attribute
(``bench/realistic_vectors.py``, ``bench/real_embeddings.py``; the pass rule is printed);
``--vectors clustered`` keeps the old generator (clusters that belong to categories,
``fashionrec_bench_recommend_<N>_clustered``). Rows go in with COPY, triggers off (the
denormalised garment columns are written consistently by the generator), and the HNSW index is
built afterwards (timed). ``--catalog clothing`` instead imports the real clothing photos
(``FASHIONREC_DATASET``, both splits) with ``import_catalog`` into
``fashionrec_bench_recommend_clothing``.

The references are all computed first: **SQL exact** (the production statement with index scans
disabled) and **independent** (``bench/independent_reference.py``: a NumPy brute force over the
raw catalog tables with its own filter code and the scoring reproduced; any disagreement between
the two is counted and listed). Then the garment table, the exact plan's covering indexes and the
catalog tables the product cards read are read once and 200 high-``ef_search`` ANN queries walk
the graph, so they are in shared buffers as on a database that has been serving.

For each selectivity (100, 30, 10, 3, 1, 0.3 % of the garments), 200 query products (100 at 1M)
with a filter of that selectivity (a price window; a category subtree, half the time the query's
own, narrowed by a price window; or a brand narrowed by a price window), and 3 more that only warm
up (never measured):

* **production**: the planner estimate, the plan rule and the recommend statement, exactly as
  ``recommender.selectors`` runs them; timed in the database round trips;
* **HTTP**: ``GET /api/v1/products/{id}/similar/`` with the same filters to gunicorn over the
  loopback (``bench/recommend_http.py``), at concurrency 1 (the same queries, recall checked) and 8
  (as many other products); each query sent once;
* **FAISS** (``bench/faiss_baselines.py``): HNSW over the same vectors, naive post-filtering,
  post-filtering with over-fetch, and FAISS's own filtered search (``IDSelectorBitmap``); loaded
  only after the timed requests.

``--storage halfvec`` (or ``vector``) switches the catalog's HNSW graph to that storage
(``recommender/embedding_storage.py``; built if missing, the other dropped) and measures it; the SQL
exact reference stays full precision whatever the storage. Prints a table and writes
``bench/reports/recommend-<N>.md`` (``recommend-clothing.md``); the last line is
``min_recall@10 <value> indep_min_recall@10 <value> db_p95_ms <value> rest_p95_ms <value>``
(recall against SQL exact, against the independent reference, the worst db p95 and the worst HTTP
p95 at concurrency 1 over the selectivities).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _database_name(argv: list[str]) -> str:
    """One database per catalog, so a 1M catalog and a 100k one can both be kept (``--reuse``)."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--n", type=int, default=100_000)
    early.add_argument("--catalog", default="synthetic")
    early.add_argument("--vectors", default="realistic")
    known, _ = early.parse_known_args(argv)
    suffix = "clothing" if known.catalog == "clothing" else str(known.n)
    if known.catalog != "clothing" and known.vectors != "realistic":
        suffix += f"_{known.vectors}"
    return f"fashionrec_bench_recommend_{suffix}"


BENCH_DB = _database_name(sys.argv[1:])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionrec.settings")
os.environ["FASHIONREC_EMBEDDED_DB_NAME"] = BENCH_DB
# The benchmark is one anonymous client sending thousands of requests: lift the throttle.
os.environ["FASHIONREC_ANON_RECOMMEND_RATE"] = "100000000/min"
# DRF's user throttle also counts anonymous callers (by address), so lift it as well.
os.environ["FASHIONREC_USER_RECOMMEND_RATE"] = "100000000/min"

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402

from bench.faiss_baselines import OVERFETCH_CAP, FaissBaselines  # noqa: E402
from bench.independent_reference import (  # noqa: E402
    IndependentReference,
    agrees,
    tolerant_recall,
    top_ids,
)
from bench.recommend_http import THREADS, WORKERS, gunicorn, run_cell  # noqa: E402
from catalog.filters import ProductFilters  # noqa: E402
from recommender import embedding_storage, queries  # noqa: E402

DIM = settings.FASHIONREC_EMBEDDING_DIM
VERSION = "bench-synthetic"
SELECTIVITIES = [1.0, 0.3, 0.1, 0.03, 0.01, 0.003]
K = 10
TODAY = dt.date.today()
WARMUPS = 3  # per selectivity, before the measured queries; never measured
FAISS_KINDS = ("naive", "overfetch", "filtered")

# --- the synthetic catalog ------------------------------------------------------------------

TREE = {
    "women": {
        "tops": ["t-shirts", "shirts", "blouses", "knitwear"],
        "dresses": ["casual", "evening"],
        "trousers": ["jeans", "chinos"],
        "skirts": [],
        "outerwear": ["coats", "jackets"],
        "shoes": ["sneakers", "boots", "heels"],
        "bags": [],
    },
    "men": {
        "tops": ["t-shirts", "shirts", "knitwear"],
        "trousers": ["jeans", "chinos"],
        "outerwear": ["coats", "jackets"],
        "shoes": ["sneakers", "boots"],
    },
    "kids": {"tops": [], "trousers": [], "shoes": []},
}
COLOURS = ["black", "white", "grey", "beige", "brown", "red", "pink", "orange", "yellow", "green", "blue", "navy"]
COLOUR_P = np.array([18, 12, 10, 8, 6, 6, 5, 3, 3, 5, 14, 10], dtype=float)
SIZES = {
    "clothes": ["XS", "S", "M", "L", "XL"],
    "shoes": ["37", "38", "39", "40", "41", "42", "43", "44"],
    "bags": ["one-size"],
}


@dataclass
class Catalog:
    """Per-garment attributes (aligned arrays) and what the queries need."""

    n: int
    product_id: np.ndarray
    vectors: np.ndarray
    category_path: np.ndarray  # str
    brand_id: np.ndarray
    price: np.ndarray  # float cents-rounded
    in_stock: np.ndarray
    stock_total: np.ndarray
    sizes: list[frozenset]
    category_nodes: dict[str, int]  # path -> id
    query_garments: np.ndarray | None = None  # per product, the garment the API queries with


def _categories() -> list[tuple[int, str, str, str | None]]:
    rows, next_id = [], 1
    for root, children in TREE.items():
        rows.append((next_id, root, root, None))
        root_path, next_id = root, next_id + 1
        for child, leaves in children.items():
            rows.append((next_id, child, f"{root_path}/{child}", root_path))
            child_path, next_id = f"{root_path}/{child}", next_id + 1
            for leaf in leaves:
                rows.append((next_id, leaf, f"{child_path}/{leaf}", child_path))
                next_id += 1
    return rows


def generate(n: int, seed: int = 7) -> tuple[Catalog, dict]:
    rng = np.random.default_rng(seed)
    categories = _categories()
    paths = [path for _, _, path, _ in categories]
    ids = {path: cid for cid, _, path, _ in categories}
    leaves = [p for p in paths if not any(q.startswith(p + "/") for q in paths)]
    leaf_p = rng.zipf(1.6, len(leaves)).astype(float) + 5
    leaf_p /= leaf_p.sum()

    # Products: one image each, 1-3 garments (mean 1.4): the first is the product itself.
    n_products = int(n / 1.4)
    garments_per = rng.choice([1, 2, 3], size=n_products, p=[0.65, 0.30, 0.05])
    excess = garments_per.sum() - n
    while excess > 0:  # trim to exactly n garments
        idx = np.flatnonzero(garments_per > 1)[: int(excess)]
        garments_per[idx] -= 1
        excess = garments_per.sum() - n
    if excess < 0:
        garments_per[: -int(excess)] += 1
    product_leaf = rng.choice(len(leaves), size=n_products, p=leaf_p)
    n_brands = 300
    brand_w = 1.0 / np.arange(1, n_brands + 1) ** 1.1
    product_brand = rng.choice(n_brands, size=n_products, p=brand_w / brand_w.sum()) + 1
    product_colour = rng.choice(len(COLOURS), size=n_products, p=COLOUR_P / COLOUR_P.sum())
    leaf_price_mu = rng.uniform(np.log(15), np.log(150), len(leaves))
    product_price = np.round(np.exp(leaf_price_mu[product_leaf] + rng.normal(0, 0.45, n_products)), 2)
    product_price = np.maximum(product_price, 1.0)
    product_seasons = [
        sorted(rng.choice(4, size=rng.choice([1, 2], p=[0.6, 0.4]), replace=False) + 1) for _ in range(n_products)
    ]

    # Clusters: about n/500, each belonging to one leaf category.
    n_clusters = max(50, n // 500)
    cluster_leaf = rng.choice(len(leaves), size=n_clusters, p=leaf_p)
    centres = rng.normal(size=(n_clusters, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    clusters_of_leaf = {leaf: np.flatnonzero(cluster_leaf == leaf) for leaf in range(len(leaves))}
    for leaf, members in clusters_of_leaf.items():
        if len(members) == 0:
            clusters_of_leaf[leaf] = np.array([rng.integers(n_clusters)])

    # Variants: sizes per kind, stock Poisson(3) with a quarter sold out.
    def kind(path: str) -> str:
        return "shoes" if "/shoes" in path else "bags" if path.endswith("bags") else "clothes"

    variants, sizes_in_stock, stock_totals = [], [], []
    for p in range(n_products):
        options = SIZES[kind(leaves[product_leaf[p]])]
        chosen = (
            options
            if len(options) == 1
            else sorted(rng.choice(options, size=rng.integers(3, len(options) + 1), replace=False))
        )
        stock = rng.poisson(3, len(chosen)) * (rng.random(len(chosen)) > 0.25)
        variants.append(list(zip(chosen, stock.tolist(), strict=True)))
        sizes_in_stock.append(frozenset(s for s, q in zip(chosen, stock, strict=True) if q > 0))
        stock_totals.append(int(stock.sum()))

    garment_product = np.repeat(np.arange(n_products), garments_per)
    first = np.r_[True, garment_product[1:] != garment_product[:-1]]
    g_leaf = product_leaf[garment_product].copy()
    # A second or third garment in a photo is another kind of garment (e.g. the trousers
    # under a top): a random leaf.
    g_leaf[~first] = rng.choice(len(leaves), size=int((~first).sum()), p=leaf_p)
    g_cluster = np.array([rng.choice(clusters_of_leaf[leaf]) for leaf in g_leaf])
    noise = rng.normal(size=(n, DIM)) * (0.55 / np.sqrt(DIM))
    vectors = centres[g_cluster] + noise
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    product_paths = np.array([leaves[i] for i in product_leaf], dtype=str)
    catalog = Catalog(
        n=n,
        product_id=garment_product + 1,
        vectors=vectors,
        category_path=product_paths[garment_product],
        brand_id=product_brand[garment_product],
        price=product_price[garment_product],
        in_stock=np.array([stock_totals[p] > 0 for p in garment_product]),
        stock_total=np.array(stock_totals)[garment_product],
        sizes=[sizes_in_stock[p] for p in garment_product],
        category_nodes=ids,
    )
    raw = {
        "categories": categories,
        "n_brands": n_brands,
        "product_leaf_path": product_paths,
        "product_brand": product_brand,
        "product_colour": product_colour,
        "product_price": product_price,
        "product_seasons": product_seasons,
        "variants": variants,
        "sizes_in_stock": sizes_in_stock,
        "stock_totals": stock_totals,
        "garments_per": garments_per,
        "g_leaf": g_leaf,
        "leaves": leaves,
    }
    return catalog, raw


def department(path: str) -> str:
    return path.split("/", 1)[0]


def load(catalog: Catalog, raw: dict, *, parallel_workers: int) -> dict[str, float]:
    """COPY everything in (triggers off), then build the indexes; returns timings."""
    import psycopg
    from pgvector.psycopg import register_vector

    timings: dict[str, float] = {}
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("host", "port", "user", "dbname")}) as conn:
        renice(conn)
        register_vector(conn)
        cur = conn.cursor()
        start = time.perf_counter()
        cur.execute(
            "TRUNCATE recommender_garment, catalog_productimage, catalog_productvariant, catalog_product_seasons, "
            "catalog_product, catalog_seasonalrule, catalog_season, catalog_brand, catalog_category, "
            "recommender_encoderversion RESTART IDENTITY CASCADE"
        )
        for storage in embedding_storage.STORAGES:  # rebuilt after the COPY, not row by row
            cur.execute(embedding_storage.drop_index_sql(storage))
        # Bulk load: triggers (and FK checks) off for this session; the generator writes the
        # denormalised columns consistently.
        cur.execute("SET session_replication_role = replica")
        now = dt.datetime.now(dt.UTC)
        with cur.copy("COPY catalog_category (id, name, slug, path, parent_id) FROM STDIN") as copy:
            for cid, slug, path, parent in raw["categories"]:
                copy.write_row((cid, slug.title(), slug, path, catalog.category_nodes[parent] if parent else None))
        with cur.copy("COPY catalog_brand (id, name, slug) FROM STDIN") as copy:
            for b in range(1, raw["n_brands"] + 1):
                copy.write_row((b, f"Brand {b}", f"brand-{b}"))
        seasons = [("Spring", 3, 1, 5, 31), ("Summer", 6, 1, 8, 31), ("Autumn", 9, 1, 11, 30), ("Winter", 12, 1, 2, 28)]
        with cur.copy(
            "COPY catalog_season (id, name, slug, hemisphere, start_month, start_day, end_month, end_day) FROM STDIN"
        ) as copy:
            for i, (name, sm, sd, em, ed) in enumerate(seasons, start=1):
                copy.write_row((i, name, name.lower(), "north", sm, sd, em, ed))
        # Rules active today that match nothing: the rules CTE runs at its real cost without
        # changing the ranking, so FAISS (which knows no rules) stays comparable.
        cur.execute(
            "INSERT INTO catalog_seasonalrule (name, starts_on, ends_on, target_colour, target_tag, weight, priority,"
            " is_active, created_at, updated_at) SELECT 'bench ' || i, %s, %s, '', 'bench-none', 0.2, i, true,"
            " now(), now() FROM generate_series(1, 10) i",
            [TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=30)],
        )
        n_products = len(raw["product_price"])
        leaf_ids = catalog.category_nodes
        with cur.copy(
            "COPY catalog_product (id, sku, title, description, brand_id, category_id, department, colour, price,"
            " currency, tags, is_active, created_at, updated_at) FROM STDIN"
        ) as copy:
            for p in range(n_products):
                path = raw["product_leaf_path"][p]
                copy.write_row(
                    (
                        p + 1,
                        f"B-{p + 1:07d}",
                        f"Product {p + 1}",
                        "",
                        int(raw["product_brand"][p]),
                        leaf_ids[path],
                        department(path),
                        COLOURS[raw["product_colour"][p]],
                        f"{raw['product_price'][p]:.2f}",
                        "EUR",
                        [],
                        True,
                        now,
                        now,
                    )
                )
        with cur.copy("COPY catalog_productvariant (product_id, sku, size, colour, stock) FROM STDIN") as copy:
            for p, variants in enumerate(raw["variants"]):
                for size, stock in variants:
                    copy.write_row((p + 1, f"B-{p + 1:07d}-{size}", size, "", stock))
        with cur.copy("COPY catalog_product_seasons (product_id, season_id) FROM STDIN") as copy:
            for p, season_ids in enumerate(raw["product_seasons"]):
                for s in season_ids:
                    copy.write_row((p + 1, int(s)))
        with cur.copy(
            "COPY catalog_productimage (id, product_id, file, is_primary, checksum, width, height, status, error,"
            " encoder_version, attempts, created_at) FROM STDIN"
        ) as copy:
            for p in range(n_products):
                copy.write_row(
                    (
                        p + 1,
                        p + 1,
                        f"products/bench/{p + 1}.jpg",
                        True,
                        f"{p + 1:064x}",
                        400,
                        533,
                        "ready",
                        "",
                        VERSION,
                        1,
                        now,
                    )
                )
        cur.execute(
            "INSERT INTO recommender_encoderversion (name, dim, weights_sha256, is_active, card, calibration,"
            " created_at, activated_at) VALUES (%s, %s, '', true, '{}', '{}', now(), now())",  # {}: uncalibrated
            [VERSION, DIM],
        )
        season_arrays = [[int(s) for s in seasons_] for seasons_ in raw["product_seasons"]]
        with cur.copy(
            "COPY recommender_garment (image_id, product_id, encoder_version, embedding, box_x1, box_y1, box_x2,"
            " box_y2, label, confidence, is_whole_image, created_at, category_id, category_path, brand_id,"
            " department, colour, price, is_active, stock_total, in_stock, sizes_in_stock, season_ids, tags)"
            " FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(
                [
                    "int8",
                    "int8",
                    "varchar",
                    "vector",
                    "int4",
                    "int4",
                    "int4",
                    "int4",
                    "varchar",
                    "float8",
                    "bool",
                    "timestamptz",
                    "int8",
                    "varchar",
                    "int8",
                    "varchar",
                    "varchar",
                    "numeric",
                    "bool",
                    "int4",
                    "bool",
                    "varchar[]",
                    "int8[]",
                    "varchar[]",
                ]
            )
            from decimal import Decimal

            for g in range(catalog.n):
                p = int(catalog.product_id[g]) - 1
                path = catalog.category_path[g]
                copy.write_row(
                    (
                        p + 1,
                        p + 1,
                        VERSION,
                        catalog.vectors[g],
                        0,
                        0,
                        400,
                        533,
                        "top",
                        0.9,
                        False,
                        now,
                        leaf_ids[path],
                        path,
                        int(catalog.brand_id[g]),
                        department(path),
                        COLOURS[raw["product_colour"][p]],
                        Decimal(f"{catalog.price[g]:.2f}"),
                        True,
                        int(catalog.stock_total[g]),
                        bool(catalog.in_stock[g]),
                        sorted(catalog.sizes[g]),
                        season_arrays[p],
                        [],
                    )
                )
        cur.execute("SET session_replication_role = origin")
        for table in ("catalog_category", "catalog_brand", "catalog_season", "catalog_product", "catalog_productimage"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        timings["load_s"] = time.perf_counter() - start

        start = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '2GB'")
        cur.execute(f"SET max_parallel_maintenance_workers = {int(parallel_workers)}")
        cur.execute(
            "CREATE INDEX garment_embedding_hnsw ON recommender_garment USING hnsw (embedding vector_cosine_ops)"
            " WITH (m = 16, ef_construction = 200)"
        )
        conn.commit()
        timings["hnsw_build_s"] = time.perf_counter() - start
        start = time.perf_counter()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE recommender_garment")
        cur.execute("ANALYZE catalog_product")
        cur.execute("ANALYZE catalog_productvariant")
        timings["analyze_s"] = time.perf_counter() - start
        size = cur.execute("SELECT pg_relation_size('garment_embedding_hnsw')").fetchone()[0]
        timings["hnsw_mb"] = size / 2**20
    return timings


def load_clothing(dataset: Path) -> dict[str, float]:
    """Import both splits of the clothing photos (detector, encoder, in-process); timed."""
    from catalog.models import Product

    timings = {"load_s": float("nan"), "hnsw_build_s": float("nan"), "analyze_s": float("nan")}
    if not Product.objects.exists():
        start = time.perf_counter()
        for split in ("train", "validation"):
            call_command("import_catalog", str(dataset / split), "--no-progress", verbosity=0)
        timings["load_s"] = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE recommender_garment")
    timings["hnsw_mb"] = hnsw_mb()
    return timings


def hnsw_mb() -> float:
    with connection.cursor() as cursor:
        # the graph of the configured storage (NaN until --storage has built it on a reused catalog)
        graph = embedding_storage.INDEX_NAMES[embedding_storage.configured()]
        cursor.execute("SELECT pg_relation_size(to_regclass(%s))", [graph])
        size = cursor.fetchone()[0]
        return float("nan") if size is None else size / 2**20


def switch_storage(storage: str) -> dict[str, float]:
    """Set FASHIONREC_EMBEDDING_STORAGE for this process and switch the catalog's graph to it."""
    settings.FASHIONREC_EMBEDDING_STORAGE = os.environ["FASHIONREC_EMBEDDING_STORAGE"] = storage  # gunicorn's too
    start = time.perf_counter()
    with connection.cursor() as cursor:
        built = storage in embedding_storage.existing_graphs(cursor)
        cursor.execute("SET maintenance_work_mem = '2GB'")
        embedding_storage.apply(cursor, storage)
        cursor.execute("RESET maintenance_work_mem")
    seconds = time.perf_counter() - start
    print(f"HNSW graph {storage}: {'already built' if built else f'built in {seconds:.1f} s'} ({hnsw_mb():.1f} MB)")
    return {"hnsw_mb": hnsw_mb()} | ({} if built else {"hnsw_build_s": seconds})


def catalog_from_database() -> Catalog:
    """The loaded catalog's garments of the active encoder version, as the generator's arrays."""
    from pgvector.psycopg import register_vector

    register_vector(connection.connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT g.product_id, g.embedding, g.category_path, COALESCE(g.brand_id, 0), g.price, g.in_stock,"
            " g.stock_total, g.sizes_in_stock,"
            # the API's query garment of each product (recommender.queries._CONTEXT_SQL's order)
            " row_number() OVER (PARTITION BY g.product_id ORDER BY i.is_primary DESC, g.is_whole_image,"
            " g.confidence DESC, g.id) = 1"
            " FROM recommender_garment g JOIN catalog_productimage i ON i.id = g.image_id"
            " WHERE g.encoder_version = %s AND g.is_active ORDER BY g.product_id, g.id",
            [VERSION],
        )
        rows = cursor.fetchall()
        cursor.execute("SELECT path, id FROM catalog_category")
        nodes = dict(cursor.fetchall())
    return Catalog(
        n=len(rows),
        product_id=np.array([r[0] for r in rows]),
        vectors=np.array([np.asarray(r[1], dtype=np.float32) for r in rows]),
        category_path=np.array([r[2] for r in rows], dtype=str),
        brand_id=np.array([r[3] for r in rows]),
        price=np.array([float(r[4]) for r in rows]),
        in_stock=np.array([r[5] for r in rows]),
        stock_total=np.array([r[6] for r in rows]),
        sizes=[frozenset(r[7]) for r in rows],
        category_nodes=nodes,
        query_garments=np.flatnonzero([r[8] for r in rows]),
    )


WARM_TABLES = (
    "catalog_product",
    "catalog_productvariant",
    "catalog_productimage",
    "catalog_product_seasons",
    "catalog_category",
    "catalog_brand",
    "catalog_season",
    "catalog_seasonalrule",
)


def warm_up(catalog: Catalog, rng) -> float:
    """Read the heap and walk the HNSW graph, so both sit in shared buffers; seconds."""
    start = time.perf_counter()
    picks = rng.choice(catalog.n, size=min(200, catalog.n), replace=False)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(stock_total) FROM recommender_garment")
        # each covering index of the exact plan, read whole by an index-only scan: asked for
        # the 16-bit embedding (which only they hold) in their key order with sorts off, since a plain
        # count is answered from a smaller index. The plan is checked.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort", "enable_incremental_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        for index, order in (
            ("garment_version_price_idx", "encoder_version, price"),
            # this one is built with the pattern operator classes (prefix matching)
            ("garment_category_price_idx", "encoder_version USING ~<~, category_path USING ~<~, price"),
            ("garment_brand_price_idx", "encoder_version, brand_id, price"),
        ):
            sql = (
                "SELECT count(embedding_half) FROM (SELECT embedding_half FROM recommender_garment"
                f" WHERE encoder_version = %s ORDER BY {order}) AS entries"
            )
            cursor.execute("EXPLAIN " + sql, [VERSION])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            if f"Index Only Scan using {index}" not in plan:
                print(f"warning: the warm-up read of {index} used another plan:\n{plan}", flush=True)
            cursor.execute(sql, [VERSION])
        cursor.execute("SET LOCAL enable_sort = on")
        cursor.execute("SET LOCAL enable_incremental_sort = on")
        # the tables the context lookup and the product cards read, and their B-tree indexes on
        # ids (not the ones on SKUs or checksums, which serving never reads and which would only
        # push useful pages out of shared buffers)
        for table in WARM_TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            cursor.execute(
                "SELECT a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am"
                " ON am.oid = i.relam JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]"
                " WHERE x.indrelid = %s::regclass AND am.amname = 'btree'"
                " AND (a.attname = 'id' OR a.attname LIKE '%%\\_id')",
                [table],
            )
            for (column,) in cursor.fetchall():
                cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL")
        queries.set_search_settings(cursor, ef_search=1000, local=True)
        for g in picks:
            cursor.execute(  # the graph of the storage being measured
                "SELECT id FROM recommender_garment g WHERE encoder_version = %s"
                f" ORDER BY {embedding_storage.ann_order('%s')} LIMIT 10",
                [VERSION, queries.vector_literal(catalog.vectors[g])],
            )
            cursor.fetchall()
    return time.perf_counter() - start


def buffer_counts() -> tuple[int, int]:
    """Shared-buffer hits and reads of this database so far (this backend's counts flushed first)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()


def renice(conn) -> None:
    """Lower the priority of this session's server process: the machine is shared."""
    try:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        os.setpriority(os.PRIO_PROCESS, pid, 10)
    except (OSError, PermissionError):
        pass


# --- filters of a given selectivity ---------------------------------------------------------


@dataclass
class Query:
    product_id: int
    vector: np.ndarray
    params: dict  # API query parameters
    filters: ProductFilters
    mask: np.ndarray  # garments passing the filter (before excluding the query product)


def price_window(prices: np.ndarray, fraction: float, rng) -> tuple[float, float]:
    if fraction >= 1:
        return float(prices.min()), float(prices.max())
    ordered = np.sort(prices)
    start = rng.uniform(0, 1 - fraction)
    low = ordered[int(start * (len(ordered) - 1))]
    high = ordered[min(len(ordered) - 1, int((start + fraction) * (len(ordered) - 1)))]
    return float(low), float(high)


_NODE_MASKS: dict[str, np.ndarray] = {}


def in_node(catalog: Catalog, node: str) -> np.ndarray:
    if node not in _NODE_MASKS:
        _NODE_MASKS[node] = (catalog.category_path == node) | np.char.startswith(catalog.category_path, node + "/")
    return _NODE_MASKS[node]


def make_query(catalog: Catalog, selectivity: float, rng, query_garment: int) -> Query:
    pid = int(catalog.product_id[query_garment])
    vector = catalog.vectors[query_garment]
    params: dict = {}
    if selectivity < 1:
        recipe = rng.choice(["price", "category", "brand"])
        base = np.ones(catalog.n, dtype=bool)
        if recipe == "category":
            own = rng.random() < 0.5
            path = catalog.category_path[query_garment] if own else rng.choice(catalog.category_path)
            # the deepest ancestor that still holds at least `selectivity` of the rows
            parts = path.split("/")
            for depth in range(len(parts), 0, -1):
                node = "/".join(parts[:depth])
                if in_node(catalog, node).mean() >= selectivity:
                    break
            base = in_node(catalog, node)
            params["category"] = catalog.category_nodes[node]
        elif recipe == "brand":
            shares = np.bincount(catalog.brand_id) / catalog.n
            candidates = np.flatnonzero(shares >= selectivity)
            brand = int(rng.choice(candidates)) if len(candidates) else int(np.argmax(shares))
            base = catalog.brand_id == brand
            params["brand"] = brand
        within = min(1.0, selectivity / max(base.mean(), 1e-9))
        if within < 0.999:
            low, high = price_window(catalog.price[base], within, rng)
            params["price_min"], params["price_max"] = f"{low:.2f}", f"{high:.2f}"
    mask = np.ones(catalog.n, dtype=bool)
    if "category" in params:
        node = next(p for p, i in catalog.category_nodes.items() if i == params["category"])
        mask &= in_node(catalog, node)
    if "brand" in params:
        mask &= catalog.brand_id == params["brand"]
    if "price_min" in params:
        mask &= (catalog.price >= float(params["price_min"])) & (catalog.price <= float(params["price_max"]))
    category_paths: tuple[str, ...] = ()
    if "category" in params:
        node = next(p for p, i in catalog.category_nodes.items() if i == params["category"])
        # what the API's context query resolves: the node and every category below it
        category_paths = tuple(sorted(p for p in catalog.category_nodes if p == node or p.startswith(node + "/")))
    from decimal import Decimal

    filters = ProductFilters(
        category_paths=category_paths,
        brand_id=params.get("brand"),
        price_min=Decimal(params["price_min"]) if "price_min" in params else None,
        price_max=Decimal(params["price_max"]) if "price_max" in params else None,
        exclude=(pid,),
    )
    return Query(product_id=pid, vector=vector, params=params, filters=filters, mask=mask)


# --- the measured paths ---------------------------------------------------------------------


def production(query: Query) -> tuple[list[int], float, str]:
    vector = queries.vector_literal(query.vector)
    start = time.perf_counter()
    estimate = queries.estimate_rows(version=VERSION, filters=query.filters)
    plan = queries.choose_plan(estimate)
    rows = queries.recommend(vector=vector, version=VERSION, filters=query.filters, k=K, plan=plan, today=TODAY)
    return [r.product_id for r in rows], (time.perf_counter() - start) * 1000, plan


def exact(query: Query) -> list[int]:
    # full precision whatever --storage measures: the candidate phase orders by the 32-bit vectors
    with override_settings(FASHIONREC_EMBEDDING_STORAGE="vector"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_indexscan = off")
        rows = queries.recommend(
            vector=queries.vector_literal(query.vector),
            version=VERSION,
            filters=query.filters,
            k=K,
            plan="ann",
            today=TODAY,
        )
    return [r.product_id for r in rows]


def select1_ms() -> float:
    """Median round trip of ``SELECT 1``: how busy the machine is (about 0.05 ms when idle)."""
    samples = []
    with connection.cursor() as cursor:
        for _ in range(200):
            start = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def recall(found: list[int], truth: list[int]) -> float:
    if not truth:
        return 1.0
    return len(set(found) & set(truth)) / len(truth)


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# --- main -----------------------------------------------------------------------------------


def independent_reference() -> IndependentReference:
    """The NumPy reference, read from the raw catalog tables (``bench/independent_reference.py``)."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        reference = IndependentReference(
            cursor,
            version=VERSION,
            weights=settings.FASHIONREC_RECOMMEND_WEIGHTS,
            pool_min=settings.FASHIONREC_RECOMMEND_POOL_MIN,
            pool_per_result=settings.FASHIONREC_RECOMMEND_POOL_PER_RESULT,
            cap=settings.FASHIONREC_RECOMMEND_INVENTORY_CAP,
        )
    print(f"independent reference read in {time.perf_counter() - started:.1f} s", flush=True)
    return reference


def machine_load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument(
        "--catalog", choices=["synthetic", "clothing"], default="synthetic", help="clothing: the real photos"
    )
    parser.add_argument(
        "--vectors",
        choices=["realistic", "clustered"],
        default="realistic",
        help="synthetic vectors: drawn from the real encoder's distribution, or the old category clusters",
    )
    parser.add_argument("--dataset", type=Path, default=Path(settings.FASHIONREC_DATASET), help="with clothing")
    parser.add_argument("--queries", type=int, default=None, help="per selectivity (default 200, 100 at 1M)")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded catalog if it has N garments")
    parser.add_argument("--parallel-workers", type=int, default=1)
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn columns (parameter sweeps)")
    parser.add_argument("--port", type=int, default=8765, help="gunicorn's loopback port")
    parser.add_argument("--no-report", action="store_true", help="print only (parameter sweeps)")
    parser.add_argument("--ef-search", type=int, help="override FASHIONREC_RECOMMEND_EF_SEARCH")
    parser.add_argument(
        "--storage",
        choices=embedding_storage.STORAGES,
        help="override FASHIONREC_EMBEDDING_STORAGE: the HNSW graph is switched to it (built if missing)",
    )
    parser.add_argument("--pool-min", type=int, help="override FASHIONREC_RECOMMEND_POOL_MIN")
    parser.add_argument("--pool-per-result", type=int, help="override FASHIONREC_RECOMMEND_POOL_PER_RESULT")
    parser.add_argument("--selectivities", help="comma-separated subset, e.g. 0.03,0.01 (sweeps)")
    parser.add_argument("--exact-max-rows", type=int, help="override FASHIONREC_RECOMMEND_EXACT_MAX_ROWS")
    parser.add_argument("--exact-fraction", type=float, help="override FASHIONREC_RECOMMEND_EXACT_FRACTION")
    args = parser.parse_args()
    overrides = {}
    for option, name in (
        ("ef_search", "EF_SEARCH"),
        ("pool_min", "POOL_MIN"),
        ("pool_per_result", "POOL_PER_RESULT"),
        ("exact_max_rows", "EXACT_MAX_ROWS"),
        ("exact_fraction", "EXACT_FRACTION"),
    ):
        if getattr(args, option) is not None:
            setattr(settings, f"FASHIONREC_RECOMMEND_{name}", getattr(args, option))
            overrides[f"FASHIONREC_RECOMMEND_{name}"] = str(getattr(args, option))
    if overrides and not args.no_http:
        raise SystemExit("setting overrides apply to this process only: add --no-http to sweep them")
    n_queries = args.queries or (200 if args.n <= 200_000 else 100)
    os.nice(0)

    call_command("migrate", verbosity=0)
    connection.ensure_connection()
    renice(connection.connection)
    global VERSION
    vector_fit = None
    if args.catalog == "clothing":
        timings = load_clothing(args.dataset)
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM recommender_encoderversion WHERE is_active")
            VERSION = cursor.fetchone()[0]
        catalog = catalog_from_database()
        args.n = catalog.n
        print(f"clothing catalog: {catalog.n} garments of {len(set(catalog.product_id))} products", flush=True)
    else:
        started = time.perf_counter()
        catalog, raw = generate(args.n)
        if args.vectors == "realistic":
            catalog.vectors, vector_fit = realistic_vectors(args.n, args.dataset)
            for line in vector_fit.lines():
                print(line, flush=True)
        gen_s = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM recommender_garment WHERE encoder_version = %s", [VERSION])
            loaded = cursor.fetchone()[0]
        build_record = settings.DATA_DIR / "bench" / f"{BENCH_DB}-build.json"
        if args.reuse and loaded == args.n:
            # The build that made this catalog, when this machine recorded it (nan otherwise).
            nan = {"load_s": float("nan"), "hnsw_build_s": float("nan"), "analyze_s": float("nan")}
            timings = {**nan, **(json.loads(build_record.read_text()) if build_record.exists() else {})}
            timings["hnsw_mb"] = hnsw_mb()
            print(f"reusing the loaded catalog ({loaded} garments)")
        else:
            print(f"generated {args.n} garments in {gen_s:.1f} s; loading …", flush=True)
            timings = load(catalog, raw, parallel_workers=args.parallel_workers)
            build_record.parent.mkdir(parents=True, exist_ok=True)
            build_record.write_text(json.dumps({key: timings[key] for key in ("load_s", "hnsw_build_s", "analyze_s")}))
            print(
                f"loaded in {timings['load_s']:.1f} s; HNSW built in {timings['hnsw_build_s']:.1f} s "
                f"({timings['hnsw_mb']:.0f} MB)",
                flush=True,
            )
    if args.storage:
        timings.update(switch_storage(args.storage))
    print(f"embedding storage {embedding_storage.configured()}:")
    print("\n".join(footprint_lines(args.n)), flush=True)
    connection.close()
    connection.ensure_connection()
    renice(connection.connection)
    reference = independent_reference()

    rng = np.random.default_rng(11)
    # The generator's millions of Python objects (size sets, lists) are no part of the measured
    # system, but each full collection of the cyclic GC would walk them in the middle of a timed
    # request (tens of milliseconds at 1M): take them out of its reach.
    gc.collect()
    gc.freeze()
    firsts = (
        catalog.query_garments
        if catalog.query_garments is not None
        else np.flatnonzero(np.r_[True, catalog.product_id[1:] != catalog.product_id[:-1]])
    )
    selectivities = [float(x) for x in args.selectivities.split(",")] if args.selectivities else SELECTIVITIES
    # Per selectivity: WARMUPS warm-up queries, the measured queries (database and HTTP at
    # concurrency 1: recall is checked), and separate ones for HTTP at concurrency 8; all distinct
    # products, so no query is measured twice.
    batches, warmups, concurrent = {}, {}, {}
    for selectivity in selectivities:
        size = min(len(firsts), WARMUPS + 2 * n_queries)
        picks = rng.choice(firsts, size=size, replace=False)
        made = [make_query(catalog, selectivity, rng, int(g)) for g in picks]
        warmups[selectivity], batches[selectivity] = made[:WARMUPS], made[WARMUPS : WARMUPS + n_queries]
        concurrent[selectivity] = made[WARMUPS + n_queries :]
    # Every reference first: each is a scan of the whole table, which would otherwise evict the
    # CPU caches and (at 1M, where the table is a sixth of shared buffers) the indexes' pages
    # right before the measured requests; serving never does that. The warm-up comes after.
    print("exact references (SQL, then NumPy) …", flush=True)
    truths = {selectivity: [exact(query) for query in batch] for selectivity, batch in batches.items()}
    independent = {
        selectivity: [
            reference.rank(query.vector, query.params, k=K, exclude=(query.product_id,), today=TODAY) for query in batch
        ]
        for selectivity, batch in batches.items()
    }
    disagreements = []
    for selectivity, batch in batches.items():
        for query, truth, ranked in zip(batch, truths[selectivity], independent[selectivity], strict=True):
            if not agrees(truth, ranked, K):
                disagreements.append((selectivity, query, truth, top_ids(ranked, K)))
    print(f"SQL exact vs independent reference: {len(disagreements)} disagreements", flush=True)
    del reference
    gc.collect()

    timings["warm_s"] = warm_up(catalog, rng)
    timings["load_before"] = os.getloadavg()[0]
    timings["select1_ms"] = select1_ms()
    hits_before, reads_before = buffer_counts()
    stats_by = {}
    for selectivity, batch in batches.items():
        for query in warmups[selectivity]:  # warm caches and connections; not measured
            production(query)
        stats = {key: [] for key in ("recall", "indep_recall", "rows", "db", "plans", "actual")}
        for query, truth, ranked in zip(batch, truths[selectivity], independent[selectivity], strict=True):
            found, db_ms, plan = production(query)
            stats["recall"].append(recall(found, truth))
            stats["indep_recall"].append(tolerant_recall(found, ranked, K))
            stats["rows"].append(len(found))
            stats["db"].append(db_ms)
            stats["plans"].append(plan)
            stats["actual"].append(query.mask.mean())
        stats_by[selectivity] = stats
    timings["load_after"] = os.getloadavg()[0]
    hits_after, reads_after = buffer_counts()
    hits, reads = hits_after - hits_before, reads_after - reads_before
    timings["hit_ratio"] = hits / max(hits + reads, 1)
    print(f"database pass done ({machine_load()})", flush=True)

    if not args.no_http:
        connection.close()  # gunicorn's workers open their own
        with gunicorn(BENCH_DB, port=args.port, root=ROOT) as address:
            timings["http_load_before"] = os.getloadavg()[0]
            for selectivity, batch in batches.items():
                stats = stats_by[selectivity]
                run_cell(address, [(q.product_id, q.params) for q in warmups[selectivity]], k=K, concurrency=8)
                ids, ms = run_cell(address, [(q.product_id, q.params) for q in batch], k=K, concurrency=1)
                stats["http1"], stats["http_recall"] = (
                    ms,
                    [
                        tolerant_recall(found, ranked, K)
                        for found, ranked in zip(ids, independent[selectivity], strict=True)
                    ],
                )
                _, stats["http8"] = run_cell(
                    address, [(q.product_id, q.params) for q in concurrent[selectivity]], k=K, concurrency=8
                )
                print(
                    f"{selectivity * 100:6.1f}% HTTP c1 p95 {p(stats['http1'], 95):.1f} ms, c8 p95 "
                    f"{p(stats['http8'], 95):.1f} ms ({machine_load()})",
                    flush=True,
                )
            timings["http_load_after"] = os.getloadavg()[0]
        connection.ensure_connection()

    # FAISS in its own pass, loaded only now: its index walk would evict the CPU caches right
    # before each measured PostgreSQL request, and with the library merely loaded the requests
    # measured here ran about twice as slow (db p50 6.5 vs 3.3 ms at 100k, same queries).
    baselines = None
    if not args.no_faiss:
        baselines = FaissBaselines(
            catalog.vectors,
            catalog.product_id,
            catalog.stock_total,
            cache_dir=settings.DATA_DIR / "bench",
            ef_search=settings.FASHIONREC_RECOMMEND_EF_SEARCH,
            pool=queries.pool_size(K),
            inventory_weight=settings.FASHIONREC_RECOMMEND_WEIGHTS["inventory"],
            inventory_cap=settings.FASHIONREC_RECOMMEND_INVENTORY_CAP,
        )
    rows_out = []
    for selectivity, batch in batches.items():
        stats = stats_by[selectivity]
        for kind in FAISS_KINDS:
            stats[f"{kind}_recall"], stats[f"{kind}_rows"], stats[kind] = [], [], []
        for query, ranked in zip(batch, independent[selectivity], strict=True) if baselines else ():
            for kind in FAISS_KINDS:
                if kind == "naive":
                    found, ms = baselines.naive(query.vector, query.mask, query.product_id, K)
                else:  # told the filter's true selectivity (an oracle estimate)
                    search = getattr(baselines, kind)
                    found, ms = search(query.vector, query.mask, query.product_id, K, float(query.mask.mean()))
                stats[f"{kind}_recall"].append(tolerant_recall(found, ranked, K))
                stats[f"{kind}_rows"].append(len(found))
                stats[kind].append(ms)
        plans = stats["plans"]
        row = {
            "selectivity": selectivity,
            "actual": statistics.mean(stats["actual"]),
            "exact_share": plans.count("exact") / len(plans),
            "recall": statistics.mean(stats["recall"]),
            "indep_recall": statistics.mean(stats["indep_recall"]),
            "min_rows": min(stats["rows"]),
            "mean_rows": statistics.mean(stats["rows"]),
            "db_p50": p(stats["db"], 50),
            "db_p95": p(stats["db"], 95),
            "http1_p50": p(stats.get("http1", []), 50),
            "http1_p95": p(stats.get("http1", []), 95),
            "http8_p50": p(stats.get("http8", []), 50),
            "http8_p95": p(stats.get("http8", []), 95),
            "http_n": (len(stats.get("http1", [])), len(stats.get("http8", []))),
            "http_recall": statistics.mean(stats["http_recall"]) if stats.get("http_recall") else float("nan"),
        }
        for kind in FAISS_KINDS:
            row[f"{kind}_recall"] = statistics.mean(stats[f"{kind}_recall"]) if baselines else float("nan")
            row[f"{kind}_min_rows"] = min(stats[f"{kind}_rows"]) if baselines else 0
            row[f"{kind}_p50"] = p(stats[kind], 50)
            row[f"{kind}_p95"] = p(stats[kind], 95)
        rows_out.append(row)
        print(
            f"{selectivity * 100:6.1f}% (actual {row['actual'] * 100:5.2f}%) exact {row['exact_share']:.0%} "
            f"recall {row['recall']:.3f} indep {row['indep_recall']:.3f} rows {row['min_rows']}-"
            f"{row['mean_rows']:.1f} db p50/p95 {row['db_p50']:.1f}/{row['db_p95']:.1f} ms  HTTP c1 "
            f"{row['http1_p50']:.1f}/{row['http1_p95']:.1f} c8 {row['http8_p50']:.1f}/{row['http8_p95']:.1f} ms  "
            + "  ".join(
                f"faiss {kind} {row[f'{kind}_recall']:.3f} rows>={row[f'{kind}_min_rows']} p95 {row[f'{kind}_p95']:.2f}"
                for kind in FAISS_KINDS
            ),
            flush=True,
        )
    print(f"shared-buffer hit ratio while measuring: {timings['hit_ratio']:.4f} ({reads} blocks read)")
    if not args.no_report:
        report(
            args.n,
            n_queries,
            timings,
            baselines,
            rows_out,
            catalog_kind=args.catalog,
            vector_fit=vector_fit,
            disagreements=disagreements,
        )
    else:
        print(summary_line(rows_out))


def realistic_vectors(n: int, dataset: Path):
    """``n`` vectors from the real-encoder model, fitted to the real catalog (``bench/realistic_vectors.py``)."""
    from bench.real_embeddings import load_or_compute
    from bench.realistic_vectors import RealEncoderModel

    arrays = load_or_compute(dataset)
    model = RealEncoderModel(arrays["real"], arrays["augmented"], arrays["augmented_of"])
    started = time.perf_counter()
    vectors, fit = model.fit(n, seed=7)
    print(
        f"realistic vectors ({len(arrays['real'])} real garment embeddings of encoder "
        f"{arrays['encoder_version']}, {len(arrays['augmented'])} augmented crops): fitted in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    fit.encoder_version = str(arrays["encoder_version"])
    fit.n_real = len(arrays["real"])
    return vectors, fit


def server_setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


def footprint_lines(n: int) -> list[str]:
    """The garment table and each of its indexes, in MB and in GB per million garments (issue 19.7)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c WHERE c.oid = 'recommender_garment'::regclass"
            " UNION ALL SELECT i.relname, pg_relation_size(i.oid) FROM pg_index x JOIN pg_class i"
            " ON i.oid = x.indexrelid WHERE x.indrelid = 'recommender_garment'::regclass ORDER BY 2 DESC"
        )
        sizes = cursor.fetchall()
        cursor.execute("SELECT pg_total_relation_size('recommender_garment')")
        total = cursor.fetchone()[0]
    per_million = 1e6 / max(n, 1) / 2**30
    lines = [
        f"Footprint of the recommend tables (issue 19.7): `recommender_garment` with its TOAST and every index "
        f"{total / 2**20:,.0f} MB, **{total * per_million:.2f} GB per million garments**; the HNSW graph, the heap "
        "and the three covering indexes must all stay in memory for the latencies above.",
        "",
        "| relation | MB | GB per million garments |",
        "|---|---:|---:|",
    ]
    lines += [f"| `{name}` | {size / 2**20:,.1f} | {size * per_million:.3f} |" for name, size in sizes if size]
    return lines


def summary_line(rows: list[dict]) -> str:
    return (
        f"min_recall@10 {min(r['recall'] for r in rows):.3f} "
        f"indep_min_recall@10 {min(r['indep_recall'] for r in rows):.3f} "
        f"db_p95_ms {max(r['db_p95'] for r in rows):.1f} rest_p95_ms {max(r['http1_p95'] for r in rows):.1f}"
    )


def report(
    n: int,
    n_queries: int,
    timings: dict,
    baselines,
    rows: list[dict],
    *,
    catalog_kind: str,
    vector_fit,
    disagreements: list,
) -> None:
    if catalog_kind == "clothing":
        title = f"the real clothing catalog ({n:,} garments from the clothing-small photos)"
    elif vector_fit is not None:
        title = f"{n:,} synthetic garments, vectors from the real encoder's distribution"
    else:
        title = f"{n:,} synthetic garments, clustered vectors"
    load_line = (
        f"Import of both splits with detection and encoding in-process: {timings['load_s']:.1f} s"
        f"{' (imported by an earlier run)' if math.isnan(timings['load_s']) else ''}. "
        f"HNSW index {timings['hnsw_mb']:.1f} MB."
        if catalog_kind == "clothing"
        else f"Load (COPY, triggers off): {timings['load_s']:.1f} s. HNSW build (m=16, ef_construction=200): "
        f"{timings['hnsw_build_s']:.1f} s, {timings['hnsw_mb']:.0f} MB"
        f"{' (a reused catalog whose build was not recorded)' if math.isnan(timings['hnsw_build_s']) else ''}."
    )
    lines = [
        f"# Recommend query benchmark: {title}",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on this machine (2 shared cores), embedded "
        f"PostgreSQL + pgvector, database `{BENCH_DB}`. {n_queries} product-id queries per selectivity and "
        f"column (HTTP concurrency 8: {n_queries} other products), k={K}; {WARMUPS} further queries per "
        "selectivity warm up and are not measured; no query is measured twice.",
        "",
    ]
    if vector_fit is not None:
        lines += [
            f"Vectors: drawn from a model of the shipped encoder's embeddings (`bench/realistic_vectors.py`; "
            f"encoder `{vector_fit.encoder_version}`, {vector_fit.n_real} real garment embeddings of the clothing "
            "photos plus augmented crops); attributes drawn independently of the vectors.",
            "",
            *[f"- {line}" for line in vector_fit.lines()],
            "",
        ]
    lines += [
        f"Settings: ef_search {settings.FASHIONREC_RECOMMEND_EF_SEARCH}, iterative scan relaxed_order, "
        f"max_scan_tuples {settings.FASHIONREC_RECOMMEND_MAX_SCAN_TUPLES}, pool "
        f"{queries.pool_size(K)}, exact plan when the planner estimates ≤ max("
        f"{settings.FASHIONREC_RECOMMEND_EXACT_MAX_ROWS} rows, "
        f"{settings.FASHIONREC_RECOMMEND_EXACT_FRACTION:.0%} of the garments).",
        "",
        load_line + (f" FAISS HNSW build (same parameters, 1 thread): {baselines.build_s:.1f} s." if baselines else ""),
        "",
        f"Server: shared_buffers {server_setting('shared_buffers')}, effective_cache_size "
        f"{server_setting('effective_cache_size')}, jit {server_setting('jit')} (the embedded server's "
        f"settings, `fashionrec/embedded_db.py`). Warm-up before measuring ({timings['warm_s']:.1f} s): one read "
        f"of the garment table, the exact plan's three covering indexes and the catalog tables and indexes "
        f"the product cards read, and 200 ANN queries at ef_search 1000. Shared-buffer hit ratio of the measured "
        f"queries: {timings['hit_ratio']:.4f}.",
        "",
        f"Machine load (the machine is shared: other jobs ran beside this one): 1-minute load average "
        f"{timings['load_before']:.1f} before the database queries, {timings['load_after']:.1f} after"
        + (
            f", {timings['http_load_before']:.1f} / {timings['http_load_after']:.1f} before / after the HTTP cells"
            if "http_load_before" in timings
            else ""
        )
        + f" (2 cores); median `SELECT 1` round trip {timings['select1_ms']:.2f} ms. Latencies include that "
        "contention.",
        "",
        "Recall@10 of the production query against two references: **SQL exact** (the same statement with "
        "index scans disabled) and **independent** (`bench/independent_reference.py`: NumPy brute force over the "
        "raw catalog tables, its own filter code, the scoring reproduced; a product tied with the 10th counts "
        f"as right). SQL exact and independent disagreed on **{len(disagreements)}** of "
        f"{n_queries * len(rows)} queries. db: estimate + statement, client-side round trips. HTTP: "
        f"`GET /api/v1/products/{{id}}/similar/` to gunicorn ({WORKERS} gthread workers × {THREADS} threads) "
        "over the loopback, client-side, at concurrency 1 and 8 (HTTP recall: the concurrency-1 answers, "
        "against the independent reference).",
        "",
        "| selectivity | actual | exact plan | recall@10 (SQL exact) | recall@10 (independent) | rows min/mean "
        "| db p50 | db p95 | HTTP c1 p50 | HTTP c1 p95 | HTTP c8 p50 | HTTP c8 p95 | HTTP recall |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['selectivity'] * 100:g} % | {r['actual'] * 100:.2f} % | {r['exact_share']:.0%} "
            f"| {r['recall']:.3f} | {r['indep_recall']:.3f} | {r['min_rows']}/{r['mean_rows']:.1f} "
            f"| {r['db_p50']:.1f} ms | {r['db_p95']:.1f} ms | {r['http1_p50']:.1f} ms | {r['http1_p95']:.1f} ms "
            f"| {r['http8_p50']:.1f} ms | {r['http8_p95']:.1f} ms | {r['http_recall']:.3f} |"
        )
    if disagreements:
        lines += ["", "First disagreements (selectivity, query product, filter; SQL exact ids vs independent ids):", ""]
        for selectivity, query, truth, ids in disagreements[:5]:
            lines.append(f"- {selectivity:g}, product {query.product_id}, `{query.params}`: {truth} vs {ids}")
    if baselines:
        lines += [
            "",
            "FAISS (`bench/faiss_baselines.py`, HNSW M=16, efConstruction=200, 1 thread, in-process: no SQL, no "
            "HTTP, no product cards), recall against the independent reference: **naive** (ef_search "
            f"{settings.FASHIONREC_RECOMMEND_EF_SEARCH} neighbours post-filtered), **over-fetch** (pool / "
            f"selectivity neighbours, at most {OVERFETCH_CAP}, post-filtered), **filtered** (FAISS's own "
            "filtered search: `SearchParametersHNSW` + `IDSelectorBitmap`, efSearch the over-fetch size). Both "
            "are told the filter's true selectivity.",
            "",
            "| selectivity | naive recall | naive rows min | naive p95 | over-fetch recall | over-fetch rows min "
            "| over-fetch p95 | filtered recall | filtered rows min | filtered p50 | filtered p95 "
            "| PostgreSQL db p95 |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['selectivity'] * 100:g} % | {r['naive_recall']:.3f} | {r['naive_min_rows']} "
                f"| {r['naive_p95']:.2f} ms | {r['overfetch_recall']:.3f} | {r['overfetch_min_rows']} "
                f"| {r['overfetch_p95']:.2f} ms | {r['filtered_recall']:.3f} | {r['filtered_min_rows']} "
                f"| {r['filtered_p50']:.2f} ms | {r['filtered_p95']:.2f} ms | {r['db_p95']:.1f} ms |"
            )
    lines += ["", *footprint_lines(n), "", summary_line(rows)]
    out = ROOT / "bench" / "reports" / f"recommend-{'clothing' if catalog_kind == 'clothing' else n}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")
    print(lines[-1])


if __name__ == "__main__":
    main()
