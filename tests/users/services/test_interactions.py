"""users.services.interactions: recording an interaction and what it teaches the taste vectors."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.models import Garment
from tests.factories import garment_create, product_create, unit_vector
from users.models import Interaction, UserPreference
from users.services.interactions import interaction_record

pytestmark = pytest.mark.django_db


def test_a_first_like_makes_the_taste_vector_the_products_embedding(shopper, encoder):
    # given
    product = product_create()
    garment_create(product, seed=4)

    # when
    interaction, learned = interaction_record(user=shopper, product_id=product.pk, kind="like")

    # then
    assert learned is True and interaction.kind == "like" and interaction.product_id == product.pk
    preference = UserPreference.objects.get(user=shopper)
    assert np.allclose(np.asarray(preference.taste_vector), unit_vector(4), atol=1e-6)
    assert preference.taste_weight == 1.0 and preference.encoder_version == encoder.name


def test_vectors_of_another_encoder_version_are_started_afresh(shopper, encoder):
    # given vectors learnt in the space of an older encoder
    UserPreference.objects.create(
        user=shopper,
        taste_vector=unit_vector(7),
        taste_weight=5.0,
        dislike_vector=unit_vector(8),
        dislike_weight=3.0,
        encoder_version="an-older-encoder",
    )
    product = product_create()
    garment_create(product, seed=9)

    # when
    interaction_record(user=shopper, product_id=product.pk, kind="purchase")

    # then nothing of the old space is mixed in
    preference = UserPreference.objects.get(user=shopper)
    assert preference.encoder_version == encoder.name
    assert np.allclose(np.asarray(preference.taste_vector), unit_vector(9), atol=1e-6)
    assert preference.taste_weight == 2.0  # a purchase's weight
    assert preference.dislike_vector is None and preference.dislike_weight == 0.0


def test_a_product_without_an_embedding_is_recorded_but_teaches_nothing(shopper, encoder):
    # given a product not indexed yet
    product = product_create()

    # when
    _, learned = interaction_record(user=shopper, product_id=product.pk, kind="like")

    # then
    assert learned is False
    assert Interaction.objects.filter(user=shopper, product=product, kind="like").exists()
    assert not UserPreference.objects.exists()


def test_opposite_likes_leave_a_unit_taste_vector_not_a_zero_one(shopper, encoder):
    # given two products whose garments point in opposite directions
    first, second = product_create(), product_create()
    garment_create(first, seed=3)
    opposite = garment_create(second, seed=3)
    Garment.objects.filter(pk=opposite.pk).update(embedding=(-np.asarray(unit_vector(3))).tolist())

    # when both are liked: their mean is the zero vector, whose cosine is undefined
    interaction_record(user=shopper, product_id=first.pk, kind="like")
    interaction_record(user=shopper, product_id=second.pk, kind="like")

    # then the stored vector is still finite and unit-length (the newest product's direction)
    taste = np.asarray(UserPreference.objects.get(user=shopper).taste_vector)
    assert np.all(np.isfinite(taste))
    assert np.linalg.norm(taste) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(taste, -np.asarray(unit_vector(3)), atol=1e-6)


def test_the_weight_of_each_kind_comes_from_the_settings(shopper, encoder, settings):
    # given views configured to teach (they do not by default)
    settings.FASHIONREC_INTERACTION_WEIGHTS = {**settings.FASHIONREC_INTERACTION_WEIGHTS, "view": 0.5}
    product = product_create()
    garment_create(product, seed=6)

    # when
    _, learned = interaction_record(user=shopper, product_id=product.pk, kind="view")

    # then
    assert learned is True
    assert UserPreference.objects.get(user=shopper).taste_weight == 0.5
