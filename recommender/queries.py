"""The recommend SQL: one statement that combines ANN distance, relational filters and boosts.

Everything the recommend endpoints ask of PostgreSQL lives here, one function per statement.
User input is always a bound parameter; the only text assembled at run time is chosen from
the constant fragments below (which filters are present, which candidate phase is used).

The statement (:func:`recommend`)
----------------------------------
``candidates`` (the only phase that touches many rows) finds the ``pool`` garments of the
active encoder version nearest to the query vector that pass every filter. All filter
columns are denormalised onto ``recommender_garment`` and kept in sync by triggers
(migration ``recommender/0002``), so no join happens in this phase. It has two forms:

* **ANN** (``plan="ann"``): ``ORDER BY embedding <=> q LIMIT pool`` served by the HNSW index
  ``garment_embedding_hnsw`` (cosine, m=16, ef_construction=200) with the filters evaluated
  on each tuple the index yields. With ``hnsw.iterative_scan = relaxed_order`` the scan goes
  on past ``ef_search`` until ``pool`` rows pass the filters (or ``hnsw.max_scan_tuples``
  tuples were visited), so a 10 % filter still returns the pool instead of the ~4 rows a
  plain HNSW scan with ef_search 40 returns. Relaxed order means slightly unordered output,
  hence the CTE is ``MATERIALIZED`` and everything downstream orders again. Expected plan::

      Limit -> Index Scan using garment_embedding_hnsw on recommender_garment g
                 Order By: (embedding <=> '[...]'::vector)
                 Filter: (encoder_version = ... AND is_active AND <filters>)

  With ``FASHIONREC_EMBEDDING_STORAGE = halfvec`` the ``ORDER BY`` is
  ``embedding::halfvec(128) <=> q::halfvec(128)`` (``recommender.embedding_storage.ann_order``),
  served by the expression graph ``garment_embedding_hnsw_halfvec`` (31 % smaller; some recall lost);
  the ``distance`` it selects is still ``embedding <=> q::vector``, so every score is full
  precision and only the choice of candidates depends on the 16-bit copy. The exact form and
  its covering indexes are the same under both storages. Complete the look does the same.

* **exact** (``plan="exact"``): a subquery fenced with ``OFFSET 0`` computes the distance of
  every row of the filtered subset (found with the B-tree/GIN indexes on the denormalised columns:
  ``garment_category_price_idx``, ``garment_brand_price_idx`` and ``garment_version_price_idx``,
  which cover every column this form reads (migration ``recommender/0007``), then
  ``garment_colour_price_idx``, ``garment_department_price_idx``, ``garment_sizes_gin`` and
  ``garment_seasons_gin``), and a top-N sort keeps the ``pool`` nearest as the rows stream
  past (no intermediate table: 25 % faster than the materialised CTE it replaced on 30,000-row
  subsets at 1M). The filtered rows are ranked by the covering indexes' 16-bit copy of the
  embedding (``embedding_half``, ``recommender/0011``) and the 3 x pool nearest re-scored from the
  table's 32-bit vector in a level fenced the same way, so every distance is full precision. It
  never uses the HNSW index (neither fenced level has an ORDER BY for the index to serve), so its
  answer is exact up to 16-bit ties wider than the margin (:data:`EXACT_POOL_MARGIN`). Expected
  plan: ``Index Only Scan`` on a covering index (a bitmap or plain index scan for filters they do
  not lead with) -> ``Sort`` -> ``Limit``, then the re-scored rows by primary key. A
  category filter is the list of its subtree's paths (``category_path = ANY(...)``), so the
  scan reads one index range per path with the price bounds as index conditions, i.e. only
  the matching rows.

Plan rule (:func:`choose_plan`): a filter that keeps a small fraction of rows starves the
HNSW graph walk (iterative scans visit ~pool/selectivity tuples and recall decays: measured
0.83-0.87 at 1 % and 0.3 % on this machine), while an exact scan of a small subset is both
right and cheap. So :func:`estimate_rows` asks the planner (``EXPLAIN``, no execution, ~0.3 ms)
for the estimated size of the filtered subset and of the whole active version, and the exact
form is used when::

    estimated_filtered_rows <= max(EXACT_MAX_ROWS, EXACT_FRACTION * estimated_version_rows)

(settings ``FASHIONREC_RECOMMEND_EXACT_MAX_ROWS`` = 5000 and ``_EXACT_FRACTION`` = 0.02: below
5000 rows an exact scan costs a few milliseconds whatever the catalog size; below 2 % the
graph walk loses recall). The planner's estimates come from ``ANALYZE`` statistics
(histograms for price and category path, most-common elements for the size and season
arrays) and assume independent filters; a misestimate only costs latency (exact chosen for a
big subset) or some recall (ANN chosen for a small one), never a wrong row: the filters are
in the WHERE clause of both forms.

Scoring (same for both forms): one row per product (its garment nearest to the query, i.e.
the best garment of its best image); ``score`` = ``match`` x w_similarity
+ ``seasonal`` (the active seasonal rule matching the product with the **highest priority
wins**, ties to the newest rule; its weight x w_seasonal) + ``preference`` (preferred
category subtree, brand, colour, a preferred size in stock, price inside the preferred range)
+ ``taste`` (w x cosine similarity to the taste vector) + ``dislike`` (-w x max(0, cosine
similarity to the dislike vector)) + ``inventory`` (w x min(stock, cap)/cap). ``match`` is the
**calibrated** similarity: the probability that a result at this cosine is the same kind of
garment as the query, interpolated in SQL (``width_bucket`` over the knots, bound as two
``float8[]`` parameters) from the encoder version's calibration (``EncoderVersion.calibration``,
copied from its weights file; docs/vision.md, "Match calibration"). So every weight is on the
scale of a probability whatever the encoder: a +0.1 boost equals 10 points of match. Only the
candidate pool is re-scored this way; the candidate phase still orders by the distance operator,
so the HNSW index serves it as before. Each part is returned, so the breakdown adds up to the
score; the raw cosine is returned beside them (``similarity``, not a part of the sum). An
optional cap per category diversifies the list. Ties break on the raw similarity (a flat stretch
of the calibration gives equal matches), then product id, so the same request gives the same
answer.

Search settings: ``hnsw.ef_search``, ``hnsw.iterative_scan = relaxed_order``,
``hnsw.max_scan_tuples`` and ``jit = off`` are set once per database connection
(:func:`set_search_settings`, run by ``recommender.apps`` when Django opens a connection), so a
request spends no round trip on them; PostgreSQL keeps them as placeholders until pgvector's
library loads and then applies them. JIT is off because PostgreSQL's cost-based JIT threshold
fires on the exact form and adds tens of milliseconds of compilation to a query that runs in a
few. A benchmark that sweeps ``ef_search`` calls :func:`set_search_settings` with
``local=True`` inside ``transaction.atomic``. Behind a transaction-mode connection pooler
(PgBouncer), set the four per database instead (``ALTER DATABASE … SET``), since session
settings do not survive there.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from django.conf import settings
from django.db import transaction

from catalog.filters import FILTERS, Match, ProductFilters
from catalog.garment_kinds import NONE
from fashionrec.db import fetch_dict, fetch_dicts
from fashionrec.db_routing import read_connection
from recommender.embedding_storage import ann_order
from recommender.vision.calibration import MatchCalibration

Plan = Literal["ann", "exact"]


@dataclass(frozen=True)
class Weights:
    similarity: float = 1.0
    seasonal: float = 1.0
    preference_category: float = 0.05
    preference_brand: float = 0.05
    preference_colour: float = 0.03
    preference_size: float = 0.03
    preference_price: float = 0.03
    taste: float = 0.10
    dislike: float = 0.20
    inventory: float = 0.02

    @classmethod
    def from_settings(cls) -> Weights:
        return cls(**settings.FASHIONREC_RECOMMEND_WEIGHTS)


# The parts of the score, in the order the API lists them (columns p_<part> of the statement):
# the score is their sum. "match" is w_similarity × the calibrated match probability.
SCORE_PARTS = ("match", "seasonal", "preference", "taste", "dislike", "inventory")
# The breakdown the API returns: the raw cosine first (for reference: not added to the score),
# then the parts that add up to the score.
BREAKDOWN_PARTS = ("similarity", *SCORE_PARTS)

# Without a calibration (weights never calibrated), match = the cosine clipped to [0, 1].
UNCALIBRATED = MatchCalibration((0.0, 1.0), (0.0, 1.0))


@dataclass(frozen=True)
class RecommendRow:
    product_id: int
    garment_id: int
    image_id: int
    category_id: int | None
    similarity: float  # raw cosine similarity to the query garment
    match: float  # calibrated: P(same kind of garment | similarity), 0-1
    score: float
    breakdown: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class QueryContext:
    """What :func:`recommend_context` resolved in one round trip."""

    encoder_version: str | None
    category_paths: tuple[str, ...]  # the category and its sub-categories; () when none asked
    category_found: bool
    brand_found: bool
    season_found: bool
    product_found: bool
    product_active: bool
    product_vector: str | None  # pgvector text form, fed back as a parameter
    match_calibration: MatchCalibration | None = None  # the active version's; None: uncalibrated


def vector_literal(vector: Sequence[float] | np.ndarray) -> str:
    """pgvector's text form; passed as a bound parameter and cast with ``::vector``."""
    array = np.asarray(vector, dtype=np.float32).ravel()
    return "[" + ",".join(f"{x:.7g}" for x in array.tolist()) + "]"


