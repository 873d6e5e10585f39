"""POST /api/v1/me/interactions/."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.models import Garment
from tests.api.conftest import assert_error
from tests.factories import garment_create, product_create, unit_vector
from users.models import Interaction, UserPreference

pytestmark = pytest.mark.django_db


def test_interactions_need_a_user(client):
    # when / then
    assert client.post("/api/v1/me/interactions/", {}, format="json").status_code in (401, 403)
    assert not Interaction.objects.exists()


def test_likes_move_the_taste_vector_towards_the_product(shopper_client, shopper, encoder):
    # given
    first, second = product_create(), product_create()
    garment_create(first, seed=1)
    garment_create(second, seed=2)
    # when
    for product, kind in ((first, "like"), (second, "purchase")):
        response = shopper_client.post(
            "/api/v1/me/interactions/", {"product_id": product.pk, "kind": kind}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["learned"] is True
    # then: the weighted mean (like 1, purchase 2), unit length
    preference = UserPreference.objects.get(user=shopper)
    expected = np.asarray(unit_vector(1)) * 1 + np.asarray(unit_vector(2)) * 2
    expected /= np.linalg.norm(expected)
    assert np.allclose(np.asarray(preference.taste_vector), expected, atol=1e-5)
    assert preference.taste_weight == 3 and preference.encoder_version == encoder.name
    assert preference.dislike_vector is None


def test_a_dislike_moves_only_the_dislike_vector(shopper_client, shopper, encoder):
    # given
    product = product_create()
    garment = garment_create(product, seed=5)
    # when
    shopper_client.post("/api/v1/me/interactions/", {"product_id": product.pk, "kind": "dislike"}, format="json")
    # then
    preference = UserPreference.objects.get(user=shopper)
    assert preference.taste_vector is None
    assert np.allclose(np.asarray(preference.dislike_vector), np.asarray(Garment.objects.get(pk=garment.pk).embedding))


def test_a_view_is_recorded_but_teaches_nothing(shopper_client, shopper, encoder):
    # given
    product = product_create()
    garment_create(product)
    # when
    response = shopper_client.post(
        "/api/v1/me/interactions/", {"product_id": product.pk, "kind": "view"}, format="json"
    )
    # then
    assert response.json()["learned"] is False
    assert Interaction.objects.filter(user=shopper, kind="view").count() == 1
    assert not UserPreference.objects.filter(user=shopper).exists()


def test_an_inactive_product_is_not_found(shopper_client, encoder):
    # given
    hidden = product_create(is_active=False)
    garment_create(hidden)
    # when / then
    response = shopper_client.post("/api/v1/me/interactions/", {"product_id": hidden.pk, "kind": "like"}, format="json")
    assert_error(response, 404, "not_found")
    assert not Interaction.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"product_id": 999999, "kind": "like"}, 404),
        ({"product_id": "abc", "kind": "like"}, 400),
        ({"product_id": 2**64, "kind": "like"}, 400),
        ({"product_id": 1, "kind": "love"}, 400),
        ({"kind": "like"}, 400),
    ],
)
def test_bad_interactions_are_rejected(shopper_client, encoder, payload, status):
    # when / then
    assert_error(shopper_client.post("/api/v1/me/interactions/", payload, format="json"), status)
    assert not Interaction.objects.exists()


def test_interaction_query_count_is_fixed(shopper_client, shopper, encoder, django_assert_num_queries):
    # given
    product = product_create()
    garment_create(product)
    UserPreference.objects.create(user=shopper)
    # when: 1 the product exists; 2 SAVEPOINT; 3 INSERT the interaction; 4 context (active
    # encoder, the product's vector); 5 the preference row FOR UPDATE; 6 UPDATE its taste vector;
    # 7 RELEASE
    with django_assert_num_queries(7):
        response = shopper_client.post(
            "/api/v1/me/interactions/", {"product_id": product.pk, "kind": "like"}, format="json"
        )
    # then
    assert response.status_code == 201
