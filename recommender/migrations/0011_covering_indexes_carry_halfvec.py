"""The exact plan's covering indexes carry a 16-bit copy of the embedding (issue 19, item 7).

At 1M garments the three covering indexes of ``recommender/0007`` took 1.01 + 0.93 + 0.84 GB,
most of it the 32-bit embedding each entry carries (520 of about 700 bytes), and all of it has
to stay in memory for the exact plan's latencies. PostgreSQL refuses an expression in INCLUDE,
so the 16-bit copy is a stored generated column, ``embedding_half``: 264 bytes more per heap row,
about 256 fewer per entry of each of the three indexes. The exact plan ranks the filtered rows
by the copy and re-scores the nearest ones at full precision (``recommender/queries.py``), so
its answer and every score stay those of the 32-bit vectors.

The foreign key's own index on ``product_id`` goes too: ``garment_product_idx`` is the same B-tree.

Adding a stored generated column rewrites the garment table under an exclusive lock, and a
rewrite rebuilds every index of the table, the HNSW graph included: measured 44.5 s at 100k
garments on this machine (the graph's own build took 43.6 s), then 2.2 s for the three covering
indexes. At 1M that is about the graph's build time, 6–7 minutes with one maintenance worker,
during which recommend queries wait: run it in a maintenance window (docs/database.md).
"""

import django.db.models.deletion
import pgvector.django
from django.db import migrations, models
from django.db.models.functions import Cast

# recommender.models.EXACT_SCAN_COLUMNS as of this migration (frozen here on purpose)
EXACT_SCAN_COLUMNS = [
    "id",
    "product_id",
    "is_active",
    "in_stock",
    "sizes_in_stock",
    "season_ids",
    "brand_id",
    "department",
    "colour",
    "category_path",
    "embedding_half",
]
PREVIOUS_COLUMNS = [c if c != "embedding_half" else "embedding" for c in EXACT_SCAN_COLUMNS]


def brand_index_sql(columns: list[str]) -> str:
    return f"""
DROP INDEX IF EXISTS garment_brand_price_idx;
CREATE INDEX garment_brand_price_idx ON recommender_garment (encoder_version, brand_id, price)
    INCLUDE ({", ".join(c for c in columns if c != "brand_id")});
"""


class Migration(migrations.Migration):
    dependencies = [("recommender", "0010_encoderversion_calibration")]

    operations = [
        migrations.RemoveIndex(model_name="garment", name="garment_category_price_idx"),
        migrations.RemoveIndex(model_name="garment", name="garment_version_price_idx"),
        migrations.AddField(
            model_name="garment",
            name="embedding_half",
            field=models.GeneratedField(
                db_persist=True,
                expression=Cast("embedding", pgvector.django.HalfVectorField(dimensions=128)),
                output_field=pgvector.django.HalfVectorField(dimensions=128),
            ),
        ),
        migrations.AddIndex(
            model_name="garment",
            index=models.Index(
                fields=["encoder_version", "category_path", "price"],
                include=[c for c in EXACT_SCAN_COLUMNS if c != "category_path"],
                name="garment_category_price_idx",
                opclasses=["varchar_pattern_ops", "varchar_pattern_ops", "numeric_ops"],
            ),
        ),
        migrations.AddIndex(
            model_name="garment",
            index=models.Index(
                fields=["encoder_version", "price"], include=EXACT_SCAN_COLUMNS, name="garment_version_price_idx"
            ),
        ),
        migrations.RunSQL(brand_index_sql(EXACT_SCAN_COLUMNS), brand_index_sql(PREVIOUS_COLUMNS)),
        # The foreign key's own index duplicated garment_product_idx (same column, same B-tree).
        migrations.AlterField(
            model_name="garment",
            name="product",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="garments",
                to="catalog.product",
            ),
        ),
    ]
