"""``manage.py outfit_colours``: read every catalog garment's colour with the loaded outfit model."""

from __future__ import annotations

import itertools
import time

from django.core.management.base import BaseCommand, CommandError

from recommender.services.outfit_colours import garment_colours_refresh, loaded_outfit_model, stale_colour_images

BATCH_SIZE = 100


class Command(BaseCommand):
    help = (
        "Store each catalog garment's colour as the outfit model (FASHIONREC_OUTFIT_MODEL) reads it: the served "
        "detector's masks of its kind in its box (GrabCut without them), the root histogram over the model's Lab "
        "palette. Ingest does this for new images; run it once for a "
        "catalog ingested before, and after switching outfit models (until then complete the look reads the "
        "colour names of garments read by another model). Only garments of another model unless --force."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="images per batch")
        parser.add_argument("--force", action="store_true", help="read every garment again, up-to-date ones too")

    def handle(self, *args, **options) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        model = loaded_outfit_model()
        if model is None:
            raise CommandError("no outfit model with a palette to read colours with (FASHIONREC_OUTFIT_MODEL)")
        from recommender.vision.pipeline import get_pipeline

        # read as ingest reads: through the served detector's masks (GrabCut where it has none)
        detector = get_pipeline().detector
        if not getattr(detector, "has_masks", False):
            self.stderr.write("the served detector has no mask head: garments are read by GrabCut")
        started = time.perf_counter()
        images = garments = 0
        unreadable: list[int] = []
        ids = iter(stale_colour_images(model_version=model.colour_key, force=options["force"]))
        while batch := list(itertools.islice(ids, options["batch_size"])):
            result = garment_colours_refresh(image_ids=batch, model=model, detector=detector)
            garments += result.garments
            unreadable += result.unreadable
            images += len(batch)
            self.stdout.write(f"{images} images, {garments} garments")
        self.stdout.write(
            f"outfit colours of model {model.version} ({model.colour_key}): {garments} garments of {images} images "
            f"in {time.perf_counter() - started:.1f} s"
        )
        if unreadable:
            shown = ", ".join(str(i) for i in unreadable[:10]) + (" …" if len(unreadable) > 10 else "")
            self.stderr.write(
                f"{len(unreadable)} image{'' if len(unreadable) == 1 else 's'} could not be read (their garments "
                "keep their colour names until "
                f"their files are back): {shown}"
            )