# --- statement 1: resolve ids in one round trip --------------------------------------------

_CONTEXT_SQL = """
SELECT v.name AS encoder_version, subtree.paths AS category_paths, cat.id IS NOT NULL AS category_found,
       brand.ok IS NOT NULL AS brand_found, season.ok IS NOT NULL AS season_found,
       p.id IS NOT NULL AS product_found, COALESCE(p.is_active, false) AS product_active,
       qg.embedding::text AS product_vector, v.calibration::text AS match_calibration
FROM (SELECT 1) AS one
LEFT JOIN recommender_encoderversion v ON v.is_active
LEFT JOIN catalog_category cat ON cat.id = %(category_id)s
LEFT JOIN LATERAL (
    SELECT ARRAY(SELECT c.path FROM catalog_category c
                 WHERE c.path = cat.path OR starts_with(c.path, cat.path || '/') ORDER BY c.path) AS paths
) subtree ON cat.id IS NOT NULL
LEFT JOIN LATERAL (SELECT true AS ok FROM catalog_brand WHERE id = %(brand_id)s) brand ON true
LEFT JOIN LATERAL (SELECT true AS ok FROM catalog_season WHERE id = %(season_id)s) season ON true
LEFT JOIN catalog_product p ON p.id = %(product_id)s
LEFT JOIN LATERAL (
    -- the query garment of a product: primary image first, a detected garment before a
    -- whole-image fallback, then the image's main garment (Garment.is_main: the rule of
    -- recommender.vision.main_garment, as for a photo query), then the most confident
    SELECT g.embedding FROM recommender_garment g JOIN catalog_productimage i ON i.id = g.image_id
    WHERE g.product_id = p.id AND g.encoder_version = v.name
    ORDER BY i.is_primary DESC, g.is_whole_image, g.is_main DESC, g.confidence DESC, g.id
    LIMIT 1
) qg ON true
"""


