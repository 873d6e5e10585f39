"""Train the garment detector: `manage.py train_detector [--model M] [--epochs N] [--minutes M] [--resume]`.

The street-photo recipe (issue 15, `detector_training.SEGMENT_RECIPE`): `--model yolov8n-seg.yaml --epochs 150
--imgsz 320 --batch 16 --nominal-batch 64 --warmup-epochs 3 --optimizer AdamW --lr0 0.000769 --close-mosaic 10`,
run in sessions of `--minutes` and continued with `--resume`.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.selectors import clothing_folder_kinds
from recommender.services.corrections import detector_training_labels
from recommender.vision.taxonomy import flat_lay_garments


class Command(BaseCommand):
    help = (
        "Train the YOLO garment detector from its model definition on CCP photos (boxes derived from their "
        "per-pixel labels) plus flat-lay catalog photos, into a versioned run folder with per-class metrics."
    )

    def add_arguments(self, parser):
        parser.add_argument("--epochs", type=int, default=12)
        parser.add_argument(
            "--hours", type=float, default=None, help="wall-clock budget; re-plans epochs and schedule each epoch"
        )
        parser.add_argument("--close-mosaic", type=int, default=3, help="last N epochs without mosaic augmentation")
        parser.add_argument("--imgsz", type=int, default=320, help="train/eval image size, multiple of 32")
        parser.add_argument("--batch", type=int, default=16)
        parser.add_argument(
            "--minutes",
            type=float,
            default=None,
            help="budget of this invocation: stop at an epoch boundary with a resumable last.pt (schedule unchanged)",
        )
        parser.add_argument("--device", default="cpu", help="cpu, cuda or a CUDA index such as 0 (also on --resume)")
        parser.add_argument("--optimizer", default=None, help="SGD, AdamW… (default: ultralytics' auto choice)")
        parser.add_argument("--lr0", type=float, default=None, help="initial learning rate (default: the optimizer's)")
        parser.add_argument("--patience", type=int, default=0, help="early-stopping patience in epochs (0: off)")
        parser.add_argument(
            "--nominal-batch", type=int, default=16, help="gradients accumulate to this many images per optimizer step"
        )
        parser.add_argument("--warmup-epochs", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--model",
            default="yolov8-narrow",
            help=(
                "yolov8-narrow (YOLOv8n at half width), an ultralytics detection YAML such as yolov8n.yaml, "
                "or a segmentation YAML such as yolov8n-seg.yaml (trained on CCP outlines, validated on the "
                "selection split)"
            ),
        )
        parser.add_argument("--flat-per-folder", type=int, default=100, help="catalog train photos per folder")
        parser.add_argument("--limit", type=int, default=None, help="at most N photos per source and split (tiny runs)")
        parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
        parser.add_argument(
            "--output", type=Path, default=Path(settings.DATA_DIR) / "detector-runs", help="runs go to OUTPUT/vNNN/"
        )
        parser.add_argument("--cache", type=Path, default=Path(settings.DATA_DIR) / "cache", help="dataset cache")
        parser.add_argument(
            "--resume",
            nargs="?",
            const="latest",
            default=None,
            help="resume the latest unfinished run under --output, or the given run folder",
        )
        parser.add_argument(
            "--install",
            action="store_true",
            help="copy the finished weights and metrics to the folder of FASHIONREC_DETECTOR_WEIGHTS",
        )
        parser.add_argument("--no-flat-eval", action="store_true", help="skip the flat-lay label accuracy check")
        parser.add_argument(
            "--no-staff-labels", action="store_true", help="leave out the boxes staff corrected in admin"
        )
        parser.add_argument(
            "--no-catalog-kinds",
            action="store_true",
            help="label the flat-lay folders with the built-in folder table, not their catalog categories' kinds",
        )

    def handle(self, *args, **options):
        import torch

        from recommender.vision.detector_training import (
            TrainConfig,
            install_run,
            latest_unfinished_run,
            train_detector,
        )

        if options["threads"]:
            torch.set_num_threads(options["threads"])
        if options["imgsz"] % 32:
            raise CommandError("--imgsz must be a multiple of 32")
        resume = None
        if options["resume"] == "latest":
            resume = latest_unfinished_run(options["output"])
            if resume is None:
                raise CommandError(f"no unfinished run with weights/last.pt under {options['output']}")
        elif options["resume"]:
            resume = Path(options["resume"])
        config = TrainConfig(
            output_dir=options["output"],
            ccp_dir=Path(settings.FASHIONREC_CCP_DATASET),
            catalog_dir=Path(settings.FASHIONREC_DATASET),
            cache_dir=options["cache"],
            model_yaml=options["model"],
            epochs=options["epochs"],
            imgsz=options["imgsz"],
            batch=options["batch"],
            seed=options["seed"],
            flat_per_folder=options["flat_per_folder"],
            limit=options["limit"],
            # a resumed run keeps the data it started with
            staff_labels=None if options["no_staff_labels"] or resume else staff_labels(),
            # the flat-lay folders' classes follow their catalog categories' kinds (issue 18)
            folder_garments=None
            if options["no_catalog_kinds"] or resume
            else flat_lay_garments(clothing_folder_kinds()),
            close_mosaic=options["close_mosaic"],
            hours=options["hours"],
            minutes=options["minutes"],
            device=options["device"],
            optimizer=options["optimizer"],
            lr0=options["lr0"],
            patience=options["patience"],
            nominal_batch=options["nominal_batch"],
            warmup_epochs=options["warmup_epochs"],
            evaluate_flat=not options["no_flat_eval"],
        )

        def progress(message: str) -> None:
            self.stdout.write(message)
            self.stdout.flush()

        run_dir = train_detector(config, resume=resume, progress=progress)
        if not (run_dir / "detector.pt").exists():
            self.stdout.write(self.style.SUCCESS(f"run: {run_dir} paused; continue with --resume {run_dir}"))
            return
        self.stdout.write(self.style.SUCCESS(f"run: {run_dir}  weights: {run_dir / 'detector.pt'}"))
        if options["install"]:
            target = install_run(run_dir, Path(settings.FASHIONREC_DETECTOR_WEIGHTS).parent)
            self.stdout.write(self.style.SUCCESS(f"installed {target}"))


def staff_labels() -> dict[str, list[tuple[str, tuple[int, int, int, int]]]]:
    """The boxes staff corrected in admin, grouped by image file (kept as detector training data)."""
    grouped: dict[str, list[tuple[str, tuple[int, int, int, int]]]] = {}
    for label in detector_training_labels():
        grouped.setdefault(str(label.image_path), []).append((label.label, tuple(label.box)))
    return grouped
