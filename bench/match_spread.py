"""How far apart the match score puts right and wrong results: raw cosine vs calibrated match.

Catalog = clothing-small ``train/`` (whole photos through the encoder), queries = the first
``--per-category`` ``validation/`` photos of each category; for each query its top ``--k``
catalog photos by cosine (what the similar endpoint ranks on). Printed per query: the range of
the raw cosine (what the demo's "Match %" showed before calibration) and of the calibrated match
(what it shows now), and the mean match of the results of the query's kind vs the others'. The
calibration is the one stored in the weights (``manage.py calibrate_encoder``); fitted on the
training data's selection split, so these validation queries are held out from it.

    .venv/bin/python bench/match_spread.py [--weights models/encoder/encoder.pt] [--per-category 1] [--k 12]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionrec.settings")
    import django

    django.setup()
    from django.conf import settings

    from fashionrec.imaging import load_image
    from recommender.vision.encoder import load_encoder
    from recommender.vision.encoder_data import CATALOG_FOLDER_TO_GARMENT
    from recommender.vision.encoder_eval import list_split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=Path(settings.FASHIONREC_ENCODER_WEIGHTS))
    parser.add_argument("--per-category", type=int, default=1)
    parser.add_argument("--k", type=int, default=12)
    args = parser.parse_args()

    encoder = load_encoder(args.weights)
    if encoder.calibration is None:
        print(f"{encoder.version} has no calibration: run manage.py calibrate_encoder {args.weights} --write")
        return 1
    paths, labels, names = list_split(settings.FASHIONREC_DATASET, "train")
    catalog = np.concatenate(
        [encoder.encode([load_image(p) for p in paths[i : i + 64]]) for i in range(0, len(paths), 64)]
    )
    kinds = np.array([CATALOG_FOLDER_TO_GARMENT[names[label]] for label in labels])
    queries, query_labels, query_names = list_split(settings.FASHIONREC_DATASET, "validation")
    print(f"{encoder.version}: catalog {len(paths)} train photos, top {args.k} per query")
    print("query (category) | cosine min-max | match min-max | match same kind / other kinds (n other)")
    spreads = []
    for category in query_names:
        chosen = [p for p, label in zip(queries, query_labels, strict=True) if query_names[label] == category]
        for path in chosen[: args.per_category]:
            vector = encoder.encode([load_image(path)])[0]
            cosines = catalog @ vector
            top = np.argsort(-cosines, kind="stable")[: args.k]
            match = encoder.calibration(cosines[top])
            same = kinds[top] == CATALOG_FOLDER_TO_GARMENT[category]
            other = f"{match[~same].mean():.2f} ({(~same).sum()})" if (~same).any() else "- (0)"
            mine = f"{match[same].mean():.2f}" if same.any() else "-"
            print(
                f"{path.stem[:8]} ({category}) | {cosines[top].min():.3f}-{cosines[top].max():.3f} | "
                f"{match.min():.2f}-{match.max():.2f} | {mine} / {other}"
            )
            spreads.append((np.ptp(cosines[top]), np.ptp(match)))
    spreads = np.array(spreads)
    print(f"mean top-{args.k} spread: cosine {spreads[:, 0].mean():.3f}, match {spreads[:, 1].mean():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