def recommend_context(
    *,
    product_id: int | None = None,
    category_id: int | None = None,
    brand_id: int | None = None,
    season_id: int | None = None,
) -> QueryContext:
    """The active encoder version, the query product's vector and the filter ids' existence.

    Uses the primary keys, ``garment_product_idx`` and the partial unique index on the active
    encoder version; a handful of index lookups.
    """
    params = {"product_id": product_id, "category_id": category_id, "brand_id": brand_id, "season_id": season_id}
    with read_connection().cursor() as cursor:
        cursor.execute(_CONTEXT_SQL, params)
        row = fetch_dict(cursor)
    return QueryContext(
        **{
            **row,
            "category_paths": tuple(row["category_paths"] or ()),
            "match_calibration": calibration_from_json(row["match_calibration"]),
        }
    )


def calibration_from_json(text: str | None) -> MatchCalibration | None:
    """An encoder version's stored calibration ({} or NULL: none)."""
    data = json.loads(text) if text else None
    return MatchCalibration.from_dict(data) if data else None


# --- filters: constant fragments, values bound ----------------------------------------------


# One template per kind of match (catalog.filters.Match): {column} on the garment row, {param}
# the bound value. A category is equality on a list of paths, not a prefix LIKE: the index scans
# one range per path with the price bounds inside it (a prefix range would read the whole subtree
# and filter the price row by row), and the planner estimates it from the most-common values.
_MATCH_SQL = {
    Match.ANY_OF: "g.{column} = ANY(%({param})s::{type}[])",
    Match.AT_LEAST: "g.{column} >= %({param})s",
    Match.AT_MOST: "g.{column} <= %({param})s",
    Match.OVERLAPS: "g.{column} && %({param})s::{type}[]",
    Match.IS_TRUE: "g.{column}",
    Match.EQUALS: "g.{column} = %({param})s",
    Match.CONTAINS: "g.{column} @> ARRAY[%({param})s]::{type}[]",
    Match.NONE_OF: "g.{column} <> ALL(%({param})s::{type}[])",
}


def filter_sql(filters: ProductFilters, params: dict) -> str:
    """The WHERE condition of the filtered garments (active version first); fills ``params``."""
    clauses = ["g.encoder_version = %(version)s", "g.is_active"]
    for product_filter in FILTERS:
        if not filters.is_set(product_filter):
            continue
        clauses.append(
            _MATCH_SQL[product_filter.match].format(
                column=product_filter.column, param=product_filter.attribute, type=product_filter.sql_type
            )
        )
        value = getattr(filters, product_filter.attribute)
        params[product_filter.attribute] = list(value) if isinstance(value, tuple) else value
    return " AND ".join(clauses)


# --- statement 2: the planner's estimate of the filtered subset -----------------------------


@dataclass(frozen=True)
class Estimate:
    filtered_rows: float
    version_rows: float

    @property
    def fraction(self) -> float:
        return self.filtered_rows / self.version_rows if self.version_rows else 1.0


