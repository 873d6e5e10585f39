"""Train the garment encoder: `manage.py train_encoder [--epochs N] [--image-size 112] [--limit N] ...`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Train the residual convolutional autoencoder on the clothing dataset's train split (CPU, minutes), "
        "resumable from OUTPUT/checkpoint.pt; writes OUTPUT/encoder.pt (versioned), MODEL_CARD.md and metrics.json."
    )

    def add_arguments(self, parser):
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
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
        parser.add_argument("--eval-every", type=int, default=10, help="measure retrieval every N epochs (0: at end)")
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
        from recommender.vision.encoder_training import TrainSettings, export_snapshot, train

        if options["snapshot"]:
            version = export_snapshot(options["output"])
            self.stdout.write(self.style.SUCCESS(f"{version}: snapshot written to {options['output']}"))
            return

        if options["epochs"] < 1:
            raise CommandError("--epochs must be at least 1")
        if not (options["dataset"] / "train").is_dir():
            raise CommandError(f"no train/ split in {options['dataset']}")
        command = "python manage.py train_encoder " + " ".join(shlex.quote(a) for a in sys.argv[2:])
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
            threads=options["threads"],
            eval_every=options["eval_every"],
            crops=options["crops"],
            cache_dir=None if str(options["cache"]) == "none" else options["cache"],
            command=command.strip() if sys.argv[1:2] == ["train_encoder"] else "",
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
