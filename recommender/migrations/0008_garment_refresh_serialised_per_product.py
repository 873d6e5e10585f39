"""Garment refreshes serialise per product and recompute from committed state (issue 13, item 1).

The triggers of ``0002`` recomputed a garment row inside the writer's statement, from that
statement's snapshot. Two writers of one product (two variants' stock, a deactivation and a
stock change) each read the catalog before the other committed; the second then waited for
the garment row lock, and once granted wrote values computed from its stale snapshot over the
first one's: a size sold out in the catalog stayed in stock, a deactivated product stayed
active. A garment inserted during a stock change, or a product moved into a category being
renamed, missed the other transaction's write the same way, without even waiting.

The mechanism now: every path that computes denormalised values first locks the catalog rows
they are computed from, then computes them in a **new statement**.
- ``recommender_catalog_lock(pids, exclusive)`` locks the products (``FOR NO KEY UPDATE`` for
  a refresh, ``FOR SHARE`` for a garment insert: inserts of one product's garments may run
  side by side, a refresh may not run beside either) in id order, then ``FOR SHARE`` their
  categories, whose path is copied (a rename holds the category's row lock until it commits).
  ``NO KEY UPDATE`` is what an ``UPDATE`` of the product takes itself, and does not conflict
  with the ``KEY SHARE`` lock a variant's foreign key takes, so it only waits for writers
  that change what the garment copies.
- The recomputation runs after the lock statement returns. Under READ COMMITTED each statement
  of a volatile plpgsql/SQL function takes a fresh snapshot, so it sees every transaction that
  held those locks before us as committed; and any later writer of the same product waits for
  our lock, so it recomputes after we commit. Whatever the interleaving, the last refresh of a
  product runs after every earlier write of it has committed: the row equals the catalog.
A product ``UPDATE`` holds its row lock already; variant and season writers take it in the
trigger (``catalog.services.products`` takes it before touching the variant, the order admin
uses, so the two never deadlock). Transactions of REPEATABLE READ or SERIALIZABLE keep one
snapshot: a concurrent write of the same product then fails with a serialisation error
instead of being lost, as PostgreSQL does for any row.

``category_garments_sync`` now fires on any update that changed a category's path: since
``catalog/0003`` the path is computed by a trigger, so an ``update(slug=…)`` changes it
without naming it in its SET list, which ``UPDATE OF path`` would miss.

Proved by ``tests/recommender/test_denormalisation_concurrency.py``.
"""

import importlib

from django.db import migrations

_INITIAL = importlib.import_module("recommender.migrations.0002_denormalisation_triggers")

FORWARD = r"""
CREATE OR REPLACE FUNCTION recommender_catalog_lock(pids bigint[], exclusive boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF exclusive THEN
        PERFORM 1 FROM catalog_product WHERE id = ANY(pids) ORDER BY id FOR NO KEY UPDATE;
    ELSE
        PERFORM 1 FROM catalog_product WHERE id = ANY(pids) ORDER BY id FOR SHARE;
    END IF;
    PERFORM 1 FROM catalog_category
    WHERE id IN (SELECT p.category_id FROM catalog_product p WHERE p.id = ANY(pids))
    ORDER BY id FOR SHARE;
END $$;

CREATE OR REPLACE FUNCTION recommender_garments_refresh(pids bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM recommender_catalog_lock(pids, true);
    -- A new statement, hence (READ COMMITTED) a snapshot taken after the locks were granted.
    UPDATE recommender_garment g SET
        category_id = a.category_id, category_path = a.category_path, brand_id = a.brand_id,
        department = a.department, colour = a.colour, price = a.price, is_active = a.is_active,
        stock_total = a.stock_total, in_stock = a.in_stock, sizes_in_stock = a.sizes_in_stock,
        season_ids = a.season_ids, tags = a.tags
    FROM unnest(pids) AS t(pid), LATERAL recommender_garment_attributes(t.pid) a
    WHERE g.product_id = t.pid;
END $$;

CREATE OR REPLACE FUNCTION recommender_garment_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM recommender_catalog_lock(ARRAY[NEW.product_id], false);
    SELECT a.category_id, a.category_path, a.brand_id, a.department, a.colour, a.price, a.is_active,
           a.stock_total, a.in_stock, a.sizes_in_stock, a.season_ids, a.tags
    INTO NEW.category_id, NEW.category_path, NEW.brand_id, NEW.department, NEW.colour, NEW.price,
         NEW.is_active, NEW.stock_total, NEW.in_stock, NEW.sizes_in_stock, NEW.season_ids, NEW.tags
    FROM recommender_garment_attributes(NEW.product_id) a;
    RETURN NEW;
END $$;

-- The path is computed by a trigger (catalog/0003), so a statement that sets only the slug or
-- the parent changes it without naming it: fire on any update that changed it.
DROP TRIGGER IF EXISTS category_garments_sync ON catalog_category;
CREATE TRIGGER category_garments_sync AFTER UPDATE ON catalog_category
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path) EXECUTE FUNCTION recommender_on_category_change();
"""

# Back to the definitions of 0002 (declared there once).
BACKWARD = (
    _INITIAL.FORWARD.split("CREATE OR REPLACE FUNCTION recommender_on_product_change()")[0]
    + "\nDROP FUNCTION IF EXISTS recommender_catalog_lock(bigint[], boolean);\n"
    + "DROP TRIGGER IF EXISTS category_garments_sync ON catalog_category;\n"
    + _INITIAL.FORWARD[_INITIAL.FORWARD.index("CREATE TRIGGER category_garments_sync") :]
)


class Migration(migrations.Migration):
    dependencies = [("recommender", "0007_recommend_covering_indexes")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
