"""Training data of encoder v2: catalog photos and worn garments cropped from CCP street photos.

Two sources, one label space:

- **flat-lay**: every photo of the catalog dataset's ``train/`` split (clothing-small, CC0), its
  folder as the category, a rough foreground mask (``simple_foreground``) for background swaps;
- **worn**: every garment of the CCP training photos (Apache-2.0) that has a catalog kind, boxed
  by the detector's ground-truth rule (``detector_data.boxes_from_label_map``), its category the
  catalog folder its majority CCP label maps to (``CCP_TO_CATEGORY``), its mask the garment's own
  pixels. CCP photos whose number is a multiple of 7 are the report split and never read here.

Every sample has a *kind* (the detector's coarse garment classes without ``bag``) and, where the
catalog has one, a *category* (the clothing-small folder). Garments whose CCP label has no
catalog category (a tank "top", a romper) still teach the kind.

The **selection split** (``is_selection``, 10% of each source by a hash of the file name) is
held out of training for checkpoint and recipe choices; the catalog's ``validation/`` split is
never read by anything in this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from recommender.vision.detector_data import boxes_from_label_map, ccp_label_names, is_ccp_holdout
from recommender.vision.encoder_eval import limited_round_robin, list_split
from recommender.vision.preprocess import resize_exact
from recommender.vision.taxonomy import (
    BAG,
    CATALOG_FOLDER_TO_GARMENT,
    CCP_TO_GARMENT,
    GARMENT_CLASSES,
)

# The kinds a shopper searches by (the detector's classes; bags are not catalog items here).
KINDS: tuple[str, ...] = tuple(g for g in GARMENT_CLASSES if g != BAG)

# CCP label -> clothing-small folder, where the catalog sells that garment. Decisions beyond the
# issue's list: a cardigan, cape or suit jacket is worn open over a top, which is what the
# catalog's "outwear" folder holds (the detector's taxonomy boxes them as outerwear too);
# CCP's "top" (mostly tanks and camisoles), "vest" (sleeveless tops) and "bodysuit" fall between
# t-shirt and shirt, and a "romper" is neither a dress nor shorts: these keep only their kind.
CCP_TO_CATEGORY: dict[str, str | None] = {
    "t-shirt": "t-shirt",
    "blouse": "shirt",
    "shirt": "shirt",
    "sweater": "longsleeve",
    "jumper": "longsleeve",
    "hoodie": "longsleeve",
    "sweatshirt": "longsleeve",
    "coat": "outwear",
    "jacket": "outwear",
    "blazer": "outwear",
    "cardigan": "outwear",
    "cape": "outwear",
    "suit": "outwear",
    "jeans": "pants",
    "pants": "pants",
    "leggings": "pants",
    "skirt": "skirt",
    "shorts": "shorts",
    "hat": "hat",
    "dress": "dress",
    "romper": None,
    "top": None,
    "vest": None,
    "bodysuit": None,
    **{name: "shoes" for name, garment in CCP_TO_GARMENT.items() if garment == "shoes"},
}

SELECTION_MODULUS = 10
# Worn crops are cached with this margin around the box (share of its width/height per side), so
# augmentation can jitter the box the way a detector misplaces it without running out of pixels.
WORN_MARGIN = 0.2


def is_selection(name: str) -> bool:
    """The selection split: 10% of the training files, fixed by a hash of the file's name."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % SELECTION_MODULUS == 0


@dataclass(frozen=True)
class WornGarment:
    kind: str
    category: str | None
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive) in photo pixels
    mask: np.ndarray  # bool (y2 - y1, x2 - x1): the garment's own pixels inside the box


def worn_garments(label_map: np.ndarray, label_names: list[str]) -> list[WornGarment]:
    """The garments of one CCP photo with a catalog kind, boxed by the detector's rule.

    A box's category is the one its most frequent CCP label (among the pixels of its kind inside
    the box) maps to: a grey sweater with a t-shirt collar showing is a longsleeve.
    """
    garments = []
    for garment_box in boxes_from_label_map(label_map, label_names):
        if garment_box.garment not in KINDS:
            continue
        x1, y1, x2, y2 = garment_box.box
        window = label_map[y1:y2, x1:x2]
        ids = [i for i, name in enumerate(label_names) if CCP_TO_GARMENT.get(name) == garment_box.garment]
        mask = np.isin(window, ids)
        counts = np.bincount(window[mask].ravel(), minlength=len(label_names))
        majority = label_names[int(counts.argmax())]
        garments.append(WornGarment(garment_box.garment, CCP_TO_CATEGORY.get(majority), garment_box.box, mask))
    return garments


def simple_foreground(array: np.ndarray, *, threshold: float = 40.0) -> np.ndarray:
    """A rough garment mask of a flat-lay photo: pixels far in colour from the photo's border.

    Catalog photos show one garment on a plain floor, bed or wall, so the median border colour is
    the background. Good enough to swap backgrounds in augmentation (GrabCut did not improve
    retrieval, measured notes); a mask covering almost nothing or almost everything is replaced
    by "everything is garment", which leaves that photo's background untouched.
    """
    pixels = array.astype(np.float32)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    distance = np.linalg.norm(pixels - np.median(border, axis=0), axis=2)
    mask = distance > threshold
    if not 0.08 < mask.mean() < 0.95:
        return np.ones(mask.shape, dtype=bool)
    return mask


