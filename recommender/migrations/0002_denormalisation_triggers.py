"""Keep the garment rows' copies of catalog attributes in sync, whoever writes the catalog.

One function, ``recommender_garments_refresh(product_ids)``, recomputes every denormalised
column of the garments of the given products from the catalog tables. Triggers call it:
- on products (any update), variants (insert, update, delete: stock and sizes), the
  product↔season link table (insert, delete) and categories (path changes);
- before a garment row is inserted, the same values are filled in for the new row.
Running inside the writer's transaction means a query never sees a product whose price
changed but whose garments did not.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION recommender_garment_attributes(pid bigint)
RETURNS TABLE (
    category_id bigint, category_path varchar, brand_id bigint, department varchar, colour varchar,
    price numeric, is_active boolean, stock_total integer, in_stock boolean,
    sizes_in_stock varchar[], season_ids bigint[], tags varchar[]
) LANGUAGE sql STABLE AS $$
    SELECT p.category_id, c.path, p.brand_id, p.department, p.colour, p.price, p.is_active,
           COALESCE((SELECT SUM(v.stock) FROM catalog_productvariant v WHERE v.product_id = p.id), 0)::integer,
           EXISTS (SELECT 1 FROM catalog_productvariant v WHERE v.product_id = p.id AND v.stock > 0),
           COALESCE((SELECT array_agg(DISTINCT v.size ORDER BY v.size) FROM catalog_productvariant v
                     WHERE v.product_id = p.id AND v.stock > 0), '{}')::varchar[],
           COALESCE((SELECT array_agg(ps.season_id ORDER BY ps.season_id) FROM catalog_product_seasons ps
                     WHERE ps.product_id = p.id), '{}')::bigint[],
           p.tags
    FROM catalog_product p JOIN catalog_category c ON c.id = p.category_id
    WHERE p.id = pid
$$;

CREATE OR REPLACE FUNCTION recommender_garments_refresh(pids bigint[])
RETURNS void LANGUAGE sql AS $$
    UPDATE recommender_garment g SET
        category_id = a.category_id, category_path = a.category_path, brand_id = a.brand_id,
        department = a.department, colour = a.colour, price = a.price, is_active = a.is_active,
        stock_total = a.stock_total, in_stock = a.in_stock, sizes_in_stock = a.sizes_in_stock,
        season_ids = a.season_ids, tags = a.tags
    FROM unnest(pids) AS t(pid), LATERAL recommender_garment_attributes(t.pid) a
    WHERE g.product_id = t.pid
$$;

CREATE OR REPLACE FUNCTION recommender_garment_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT a.category_id, a.category_path, a.brand_id, a.department, a.colour, a.price, a.is_active,
           a.stock_total, a.in_stock, a.sizes_in_stock, a.season_ids, a.tags
    INTO NEW.category_id, NEW.category_path, NEW.brand_id, NEW.department, NEW.colour, NEW.price,
         NEW.is_active, NEW.stock_total, NEW.in_stock, NEW.sizes_in_stock, NEW.season_ids, NEW.tags
    FROM recommender_garment_attributes(NEW.product_id) a;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION recommender_on_product_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM recommender_garments_refresh(ARRAY[NEW.id]);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION recommender_on_product_child_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM recommender_garments_refresh(ARRAY[OLD.product_id]);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.product_id IS DISTINCT FROM OLD.product_id) THEN
        PERFORM recommender_garments_refresh(ARRAY[NEW.product_id]);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION recommender_on_category_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE recommender_garment SET category_path = NEW.path WHERE category_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER garment_fill BEFORE INSERT OR UPDATE OF product_id ON recommender_garment
    FOR EACH ROW EXECUTE FUNCTION recommender_garment_fill();
CREATE TRIGGER product_garments_sync AFTER UPDATE ON catalog_product
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION recommender_on_product_change();
CREATE TRIGGER variant_garments_sync AFTER INSERT OR UPDATE OR DELETE ON catalog_productvariant
    FOR EACH ROW EXECUTE FUNCTION recommender_on_product_child_change();
CREATE TRIGGER product_seasons_garments_sync AFTER INSERT OR UPDATE OR DELETE ON catalog_product_seasons
    FOR EACH ROW EXECUTE FUNCTION recommender_on_product_child_change();
CREATE TRIGGER category_garments_sync AFTER UPDATE OF path ON catalog_category
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path) EXECUTE FUNCTION recommender_on_category_change();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS category_garments_sync ON catalog_category;
DROP TRIGGER IF EXISTS product_seasons_garments_sync ON catalog_product_seasons;
DROP TRIGGER IF EXISTS variant_garments_sync ON catalog_productvariant;
DROP TRIGGER IF EXISTS product_garments_sync ON catalog_product;
DROP TRIGGER IF EXISTS garment_fill ON recommender_garment;
DROP FUNCTION IF EXISTS recommender_on_category_change();
DROP FUNCTION IF EXISTS recommender_on_product_child_change();
DROP FUNCTION IF EXISTS recommender_on_product_change();
DROP FUNCTION IF EXISTS recommender_garment_fill();
DROP FUNCTION IF EXISTS recommender_garments_refresh(bigint[]);
DROP FUNCTION IF EXISTS recommender_garment_attributes(bigint);
"""


class Migration(migrations.Migration):
    dependencies = [("recommender", "0001_initial"), ("catalog", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
