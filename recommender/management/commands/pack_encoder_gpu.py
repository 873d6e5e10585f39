"""Pack encoder v2's training data for a GPU machine: `manage.py pack_encoder_gpu [--output gpu-pack]`.

Then, on the GPU machine: `python -m recommender.vision.encoder_gpu --pack gpu-pack --out OUT --minutes 8`.

A command of its own rather than a part of `pack_detector_gpu`: the two packs are rebuilt on their
own occasions (a new encoder recipe needs no new detector photos nor the wheel downloads), and
each writes only its own part of the one pack folder a `run` call carries.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Write gpu-pack/encoder/: the street recipe's training and selection samples (clothing-small train/, "
        "CCP training garments; never the report splits) as WebP at the augmentation size, masks, labels."
    )

    def add_arguments(self, parser):
        from recommender.vision.encoder_gpu import DEFAULT_QUALITY, GPU_DEFAULTS

        parser.add_argument("--output", type=Path, default=Path(settings.BASE_DIR) / "gpu-pack")
        parser.add_argument("--dataset", type=Path, default=Path(settings.FASHIONREC_DATASET))
        parser.add_argument("--ccp", type=Path, default=Path(settings.FASHIONREC_CCP_DATASET))
        parser.add_argument("--cache", type=Path, default=Path(settings.DATA_DIR) / "cache", help="decoded data")
        parser.add_argument(
            "--image-size",
            type=int,
            default=GPU_DEFAULTS["image_size"],
            help="largest encoder input the pack serves (images packed at 8/7 of it, for random crops)",
        )
        parser.add_argument("--quality", type=int, default=DEFAULT_QUALITY, help="WebP quality of the images")
        parser.add_argument("--limit", type=int, default=None, help="first N photos per source (tests)")
        parser.add_argument(
            "--max-total-mib",
            type=float,
            default=64.0,
            help="refuse when the checkout + the whole pack folder would exceed this (a run call's limit)",
        )

    def handle(self, *args, **options):
        from recommender.vision.encoder_gpu import PACK_FOLDER, PackTooLarge, pack_encoder_data
        from recommender.vision.encoder_street_training import StreetTrainSettings, load_data
        from recommender.vision.gpu_travel import resume_checkpoints, travel_report, travelling_bytes

        if not (options["dataset"] / "train").is_dir():
            raise CommandError(f"no train/ split in {options['dataset']}")
        if not (options["ccp"] / "annotations" / "pixel-level").is_dir():
            raise CommandError(f"no CCP pixel labels in {options['ccp']}")
        if not 1 <= options["quality"] <= 100:
            raise CommandError("--quality is 1..100")
        size = options["image_size"]
        data = load_data(
            StreetTrainSettings(
                dataset=options["dataset"],
                ccp=options["ccp"],
                output=options["output"],
                image_size=size,
                limit=options["limit"],
                cache_dir=None if str(options["cache"]) == "none" else options["cache"],
            ),
            round(size * 8 / 7),
            self.stdout.write,
        )
        repo = Path(settings.BASE_DIR)
        limit = int(options["max_total_mib"] * 2**20)
        # the checkout and the rest of the pack folder (the detector's part), not an earlier encoder part
        output = Path(options["output"])
        rest = [p for p in output.iterdir() if p.name != PACK_FOLDER] if output.is_dir() else []
        others = travelling_bytes(repo, rest)["total"]
        try:
            manifest = pack_encoder_data(
                options["output"],
                data,
                image_size=size,
                quality=options["quality"],
                limit_bytes=max(0, limit - others),
            )
        except PackTooLarge as error:
            # counted as the files are; a checkpoint not slimmed yet is named with what slimming frees
            fat = [c for c in resume_checkpoints(repo) if c.moment_bytes]
            hint = "".join(
                f"; `manage.py slim_detector_checkpoint {c.path.parent.parent.relative_to(repo)}` "
                f"would free {c.moment_bytes / 2**20:.1f} MiB"
                for c in fat
            )
            raise CommandError(
                f"{error}: with the checkout and the rest of {options['output']} ({others / 2**20:.1f} MiB) a run "
                f"call would exceed its limit; lower --image-size or --quality, or make the checkout smaller{hint}"
            ) from error
        _, report = travel_report(repo, [options["output"]], limit)
        self.stdout.write(report)
        self.stdout.write(
            self.style.SUCCESS(
                f"packed {options['output'] / 'encoder'} ({manifest['bytes'] / 2**20:.1f} MiB): {manifest['samples']}"
            )
        )
