"""Category paths follow the tree, whoever writes it, and the tree has no cycles (issue 13, item 3).

``Category.save()`` used to compute a category's own path and nothing else: renaming or
moving a parent left every descendant with the old prefix, so the parent's filter lost them,
a new category taking the old slug captured them, and adding a child under it collided with a
stale path (a 500 on ``catalog_category_path_key``). ``parent = self`` or a move under one's
own descendant was accepted.

Now the database keeps ``path``, like the garment copies (``recommender/0002``):
- ``BEFORE INSERT OR UPDATE OF parent_id, slug, path``: ``path`` := the parent's path + "/"
  + slug (the slug alone for a root). The parent row is read ``FOR SHARE``: a rename of the
  parent in flight holds its row lock, so we wait for it and read its committed path, and a
  rename that comes later waits for us and then rewrites our row with its children.
- the same trigger refuses a cycle (the new parent is the row itself or below it) with
  ``check_violation`` on the named constraint ``category_not_own_descendant``. Moves take a
  transaction-level advisory lock first, so two moves that together would close a loop (A
  under B, B under A) run one after the other and the second sees the first.
- ``AFTER UPDATE`` when the path changed (whichever column the statement set: a slug-only
  ``update()`` changes the path through the trigger above, not its SET list): the children's paths are recomputed, which
  fires the same triggers one level down, so the whole subtree follows in the same statement
  and transaction. ``category_garments_sync`` (``recommender/0002``, widened the same way by
  ``recommender/0008``) fires for every category whose path changed, so the garments'
  ``category_path`` follows too.
- a one-off repair recomputes every path, roots first (databases where the old bug already
  left stale paths).

``Category.clean()`` refuses the same cycles with a readable message for admin and the API;
the trigger is the guarantee for every other writer and for races.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION catalog_category_path_fill() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent_path varchar;
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.path := NEW.slug;
        RETURN NEW;
    END IF;
    IF NEW.parent_id = NEW.id THEN
        RAISE EXCEPTION 'category % cannot be its own parent', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'category_not_own_descendant';
    END IF;
    -- A new row has no sub-categories yet, so only a move can close a loop.
    IF TG_OP = 'UPDATE' AND NEW.parent_id IS DISTINCT FROM OLD.parent_id THEN
        PERFORM pg_advisory_xact_lock(hashtext('catalog_category.parent_id'));
        -- A new statement: it sees every move committed before the lock was granted.
        IF EXISTS (
            WITH RECURSIVE above(id, parent_id) AS (
                SELECT c.id, c.parent_id FROM catalog_category c WHERE c.id = NEW.parent_id
                UNION
                SELECT c.id, c.parent_id FROM catalog_category c JOIN above a ON c.id = a.parent_id
            )
            SELECT 1 FROM above WHERE above.id = NEW.id
        ) THEN
            RAISE EXCEPTION 'category % cannot be moved under one of its sub-categories', NEW.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'category_not_own_descendant';
        END IF;
    END IF;
    SELECT c.path INTO parent_path FROM catalog_category c WHERE c.id = NEW.parent_id FOR SHARE;
    NEW.path := parent_path || '/' || NEW.slug;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION catalog_category_children_paths() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Naming path in SET fires the children's BEFORE trigger, which recomputes it.
    UPDATE catalog_category SET path = path WHERE parent_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER category_path_fill BEFORE INSERT OR UPDATE OF parent_id, slug, path ON catalog_category
    FOR EACH ROW EXECUTE FUNCTION catalog_category_path_fill();
CREATE TRIGGER category_subtree_paths AFTER UPDATE ON catalog_category
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path) EXECUTE FUNCTION catalog_category_children_paths();

-- One row per statement, parents before children: a row touched twice by one statement (once
-- directly, once by its parent's trigger) would be an error.
DO $$
DECLARE
    node record;
BEGIN
    FOR node IN
        WITH RECURSIVE tree(id, depth) AS (
            SELECT id, 0 FROM catalog_category WHERE parent_id IS NULL
            UNION ALL
            SELECT c.id, t.depth + 1 FROM catalog_category c JOIN tree t ON c.parent_id = t.id
        )
        SELECT id FROM tree ORDER BY depth, id
    LOOP
        UPDATE catalog_category SET path = path WHERE id = node.id;
    END LOOP;
END $$;
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS category_subtree_paths ON catalog_category;
DROP TRIGGER IF EXISTS category_path_fill ON catalog_category;
DROP FUNCTION IF EXISTS catalog_category_children_paths();
DROP FUNCTION IF EXISTS catalog_category_path_fill();
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_staff_groups")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
