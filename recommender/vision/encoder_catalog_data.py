"""A training set drawn from a retailer's own catalog: labels from its category tree, splits by product.

Plain data in, plain data out (no Django): ``recommender.training_selectors`` reads the rows of
the database and hands them here as :class:`CatalogPhoto` values.

- **Label**: the photo's product category, as its materialised path ("clothing/tops/tees"), or
  its ancestor at depth ``level`` (1 = the roots).
- **Merging**: a class with fewer than ``min_per_class`` photos is merged into its parent, deepest
  classes first (so two thin siblings can together make their parent big enough); a root that
  still has too few is dropped, and each drop is reported.
- **Splits, by product** (one product's photos never straddle two splits): within each class the
  products are ordered by a seeded hash of their id; the first ``REPORT_SHARE`` of them (at least
  one) are the *report* split, the next ``SELECTION_SHARE`` (at least one) the *selection* split,
  the rest *train*. A class needs ``MIN_PRODUCTS_TO_SPLIT`` products to give up any: with fewer,
  all its products train. A product keeps its split when the catalog grows, unless its class's
  quota moves past it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fashionrec.imaging import load_image
from recommender.vision.encoder_data import EncoderData, simple_foreground
from recommender.vision.preprocess import resize_exact

TRAIN, SELECTION, REPORT = "train", "selection", "report"
# 20% of each class's products measure the finished model (report), 10% choose checkpoints.
REPORT_SHARE = 0.2
SELECTION_SHARE = 0.1
MIN_PRODUCTS_TO_SPLIT = 3
DEFAULT_MIN_PER_CLASS = 5


@dataclass(frozen=True)
class CatalogPhoto:
    """One product photo as training sees it."""

    path: Path
    product: str  # the product's id, as text: what the split is drawn by
    category: str  # the product category's materialised path, "clothing/tops/tees"


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    product: str
    label: str  # the class: a category path after levelling and merging
    split: str  # TRAIN, SELECTION or REPORT


@dataclass
class CatalogTrainingSet:
    photos: list[LabelledPhoto]
    class_names: list[str]  # sorted category paths
    dropped: dict[str, int]  # root class -> photos left out (too few even after merging)
    merged: dict[str, str]  # original class -> the class it was merged into

    def label_index(self, photo: LabelledPhoto) -> int:
        return self.class_names.index(photo.label)

    def counts(self) -> dict[str, dict[str, int]]:
        """Photos per class and split: {class: {"train": n, "selection": n, "report": n}}."""
        table = {name: {TRAIN: 0, SELECTION: 0, REPORT: 0} for name in self.class_names}
        for photo in self.photos:
            table[photo.label][photo.split] += 1
        return table

    def digest(self) -> str:
        """Identifies the exact photos, labels and splits (a resumed run must see the same)."""
        rows = sorted((str(p.path), p.product, p.label, p.split) for p in self.photos)
        return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def label_at_level(category: str, level: int | None) -> str:
    """The ancestor of ``category`` at depth ``level`` (1 = root); the category itself when
    ``level`` is None or deeper than the category."""
    if level is None:
        return category
    if level < 1:
        raise ValueError("level counts from 1 (the root categories)")
    return "/".join(category.split("/")[:level])


def merge_small_classes(counts: dict[str, int], min_per_class: int) -> tuple[dict[str, str], dict[str, int]]:
    """Map each class (a category path) to the class its photos end up in.

    Returns (mapping for the classes that survive, possibly to an ancestor; dropped roots with
    their photo counts). Deepest classes are merged first, so a parent collects all its thin
    children before it is judged itself.
    """
    totals = Counter(counts)
    target = {name: name for name in counts}
    dropped: dict[str, int] = {}
    deepest = max((name.count("/") for name in totals), default=0)
    for depth in range(deepest, -1, -1):
        # Listed per depth: a parent that only now received photos is judged at its own depth.
        for name in sorted(n for n in totals if n.count("/") == depth):
            total = totals[name]
            if total == 0 or total >= min_per_class:
                continue
            if depth:
                parent = name.rsplit("/", 1)[0]
                totals[parent] += total
            else:
                parent = None
                dropped[name] = total
            totals[name] = 0
            for source, current in target.items():
                if current == name:
                    target[source] = parent
    return {source: current for source, current in target.items() if current is not None}, dropped


def _rank(seed: int, product: str) -> str:
    return hashlib.sha256(f"{seed}:{product}".encode()).hexdigest()


def split_products(products_by_class: dict[str, set[str]], seed: int) -> dict[str, str]:
    """product -> TRAIN / SELECTION / REPORT, drawn per class by a seeded hash (see module docs)."""
    splits: dict[str, str] = {}
    for name in sorted(products_by_class):
        products = sorted(products_by_class[name], key=lambda p: (_rank(seed, p), p))
        report = selection = 0
        if len(products) >= MIN_PRODUCTS_TO_SPLIT:
            report = max(1, round(len(products) * REPORT_SHARE))
            selection = max(1, round(len(products) * SELECTION_SHARE))
        for position, product in enumerate(products):
            splits[product] = REPORT if position < report else SELECTION if position < report + selection else TRAIN
    return splits


def catalog_training_set(
    photos: Iterable[CatalogPhoto],
    *,
    level: int | None = None,
    min_per_class: int = DEFAULT_MIN_PER_CLASS,
    seed: int = 0,
    log: Callable[[str], None] = lambda message: None,
) -> CatalogTrainingSet:
    """Label, merge and split ``photos``; ``log`` hears about every merge and drop."""
    photos = list(photos)
    levelled = [label_at_level(p.category, level) for p in photos]
    mapping, dropped = merge_small_classes(Counter(levelled), min_per_class)
    merged = {source: target for source, target in mapping.items() if source != target}
    for source, target in sorted(merged.items()):
        log(f"class {source!r} has fewer than {min_per_class} photos: merged into {target!r}")
    for name, count in sorted(dropped.items()):
        log(
            f"class {name!r} has {count} photo(s) (thin sub-categories merged in), fewer than {min_per_class}: left out"
        )
    labels = [mapping.get(label) for label in levelled]
    products_by_class: dict[str, set[str]] = {}
    for photo, label in zip(photos, labels, strict=True):
        if label is not None:
            products_by_class.setdefault(label, set()).add(photo.product)
    # A product has one category, hence one label: the per-class draw is a draw by product.
    splits = split_products(products_by_class, seed)
    kept = [
        LabelledPhoto(photo.path, photo.product, label, splits[photo.product])
        for photo, label in zip(photos, labels, strict=True)
        if label is not None
    ]
    kept.sort(key=lambda p: (p.label, p.product, str(p.path)))
    return CatalogTrainingSet(kept, sorted(products_by_class), dropped, merged)


def _square(image: Image.Image, size: int) -> np.ndarray:
    return np.asarray(resize_exact(image, size), dtype=np.uint8).transpose(2, 0, 1)


def build_catalog_encoder_data(
    training_set: CatalogTrainingSet,
    *,
    aug_size: int,
    eval_size: int,
    progress: Callable[[str], None] = lambda message: None,
) -> tuple[EncoderData, np.ndarray]:
    """Decode every photo of the set: (data in encoder v2's layout, report mask).

    All photos are flat-lay catalog photos (``worn`` false) with no garment kind (``kinds`` -1:
    the trainer then leaves the kind head alone); ``selection`` marks the selection split; the
    returned mask marks the report split, which the trainer must not be given.
    """
    photos = training_set.photos
    aug, masks, evals = [], [], []
    for count, photo in enumerate(photos, 1):
        image = load_image(photo.path)
        small = _square(image, aug_size)
        aug.append(small)
        masks.append(simple_foreground(small.transpose(1, 2, 0))[None].astype(np.uint8))
        evals.append(_square(image, eval_size))
        if count % 500 == 0 or count == len(photos):
            progress(f"catalog: decoded {count}/{len(photos)} photos")
    n = len(photos)
    data = EncoderData(
        aug=np.stack(aug),
        masks=np.stack(masks),
        inner=np.tile(np.array([[-1.0, -1.0, 1.0, 1.0]], dtype=np.float32), (n, 1)),
        eval=np.stack(evals),
        kinds=np.full(n, -1, dtype=np.int64),
        categories=np.asarray([training_set.label_index(p) for p in photos], dtype=np.int64),
        worn=np.zeros(n, dtype=bool),
        selection=np.asarray([p.split == SELECTION for p in photos], dtype=bool),
        class_names=list(training_set.class_names),
        names=[f"catalog/{p.product}/{p.path.name}" for p in photos],
    )
    return data, np.asarray([p.split == REPORT for p in photos], dtype=bool)
