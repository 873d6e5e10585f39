"""Interactions (like, dislike, add to cart, purchase, view) and the vectors they teach us.

The taste vector is the weighted running mean of the embeddings of the garments a shopper
liked, put in a cart or bought; the dislike vector the same for dislikes. The recommend query
adds ``w_taste x cos(candidate, taste)`` and subtracts ``w_dislike x max(0, cos(candidate,
dislike))`` (settings ``FASHIONREC_RECOMMEND_WEIGHTS``). Weights per kind:
``FASHIONREC_INTERACTION_WEIGHTS`` (views are recorded but teach nothing by default: a
glance says little about taste).

The vectors belong to the encoder version that produced them: when the active version
changes, the next interaction starts them afresh in the new space, and until then the query
ignores them (it compares ``encoder_version``).
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from recommender.selectors import product_query_embedding
from users.models import Interaction, InteractionKind, UserPreference


def _running_mean(current, current_weight: float, new: np.ndarray, weight: float) -> tuple[list[float], float]:
    total = current_weight + weight
    if current is None or current_weight <= 0:
        mean = new
    else:
        mean = (np.asarray(current, dtype=np.float64) * current_weight + new * weight) / total
    norm = np.linalg.norm(mean)
    # Stored unit-length: cosine ignores the length, and a zero vector would make it NaN. The
    # vectors are stored as float32, so interactions that cancel out leave rounding noise of
    # about 1e-7, not zero; normalising that would point the taste at a random direction.
    return (mean / norm if norm > 1e-4 else new).tolist(), total


@transaction.atomic
def interaction_record(*, user: AbstractBaseUser, product_id: int, kind: str) -> tuple[Interaction, bool]:
    """Record the interaction; returns it and whether a taste/dislike vector moved.

    Precondition: the product exists (the API checks it). One context query finds the active
    encoder version and the product's query garment (the same one the similar endpoint uses).
    """
    interaction = Interaction.objects.create(user=user, product_id=product_id, kind=kind)
    weight = float(settings.FASHIONREC_INTERACTION_WEIGHTS.get(kind, 0.0))
    if weight <= 0:
        return interaction, False
    indexed = product_query_embedding(product_id=product_id)
    if indexed is None:
        return interaction, False  # not indexed yet: nothing to learn from
    embedding = np.asarray(np.fromstring(indexed.vector.strip("[]"), sep=","), dtype=np.float64)
    preference, _ = UserPreference.objects.select_for_update().get_or_create(user=user)
    if preference.encoder_version != indexed.encoder_version:
        preference.taste_vector, preference.taste_weight = None, 0.0
        preference.dislike_vector, preference.dislike_weight = None, 0.0
        preference.encoder_version = indexed.encoder_version
    if kind == InteractionKind.DISLIKE:
        preference.dislike_vector, preference.dislike_weight = _running_mean(
            preference.dislike_vector, preference.dislike_weight, embedding, weight
        )
    else:
        preference.taste_vector, preference.taste_weight = _running_mean(
            preference.taste_vector, preference.taste_weight, embedding, weight
        )
    preference.save()
    return interaction, True
