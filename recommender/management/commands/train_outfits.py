"""``manage.py train_outfits``: learn the outfit model from the CCP street photos (never the report split)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recommender.outfits import photo_lighting
from recommender.outfits.catalog import COLOUR_BINS, colour_namer
from recommender.outfits.street import CATALOG_KINDS, load_outfits
from recommender.outfits.training import LIGHTING, model_card, train_model
from recommender.vision.detector_seg_dataset import SELECTION, TRAIN


class Command(BaseCommand):
    help = (
        "Train the outfit model (kind co-occurrence, colour harmony, street index of mask-cut garments "
        "encoded by the current encoder) on the CCP train split; choose its weights on the selection "
        "split. Writes OUTPUT/vNNN/ (outfits.npz, model.json, MODEL_CARD.md)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--ccp", type=Path, default=Path(settings.FASHIONREC_CCP_DATASET))
        parser.add_argument("--output", type=Path, default=Path(settings.FASHIONREC_MODELS_DIR) / "outfits")
        parser.add_argument("--name", default=None, help="model folder name (default: the next vNNN)")
        parser.add_argument("--encoder", type=Path, default=Path(settings.FASHIONREC_ENCODER_WEIGHTS))
        parser.add_argument("--limit", type=int, default=None, help="at most N photos (tiny runs)")
        parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        parser.add_argument(
            "--lighting",
            choices=photo_lighting.METHODS,
            default=LIGHTING,
            help=f"how each photo's lighting is taken out of its garments' colours (default {LIGHTING})",
        )

    def handle(self, *args, **options) -> None:
        import torch

        from recommender.vision.encoder import load_encoder

        if options["threads"]:
            torch.set_num_threads(options["threads"])
        ccp: Path = options["ccp"]
        if not (ccp / "photos").is_dir():
            raise CommandError(f"{ccp}: no CCP photos/ folder (set --ccp or FASHIONREC_CCP_DATASET)")
        output: Path = options["output"]
        version = options["name"] or _next_version(output)
        started = time.perf_counter()
        encoder = load_encoder(options["encoder"])
        outfits, _ = load_outfits(
            ccp,
            (TRAIN, SELECTION),
            namer=colour_namer,
            colour_bins=COLOUR_BINS,
            encode=encoder.encode,
            limit=options["limit"],
            progress=self.stdout.write,
        )
        train = [o.garments for o in outfits if o.split == TRAIN and o.garments]
        selection = [o.garments for o in outfits if o.split == SELECTION and o.garments]
        if not train or not selection:
            raise CommandError("need outfits in both the train and the selection split")
        try:
            model, tried = train_model(
                train,
                selection,
                kinds=CATALOG_KINDS,
                colour_bins=COLOUR_BINS,
                encoder_version=encoder.version,
                version=version,
                namer=colour_namer,
                lighting=options["lighting"],
                progress=self.stdout.write,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        model.card.update(
            {
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "command": "python manage.py train_outfits"
                + (f" --limit {options['limit']}" if options["limit"] else "")
                + (f" --lighting {options['lighting']}" if options["lighting"] != LIGHTING else ""),
                "ccp": str(ccp),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        folder = output / version
        model.save(folder)
        (folder / "selection.json").write_text(json.dumps(tried, indent=1) + "\n")
        (folder / "MODEL_CARD.md").write_text(model_card(model, tried))
        self.stdout.write(f"wrote {folder} (selection fitb {model.card['selection_fitb']:.3f})")
        self.stdout.write(
            "to serve it: point FASHIONREC_OUTFIT_MODEL at it, restart, then run `manage.py outfit_colours` "
            "(complete the look reads each catalog garment's colour as this model's palette sees it)"
        )


def _next_version(output: Path) -> str:
    numbers = [int(p.name[1:]) for p in output.glob("v[0-9][0-9][0-9]") if p.is_dir()]
    return f"v{max(numbers, default=0) + 1:03d}"
