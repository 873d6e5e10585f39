"""GET/PUT /api/v1/me/preferences/ and POST /api/v1/me/interactions/."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.models import Garment
from tests.api.conftest import assert_error
from tests.factories import brand_create, category_create, garment_create, product_create, unit_vector
from users.models import Interaction, UserPreference

pytestmark = pytest.mark.django_db


def test_preferences_need_a_user(client):
    assert client.get("/api/v1/me/preferences/").status_code in (401, 403)
    assert client.put("/api/v1/me/preferences/", {}, format="json").status_code in (401, 403)
    assert client.post("/api/v1/me/interactions/", {}, format="json").status_code in (401, 403)


def test_a_new_shopper_has_empty_preferences_without_a_write(shopper_client, django_assert_num_queries):
    # 1 the preference row (none yet)
    with django_assert_num_queries(1):
        body = shopper_client.get("/api/v1/me/preferences/").json()
    assert body["categories"] == [] and body["has_taste"] is False
    assert not UserPreference.objects.exists()


def test_put_replaces_preferences(shopper_client, shopper):
    # given
    dresses, acme = category_create("women/dresses"), brand_create("Acme")
    # when
    response = shopper_client.put(
        "/api/v1/me/preferences/",
        {
            "categories": [dresses.pk],
            "brands": [acme.pk],
            "colours": ["red", "red"],
            "sizes": ["M"],
            "price_min": "10",
            "price_max": "80",
        },
        format="json",
    )
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["categories"] == [dresses.pk] and body["brands"] == [acme.pk]
    assert body["colours"] == ["red"] and body["price_max"] == "80.00"
    again = shopper_client.put("/api/v1/me/preferences/", {"colours": ["blue"]}, format="json").json()
    assert again["categories"] == [] and again["colours"] == ["blue"] and again["price_min"] is None


@pytest.mark.parametrize(
    "payload",
    [
        {"categories": [999999]},
        {"categories": ["abc"]},
        {"brands": [2**64]},
        {"colours": ["chartreuse"]},
        {"price_min": "90", "price_max": "10"},
        {"price_min": "abc"},
        {"sizes": "M"},
        {"sizes": ["x" * 100]},
    ],
)
def test_bad_preferences_are_400(shopper_client, payload):
    assert_error(shopper_client.put("/api/v1/me/preferences/", payload, format="json"), 400, "invalid")


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
    product = product_create()
    garment = garment_create(product, seed=5)
    shopper_client.post("/api/v1/me/interactions/", {"product_id": product.pk, "kind": "dislike"}, format="json")
    preference = UserPreference.objects.get(user=shopper)
    assert preference.taste_vector is None
    assert np.allclose(np.asarray(preference.dislike_vector), np.asarray(Garment.objects.get(pk=garment.pk).embedding))


def test_a_view_is_recorded_but_teaches_nothing(shopper_client, shopper, encoder):
    product = product_create()
    garment_create(product)
    response = shopper_client.post(
        "/api/v1/me/interactions/", {"product_id": product.pk, "kind": "view"}, format="json"
    )
    assert response.json()["learned"] is False
    assert Interaction.objects.filter(user=shopper, kind="view").count() == 1
    assert not UserPreference.objects.filter(user=shopper).exists()


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
    assert_error(shopper_client.post("/api/v1/me/interactions/", payload, format="json"), status)
    assert not Interaction.objects.exists()


def test_preference_and_interaction_query_counts_are_fixed(shopper_client, shopper, encoder, django_assert_num_queries):
    # given
    product = product_create()
    garment_create(product)
    dresses = category_create("women/dresses")
    shopper_client.put("/api/v1/me/preferences/", {"colours": ["red"]}, format="json")  # the row exists now
    # 1 the categories named in the body (no brands named: no query); 2 SAVEPOINT; 3 the preference row
    # FOR UPDATE; 4 UPDATE it; 5-6 categories.set (current links, insert the new one); 7 brands.set
    # (current links); 8 RELEASE; 9-10 the categories and brands of the response
    with django_assert_num_queries(10):
        response = shopper_client.put("/api/v1/me/preferences/", {"categories": [dresses.pk]}, format="json")
    assert response.status_code == 200
    # 1 the product exists; 2 SAVEPOINT; 3 INSERT the interaction; 4 context (active encoder, the product's
    # vector); 5 the preference row FOR UPDATE; 6 UPDATE its taste vector; 7 RELEASE
    with django_assert_num_queries(7):
        response = shopper_client.post(
            "/api/v1/me/interactions/", {"product_id": product.pk, "kind": "like"}, format="json"
        )
    assert response.status_code == 201
