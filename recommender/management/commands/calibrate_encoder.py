"""Fit the match calibration of encoder weights: `manage.py calibrate_encoder [WEIGHTS] [--write]`.

cosine → probability that a result is the same kind of garment, fitted on the selection split
carved out of the training data (``recommender/vision/encoder_calibration.py``). Without
``--write`` it only prints the knots; with it they are stored in the weights file, and the
encoder version's row (if the database has it) is updated so queries use them at once.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError


class Command(BaseCommand):
    help = (
        "Fit the match score (cosine → P(same kind of garment)) of encoder weights on the training data's "
        "selection split; --write stores it in the weights file."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "weights", nargs="?", type=Path, default=Path(settings.FASHIONREC_ENCODER_WEIGHTS), help="encoder .pt"
        )
        parser.add_argument("--write", action="store_true", help="store the calibration in the weights file")
        parser.add_argument("--dataset", type=Path, default=Path(settings.FASHIONREC_DATASET))
        parser.add_argument(
            "--ccp", type=Path, default=Path(settings.FASHIONREC_CCP_DATASET), help="CCP photos ('none': catalog only)"
        )
        parser.add_argument("--limit", type=int, default=None, help="only the first N photos of each source (tests)")
        parser.add_argument(
            "--cache", type=Path, default=Path(settings.DATA_DIR) / "cache", help="decoded data cache ('none': off)"
        )

    def handle(self, *args, **options) -> None:
        from recommender.services.ingest import encoder_version_calibration_update
        from recommender.vision.encoder_calibration import fit_weights_calibration, write_calibration

        weights: Path = options["weights"]
        if not weights.is_file():
            raise CommandError(f"no weights file at {weights}")
        ccp = None if str(options["ccp"]) == "none" else options["ccp"]
        try:
            fit = fit_weights_calibration(
                weights,
                dataset=options["dataset"],
                ccp=ccp,
                cache_dir=None if str(options["cache"]) == "none" else options["cache"],
                limit=options["limit"],
                progress=lambda message: self.stderr.write(message),
            )
        except (ValueError, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        calibration = fit.calibration
        self.stdout.write(
            f"{fit.version}: {calibration.pairs:,} pairs ({fit.queries} selection-split queries × their nearest "
            f"of {fit.index} training catalog photos)"
        )
        self.stdout.write("cosine → P(same kind)")
        for cosine, probability in zip(calibration.cosines, calibration.probabilities, strict=True):
            self.stdout.write(f"  {cosine:.4f} → {probability:.3f}")
        if fit.previous is not None and fit.previous != calibration:
            self.stdout.write("the file held a different calibration; --write replaces it")
        if not options["write"]:
            self.stdout.write("not written (pass --write to store it in the weights file)")
            return
        write_calibration(weights, calibration)
        self.stdout.write(f"written to {weights}")
        try:
            if encoder_version_calibration_update(name=fit.version, calibration=calibration.to_dict()):
                self.stdout.write(f"encoder version {fit.version} updated in the database: queries use it now")
        except DatabaseError as error:
            # An unmigrated or unreachable database: the next ingest or reindex copies it from the file.
            self.stderr.write(f"the database was not updated ({str(error).splitlines()[0]})")
