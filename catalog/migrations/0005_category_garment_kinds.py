"""Categories carry a garment kind, inherited down the tree (issue 18).

``garment_kind`` is what a category says its products are ("" = inherit);
``effective_garment_kind`` is the kind in force, resolved once when written rather than on every
read. Why stored: the kind is read far more often than written (every garment of a recommendation,
every training photo, every evaluation query joins it), a stored column joins like any other and
can be indexed or copied, and the category tree already has the machinery that keeps a derived
column right for every writer and under concurrency: the path triggers of
``0003_category_paths_follow_the_tree``. The resolved kind rides on them:

- ``BEFORE INSERT OR UPDATE OF parent_id, slug, path, garment_kind, effective_garment_kind``:
  besides the path, ``effective_garment_kind`` := the row's own kind, else the parent's resolved
  kind (read in the same ``FOR SHARE`` read as the parent's path, so a concurrent change of the
  parent is waited for, and a later one rewrites us after), else ``none`` for a root.
- ``AFTER UPDATE`` when the path *or the resolved kind* changed: the children are rewritten
  (``SET path = path`` fires their BEFORE trigger), so a change of kind high in the tree reaches
  every descendant in the same statement and transaction, and stops where a descendant sets its
  own kind (its resolved kind does not change, so its AFTER trigger does not fire).

Then the existing categories get the kind their name suggests (``catalog.garment_kinds``,
the documented list), roots first; names the list does not know stay "" (inherit).
"""

import importlib

from django.db import migrations, models

from catalog.garment_kinds import kind_guess

PATHS = importlib.import_module("catalog.migrations.0003_category_paths_follow_the_tree")

FORWARD = r"""
CREATE OR REPLACE FUNCTION catalog_category_path_fill() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent_path varchar;
    parent_kind varchar;
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.path := NEW.slug;
        NEW.effective_garment_kind := COALESCE(NULLIF(NEW.garment_kind, ''), 'none');
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
    SELECT c.path, c.effective_garment_kind INTO parent_path, parent_kind
        FROM catalog_category c WHERE c.id = NEW.parent_id FOR SHARE;
    NEW.path := parent_path || '/' || NEW.slug;
    NEW.effective_garment_kind := COALESCE(NULLIF(NEW.garment_kind, ''), parent_kind, 'none');
    RETURN NEW;
END $$;

DROP TRIGGER category_path_fill ON catalog_category;
DROP TRIGGER category_subtree_paths ON catalog_category;
CREATE TRIGGER category_path_fill
    BEFORE INSERT OR UPDATE OF parent_id, slug, path, garment_kind, effective_garment_kind ON catalog_category
    FOR EACH ROW EXECUTE FUNCTION catalog_category_path_fill();
CREATE TRIGGER category_subtree_paths AFTER UPDATE ON catalog_category
    FOR EACH ROW WHEN (
        OLD.path IS DISTINCT FROM NEW.path OR OLD.effective_garment_kind IS DISTINCT FROM NEW.effective_garment_kind
    ) EXECUTE FUNCTION catalog_category_children_paths();
"""

BACKWARD = r"""
DROP TRIGGER category_path_fill ON catalog_category;
DROP TRIGGER category_subtree_paths ON catalog_category;
DROP FUNCTION catalog_category_children_paths();
DROP FUNCTION catalog_category_path_fill();
""" + PATHS.FORWARD.split("-- One row per statement")[0]


def guess_kinds(apps, schema_editor):
    """Each category whose name the list knows gets that kind; parents first (one row per statement)."""
    Category = apps.get_model("catalog", "Category")
    for category in Category.objects.filter(garment_kind="").order_by("path").only("pk", "name"):
        kind = kind_guess(category.name)
        if kind:
            # update() of one row: the trigger resolves it and rewrites its subtree's resolved kinds.
            Category.objects.filter(pk=category.pk).update(garment_kind=kind)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_rules_protect_their_targets"),
    ]

    operations = [
        migrations.AddField(
            model_name="category",
            name="effective_garment_kind",
            field=models.CharField(
                choices=[
                    ("top", "Top"),
                    ("outerwear", "Outerwear"),
                    ("dress", "Dress"),
                    ("trousers", "Trousers"),
                    ("skirt", "Skirt"),
                    ("shorts", "Shorts"),
                    ("shoes", "Shoes"),
                    ("hat", "Hat"),
                    ("bag", "Bag"),
                    ("none", "None (not a garment kind)"),
                ],
                db_default="none",
                default="none",
                editable=False,
                help_text="The kind in force: its own, else the nearest parent's; none when no category above sets one.",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="category",
            name="garment_kind",
            field=models.CharField(
                blank=True,
                choices=[
                    ("top", "Top"),
                    ("outerwear", "Outerwear"),
                    ("dress", "Dress"),
                    ("trousers", "Trousers"),
                    ("skirt", "Skirt"),
                    ("shorts", "Shorts"),
                    ("shoes", "Shoes"),
                    ("hat", "Hat"),
                    ("bag", "Bag"),
                    ("none", "None (not a garment kind)"),
                ],
                db_default="",
                default="",
                help_text="What this category's products are; empty: the same as the parent category's.",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="category",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "garment_kind__in",
                        ("", "top", "outerwear", "dress", "trousers", "skirt", "shorts", "shoes", "hat", "bag", "none"),
                    )
                ),
                name="category_garment_kind_known",
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
        migrations.RunPython(guess_kinds, migrations.RunPython.noop),
    ]
