"""``manage.py reindex``: embed every ready image with the current encoder, then switch to it."""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from tqdm import tqdm

from catalog.models import ProductImage
from catalog.models.products import ProcessingStatus
from recommender.models import EncoderVersion
from recommender.services import ingest


class Command(BaseCommand):
    help = (
        "Re-embed ready images that have no garments of the current encoder version (the weights in "
        "FASHIONREC_ENCODER_WEIGHTS), in primary-key batches. Queries keep using the active version "
        "until the new one covers every ready image; then it is activated in one transaction."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="images per batch")
        parser.add_argument(
            "--sync",
            action="store_true",
            help="embed in this process instead of sending batches to the workers (default without a broker)",
        )
        parser.add_argument("--force", action="store_true", help="re-embed every ready image, even up-to-date ones")
        parser.add_argument("--prune", action="store_true", help="then delete the garments of inactive versions")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options) -> None:
        from recommender.vision.pipeline import get_pipeline

        pipeline = get_pipeline()
        name = pipeline.encoder_version
        version = ingest.encoder_version_ensure(name=name, calibration=pipeline.match_calibration)
        active = EncoderVersion.objects.filter(is_active=True).first()
        self.stdout.write(f"encoder {name} ({'active' if version.is_active else 'inactive'}); active: {active}")

        batch_size = options["batch_size"] or settings.FASHIONREC_INGEST_BATCH_SIZE
        if options["force"]:
            todo = ProductImage.objects.filter(status=ProcessingStatus.READY)
        else:
            todo = ingest.encoder_version_missing_images(name=name)
        total = todo.count()
        sync = options["sync"] or settings.CELERY_TASK_ALWAYS_EAGER
        started = time.perf_counter()
        done = failed = sent = 0
        with tqdm(total=total, unit="img", disable=options["no_progress"] or None, desc="reindex") as bar:
            # Primary-key batches: each query is an index range scan, whatever the table size.
            last = 0
            while True:
                ids = list(todo.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size])
                if not ids:
                    break
                last = ids[-1]
                if sync:
                    result = ingest.product_images_ingest(image_ids=ids, force=options["force"], pipeline=pipeline)
                    done += len(result.ready)
                    failed += len(result.failed)
                else:
                    sent += ingest.product_images_enqueue(image_ids=ids, force=options["force"], batch_size=batch_size)
                bar.update(len(ids))
        elapsed = time.perf_counter() - started
        if sync:
            self.stdout.write(f"re-embedded {done} images ({failed} failed) in {elapsed:.1f}s")
        else:
            self.stdout.write(f"sent {sent} batches ({total} images) to the workers; they activate {name} when done")
        if ingest.encoder_version_activate_if_complete(name=name):
            self.stdout.write(f"{name} is the active encoder version")
        else:
            missing = ingest.encoder_version_missing_images(name=name).count()
            self.stdout.write(f"{name} not active yet: {missing} ready images still lack its garments")
        if options["prune"]:
            pruned = ingest.encoder_versions_prune(grace=timedelta(0))
            self.stdout.write(f"deleted {pruned} garments of inactive versions")
