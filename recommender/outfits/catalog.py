"""The outfit model's bridge to Django: catalog colour names and the process-wide model.

The rest of ``recommender.outfits`` is pure; this module is where settings and the catalog's
colour vocabulary come in, so the colour bins the model learns are the catalog's own colour
names (``catalog.models.products.Colour``, named by ``catalog_import.colour_names``) and the
recommend SQL can look a product's colour up in the harmony table.
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

from catalog.models.products import Colour
from catalog.services.catalog_import import colour_names
from recommender.outfits.model import OutfitModel

# "multi" is a catalog label for patterned products, never a pixel's colour.
COLOUR_BINS: tuple[str, ...] = tuple(c for c in Colour.values if c != Colour.MULTI)
colour_namer = colour_names

_loaded: tuple[str, OutfitModel] | None = None  # (folder, model)
_lock = threading.Lock()


def get_outfit_model() -> OutfitModel:
    """The model at ``FASHIONREC_OUTFIT_MODEL``, loaded once per process and folder (raises
    FileNotFoundError / ValueError for a missing or foreign folder)."""
    global _loaded
    folder = str(settings.FASHIONREC_OUTFIT_MODEL)
    loaded = _loaded
    if loaded is None or loaded[0] != folder:
        with _lock:
            if _loaded is None or _loaded[0] != folder:
                _loaded = (folder, OutfitModel.load(Path(folder)))
            loaded = _loaded
    return loaded[1]


def reset_outfit_model() -> None:
    """Forget the loaded model (tests that rewrite a model folder in place)."""
    global _loaded
    with _lock:
        _loaded = None
