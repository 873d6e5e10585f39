"""The garment kinds a category's products are, and the names a kind is guessed from.

Declared once here: the category field's choices (``Category.garment_kind``), the CSV import's
``garment_kind`` column, the API and the vision library's garment classes
(``recommender.vision.taxonomy`` imports these names) all come from this module. Pure Python,
no Django, so the vision library can import it and stay Django-free.

A kind is what a detector box and a shopper's "search this garment" are about: the layer of an
outfit, not its style (see ``recommender/vision/taxonomy.py`` for why these nine). ``none`` is a
category whose products are not one of them (jewellery, socks, gift cards).

``KIND_GUESSES`` is the documented list (docs/onboarding.md, "Categories and kinds") that a new
category's kind is guessed from when nobody set one: the import, the API and admin use it for a
category they create, and migration ``catalog/0005`` used it to fill the existing ones.
"""

from __future__ import annotations

import re

TOP = "top"
OUTERWEAR = "outerwear"
DRESS = "dress"
TROUSERS = "trousers"
SKIRT = "skirt"
SHORTS = "shorts"
SHOES = "shoes"
HAT = "hat"
BAG = "bag"
NONE = "none"

# The garment kinds in the shipped detector's class order (its YOLO class index; never reorder).
GARMENTS: tuple[str, ...] = (TOP, OUTERWEAR, DRESS, TROUSERS, SKIRT, SHORTS, SHOES, HAT, BAG)
# What a category may say it is. "" on a category (not listed here) means: inherit from the parent.
KINDS: tuple[str, ...] = (*GARMENTS, NONE)
KIND_LABELS: dict[str, str] = {kind: kind.capitalize() for kind in KINDS} | {NONE: "None (not a garment kind)"}

# Singular names (lower case) -> kind. A category name is matched whole first, then by its last
# word (English puts the head noun last: "Summer dresses", "Slim-fit jeans"), each as written and
# with a plural "s"/"es" removed. Names not listed ("Clothing", "Bottoms", "Sale") guess nothing,
# so the category inherits its parent's kind.
KIND_GUESSES: dict[str, str] = {
    # tops: the innermost visible upper layer
    **dict.fromkeys(
        (
            "top",
            "t-shirt",
            "tshirt",
            "tee",
            "shirt",
            "blouse",
            "long sleeve",
            "longsleeve",
            "polo",
            "tank",
            "tank top",
            "camisole",
            "sweater",
            "jumper",
            "pullover",
            "hoodie",
            "sweatshirt",
            "knitwear",
            "tunic",
            "bodysuit",
            "crop top",
        ),
        TOP,
    ),
    # outerwear: worn open over another layer
    **dict.fromkeys(
        (
            "outerwear",
            "outwear",
            "jacket",
            "coat",
            "blazer",
            "parka",
            "cardigan",
            "anorak",
            "gilet",
            "raincoat",
            "trench",
            "trench coat",
            "windbreaker",
            "cape",
            "poncho",
        ),
        OUTERWEAR,
    ),
    **dict.fromkeys(("dress", "jumpsuit", "romper", "playsuit", "gown"), DRESS),
    **dict.fromkeys(
        ("trousers", "pants", "jeans", "chinos", "leggings", "joggers", "sweatpants", "slacks", "cargo pants"),
        TROUSERS,
    ),
    **dict.fromkeys(("skirt", "miniskirt", "midi skirt", "maxi skirt"), SKIRT),
    **dict.fromkeys(("shorts", "bermudas", "bermuda shorts"), SHORTS),
    **dict.fromkeys(
        (
            "shoes",
            "shoe",
            "footwear",
            "sneaker",
            "trainer",
            "boot",
            "sandal",
            "heel",
            "pump",
            "loafer",
            "flat",
            "slipper",
            "espadrille",
            "mule",
            "clog",
        ),
        SHOES,
    ),
    **dict.fromkeys(("hat", "cap", "beanie", "beret", "headwear"), HAT),
    **dict.fromkeys(("bag", "handbag", "purse", "backpack", "tote", "clutch", "shopper"), BAG),
    # sold, but not a garment kind the detector or complete-the-look knows
    **dict.fromkeys(
        (
            "accessories",
            "accessory",
            "jewellery",
            "jewelry",
            "necklace",
            "earring",
            "bracelet",
            "ring",
            "watch",
            "belt",
            "scarf",
            "scarves",
            "glove",
            "sock",
            "tights",
            "sunglasses",
            "glasses",
            "swimwear",
            "underwear",
            "lingerie",
            "bra",
            "gift card",
        ),
        NONE,
    ),
}


def kind_guess(name: str) -> str | None:
    """The kind ``KIND_GUESSES`` gives a category called ``name``, or None when it says nothing."""
    words = re.sub(r"[\s_/&,+]+", " ", name.strip().lower()).split()
    if not words:
        return None
    for candidate in (" ".join(words), words[-1]):
        for form in _singular_forms(candidate):
            if form in KIND_GUESSES:
                return KIND_GUESSES[form]
    return None


def kind_parse(value: str) -> str | None:
    """A kind as a person writes it ("Top", " trousers ") -> its code; "" -> ""; None when unknown."""
    code = value.strip().lower()
    if code == "":
        return ""
    return code if code in KINDS else None


def _singular_forms(text: str) -> tuple[str, ...]:
    forms = [text]
    if text.endswith("es"):
        forms.append(text[:-2])
    if text.endswith("s"):
        forms.append(text[:-1])
    return tuple(forms)
