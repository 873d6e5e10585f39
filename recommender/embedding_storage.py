"""How the HNSW graph of the ANN phase stores the embeddings: ``vector`` or ``halfvec``.

Setting ``FASHIONREC_EMBEDDING_STORAGE``: ``vector`` (default; 32-bit floats) or ``halfvec``
(16-bit floats, pgvector ≥ 0.7). Applied to a database by ``manage.py apply_embedding_storage``
(:func:`apply`), which builds the graph the setting names and drops the other one.

Design (the least invasive honest one): the column stays ``embedding vector(128)`` and only the
HNSW graph changes. Under ``halfvec`` the graph is an **expression index** on
``(embedding::halfvec(128)) halfvec_cosine_ops`` (:data:`HALFVEC_INDEX`), and the ANN form of the
recommend and complete-the-look statements orders by ``embedding::halfvec(128) <=>
q::halfvec(128)`` (:func:`ann_order`), the exact expression of the index, so the planner walks it.
Why this and not a ``halfvec`` column:

* The graph is what has to stay in memory (a graph walk is random access into it); it holds the
  vector of every node beside its neighbour lists, so 16-bit vectors take 31 % off it (79.4 → 54.4
  MB at 100k garments, docs/capacity.md). The price is recall: the walk ranks candidates by the
  rounded vectors, and on the realistic 100k catalog the ANN plans' recall@10 is 0.975–0.985
  against 0.997–1.000 with ``vector`` (docs/benchmarks.md, "halfvec").
* Every distance the statements *return* is still computed on the stored 32-bit vector (the
  candidate phase selects ``embedding <=> q::vector`` beside the halfvec ``ORDER BY``), so the
  scores, the match calibration, taste/dislike terms and the exact plan are unchanged: halfvec
  only decides which candidates the graph walk finds (recall, measured), never their score.
* Nothing else moves: no data migration of a column, no change to the encoder, the taste vectors,
  the API or the Django field, and switching back is one command.

What it does **not** touch: the heap (the column is still ``vector``) and the three covering
indexes of the exact plan, which carry a 16-bit copy of their own whatever this setting
(``embedding_half``, a stored generated column, since ``recommender/0011``: PostgreSQL refuses
expressions in ``INCLUDE``); the exact plan ranks by that copy and re-scores at full precision.

The index is created outside migrations on purpose: which graph exists depends on a deployment
setting, and a migration's effect must not depend on the environment it runs in. The model still
declares the ``vector`` graph (``garment_embedding_hnsw``), so a fresh ``migrate`` builds it; run
the command after ``migrate`` when the setting is ``halfvec``. With the setting on and the graph
missing, the ANN form still returns the right rows, through a full scan (slow, never wrong).
"""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from recommender.models import EMBEDDING_DIM

Storage = Literal["vector", "halfvec"]
STORAGES: tuple[Storage, ...] = ("vector", "halfvec")

VECTOR_INDEX = "garment_embedding_hnsw"  # declared on recommender.models.Garment
HALFVEC_INDEX = "garment_embedding_hnsw_halfvec"
INDEX_NAMES: dict[Storage, str] = {"vector": VECTOR_INDEX, "halfvec": HALFVEC_INDEX}

# The graph's parameters are the model's (m=16, ef_construction=200), whatever the storage.
_INDEX_EXPRESSION: dict[Storage, str] = {
    "vector": "embedding vector_cosine_ops",
    "halfvec": f"(embedding::halfvec({EMBEDDING_DIM})) halfvec_cosine_ops",
}


def configured() -> Storage:
    """The storage ``FASHIONREC_EMBEDDING_STORAGE`` names (anything else is a configuration error)."""
    storage = settings.FASHIONREC_EMBEDDING_STORAGE
    if storage not in STORAGES:
        raise ImproperlyConfigured(f"FASHIONREC_EMBEDDING_STORAGE must be one of {STORAGES}, not {storage!r}")
    return storage


def ann_order(query_vector_sql: str, storage: Storage | None = None) -> str:
    """The ``ORDER BY`` expression of an ANN candidate phase; the graph of ``storage`` serves it.

    ``query_vector_sql`` is SQL text for the query vector (a bound parameter or an outer column),
    never user input.
    """
    if (storage or configured()) == "halfvec":
        return f"g.embedding::halfvec({EMBEDDING_DIM}) <=> ({query_vector_sql})::halfvec({EMBEDDING_DIM})"
    return f"g.embedding <=> ({query_vector_sql})::vector"


def create_index_sql(storage: Storage, *, concurrently: bool = False) -> str:
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {INDEX_NAMES[storage]}"
        f" ON recommender_garment USING hnsw ({_INDEX_EXPRESSION[storage]}) WITH (m = 16, ef_construction = 200)"
    )


def drop_index_sql(storage: Storage, *, concurrently: bool = False) -> str:
    return f"DROP INDEX {'CONCURRENTLY ' if concurrently else ''}IF EXISTS {INDEX_NAMES[storage]}"


def existing_graphs(cursor) -> set[Storage]:
    """The storages whose HNSW graph exists (and is valid) in the connected database."""
    cursor.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE c.relname = ANY(%s) AND i.indisvalid",
        [list(INDEX_NAMES.values())],
    )
    found = {row[0] for row in cursor.fetchall()}
    return {storage for storage, name in INDEX_NAMES.items() if name in found}


def apply(cursor, storage: Storage, *, concurrently: bool = False) -> None:
    """Build the graph of ``storage`` (if missing), then drop the other one.

    Built first, dropped second: the ANN form keeps an index to walk during the switch when the
    server runs the new setting's statements. ``concurrently`` (outside a transaction) lets
    writes go on while the graph is built, as on a serving database.
    """
    cursor.execute(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s AND NOT i.indisvalid",
        [INDEX_NAMES[storage]],
    )
    if cursor.fetchone():  # left invalid by an interrupted concurrent build: IF NOT EXISTS would keep it
        cursor.execute(drop_index_sql(storage, concurrently=concurrently))
    cursor.execute(create_index_sql(storage, concurrently=concurrently))
    for other in STORAGES:
        if other != storage:
            cursor.execute(drop_index_sql(other, concurrently=concurrently))