def estimate_rows(*, version: str, filters: ProductFilters) -> Estimate:
    """Planner estimates (no execution) of the filtered subset and of the whole version.

    One ``EXPLAIN`` of a ``UNION ALL`` of both counts, so one round trip gives both numbers.
    """
    params: dict = {"version": version}
    where = filter_sql(filters, params)
    sql = (
        "EXPLAIN (FORMAT JSON) "
        "SELECT 1 FROM recommender_garment g WHERE g.encoder_version = %(version)s AND g.is_active "
        f"UNION ALL SELECT 1 FROM recommender_garment g WHERE {where}"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        raw = cursor.fetchone()[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    children = plan.get("Plans") or [plan, plan]
    return Estimate(filtered_rows=float(children[1]["Plan Rows"]), version_rows=float(children[0]["Plan Rows"]))


def choose_plan(estimate: Estimate) -> Plan:
    """The documented rule: exact when the filtered subset is small in rows or in fraction."""
    limit = max(
        settings.FASHIONREC_RECOMMEND_EXACT_MAX_ROWS,
        settings.FASHIONREC_RECOMMEND_EXACT_FRACTION * estimate.version_rows,
    )
    return "exact" if estimate.filtered_rows <= limit else "ann"


# --- statement 3: the recommend query -------------------------------------------------------

_CANDIDATE_COLUMNS = (
    "g.id, g.product_id, g.image_id, g.category_id, g.category_path, g.brand_id, g.colour, g.price, "
    "g.stock_total, g.sizes_in_stock, g.tags, g.embedding"
)

_CANDIDATES_ANN = f"""
candidates AS MATERIALIZED (
    SELECT {_CANDIDATE_COLUMNS}, g.embedding <=> %(vector)s::vector AS distance
    FROM recommender_garment g
    WHERE {{where}}
    ORDER BY {{order}}
    LIMIT %(pool)s
)"""

_CANDIDATES_EXACT = f"""
candidates AS (
    -- the nearest by the 16-bit copy, re-scored at full precision: the pool is the exact one
    SELECT *
    FROM (
        -- OFFSET 0 again: ordered by the 32-bit distance one level up, this join could otherwise
        -- be planned as an HNSW index scan (approximate) joined to the nearest ids
        SELECT {_CANDIDATE_COLUMNS}, g.embedding <=> %(vector)s::vector AS distance
        FROM (
            SELECT id
            FROM (
                -- OFFSET 0 keeps this subquery from being merged into the one above, so the
                -- ORDER BY cannot be served by the HNSW index: every filtered row is scored,
                -- from the covering index's 16-bit copy (an index-only scan)
                SELECT g.id, g.embedding_half <=> %(vector)s::vector::halfvec AS half_distance
                FROM recommender_garment g
                WHERE {{where}}
                OFFSET 0
            ) AS filtered
            ORDER BY half_distance, id
            LIMIT %(exact_pool)s
        ) AS f
        JOIN recommender_garment g ON g.id = f.id
        OFFSET 0
    ) AS rescored
    ORDER BY distance, id
    LIMIT %(pool)s
)"""

_RULES = """
rules AS (
    -- seasonal rules active on %(today)s: explicit dates, or a season window (month*100+day,
    -- inclusive, wrapping the new year when it starts after it ends)
    SELECT r.id, r.weight, r.priority, c.path AS category_path, r.target_brand_id, r.target_colour, r.target_tag
    FROM catalog_seasonalrule r
    LEFT JOIN catalog_season s ON s.id = r.season_id
    LEFT JOIN catalog_category c ON c.id = r.target_category_id
    WHERE r.is_active AND CASE
        WHEN r.season_id IS NULL THEN %(today)s::date BETWEEN r.starts_on AND r.ends_on
        WHEN s.start_month * 100 + s.start_day <= s.end_month * 100 + s.end_day
            THEN %(today_key)s BETWEEN s.start_month * 100 + s.start_day AND s.end_month * 100 + s.end_day
        ELSE %(today_key)s >= s.start_month * 100 + s.start_day OR %(today_key)s <= s.end_month * 100 + s.end_day
    END
),"""

_PREF = """
pref AS (
    SELECT up.colours, up.sizes, up.price_min, up.price_max,
           CASE WHEN up.encoder_version = %(version)s THEN up.taste_vector END AS taste_vector,
           CASE WHEN up.encoder_version = %(version)s THEN up.dislike_vector END AS dislike_vector,
           ARRAY(SELECT c.path FROM users_userpreference_categories pc
                 JOIN catalog_category c ON c.id = pc.category_id WHERE pc.userpreference_id = up.id) AS category_paths,
           ARRAY(SELECT pb.brand_id FROM users_userpreference_brands pb
                 WHERE pb.userpreference_id = up.id) AS brand_ids
    FROM users_userpreference up
    WHERE up.user_id = %(user_id)s
),"""

_BEST = """
best AS (
    -- one row per product: its garment nearest to the query
    SELECT DISTINCT ON (c.product_id) c.*
    FROM candidates c
    ORDER BY c.product_id, c.distance, c.id
),"""

_SEASONAL = """%(w_seasonal)s * COALESCE((
            SELECT r.weight FROM rules r
            WHERE (r.category_path IS NULL OR b.category_path = r.category_path
                   OR starts_with(b.category_path, r.category_path || '/'))
              AND (r.target_brand_id IS NULL OR r.target_brand_id = b.brand_id)
              AND (r.target_colour = '' OR r.target_colour = b.colour)
              AND (r.target_tag = '' OR r.target_tag = ANY(b.tags))
            ORDER BY r.priority DESC, r.id DESC
            LIMIT 1), 0)"""

_USER_TERMS = """CASE WHEN pref.category_paths IS NULL THEN 0 ELSE
              CASE WHEN EXISTS (SELECT 1 FROM unnest(pref.category_paths) AS pp(path)
                                WHERE b.category_path = pp.path OR starts_with(b.category_path, pp.path || '/'))
                   THEN %(w_pref_category)s ELSE 0 END
            + CASE WHEN b.brand_id = ANY(pref.brand_ids) THEN %(w_pref_brand)s ELSE 0 END
            + CASE WHEN b.colour = ANY(pref.colours) THEN %(w_pref_colour)s ELSE 0 END
            + CASE WHEN b.sizes_in_stock && pref.sizes THEN %(w_pref_size)s ELSE 0 END
            + CASE WHEN (pref.price_min IS NOT NULL OR pref.price_max IS NOT NULL)
                        AND b.price >= COALESCE(pref.price_min, b.price)
                        AND b.price <= COALESCE(pref.price_max, b.price)
                   THEN %(w_pref_price)s ELSE 0 END
        END AS p_preference,
        COALESCE(%(w_taste)s * (1 - (b.embedding <=> pref.taste_vector)), 0) AS p_taste,
        COALESCE(-%(w_dislike)s * GREATEST(0, 1 - (b.embedding <=> pref.dislike_vector)), 0) AS p_dislike,"""

_ANONYMOUS_TERMS = """0::float8 AS p_preference, 0::float8 AS p_taste, 0::float8 AS p_dislike,"""

# The match calibration's knots, bound as two float8[] parameters (cosines strictly increasing,
# probabilities non-decreasing; recommender.vision.calibration).
_KNOTS = """
knots AS (
    SELECT x, y, cardinality(x) AS n
    FROM (SELECT %(match_x)s::float8[] AS x, %(match_y)s::float8[] AS y) AS given
),"""

# Piecewise-linear interpolation of the knots at the candidate's cosine, flat beyond the ends (as
# numpy.interp): width_bucket finds the segment i with x[i] <= cosine < x[i+1] by binary search,
# clamped to the first and last segment, and the result is clamped to the segment's ends. Only
# the candidate pool is scored this way; the index scan still orders by the distance operator.
_MATCH = """LATERAL (
        SELECT LEAST(GREATEST(
                   k.y[s.i] + (k.y[s.i + 1] - k.y[s.i]) * ((1 - b.distance) - k.x[s.i]) / (k.x[s.i + 1] - k.x[s.i]),
                   k.y[s.i]), k.y[s.i + 1]) AS match
        FROM knots k, LATERAL (SELECT LEAST(GREATEST(width_bucket(1 - b.distance, k.x), 1), k.n - 1) AS i) s
    ) AS m"""

_PARTS = """
parts AS MATERIALIZED (
    -- materialised: each part is computed once per product, not once per reference
    SELECT b.product_id, b.id AS garment_id, b.image_id, b.category_id,
        1 - b.distance AS similarity,
        m.match,
        %(w_similarity)s * m.match AS p_match,
        {seasonal} AS p_seasonal,
        {user_terms}
        %(w_inventory)s * LEAST(GREATEST(b.stock_total, 0), %(inventory_cap)s)::float8 / %(inventory_cap)s
            AS p_inventory
    FROM best b
    CROSS JOIN {match}
    {pref_join}
),
scored AS (
    SELECT parts.*,
        p_match + p_seasonal + p_preference + p_taste + p_dislike + p_inventory AS score
    FROM parts
)"""

_FINAL = """
SELECT product_id, garment_id, image_id, category_id, similarity, match, score,
       p_match, p_seasonal, p_preference, p_taste, p_dislike, p_inventory
FROM scored
ORDER BY score DESC, similarity DESC, product_id
LIMIT %(k)s
"""

_FINAL_DIVERSIFIED = """,
ranked AS (
    SELECT scored.*,
        row_number() OVER (PARTITION BY category_id ORDER BY score DESC, similarity DESC, product_id) AS category_rank
    FROM scored
)
SELECT product_id, garment_id, image_id, category_id, similarity, match, score,
       p_match, p_seasonal, p_preference, p_taste, p_dislike, p_inventory
FROM ranked
WHERE category_rank <= %(max_per_category)s
ORDER BY score DESC, similarity DESC, product_id
LIMIT %(k)s
"""


def recommend_sql(
    *, plan: Plan, filters: ProductFilters, params: dict, personalised: bool = True, diversified: bool = False
) -> str:
    """The statement text, assembled from the constant fragments above; fills ``params``.

    Anonymous requests leave out the preference CTE (its terms are 0) and a request without a
    per-category cap leaves out the window: less for the planner to plan on every call.
    """
    where = filter_sql(filters, params)
    candidates = (_CANDIDATES_ANN if plan == "ann" else _CANDIDATES_EXACT).format(
        where=where, order=ann_order("%(vector)s")
    )
    parts = _PARTS.format(
        seasonal=_SEASONAL,
        match=_MATCH,
        user_terms=_USER_TERMS if personalised else _ANONYMOUS_TERMS,
        pref_join="LEFT JOIN pref ON true" if personalised else "",
    )
    return (
        "WITH "
        + candidates
        + ","
        + _RULES
        + (_PREF if personalised else "")
        + _BEST
        + _KNOTS
        + parts
        + (_FINAL_DIVERSIFIED if diversified else _FINAL)
    )


def pool_size(k: int) -> int:
    return max(settings.FASHIONREC_RECOMMEND_POOL_MIN, settings.FASHIONREC_RECOMMEND_POOL_PER_RESULT * k)


# How many rows the exact form ranks by the 16-bit copy before re-scoring them at full precision.
# A 16-bit component rounds by at most 2^-11 of itself, so a unit vector's cosine moves by about
# 1e-3 at the very worst; a row of the true pool falls beyond this margin only if the pool-th and
# the (3 x pool)-th nearest rows lie closer together than that. The re-scored rows are read from
# the heap (a few dozen page reads, as the pool's rows already were).
EXACT_POOL_MARGIN = 3


def exact_pool_size(k: int) -> int:
    return EXACT_POOL_MARGIN * pool_size(k)


def _statement(
    *,
    vector: str,
    version: str,
    filters: ProductFilters,
    k: int,
    plan: Plan,
    today: dt.date,
    user_id: int | None,
    weights: Weights | None,
    max_per_category: int,
    calibration: MatchCalibration | None = None,
) -> tuple[str, dict]:
    weights = weights or Weights.from_settings()
    calibration = calibration or UNCALIBRATED
    params: dict = {
        "match_x": list(calibration.cosines),
        "match_y": list(calibration.probabilities),
        "vector": vector,
        "version": version,
        "pool": pool_size(k),
        "exact_pool": exact_pool_size(k),
        "k": k,
        "today": today,
        "today_key": today.month * 100 + today.day,
        "user_id": user_id,
        "max_per_category": max_per_category,
        "inventory_cap": settings.FASHIONREC_RECOMMEND_INVENTORY_CAP,
        "w_similarity": weights.similarity,
        "w_seasonal": weights.seasonal,
        "w_pref_category": weights.preference_category,
        "w_pref_brand": weights.preference_brand,
        "w_pref_colour": weights.preference_colour,
        "w_pref_size": weights.preference_size,
        "w_pref_price": weights.preference_price,
        "w_taste": weights.taste,
        "w_dislike": weights.dislike,
        "w_inventory": weights.inventory,
    }
    sql = recommend_sql(
        plan=plan,
        filters=filters,
        params=params,
        personalised=user_id is not None,
        diversified=max_per_category > 0,
    )
    return sql, params


def recommend(
    *,
    vector: str,
    version: str,
    filters: ProductFilters,
    k: int,
    plan: Plan,
    today: dt.date,
    user_id: int | None = None,
    weights: Weights | None = None,
    max_per_category: int = 0,
    calibration: MatchCalibration | None = None,
) -> list[RecommendRow]:
    """Run the recommend statement (the search settings come from the connection).

    ``calibration`` is the encoder version's match calibration (``QueryContext.match_calibration``);
    None ranks on the cosine clipped to [0, 1].
    """
    sql, params = _statement(
        vector=vector,
        version=version,
        filters=filters,
        k=k,
        plan=plan,
        today=today,
        user_id=user_id,
        weights=weights,
        max_per_category=max_per_category,
        calibration=calibration,
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = fetch_dicts(cursor)
    return [
        RecommendRow(
            product_id=row["product_id"],
            garment_id=row["garment_id"],
            image_id=row["image_id"],
            category_id=row["category_id"],
            similarity=float(row["similarity"]),
            match=float(row["match"]),
            score=float(row["score"]),
            breakdown={"similarity": float(row["similarity"])}
            | {part: float(row[f"p_{part}"]) for part in SCORE_PARTS},
        )
        for row in rows
    ]


def explain_recommend(
    *, vector: str, version: str, filters: ProductFilters, k: int, plan: Plan, today: dt.date, analyze: bool = False
) -> str:
    """The plan of the statement :func:`recommend` would run (for tests and benchmarks)."""
    sql, params = _statement(
        vector=vector,
        version=version,
        filters=filters,
        k=k,
        plan=plan,
        today=today,
        user_id=None,
        weights=None,
        max_per_category=0,
    )
    database = read_connection()  # SET LOCAL and the statement: one transaction on one connection
    with transaction.atomic(using=database.alias), database.cursor() as cursor:
        set_search_settings(cursor, local=True)
        cursor.execute(("EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN ") + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def set_search_settings(cursor, *, ef_search: int | None = None, local: bool = False) -> None:
    """Set the HNSW search settings and ``jit = off`` for the session, or the transaction."""
    cursor.execute(
        "SELECT set_config('hnsw.ef_search', %(ef)s, %(local)s),"
        " set_config('hnsw.iterative_scan', 'relaxed_order', %(local)s),"
        " set_config('hnsw.max_scan_tuples', %(max)s, %(local)s), set_config('jit', 'off', %(local)s)",
        {
            "ef": str(ef_search or settings.FASHIONREC_RECOMMEND_EF_SEARCH),
            "max": str(settings.FASHIONREC_RECOMMEND_MAX_SCAN_TUPLES),
            "local": local,
        },
    )


def search_settings_on_connect(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver (connected in ``recommender.apps``): the settings above, once
    per connection instead of a SET LOCAL round trip per request."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        set_search_settings(cursor)


# --- statement 4: complete the look (issue 17; recommender/outfits) ---------------------------

# The parts of a complete-the-look score, in the order the API lists them.
LOOK_PARTS = ("compatibility", "seasonal", "preference", "taste", "dislike", "inventory")


@dataclass(frozen=True)
class LookKind:
    """One complementary kind to fill: its query vector and the parts of the raw score that
    do not depend on the candidate's embedding (see ``recommender.outfits.model``)."""

    kind: str
    vector: str  # unit query vector V/|V| (pgvector text): street partners (less their kind mean) + direct
    norm: float  # |V|, so candidate · V = norm x (1 - cosine distance)
    kind_term: float  # kind weight x PMI(query kind, this kind)
    colour_terms: tuple[float, ...]  # per LookScoring.colour_names: colour weight x harmony with the query
    colour_default: float  # for a product without a (known) colour
    # colour weight x the model's colour vector (pgvector text): a candidate whose stored colour
    # (``Garment.outfit_colour``) is of ``LookScoring.colour_model`` scores its inner product
    # with it instead of its colour name's term; None for a model without a palette
    colour_vector: str | None = None


@dataclass(frozen=True)
class LookScoring:
    colour_names: tuple[str, ...]
    calibration: tuple[float, float]  # compatibility = sigmoid(a x raw + b)
    colour_model: str | None = None  # the outfit model whose stored colours the look may read


@dataclass(frozen=True)
class LookRow:
    kind: str
    product_id: int
    garment_id: int
    image_id: int
    category_id: int | None
    compatibility: float
    score: float
    breakdown: dict[str, float] = field(default_factory=dict)


_LOOK_WANTED = """unnest(%(look_kinds)s::text[], %(look_vectors)s::text[], %(look_norms)s::float8[],
              %(look_kind_terms)s::float8[]) WITH ORDINALITY AS w(kind, vector, norm, kind_term, ord)"""

# Which kind a product fills: the kind its category says it is (``Category.effective_garment_kind``),
# so a shoes row never shows a shirt photographed with shoes on, and a flat-lay photo the detector
# found nothing in (a whole-image garment) still fills its category's kind. Only a product whose
# category has no garment kind ("none") falls back to its garments' detector labels. The garment
# that stands for a product in its category's kind: one labelled with the kind, a whole-image
# garment, or the image's main garment (a detector's wrong label on the product itself). The
# category ids are two small arrays per kind (the category table, not the garments), so the filter
# is checked on each tuple the index yields, as the other filters are, without a join.
_LOOK_KIND_CATEGORIES = """CROSS JOIN LATERAL (
        SELECT ARRAY(SELECT c.id FROM catalog_category c WHERE c.effective_garment_kind = w.kind) AS own,
               ARRAY(SELECT c.id FROM catalog_category c WHERE c.effective_garment_kind <> %(no_kind)s) AS kinded
    ) AS kc"""

_LOOK_FILLS_KIND = """(
            (g.category_id = ANY(kc.own) AND (g.label = w.kind OR g.is_whole_image OR g.is_main))
            OR (g.label = w.kind AND (g.category_id IS NULL OR g.category_id <> ALL(kc.kinded))))"""

_LOOK_CANDIDATES_ANN = f"""
candidates AS MATERIALIZED (
    SELECT w.kind, w.ord, w.norm, w.kind_term, c.*
    FROM {_LOOK_WANTED}
    {_LOOK_KIND_CATEGORIES}
    CROSS JOIN LATERAL (
        SELECT {_CANDIDATE_COLUMNS}, g.outfit_colour, g.outfit_colour_model,
            g.embedding <=> w.vector::vector AS distance
        FROM recommender_garment g
        WHERE {{where}} AND {_LOOK_FILLS_KIND}
        ORDER BY {{order}}
        LIMIT %(pool)s
    ) c
)"""

_LOOK_CANDIDATES_EXACT = f"""
candidates AS (
    SELECT w.kind, w.ord, w.norm, w.kind_term, c.*
    FROM {_LOOK_WANTED}
    {_LOOK_KIND_CATEGORIES}
    CROSS JOIN LATERAL (
        SELECT {_CANDIDATE_COLUMNS}, g.outfit_colour, g.outfit_colour_model, f.distance
        FROM (
            SELECT id, distance
            FROM (
                -- OFFSET 0: every filtered row of the kind is scored (see the exact form above)
                SELECT g.id, g.embedding <=> w.vector::vector AS distance
                FROM recommender_garment g
                WHERE {{where}} AND {_LOOK_FILLS_KIND}
                OFFSET 0
            ) AS filtered
            ORDER BY distance, id
            LIMIT %(pool)s
        ) AS f
        JOIN recommender_garment g ON g.id = f.id
    ) c
)"""

_LOOK_BEST = """
best AS (
    -- one row per kind and product: its garment of that kind nearest to the kind's query vector
    SELECT DISTINCT ON (c.kind, c.product_id) c.*
    FROM candidates c
    ORDER BY c.kind, c.product_id, c.distance, c.id
),"""

_LOOK_PARTS_SQL = """
parts AS MATERIALIZED (
    SELECT b.kind, b.product_id, b.id AS garment_id, b.image_id, b.category_id,
        -- the outfit model's pair score, calibrated into [0, 1] (exp clamped: no overflow)
        1 / (1 + exp(LEAST(50, -(%(cal_a)s * (
            b.kind_term
            + b.norm * (1 - b.distance)
            -- the candidate's own colour as this model read it (its stored root palette histogram
            -- against the kind's colour vector), else the kind's term for its colour name, else
            -- the kind's mean term
            + COALESCE(CASE WHEN b.outfit_colour_model = %(colour_model)s
                            THEN -(b.outfit_colour <#> ((%(look_colour_vectors)s::text[])[b.ord])::vector) END,
                       (%(look_colour_terms)s::float8[])[b.ord][array_position(%(colour_names)s::text[], b.colour)],
                       (%(look_colour_defaults)s::float8[])[b.ord])
        ) + %(cal_b)s)))) AS compatibility,
        {seasonal} AS p_seasonal,
        {user_terms}
        %(w_inventory)s * LEAST(GREATEST(b.stock_total, 0), %(inventory_cap)s)::float8 / %(inventory_cap)s
            AS p_inventory
    FROM best b
    {pref_join}
),
scored AS (
    SELECT parts.*, %(w_compatibility)s * compatibility AS p_compatibility,
        %(w_compatibility)s * compatibility + p_seasonal + p_preference + p_taste + p_dislike + p_inventory AS score
    FROM parts
),
ranked AS (
    SELECT scored.*,
        row_number() OVER (PARTITION BY kind ORDER BY score DESC, compatibility DESC, product_id) AS kind_rank
    FROM scored
)
SELECT kind, product_id, garment_id, image_id, category_id, compatibility, score,
       p_compatibility, p_seasonal, p_preference, p_taste, p_dislike, p_inventory
FROM ranked
WHERE kind_rank <= %(k)s
ORDER BY array_position(%(look_kinds)s::text[], kind), kind_rank
"""


def complete_the_look(
    *,
    kinds: Sequence[LookKind],
    scoring: LookScoring,
    version: str,
    filters: ProductFilters,
    k: int,
    plan: Plan,
    today: dt.date,
    user_id: int | None = None,
    weights: Weights | None = None,
) -> list[LookRow]:
    """Top ``k`` products per complementary kind, ranked by outfit compatibility, in one statement.

    Same filters (``filter_sql``, so ``catalog.filters.FILTERS``), seasonal rules, preferences
    and inventory term as :func:`recommend`; the similarity is replaced by the outfit model's
    *compatibility* (weight ``Weights.similarity``), computed in SQL from parameters the caller
    derives from the model: per kind a query vector (the weighted street partners of the query
    garment, less the mean over its kind's street garments when the model corrects hubs, plus its
    own embedding), the kind's PMI term and, per catalog colour, the colour harmony term, centred
    the same way (``LookKind``), and the calibration (``LookScoring``). The hub correction is in
    these parameters only: the statement is the same with or without it. A product fills the kind of
    its category (``Category.effective_garment_kind``) through a garment labelled with that kind,
    its whole-image garment or its main garment; a product whose category has no garment kind fills
    its garments' detector labels (``_LOOK_FILLS_KIND``). So every row of a kind is products of that
    kind, and flat-lay photos (whole-image garments) fill their category's kind.

    Index use and plan: ``w`` is a ``unnest`` of the kinds (a handful of rows); for each, a
    ``LATERAL`` subquery is the same candidate phase as :func:`recommend` with the kind's vector
    as an outer parameter. ``plan="ann"``: ``Nested Loop -> Function Scan on w -> Limit ->
    Index Scan using garment_embedding_hnsw`` (the HNSW scan is re-run per kind, ``Order By:
    embedding <=> (w.vector)::vector``, the filters and ``label = w.kind`` evaluated per tuple
    with the iterative scan going on until ``pool`` rows pass; the kind's category ids are two
    arrays computed once per kind from ``catalog_category``). ``plan="exact"``: per kind, the
    filtered rows found through the B-tree/GIN indexes of the filters (the kind condition is not
    indexed: it is checked on the rows those indexes return), a top-N sort keeping ``pool``.
    The plan is chosen by the caller with :func:`estimate_rows` / :func:`choose_plan` for the
    filters (the kind filter is not in the estimate: it keeps roughly 1/8 of the rows each).
    Downstream: one row per (kind, product) by ``DISTINCT ON``, the parts, then a window keeps
    ``k`` per kind; rows come kind by kind in the order of ``kinds``, best first. Ties break on
    compatibility, then product id.
    """
    if not kinds:
        return []
    weights = weights or Weights.from_settings()
    params: dict = {
        "look_kinds": [item.kind for item in kinds],
        "no_kind": NONE,
        "look_vectors": [item.vector for item in kinds],
        "look_norms": [float(item.norm) for item in kinds],
        "look_kind_terms": [float(item.kind_term) for item in kinds],
        "look_colour_terms": [[float(v) for v in item.colour_terms] for item in kinds],
        "look_colour_defaults": [float(item.colour_default) for item in kinds],
        "look_colour_vectors": [item.colour_vector for item in kinds],
        "colour_model": scoring.colour_model,
        "colour_names": list(scoring.colour_names),
        "cal_a": float(scoring.calibration[0]),
        "cal_b": float(scoring.calibration[1]),
        "version": version,
        "pool": pool_size(k),
        "k": k,
        "today": today,
        "today_key": today.month * 100 + today.day,
        "user_id": user_id,
        "inventory_cap": settings.FASHIONREC_RECOMMEND_INVENTORY_CAP,
        "w_compatibility": weights.similarity,
        "w_seasonal": weights.seasonal,
        "w_pref_category": weights.preference_category,
        "w_pref_brand": weights.preference_brand,
        "w_pref_colour": weights.preference_colour,
        "w_pref_size": weights.preference_size,
        "w_pref_price": weights.preference_price,
        "w_taste": weights.taste,
        "w_dislike": weights.dislike,
        "w_inventory": weights.inventory,
    }
    where = filter_sql(filters, params)
    personalised = user_id is not None
    candidates = (_LOOK_CANDIDATES_ANN if plan == "ann" else _LOOK_CANDIDATES_EXACT).format(
        where=where, order=ann_order("w.vector")
    )
    sql = (
        "WITH "
        + candidates
        + ","
        + _RULES
        + (_PREF if personalised else "")
        + _LOOK_BEST
        + _LOOK_PARTS_SQL.format(
            seasonal=_SEASONAL,
            user_terms=_USER_TERMS if personalised else _ANONYMOUS_TERMS,
            pref_join="LEFT JOIN pref ON true" if personalised else "",
        )
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = fetch_dicts(cursor)
    return [
        LookRow(
            kind=row["kind"],
            product_id=row["product_id"],
            garment_id=row["garment_id"],
            image_id=row["image_id"],
            category_id=row["category_id"],
            compatibility=float(row["compatibility"]),
            score=float(row["score"]),
            breakdown={part: float(row[f"p_{part}"]) for part in LOOK_PARTS},
        )
        for row in rows
    ]


_LOOK_GARMENTS_SQL = """
SELECT p.id AS product_id, p.colour, qg.label, c.effective_garment_kind AS category_kind, qg.embedding::text AS vector,
       qg.outfit_colour::text AS outfit_colour, qg.outfit_colour_model
FROM catalog_product p
JOIN catalog_category c ON c.id = p.category_id
JOIN LATERAL (
    -- the product's main garment, as the similar-items query picks it: primary image first,
    -- a detected garment before a whole-image fallback, then the main garment (is_main), then the most confident
    SELECT g.label, g.embedding, g.outfit_colour, g.outfit_colour_model
    FROM recommender_garment g JOIN catalog_productimage i ON i.id = g.image_id
    WHERE g.product_id = p.id AND g.encoder_version = %(version)s
    ORDER BY i.is_primary DESC, g.is_whole_image, g.is_main DESC, g.confidence DESC, g.id
    LIMIT 1
) qg ON true
WHERE p.id = ANY(%(product_ids)s::bigint[]) AND p.is_active
"""


def look_garments(*, product_ids: Sequence[int], version: str) -> dict[int, dict]:
    """Main garment (label, pgvector text), colour and category kind of active products, by
    product id; one statement.

    Uses the product primary key and ``garment_product_idx``; products without a garment of
    ``version`` (or inactive) are missing from the answer.
    """
    with read_connection().cursor() as cursor:
        cursor.execute(_LOOK_GARMENTS_SQL, {"product_ids": list(product_ids), "version": version})
        return {row["product_id"]: row for row in fetch_dicts(cursor)}
