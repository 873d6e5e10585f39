"""Write ONNX Runtime copies of the served weights: `manage.py export_onnx [--detector PT] [--encoder PT]`.

Without arguments: the weights in settings (`FASHIONREC_DETECTOR_WEIGHTS`, `FASHIONREC_ENCODER_WEIGHTS`),
each written beside its `.pt` as `.onnx`, where the pipeline picks it up. Run it again after replacing
a `.pt`: until then the stale copy is ignored and PyTorch serves the new weights.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Export the detector and encoder weights to ONNX (X.pt -> X.onnx) for ONNX Runtime serving."

    def add_arguments(self, parser):
        parser.add_argument("--detector", type=Path, default=None, help="default: FASHIONREC_DETECTOR_WEIGHTS")
        parser.add_argument("--encoder", type=Path, default=None, help="default: FASHIONREC_ENCODER_WEIGHTS")

    def handle(self, *args, **options):
        from recommender.vision.onnx_export import export_detector_onnx, export_encoder_onnx

        detector = options["detector"] or Path(settings.FASHIONREC_DETECTOR_WEIGHTS)
        encoder = options["encoder"] or Path(settings.FASHIONREC_ENCODER_WEIGHTS)
        for weights, export in ((detector, export_detector_onnx), (encoder, export_encoder_onnx)):
            if not weights.is_file():
                raise CommandError(f"no weights at {weights}")
            path = export(weights)
            self.stdout.write(self.style.SUCCESS(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)"))
