"""B-tree indexes for the exact plan of the recommend query (recommender/queries.py).

When a filter keeps few rows, the query scans the filtered subset exactly instead of walking
the HNSW graph; these let that subset be found without a sequential scan for the filters that
the indexes of 0001 do not cover (brand, colour, department). Raw SQL with no model state:
they serve one hand-written query and are documented there.
"""

from django.db import migrations

FORWARD = """
CREATE INDEX IF NOT EXISTS garment_version_brand_idx ON recommender_garment (encoder_version, brand_id);
CREATE INDEX IF NOT EXISTS garment_version_colour_idx ON recommender_garment (encoder_version, colour);
CREATE INDEX IF NOT EXISTS garment_version_department_idx ON recommender_garment (encoder_version, department);
"""

BACKWARD = """
DROP INDEX IF EXISTS garment_version_department_idx;
DROP INDEX IF EXISTS garment_version_colour_idx;
DROP INDEX IF EXISTS garment_version_brand_idx;
"""


class Migration(migrations.Migration):
    dependencies = [("recommender", "0004_image_ingest_state")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
