"""The recommender's domain errors (see ``fashionrec.errors``)."""

from __future__ import annotations

from fashionrec.errors import Conflict, InvalidInput, Unavailable


class NotIndexed(Conflict):
    """The product exists but has no garment embedding of the active encoder yet."""

    code = "not_indexed"

    def __init__(self, product_id: int) -> None:
        super().__init__(
            f"Product {product_id} has no garment embeddings for the active encoder yet; try again after indexing."
        )


class NoActiveEncoder(Unavailable):
    code = "no_active_encoder"

    def __init__(self) -> None:
        super().__init__("No encoder version is active yet: the catalog has not been indexed.")


class EncoderSwitching(Unavailable):
    """A query vector from one encoder against an index of another: their spaces differ."""

    code = "encoder_mismatch"

    def __init__(self, query_version: str, active_version: str) -> None:
        super().__init__(
            f"The image encoder ({query_version}) is not the active index version "
            f"({active_version}); the service is switching versions."
        )


class VisionUnavailable(Unavailable):
    code = "vision_unavailable"

    def __init__(self) -> None:
        super().__init__("Image search is not available: the vision models are not installed.")


class GarmentNotDetected(InvalidInput):
    """The photo's detected garments do not include the requested index."""

    def __init__(self, index: int, detected: int) -> None:
        super().__init__(
            f"garment {index} does not exist: {detected} garment(s) detected.",
            details={"garment": [f"Must be below {detected}."]},
        )


class OutfitModelUnavailable(Unavailable):
    code = "outfit_model_unavailable"

    def __init__(self) -> None:
        super().__init__("Outfit recommendations are not available: the outfit model is not installed.")


class OutfitModelMismatch(Unavailable):
    """The outfit model's street index was built with another encoder: its vectors would be noise."""

    code = "outfit_model_mismatch"

    def __init__(self, model_encoder: str, active_version: str) -> None:
        super().__init__(
            f"The outfit model was trained with encoder {model_encoder}, not the active {active_version}; "
            "retrain it (manage.py train_outfits)."
        )
