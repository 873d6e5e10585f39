"""The garment taxonomy the detector predicts, and how other label sets map onto it.

One small set of garment classes sits between three label sets:

- the 56 clothing classes of the CCP street-fashion photos (the detector's annotated training data),
- the 10 folders of the clothing catalog dataset (what shoppers buy, and the flat-lay training signal),
- the class names of any YOLO weights a user drops in (for example a DeepFashion2 model).

Why these nine classes: a detector box decides which crop gets encoded, and the catalog sells
garments by kind. Finer distinctions inside a kind (t-shirt vs shirt vs longsleeve) are visual
style that the encoder's embedding captures; a detector trained on ~770 photos cannot separate
them reliably, while "top" vs "outerwear" vs "dress" are distinct layers of an outfit that a
shopper wants to search one at a time. `bag` is not a catalog category of the clothing dataset
but a bag or purse is in 612 of the 904 CCP photos; detecting it keeps bags from being boxed as tops.

A retailer's own categories carry their kind as data (``Category.effective_garment_kind``, issue
18): code that knows a photo's category passes the catalog's kinds in (``kinds=`` below, read by
``catalog.selectors``), so this module stays free of Django and the tables here are only the
fallback for names no category covers (the datasets' folders and labels, foreign detectors).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# The kind names are declared once, in the catalog (a plain module: no Django is imported).
from catalog.garment_kinds import BAG, DRESS, GARMENTS, HAT, NONE, OUTERWEAR, SHOES, SHORTS, SKIRT, TOP, TROUSERS

# Order = YOLO class index of the shipped detector; never reorder, only append (retrain after).
GARMENT_CLASSES: tuple[str, ...] = GARMENTS

# Garments that come in pairs: each item is its own box (two shoes = two boxes on a person).
PAIRED_CLASSES: frozenset[str] = frozenset({SHOES})

# CCP class name -> garment class, or None when it is not a catalog garment.
CCP_TO_GARMENT: dict[str, str | None] = {
    # not garments
    "null": None,
    "skin": None,
    "hair": None,
    # tops (worn as the innermost visible upper layer)
    "blouse": TOP,
    "bodysuit": TOP,
    "hoodie": TOP,
    "jumper": TOP,
    "shirt": TOP,
    "sweater": TOP,
    "sweatshirt": TOP,
    "t-shirt": TOP,
    "top": TOP,
    # CCP's "vest" is mostly a sleeveless top or tank, not a waistcoat over a jacket.
    "vest": TOP,
    # outerwear: a layer worn open over another, which the catalog folder "outwear" holds
    "blazer": OUTERWEAR,
    "cape": OUTERWEAR,
    "cardigan": OUTERWEAR,
    "coat": OUTERWEAR,
    "jacket": OUTERWEAR,
    # CCP labels the suit jacket of a suit as "suit"; its trousers are mostly labelled "pants".
    "suit": OUTERWEAR,
    # one-piece garments
    "dress": DRESS,
    "romper": DRESS,
    # legwear sold as trousers
    "jeans": TROUSERS,
    "leggings": TROUSERS,
    "pants": TROUSERS,
    "skirt": SKIRT,
    "shorts": SHORTS,
    # footwear
    "boots": SHOES,
    "clogs": SHOES,
    "flats": SHOES,
    "heels": SHOES,
    "loafers": SHOES,
    "pumps": SHOES,
    "sandals": SHOES,
    "shoes": SHOES,
    "sneakers": SHOES,
    "wedges": SHOES,
    "hat": HAT,
    "bag": BAG,
    "purse": BAG,
    # Dropped: small accessories that are not catalog items and would be a few pixels at
    # imgsz 320 (jewellery, glasses, belts, watches, wallets, ties, gloves), hosiery and
    # underwear that is not sold as a garment here (socks, stockings, tights, bra, panties,
    # intimate, swimwear), and scarves (no catalog category; they also cover the top they
    # are worn over, which would teach the detector to box tops as scarves).
    "accessories": None,
    "belt": None,
    "bra": None,
    "bracelet": None,
    "earrings": None,
    "glasses": None,
    "gloves": None,
    "intimate": None,
    "necklace": None,
    "panties": None,
    "ring": None,
    "scarf": None,
    "socks": None,
    "stockings": None,
    "sunglasses": None,
    "swimwear": None,
    "tie": None,
    "tights": None,
    "wallet": None,
    "watch": None,
}

# Clothing catalog dataset folder -> garment class.
CATALOG_FOLDER_TO_GARMENT: dict[str, str] = {
    "dress": DRESS,
    "hat": HAT,
    "longsleeve": TOP,
    "outwear": OUTERWEAR,
    "pants": TROUSERS,
    "shirt": TOP,
    "shoes": SHOES,
    "shorts": SHORTS,
    "skirt": SKIRT,
    "t-shirt": TOP,
}

# Extra names seen in other public garment detectors (DeepFashion2, ModaNet, Fashionpedia),
# normalised by `_normalise` below; anything else keeps its own name.
_OTHER_NAMES: dict[str, str] = {
    "short_sleeved_shirt": TOP,
    "long_sleeved_shirt": TOP,
    "short_sleeve_top": TOP,
    "long_sleeve_top": TOP,
    "longsleeve": TOP,
    "tshirt": TOP,
    "shirt_blouse": TOP,
    "top_t_shirt_sweatshirt": TOP,
    "sweater": TOP,
    "sling": TOP,
    "short_sleeved_outwear": OUTERWEAR,
    "long_sleeved_outwear": OUTERWEAR,
    "short_sleeve_outwear": OUTERWEAR,
    "long_sleeve_outwear": OUTERWEAR,
    "outwear": OUTERWEAR,
    "outer": OUTERWEAR,
    "coat": OUTERWEAR,
    "jacket": OUTERWEAR,
    "short_sleeved_dress": DRESS,
    "long_sleeved_dress": DRESS,
    "short_sleeve_dress": DRESS,
    "long_sleeve_dress": DRESS,
    "vest_dress": DRESS,
    "sling_dress": DRESS,
    "jumpsuit": DRESS,
    "trousers": TROUSERS,
    "pants": TROUSERS,
    "footwear": SHOES,
    "shoe": SHOES,
    "headwear": HAT,
    "hat": HAT,
    "cap": HAT,
    "handbag": BAG,
    "bag_wallet": BAG,
}


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def garment_for_name(name: str, kinds: Mapping[str, str] | None = None) -> str | None:
    """Map a class name from any label set to a garment class, or None when unknown.

    Known non-garments of CCP (skin, hair, accessories…) also give None; callers that want to keep
    a foreign model's own label when it is unknown use `display_label`. ``kinds`` maps names the
    caller knows better (a catalog category's path or name -> its effective kind, from
    ``catalog.selectors.category_garment_kinds``) and wins over the built-in tables; a category
    of kind ``none`` gives None.
    """
    if kinds and name in kinds:
        kind = kinds[name]
        return kind if kind in GARMENT_CLASSES else None
    if name in GARMENT_CLASSES:
        return name
    key = _normalise(name)
    for table in (CCP_TO_GARMENT, CATALOG_FOLDER_TO_GARMENT, _OTHER_NAMES):
        for source, garment in table.items():
            if _normalise(source) == key:
                return garment
    return None


def display_label(name: str, kinds: Mapping[str, str] | None = None) -> str:
    """The label a detection carries: the garment class when the name maps to one, else the name itself."""
    return garment_for_name(name, kinds) or name


def flat_lay_garments(kinds: Mapping[str, str] | None = None) -> dict[str, str]:
    """Clothing dataset folder -> the garment class its flat-lay photos are boxed and graded as.

    ``kinds`` maps a folder to the effective kind of the catalog category its photos were
    imported into (``catalog.selectors.clothing_folder_kinds``): a retailer who re-files a
    category changes the detector's flat-lay labels with it. Such a folder wins over the built-in
    table; one whose category is of kind ``none`` is left out (nothing in it to box).
    """
    table = dict(CATALOG_FOLDER_TO_GARMENT)
    for folder, kind in (kinds or {}).items():
        if kind in GARMENT_CLASSES:
            table[folder] = kind
        elif kind == NONE:
            table.pop(folder, None)
    return table
