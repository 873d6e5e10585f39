"""Build the ONNX cache of the served weights: `manage.py export_onnx [--detector PT] [--encoder PT] [--imgsz N]`.

Without arguments: the weights in settings (`FASHIONREC_DETECTOR_WEIGHTS`, `FASHIONREC_ENCODER_WEIGHTS`),
exported into `FASHIONREC_ONNX_CACHE_DIR` under names carrying their SHA-256, where the pipeline looks.
A deployment step (the Dockerfile runs it): without it the first process to load the models exports
them itself, a few seconds. Copies already cached for the same `.pt` are left as they are.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Export the detector and encoder weights to ONNX into the ONNX cache (FASHIONREC_ONNX_CACHE_DIR)."
    # no database or system checks needed: it runs in image builds, with no database reachable
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--detector", type=Path, default=None, help="default: FASHIONREC_DETECTOR_WEIGHTS")
        parser.add_argument("--encoder", type=Path, default=None, help="default: FASHIONREC_ENCODER_WEIGHTS")
        parser.add_argument(
            "--imgsz", type=int, default=None, help="detector input side; default: the served one (320)"
        )

    def handle(self, *args, **options):
        from recommender.vision.detector import GarmentDetector
        from recommender.vision.onnx_runtime import load_onnx_copy

        detector = options["detector"] or Path(settings.FASHIONREC_DETECTOR_WEIGHTS)
        encoder = options["encoder"] or Path(settings.FASHIONREC_ENCODER_WEIGHTS)
        imgsz = options["imgsz"] or int(getattr(settings, "FASHIONREC_DETECTOR_IMGSZ", 320))
        for weights in (detector, encoder):
            if not weights.is_file():
                raise CommandError(f"no weights at {weights}")
        # a segmenting detector has two copies: with its mask prototypes (ingest) and without (queries)
        kinds = ["detector", "detector_boxes"] if GarmentDetector(detector, imgsz=imgsz).has_masks else ["detector"]
        for kind, weights, size in [(kind, detector, imgsz) for kind in kinds] + [("encoder", encoder, None)]:
            # what serving does: a current cached copy is kept, a missing or unreadable one exported
            model = load_onnx_copy(weights, kind=kind, threads=1, imgsz=size)
            if model is None:
                raise CommandError(
                    f"no ONNX copy of {weights} (see the warning logged above: are onnx and onnxruntime "
                    f"installed, is {settings.FASHIONREC_ONNX_CACHE_DIR} writable?)"
                )
            self.stdout.write(self.style.SUCCESS(f"{model.path} ({model.path.stat().st_size / 1e6:.1f} MB)"))
