"""Which garments of a photo are encoded: indices into ``ImageAnalysis.garments``, or every one.

A catalog photo's garments are all encoded (ingest then stores the product's own as rows,
``services.ingest.garment_is_products_own``); a shopper's query needs one
garment's embedding (the main one, listed first, or the one picked), so the others are only
encoded when asked for. Apart from the pipeline (which brings torch), so that the analysis
cache and the services can name a choice without loading the models.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

EVERY_GARMENT = "all"
MAIN_GARMENT = (0,)  # the main garment is first (``main_garment.main_first``)
# Indices past the last garment are ignored: the caller reports the index it was asked for.
GarmentIndices = Collection[int] | Literal["all"]


def chosen_indices(indices: GarmentIndices, count: int) -> list[int]:
    """The garment indices ``indices`` names among ``count`` garments, ascending, each once."""
    if indices == EVERY_GARMENT:
        return list(range(count))
    return sorted(i for i in set(indices) if 0 <= i < count)
