"""Write an ``import_catalog`` CSV of the clothing dataset under a retailer's own category tree.

The demo of training on your catalog (docs/vision.md, "Training on your catalog"): the photos are
the dataset's, the category names are not its folder names, and the tree has two levels. The
images are referenced by absolute path (nothing is copied).

    .venv/bin/python scripts/demo_catalog_csv.py [--per-class 60] [--dataset DIR] > catalog.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# dataset folder -> the retailer's category ("Parent/Child")
CATEGORIES = {
    "t-shirt": "Tops/Tees",
    "shirt": "Tops/Shirts & Blouses",
    "longsleeve": "Tops/Knitwear & Long Sleeves",
    "outwear": "Outerwear/Jackets & Coats",
    "pants": "Bottoms/Trousers",
    "shorts": "Bottoms/Shorts",
    "skirt": "Bottoms/Skirts",
    "dress": "Dresses/Day Dresses",
    "hat": "Accessories/Hats & Caps",
    "shoes": "Footwear/Shoes & Trainers",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "datasets" / "clothing-small")
    parser.add_argument("--split", default="train")
    parser.add_argument("--per-class", type=int, default=60, help="first N photos (sorted by name) of each folder")
    args = parser.parse_args()
    writer = csv.writer(sys.stdout)
    writer.writerow(["sku", "title", "category", "price", "image"])
    for folder, category in CATEGORIES.items():
        paths = sorted((args.dataset / args.split / folder).glob("*.jpg"))[: args.per_class]
        for path in paths:
            title = f"{category.split('/')[-1]} {path.stem[:8]}"
            writer.writerow([f"DEMO-{path.stem[:12]}", title, category, "29.90", str(path.resolve())])


if __name__ == "__main__":
    main()
