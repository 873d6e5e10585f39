"""Build the HNSW graph ``FASHIONREC_EMBEDDING_STORAGE`` names and drop the other one.

    manage.py apply_embedding_storage [--storage vector|halfvec] [--concurrently]

Idempotent: run it after ``migrate`` on every deploy (recommender/embedding_storage.py explains
the design). ``--concurrently`` builds without blocking writes (minutes at 1M garments).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import connection

from recommender import embedding_storage


class Command(BaseCommand):
    help = "Build the HNSW graph of FASHIONREC_EMBEDDING_STORAGE (vector or halfvec) and drop the other one."

    def add_arguments(self, parser):
        parser.add_argument("--storage", choices=embedding_storage.STORAGES, help="default: the setting")
        parser.add_argument("--concurrently", action="store_true", help="CREATE/DROP INDEX CONCURRENTLY")

    def handle(self, *args, storage=None, concurrently=False, **options) -> None:
        storage = storage or embedding_storage.configured()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            embedding_storage.apply(cursor, storage, concurrently=concurrently)
            graphs = sorted(embedding_storage.existing_graphs(cursor))
        self.stdout.write(
            f"embedding storage {storage}: HNSW graphs {', '.join(graphs) or 'none'}"
            f" ({time.perf_counter() - started:.1f} s)"
        )