@dataclass
class EncoderData:
    """Everything training needs, decoded once. Index i describes one sample in every array."""

    aug: np.ndarray  # uint8 (n, 3, A, A): flat photo, or worn box with WORN_MARGIN context
    masks: np.ndarray  # uint8 (n, 1, A, A): 1 = garment pixel
    inner: np.ndarray  # float32 (n, 4): the garment box in aug's [-1, 1] coordinates (x1, y1, x2, y2)
    eval: np.ndarray  # uint8 (n, 3, S, S): exactly what the encoder sees at inference (box crop)
    kinds: np.ndarray  # int64 (n,): index into KINDS
    categories: np.ndarray  # int64 (n,): index into class_names, -1 where the catalog has none
    worn: np.ndarray  # bool (n,): from a CCP street photo
    selection: np.ndarray  # bool (n,): in the selection split (never trained on)
    class_names: list[str]
    names: list[str]  # "flat/<folder>/<file>" or "ccp/<photo>/<kind>/<box>"

    def subset(self, keep: np.ndarray) -> EncoderData:
        return EncoderData(
            aug=self.aug[keep],
            masks=self.masks[keep],
            inner=self.inner[keep],
            eval=self.eval[keep],
            kinds=self.kinds[keep],
            categories=self.categories[keep],
            worn=self.worn[keep],
            selection=self.selection[keep],
            class_names=self.class_names,
            names=[n for n, k in zip(self.names, keep, strict=True) if k],
        )


def _square(image: Image.Image, size: int) -> np.ndarray:
    return np.asarray(resize_exact(image, size), dtype=np.uint8).transpose(2, 0, 1)


def build_encoder_data(
    catalog_dir: Path,
    ccp_dir: Path | None,
    *,
    aug_size: int,
    eval_size: int,
    limit: int | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> EncoderData:
    """Decode the flat-lay ``train/`` photos and the CCP training garments (``limit``: first N of each)."""
    # Imported here, not with the module: importing the package ``fashionrec`` starts the Celery
    # app (Django, Celery, pillow-heif), none of which a lent GPU machine has. There the data
    # comes decoded in a pack (``encoder_gpu``), and this module is read for its types alone.
    from fashionrec.imaging import load_image

    paths, labels, class_names = list_split(catalog_dir, "train")
    paths, labels = limited_round_robin(paths, labels, limit)
    aug, masks, inner, evals, kinds, categories, worn, selection, names = ([] for _ in range(9))
    for count, (path, label) in enumerate(zip(paths, labels, strict=True), 1):
        image = load_image(path)
        small = _square(image, aug_size)
        aug.append(small)
        masks.append(simple_foreground(small.transpose(1, 2, 0))[None].astype(np.uint8))
        inner.append((-1.0, -1.0, 1.0, 1.0))
        evals.append(_square(image, eval_size))
        kinds.append(KINDS.index(CATALOG_FOLDER_TO_GARMENT[class_names[label]]))
        categories.append(label)
        worn.append(False)
        selection.append(is_selection(path.name))
        names.append(f"flat/{path.parent.name}/{path.name}")
        if count % 500 == 0 or count == len(paths):
            progress(f"flat-lay: decoded {count}/{len(paths)} photos")

    if ccp_dir is not None:
        label_names = ccp_label_names(ccp_dir)
        labelled = Path(ccp_dir) / "annotations" / "pixel-level"
        photos = [
            p
            for p in sorted((Path(ccp_dir) / "photos").glob("*.jpg"))
            if not is_ccp_holdout(int(p.stem)) and (labelled / f"{p.stem}.mat").exists()
        ][:limit]
        for count, photo in enumerate(photos, 1):
            image = load_image(photo)
            label_map = scipy.io.loadmat(str(labelled / f"{photo.stem}.mat"))["groundtruth"]
            if label_map.shape != (image.height, image.width):
                raise ValueError(f"{photo}: label map {label_map.shape} does not match photo {image.size}")
            full_mask = np.zeros(label_map.shape, dtype=np.uint8)
            for garment in worn_garments(label_map, label_names):
                x1, y1, x2, y2 = garment.box
                full_mask[:] = 0
                full_mask[y1:y2, x1:x2] = garment.mask
                mx, my = WORN_MARGIN * (x2 - x1), WORN_MARGIN * (y2 - y1)
                ox1, oy1 = max(0, round(x1 - mx)), max(0, round(y1 - my))
                ox2, oy2 = min(image.width, round(x2 + mx)), min(image.height, round(y2 + my))
                outer = image.crop((ox1, oy1, ox2, oy2))
                aug.append(_square(outer, aug_size))
                mask_image = Image.fromarray(full_mask[oy1:oy2, ox1:ox2] * 255)
                masks.append((np.asarray(resize_exact(mask_image, aug_size)) > 127)[None].astype(np.uint8))
                w, h = ox2 - ox1, oy2 - oy1
                inner.append(
                    (2 * (x1 - ox1) / w - 1, 2 * (y1 - oy1) / h - 1, 2 * (x2 - ox1) / w - 1, 2 * (y2 - oy1) / h - 1)
                )
                evals.append(_square(image.crop(garment.box), eval_size))
                kinds.append(KINDS.index(garment.kind))
                categories.append(class_names.index(garment.category) if garment.category in class_names else -1)
                worn.append(True)
                selection.append(is_selection(photo.name))
                names.append(f"ccp/{photo.stem}/{garment.kind}/{','.join(map(str, garment.box))}")
            if count % 100 == 0 or count == len(photos):
                progress(f"worn: decoded {count}/{len(photos)} street photos")

    return EncoderData(
        aug=np.stack(aug),
        masks=np.stack(masks),
        inner=np.asarray(inner, dtype=np.float32),
        eval=np.stack(evals),
        kinds=np.asarray(kinds, dtype=np.int64),
        categories=np.asarray(categories, dtype=np.int64),
        worn=np.asarray(worn, dtype=bool),
        selection=np.asarray(selection, dtype=bool),
        class_names=class_names,
        names=names,
    )
