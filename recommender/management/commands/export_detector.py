"""Export a detector checkpoint for serving: `manage.py export_detector CHECKPOINT OUTPUT`.

For a segmenting run's `weights/best.pt` or `last.pt` (mid-run too): half precision, no optimizer,
the mask head kept (ingest reads catalog colours through it) unless `--boxes-only`. Evaluate the
output with `bench/detect.py --split selection --weights OUTPUT`.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Write the served weights (half precision, no optimizer) from a training checkpoint."

    def add_arguments(self, parser):
        parser.add_argument("checkpoint", type=Path)
        parser.add_argument("output", type=Path)
        parser.add_argument(
            "--boxes-only",
            action="store_true",
            help=(
                "drop a segmenting model's mask head (about 10 ms less a photo on one core; catalog colours "
                "then read by GrabCut)"
            ),
        )

    def handle(self, *args, **options):
        from recommender.vision.detector_export import export_detector

        if not options["checkpoint"].is_file():
            raise CommandError(f"no checkpoint at {options['checkpoint']}")
        path = export_detector(options["checkpoint"], options["output"], masks=not options["boxes_only"])
        self.stdout.write(self.style.SUCCESS(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)"))
