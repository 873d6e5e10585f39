"""Real embeddings of the clothing catalog by the encoder that ships, for the realistic synthetic catalogs.

    .venv/bin/python bench/real_embeddings.py [--dataset DIR] [--augmented 2]

Every photo of both splits goes through the real pipeline (detector, then encoder on each crop,
as ``import_catalog`` does) and keeps the garments ingest stores, the product's own
(``ingest.garment_is_products_own``, with the category's kind guessed from the class name as
``import_catalog`` does): these garment embeddings are **the real catalog**, whose nearest-
neighbour cosines the synthetic catalogs must match. Each garment crop is also encoded again
``--augmented`` times after a random augmentation (a crop of 70-100 % of its box at a random
place, a horizontal flip half the time, brightness and contrast within ±15 %), which shows how the
encoder's vectors vary around one garment photographed a little differently.

Written to ``var/bench/real-embeddings-<encoder version>-own.npz`` (arrays ``real`` (n, dim),
``augmented`` (n x augmented, dim) and ``augmented_of`` (the real row each comes from)); a later
run with the same encoder reuses it. ``bench/recommend.py --vectors realistic`` reads it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 32


def cache_path(data_dir: Path, encoder_version: str) -> Path:
    # "-own": rows as ingest stores them since 2026-12-06 (every detected garment before)
    return data_dir / "bench" / f"real-embeddings-{encoder_version}-own.npz"


def augment(crop, rng):
    from PIL import ImageEnhance, ImageOps

    width, height = crop.size
    scale = rng.uniform(0.7, 1.0)
    # at least 8 px, at most the crop itself (a detector box can be only a few pixels wide)
    w, h = min(width, max(8, int(width * scale))), min(height, max(8, int(height * scale)))
    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    out = crop.crop((x, y, x + w, y + h))
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.85, 1.15))
    return ImageEnhance.Contrast(out).enhance(rng.uniform(0.85, 1.15))


def compute(dataset: Path, augmented: int, seed: int = 5) -> dict[str, np.ndarray]:
    from catalog.garment_kinds import kind_guess
    from fashionrec.imaging import load_image
    from recommender.services.ingest import garment_is_products_own
    from recommender.vision.encoder_eval import list_split
    from recommender.vision.pipeline import get_pipeline

    pipeline = get_pipeline()
    rng = np.random.default_rng(seed)
    paths, kinds = [], []
    for split in ("train", "validation"):
        split_paths, labels, class_names = list_split(dataset, split)
        paths += split_paths
        kinds += [kind_guess(class_names[label]) or "none" for label in labels]
    real, extra, extra_of = [], [], []
    started = time.perf_counter()
    for start in range(0, len(paths), CHUNK):
        images = [load_image(p) for p in paths[start : start + CHUNK]]
        crops = []
        analyses = pipeline.analyse_images(images)
        for image, analysis, kind in zip(images, analyses, kinds[start : start + CHUNK], strict=True):
            for position, garment in enumerate(analysis.garments):
                if not garment_is_products_own(
                    position=position, label=garment.label, is_whole_image=garment.is_whole_image, category_kind=kind
                ):
                    continue
                real.append(garment.embedding)
                crops.append(pipeline._crop(image, garment.box))
        if augmented:
            views = [augment(crop, rng) for crop in crops for _ in range(augmented)]
            extra.append(pipeline.encoder.encode(views))
            first = len(real) - len(crops)
            extra_of += [first + i for i in range(len(crops)) for _ in range(augmented)]
        done = min(start + CHUNK, len(paths))
        if (start // CHUNK) % 10 == 0 or done == len(paths):
            print(
                f"  {done}/{len(paths)} photos, {len(real)} garments, {time.perf_counter() - started:.0f} s", flush=True
            )
    return {
        "real": np.stack(real).astype(np.float32),
        "augmented": np.concatenate(extra).astype(np.float32) if extra else np.zeros((0, len(real[0])), np.float32),
        "augmented_of": np.array(extra_of, dtype=np.int64),
        "encoder_version": np.array(pipeline.encoder_version),
    }


def load_or_compute(dataset: Path, augmented: int = 2) -> dict[str, np.ndarray]:
    from django.conf import settings

    from recommender.vision.pipeline import get_pipeline

    path = cache_path(settings.DATA_DIR, get_pipeline().encoder_version)
    if path.exists():
        return dict(np.load(path))
    arrays = compute(dataset, augmented)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    print(f"wrote {path}")
    return arrays


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionrec.settings")
    import django

    django.setup()
    from django.conf import settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path(settings.FASHIONREC_DATASET))
    parser.add_argument("--augmented", type=int, default=2)
    args = parser.parse_args()
    arrays = load_or_compute(args.dataset, args.augmented)
    print(f"real {arrays['real'].shape}, augmented {arrays['augmented'].shape}, encoder {arrays['encoder_version']}")


if __name__ == "__main__":
    main()
