"""Drop the optimizer moments from a detector run's resumable checkpoint before committing it:
`manage.py slim_detector_checkpoint RUN_DIR` (or a path to its last.pt).

A resume of the slimmed checkpoint continues the schedule where it stopped; AdamW's moments
restart from zero (see recommender/vision/detector_checkpoint.py and models/detector/MODEL_CARD.md).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Rewrite RUN_DIR/weights/last.pt in place without the optimizer's per-parameter state (about 25 of its "
        "31.5 MiB), keeping what a --resume reads; prints the sizes before and after."
    )

    def add_arguments(self, parser):
        parser.add_argument("run", type=Path, help="a run folder (weights/last.pt) or a checkpoint file")

    def handle(self, *args, **options):
        from recommender.vision.detector_checkpoint import checkpoint_path, slim_resume_checkpoint

        path = checkpoint_path(options["run"])
        if not path.is_file():
            raise CommandError(f"no checkpoint at {path}")
        try:
            result = slim_resume_checkpoint(path)
        except ValueError as error:
            raise CommandError(str(error)) from error
        before, after = result.bytes_before / 2**20, result.bytes_after / 2**20
        if not result.parameters_dropped:
            self.stdout.write(f"{path} is already slim ({after:.1f} MiB): left as it was")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"slimmed {path}: {before:.1f} MiB -> {after:.1f} MiB "
                f"(optimizer state of {result.parameters_dropped} parameters dropped; "
                "a resume restarts AdamW's moments)"
            )
        )
