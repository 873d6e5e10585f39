"""Pack a detector training run for a GPU machine: `manage.py pack_detector_gpu [--output gpu-pack]`.

Then, on the GPU machine: `python -m recommender.vision.detector_gpu --pack gpu-pack --out OUT --minutes 8`.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Write one git-ignored folder with the segmenting recipe's training and selection photos resized to the "
        "input size (WebP), their labels, the recipe and the wheels a GPU machine without ultralytics needs; "
        "print what a run call would send with the checkout."
    )

    def add_arguments(self, parser):
        from recommender.vision.detector_gpu import WEBP_QUALITY
        from recommender.vision.detector_training import SEGMENT_RECIPE

        parser.add_argument("--output", type=Path, default=Path(settings.BASE_DIR) / "gpu-pack")
        parser.add_argument("--cache", type=Path, default=Path(settings.DATA_DIR) / "cache", help="dataset cache")
        parser.add_argument(
            "--wheels", type=Path, default=Path(settings.DATA_DIR) / "cache" / "gpu-wheels", help="wheel cache"
        )
        parser.add_argument("--python-version", default="3.12", help="the GPU machine's Python")
        parser.add_argument("--model", default=SEGMENT_RECIPE["model_yaml"])
        parser.add_argument("--epochs", type=int, default=SEGMENT_RECIPE["epochs"])
        parser.add_argument("--imgsz", type=int, default=SEGMENT_RECIPE["imgsz"])
        parser.add_argument("--batch", type=int, default=SEGMENT_RECIPE["batch"])
        parser.add_argument("--seed", type=int, default=SEGMENT_RECIPE["seed"])
        parser.add_argument("--quality", type=int, default=WEBP_QUALITY, help="WebP quality of the packed photos")
        parser.add_argument("--flat-per-folder", type=int, default=100)
        parser.add_argument("--limit", type=int, default=None, help="at most N photos per source and split (tests)")

    def handle(self, *args, **options):
        from recommender.vision.detector_gpu import PackTooLarge, download_wheels, pack_detector_run
        from recommender.vision.detector_seg_dataset import build_seg_dataset
        from recommender.vision.detector_training import SEGMENT_RECIPE, is_segment_model
        from recommender.vision.gpu_travel import TRAVEL_LIMIT_BYTES, travel_report

        if options["imgsz"] % 32:
            raise CommandError("--imgsz must be a multiple of 32")
        if not 1 <= options["quality"] <= 100:
            raise CommandError("--quality is 1..100")
        if not is_segment_model(options["model"]):
            raise CommandError("the GPU pack holds the segmenting recipe: --model must be a *-seg.yaml")
        data_yaml = build_seg_dataset(
            options["cache"],
            ccp_dir=Path(settings.FASHIONREC_CCP_DATASET),
            catalog_dir=Path(settings.FASHIONREC_DATASET),
            imgsz=options["imgsz"],
            flat_per_folder=options["flat_per_folder"],
            limit=options["limit"],
            progress=self.stdout.write,
        )
        wheels = download_wheels(options["wheels"], python_version=options["python_version"])
        recipe = {
            **SEGMENT_RECIPE,
            "model_yaml": options["model"],
            "epochs": options["epochs"],
            "batch": options["batch"],
            "seed": options["seed"],
            "flat_per_folder": options["flat_per_folder"],
            "limit": options["limit"],
            "evaluate_flat": False,  # the catalog is not on the GPU machine
        }
        recipe.pop("imgsz")
        try:
            manifest = pack_detector_run(
                options["output"],
                data_yaml=data_yaml,
                wheels=wheels,
                recipe=recipe,
                imgsz=options["imgsz"],
                quality=options["quality"],
            )
        except PackTooLarge as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"packed {options['output']} ({manifest['bytes'] / 2**20:.1f} MiB): {manifest['images']} images, "
                f"wheels {', '.join(manifest['wheels'])}"
            )
        )
        # The checkout travels with the pack (the committed models count): say whether a run call can carry it.
        sizes, report = travel_report(Path(settings.BASE_DIR), [options["output"]])
        style = self.style.SUCCESS if sizes["total"] <= TRAVEL_LIMIT_BYTES else self.style.WARNING
        self.stdout.write(style(report))
