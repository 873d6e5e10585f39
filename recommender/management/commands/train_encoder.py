"""Train the garment encoder: `manage.py train_encoder [--recipe street|whole] [--epochs N] [--device cpu] ...`.

Two recipes: ``street`` (encoder v2, the default: catalog photos and worn garments cropped from the
CCP street photos, margin losses, EMA weights, model selection on a held-out selection split; see
``recommender/vision/encoder_street_training.py``) and ``whole`` (encoder v1: the autoencoder on
whole catalog photos, ``recommender/vision/encoder_training.py``).

``--from-catalog`` trains the ``street`` recipe on the products, photos and categories in the
database instead of the dataset folders (``recommender/vision/encoder_catalog_training.py``;
docs/vision.md, "Training on your catalog").
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recommender.vision.encoder_catalog_data import DEFAULT_MIN_PER_CLASS, catalog_training_set


class Command(BaseCommand):
    help = (
        "Train the garment encoder (recipe 'street' = v2 on catalog photos + CCP worn garments, or 'whole' = v1), "
        "resumable from OUTPUT/checkpoint.pt; writes OUTPUT/encoder.pt (versioned) and its card."
    )

    def add_arguments(self, parser):
        parser.add_argument("--recipe", choices=["street", "whole"], default="street")
        parser.add_argument("--epochs", type=int, default=30)
        parser.add_argument("--image-size", type=int, default=112, help="encoder input side in pixels")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
        parser.add_argument("--recon-weight", type=float, default=1.0, help="weight of the reconstruction loss")
        parser.add_argument(
            "--dataset", type=Path, default=Path(settings.FASHIONREC_DATASET), help="folder with train/ (validation/)"
        )
        parser.add_argument(
            "--output",
            type=Path,
            default=Path(settings.FASHIONREC_ENCODER_WEIGHTS).parent,
            help="folder for encoder.pt, MODEL_CARD.md, metrics.json and the resumable checkpoint.pt",
        )
        parser.add_argument("--limit", type=int, default=None, help="use only N train/validation images (tiny runs)")
        parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (street: 1, whole: 2)")
        parser.add_argument(
            "--eval-every", type=int, default=None, help="measure retrieval every N epochs (street: 2, whole: 10)"
        )
        catalog = parser.add_argument_group("training on the catalog in the database")
        catalog.add_argument(
            "--from-catalog",
            action="store_true",
            help="train on the database's products, photos and categories (recipe 'street', no CCP)",
        )
        catalog.add_argument(
            "--level",
            type=int,
            default=None,
            help="label = the category's ancestor at this depth of the tree (1 = roots; default: the category)",
        )
        catalog.add_argument(
            "--min-per-class",
            type=int,
            default=DEFAULT_MIN_PER_CLASS,
            help="classes with fewer photos are merged into their parent category (a root with too few is left out)",
        )
        street = parser.add_argument_group("recipe 'street' (encoder v2)")
        street.add_argument(
            "--ccp",
            type=Path,
            default=Path(settings.FASHIONREC_CCP_DATASET),
            help="CCP street photos with pixel labels ('none': catalog photos only)",
        )
        street.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
        street.add_argument(
            "--minutes", type=float, default=None, help="stop after the epoch that passes this budget (resumable)"
        )
        street.add_argument("--margin", type=float, default=0.15, help="CosFace margin of both cosine heads")
        street.add_argument("--kind-weight", type=float, default=0.5, help="weight of the coarse-kind loss")
        street.add_argument("--widths", default="32,64,128,256", help="channel widths of the residual trunk")
        street.add_argument(
            "--export",
            choices=["best", "latest", "final"],
            default=None,
            help="only write weights + MODEL_CARD.md of the run in --output to --to: the selection split's best, "
            "the EMA of the last finished epoch (training may go on), or the finished run's",
        )
        street.add_argument(
            "--evaluate",
            type=Path,
            default=None,
            metavar="WEIGHTS",
            help="only print the selection-split figures of a weights file (v1 or v2) and exit",
        )
        street.add_argument(
            "--to",
            type=Path,
            default=None,
            help="where --export writes (default: OUTPUT/export/encoder.pt)",
        )
        parser.add_argument(
            "--cache",
            type=Path,
            default=Path(settings.DATA_DIR) / "cache",
            help="where decoded images are kept between runs ('none' to disable)",
        )
        parser.add_argument(
            "--snapshot",
            action="store_true",
            help="only write encoder.pt from the last finished epoch of the run in --output (training goes on)",
        )
        parser.add_argument(
            "--crops",
            choices=["whole", "detector"],
            default="whole",
            help="train on whole images or on the detector's most confident crop (FASHIONREC_DETECTOR_WEIGHTS)",
        )

    def handle(self, *args, **options):
        if options["from_catalog"]:
            if options["export"] or options["snapshot"] or options["evaluate"]:
                # Their cards and figures describe the dataset folders; a catalog run writes its own
                # encoder.pt and MODEL_CARD.md when it finishes (best.pt: the selection split's best).
                raise CommandError("--export, --snapshot and --evaluate are not available with --from-catalog")
            self._from_catalog(options)
            return
        if options["recipe"] == "street":
            self._street(options)
            return
        from recommender.vision.encoder_training import TrainSettings, export_snapshot, train

        if options["snapshot"]:
            version = export_snapshot(options["output"])
            self.stdout.write(self.style.SUCCESS(f"{version}: snapshot written to {options['output']}"))
            return

        if options["epochs"] < 1:
            raise CommandError("--epochs must be at least 1")
        if not (options["dataset"] / "train").is_dir():
            raise CommandError(f"no train/ split in {options['dataset']}")
        train_settings = TrainSettings(
            dataset=options["dataset"],
            output=options["output"],
            epochs=options["epochs"],
            image_size=options["image_size"],
            seed=options["seed"],
            batch_size=options["batch_size"],
            learning_rate=options["lr"],
            recon_weight=options["recon_weight"],
            limit=options["limit"],
            threads=options["threads"] or 2,
            eval_every=10 if options["eval_every"] is None else options["eval_every"],
            crops=options["crops"],
            cache_dir=None if str(options["cache"]) == "none" else options["cache"],
            command=_command_line(),
        )
        cropper = self._detector_cropper() if options["crops"] == "detector" else None
        try:
            result = train(train_settings, cropper=cropper, progress=lambda m: self.stdout.write(m))
        except ValueError as error:
            raise CommandError(str(error)) from error
        metrics = result.metrics
        summary = f"{result.version}: {result.weights_path}"
        if "val_precision@10" in metrics:
            summary += f" precision@10 {metrics['val_precision@10']} mAP@10 {metrics['val_map@10']}"
        self.stdout.write(self.style.SUCCESS(summary))

    def _street(self, options):
        from recommender.vision.encoder_street_training import (
            StreetTrainSettings,
            evaluate_weights,
            export_weights,
            train_street,
        )

        output = options["output"]
        cache = None if str(options["cache"]) == "none" else options["cache"]
        ccp = None if str(options["ccp"]) == "none" else options["ccp"]
        if options["evaluate"]:
            figures = evaluate_weights(
                options["evaluate"],
                dataset=options["dataset"],
                ccp=ccp,
                cache_dir=cache,
                limit=options["limit"],
                progress=lambda m: self.stdout.write(m),
            )
            self.stdout.write(json.dumps(figures))
            return
        if options["export"] or options["snapshot"]:
            which = options["export"] or "latest"
            target = options["to"] or output / "export" / "encoder.pt"
            try:
                version = export_weights(
                    output,
                    which,
                    target,
                    cache_dir=cache,
                    progress=lambda m: self.stdout.write(m),
                )
            except FileNotFoundError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(self.style.SUCCESS(f"{version}: {which} weights written to {target}"))
            return
        if options["epochs"] < 1:
            raise CommandError("--epochs must be at least 1")
        if not (options["dataset"] / "train").is_dir():
            raise CommandError(f"no train/ split in {options['dataset']}")
        if ccp is not None and not (ccp / "annotations" / "pixel-level").is_dir():
            raise CommandError(f"no CCP pixel labels in {ccp} (pass --ccp none to train on catalog photos only)")
        widths = self._widths(options)
        train_settings = StreetTrainSettings(
            dataset=options["dataset"],
            ccp=ccp,
            output=output,
            epochs=options["epochs"],
            image_size=options["image_size"],
            widths=widths,
            seed=options["seed"],
            batch_size=options["batch_size"],
            learning_rate=options["lr"],
            margin=options["margin"],
            kind_weight=options["kind_weight"],
            limit=options["limit"],
            threads=options["threads"] or 1,
            device=options["device"],
            eval_every=2 if options["eval_every"] is None else options["eval_every"],
            minutes=options["minutes"],
            command=_command_line(),
            cache_dir=cache,
        )
        try:
            result = train_street(train_settings, progress=lambda m: self.stdout.write(m))
        except ValueError as error:
            raise CommandError(str(error)) from error
        if result.weights_path is None:
            self.stdout.write(self.style.WARNING("stopped by --minutes; run the same command again to resume"))
            return
        self.stdout.write(self.style.SUCCESS(f"{result.version}: {result.weights_path} selection {result.selection}"))

    def _from_catalog(self, options):
        from recommender.training_selectors import catalog_training_photos
        from recommender.vision.encoder_catalog_training import CatalogSpec, train_from_catalog
        from recommender.vision.encoder_street_training import StreetTrainSettings

        if options["epochs"] < 1:
            raise CommandError("--epochs must be at least 1")
        if options["level"] is not None and options["level"] < 1:
            raise CommandError("--level counts from 1 (the root categories)")
        if options["min_per_class"] < 1:
            raise CommandError("--min-per-class must be at least 1")
        widths = self._widths(options)
        spec = CatalogSpec(options["level"], options["min_per_class"], options["seed"])
        training_set = catalog_training_set(
            catalog_training_photos(),
            level=spec.level,
            min_per_class=spec.min_per_class,
            seed=spec.seed,
            log=lambda m: self.stdout.write(m),
        )
        train_settings = StreetTrainSettings(
            dataset=None,
            ccp=None,
            output=options["output"],
            epochs=options["epochs"],
            image_size=options["image_size"],
            widths=widths,
            seed=options["seed"],
            batch_size=options["batch_size"],
            learning_rate=options["lr"],
            margin=options["margin"],
            kind_weight=options["kind_weight"],
            threads=options["threads"] or 1,
            device=options["device"],
            eval_every=2 if options["eval_every"] is None else options["eval_every"],
            minutes=options["minutes"],
            command=_command_line(),
            cache_dir=None if str(options["cache"]) == "none" else options["cache"],
        )
        try:
            result = train_from_catalog(training_set, spec, train_settings, progress=lambda m: self.stdout.write(m))
        except ValueError as error:
            raise CommandError(str(error)) from error
        if result.weights_path is None:
            self.stdout.write(self.style.WARNING("stopped by --minutes; run the same command again to resume"))
            return
        report = result.report.get("precision@10", "n/a")
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.version}: {result.weights_path} selection p@10 {result.selection.get('catalog_p10')}, "
                f"report p@10 {report}; to serve it: FASHIONREC_ENCODER_WEIGHTS={result.weights_path} "
                "python manage.py reindex"
            )
        )

    def _widths(self, options) -> tuple[int, ...]:
        try:
            return tuple(int(w) for w in options["widths"].split(","))
        except ValueError as error:
            raise CommandError("--widths is a comma-separated list of integers, e.g. 32,64,128,256") from error

    def _detector_cropper(self):
        from recommender.vision.detector import GarmentDetector
        from recommender.vision.preprocess import clamp_box

        detector = GarmentDetector(
            settings.FASHIONREC_DETECTOR_WEIGHTS, confidence=settings.FASHIONREC_DETECTOR_CONFIDENCE
        )

        def crop(images):
            out = []
            for image, detections in zip(images, detector.detect(images), strict=True):
                if detections:
                    out.append(image.crop(clamp_box(detections[0].box, *image.size)))
                else:
                    out.append(image)
            return out

        return crop


def _command_line() -> str:
    """The command as typed, for the model card ("" when called from Python, e.g. in tests)."""
    if sys.argv[1:2] != ["train_encoder"]:
        return ""
    return ("python manage.py train_encoder " + " ".join(shlex.quote(a) for a in sys.argv[2:])).strip()
