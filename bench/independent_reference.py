"""An independent reference for the recommend query: NumPy brute force over the raw catalog tables.

``bench/recommend.py`` grades the production statement against two references:

* **SQL exact**: the production statement with index scans disabled. It shares the production
  filter SQL and the denormalised garment columns, so a bug in either is invisible to it.
* **this one**: written without ``catalog.filters``, ``recommender.queries`` or the garment
  table's denormalised columns. It reads the catalog's own tables (products, the category
  tree's parent links, variants, product seasons, seasonal rules) and only the id, product,
  encoder version and embedding of each garment, and implements the documented contract in
  NumPy:

  1. a garment is a candidate when its encoder version is the active one, its product is active,
     not excluded, and passes every filter asked (category: the category or any category below
     it in the tree; brand, department, colour: equal; price_min/price_max: inclusive bounds;
     in_stock: a variant with stock > 0; sizes: one of them in a variant with stock > 0; season:
     the product is linked to it);
  2. the pool: the ``pool`` candidates nearest to the query vector (cosine distance, ties by
     garment id), ``pool = max(POOL_MIN, POOL_PER_RESULT x k)`` (the boosts only reorder
     inside it: README, "Scoring");
  3. one row per product, its nearest garment in the pool; score (anonymous caller) =
     w_similarity x cosine + the weight of the active seasonal rule that matches the product
     with the highest priority (ties: the newest) x w_seasonal + w_inventory x min(max(total
     stock, 0), cap) / cap; ordered by score, then similarity (descending), then product id.

Filters come as the API's query parameters (``{"category": 3, "price_min": "10.00", ...}``),
the vocabulary a shopper uses, so nothing of the production parsing is reused either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

# Scores closer than this are ties (float32 vectors: pgvector and NumPy round differently).
TIE_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Ranked:
    product_id: int
    score: float
    similarity: float


def _cents(value) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


class IndependentReference:
    """The catalog of one encoder version, read once from the raw tables; :meth:`rank` per query."""

    def __init__(self, cursor, *, version: str, weights: dict, pool_min: int, pool_per_result: int, cap: int):
        self.version = version
        self.w_similarity, self.w_seasonal = weights["similarity"], weights["seasonal"]
        self.w_inventory, self.cap = weights["inventory"], cap
        self.pool_min, self.pool_per_result = pool_min, pool_per_result
        self._read_garments(cursor)
        self._read_products(cursor)
        self._read_rules(cursor)

    # --- reading the raw tables ---------------------------------------------------------------

    def _read_garments(self, cursor) -> None:
        cursor.execute(
            "SELECT id, product_id, embedding::real[] FROM recommender_garment WHERE encoder_version = %s ORDER BY id",
            [self.version],
        )
        rows = cursor.fetchall()
        self.garment_id = np.array([r[0] for r in rows], dtype=np.int64)
        self.garment_product = np.array([r[1] for r in rows], dtype=np.int64)
        vectors = np.array([r[2] for r in rows], dtype=np.float64).reshape(len(rows), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = vectors / np.where(norms == 0, 1, norms)

    def _read_products(self, cursor) -> None:
        cursor.execute(
            "SELECT id, category_id, brand_id, department, colour, price, is_active, tags FROM catalog_product"
        )
        products = cursor.fetchall()
        self.product_ids = np.array([r[0] for r in products], dtype=np.int64)
        row_of = {pid: i for i, pid in enumerate(self.product_ids.tolist())}
        self.category = np.array([r[1] for r in products], dtype=np.int64)
        self.brand = np.array([r[2] if r[2] is not None else -1 for r in products], dtype=np.int64)
        self.department = np.array([r[3] for r in products], dtype=object)
        self.colour = np.array([r[4] for r in products], dtype=object)
        self.price_cents = np.array([_cents(r[5]) for r in products], dtype=np.int64)
        self.active = np.array([bool(r[6]) for r in products])
        self.tags = [frozenset(r[7] or ()) for r in products]
        # Per garment, the row of its product (every garment has one: a foreign key).
        self.garment_row = np.array([row_of[pid] for pid in self.garment_product.tolist()], dtype=np.int64)

        cursor.execute("SELECT id, parent_id FROM catalog_category")
        self.children: dict[int, list[int]] = {}
        self._subtrees: dict[int, set[int]] = {}
        for cid, parent in cursor.fetchall():
            self.children.setdefault(parent, []).append(cid)

        n = len(products)
        self.stock_total = np.zeros(n, dtype=np.int64)
        self.in_stock = np.zeros(n, dtype=bool)
        self.size_in_stock: dict[str, np.ndarray] = {}
        cursor.execute("SELECT product_id, size, stock FROM catalog_productvariant")
        for pid, size, stock in cursor.fetchall():
            row = row_of[pid]
            self.stock_total[row] += stock
            if stock > 0:
                self.in_stock[row] = True
                self.size_in_stock.setdefault(size, np.zeros(n, dtype=bool))[row] = True
        self.in_season: dict[int, np.ndarray] = {}
        cursor.execute("SELECT product_id, season_id FROM catalog_product_seasons")
        for pid, season in cursor.fetchall():
            self.in_season.setdefault(season, np.zeros(n, dtype=bool))[row_of[pid]] = True

    def _read_rules(self, cursor) -> None:
        cursor.execute(
            "SELECT r.id, r.weight, r.priority, r.starts_on, r.ends_on, r.season_id, r.target_category_id,"
            " r.target_brand_id, r.target_colour, r.target_tag FROM catalog_seasonalrule r WHERE r.is_active"
        )
        self.rules = cursor.fetchall()
        cursor.execute("SELECT id, start_month, start_day, end_month, end_day FROM catalog_season")
        self.seasons = {row[0]: row[1:] for row in cursor.fetchall()}

    # --- the contract -------------------------------------------------------------------------

    def subtree(self, category_id: int) -> set[int]:
        """The category and every category below it, following the parent links."""
        if category_id in self._subtrees:
            return self._subtrees[category_id]
        found, frontier = {category_id}, [category_id]
        while frontier:
            for child in self.children.get(frontier.pop(), ()):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
        self._subtrees[category_id] = found
        return found

    def product_mask(self, params: dict, exclude: tuple[int, ...] = ()) -> np.ndarray:
        """Products (rows of ``product_ids``) that an anonymous request with these parameters may return."""
        mask = self.active.copy()
        if params.get("category") is not None:
            mask &= np.isin(self.category, list(self.subtree(int(params["category"]))))
        if params.get("brand") is not None:
            mask &= self.brand == int(params["brand"])
        if params.get("department"):
            mask &= self.department == params["department"]
        if params.get("colour"):
            mask &= self.colour == params["colour"]
        if params.get("price_min") is not None:
            mask &= self.price_cents >= _cents(params["price_min"])
        if params.get("price_max") is not None:
            mask &= self.price_cents <= _cents(params["price_max"])
        if params.get("in_stock"):
            mask &= self.in_stock
        if params.get("sizes"):
            any_size = np.zeros(len(mask), dtype=bool)
            for size in params["sizes"]:
                if size in self.size_in_stock:
                    any_size |= self.size_in_stock[size]
            mask &= any_size
        if params.get("season") is not None:
            mask &= self.in_season.get(int(params["season"]), np.zeros(len(mask), dtype=bool))
        if exclude:
            mask &= ~np.isin(self.product_ids, list(exclude))
        return mask

    def _rule_is_on(self, rule, today: dt.date) -> bool:
        _, _, _, starts_on, ends_on, season_id, *_ = rule
        if season_id is None:
            return starts_on is not None and ends_on is not None and starts_on <= today <= ends_on
        start_month, start_day, end_month, end_day = self.seasons[season_id]
        key, start, end = today.month * 100 + today.day, start_month * 100 + start_day, end_month * 100 + end_day
        return start <= key <= end if start <= end else key >= start or key <= end

    def seasonal(self, rows: np.ndarray, today: dt.date) -> np.ndarray:
        """Per product row, the weight of the winning active rule (0 when none matches)."""
        on = sorted((r for r in self.rules if self._rule_is_on(r, today)), key=lambda r: (r[2], r[0]), reverse=True)
        weights = np.zeros(len(rows))
        for i, row in enumerate(rows.tolist()):
            for _, weight, _, _, _, _, category, brand, colour, tag in on:
                if category is not None and self.category[row] not in self.subtree(category):
                    continue
                if brand is not None and self.brand[row] != brand:
                    continue
                if colour and self.colour[row] != colour:
                    continue
                if tag and tag not in self.tags[row]:
                    continue
                weights[i] = weight
                break
        return weights

    def rank(self, vector, params: dict, *, k: int, exclude: tuple[int, ...] = (), today: dt.date) -> list[Ranked]:
        """The whole candidate list (pool order of scoring), best first; the answer is its first k."""
        passing = np.flatnonzero(self.product_mask(params, exclude)[self.garment_row])
        if len(passing) == 0:
            return []
        query = np.asarray(vector, dtype=np.float64)
        query = query / np.linalg.norm(query)
        similarity = self.vectors[passing] @ query
        pool = max(self.pool_min, self.pool_per_result * k)
        # nearest first, ties by garment id (a stable sort of id-ordered rows)
        order = np.argsort(-similarity, kind="stable")[:pool]
        best: dict[int, tuple[float, int]] = {}  # product row -> (similarity, garment index)
        for position in order.tolist():
            garment = passing[position]
            row = int(self.garment_row[garment])
            if row not in best:
                best[row] = (float(similarity[position]), garment)
        rows = np.array(list(best), dtype=np.int64)
        sims = np.array([best[row][0] for row in best])
        stock = np.minimum(np.maximum(self.stock_total[rows], 0), self.cap) / self.cap
        scores = self.w_similarity * sims + self.w_seasonal * self.seasonal(rows, today) + self.w_inventory * stock
        ranked = [
            Ranked(int(self.product_ids[row]), float(score), float(sim))
            for row, score, sim in zip(rows.tolist(), scores.tolist(), sims.tolist(), strict=True)
        ]
        ranked.sort(key=lambda r: (-r.score, -r.similarity, r.product_id))
        return ranked


def top_ids(ranked: list[Ranked], k: int) -> list[int]:
    return [r.product_id for r in ranked[:k]]


def tolerant_recall(found: list[int], ranked: list[Ranked], k: int) -> float:
    """Recall@k of ``found`` against the reference, a product tied with the k-th counting as right."""
    truth = ranked[:k]
    if not truth:
        return 1.0
    floor = truth[-1].score - TIE_TOLERANCE
    acceptable = {r.product_id for r in ranked if r.score >= floor}
    return min(1.0, len(set(found) & acceptable) / len(truth))


def agrees(found: list[int], ranked: list[Ranked], k: int) -> bool:
    """Whether ``found`` is the reference's answer, up to ties (same length, every row acceptable)."""
    return len(found) == len(ranked[:k]) and tolerant_recall(found, ranked, k) == 1.0
