import pytest
from django.db import connection

from recommender.models import HNSW_EF_CONSTRUCTION, HNSW_M

pytestmark = pytest.mark.django_db


def test_the_vector_extension_is_installed():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        (version,) = cursor.fetchone()
    assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 8)


def test_the_embedding_has_an_hnsw_cosine_index_with_the_chosen_parameters():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT am.amname, opc.opcname, c.reloptions
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_am am ON am.oid = c.relam
            JOIN pg_opclass opc ON opc.oid = i.indclass[0]
            WHERE c.relname = 'garment_embedding_hnsw'
            """
        )
        method, opclass, options = cursor.fetchone()
    assert method == "hnsw"
    assert opclass == "vector_cosine_ops"
    assert sorted(options) == sorted([f"m={HNSW_M}", f"ef_construction={HNSW_EF_CONSTRUCTION}"])


def test_the_embedding_column_has_the_configured_dimension(settings):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'recommender_garment'::regclass AND attname = 'embedding'"
        )
        (column_type,) = cursor.fetchone()
    assert column_type == f"vector({settings.FASHIONREC_EMBEDDING_DIM})"
