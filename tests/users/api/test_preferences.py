"""GET/PUT /api/v1/me/preferences/."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_error
from tests.factories import brand_create, category_create
from users.models import UserPreference

pytestmark = pytest.mark.django_db


def test_preferences_need_a_user(client):
    # when / then
    assert client.get("/api/v1/me/preferences/").status_code in (401, 403)
    assert client.put("/api/v1/me/preferences/", {}, format="json").status_code in (401, 403)


def test_a_new_shopper_has_empty_preferences_without_a_write(shopper_client, django_assert_num_queries):
    # when: 1 the preference row (none yet)
    with django_assert_num_queries(1):
        body = shopper_client.get("/api/v1/me/preferences/").json()
    # then
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
    # when / then
    assert_error(shopper_client.put("/api/v1/me/preferences/", payload, format="json"), 400, "invalid")
    assert not UserPreference.objects.exists()


def test_preference_update_query_count_is_fixed(shopper_client, django_assert_num_queries):
    # given
    dresses = category_create("women/dresses")
    shopper_client.put("/api/v1/me/preferences/", {"colours": ["red"]}, format="json")  # the row exists now
    # when: 1 the categories named in the body (no brands named: no query); 2 SAVEPOINT; 3 the
    # preference row FOR UPDATE; 4 UPDATE it; 5-6 categories.set (current links, insert the new
    # one); 7 brands.set (current links); 8 RELEASE; 9-10 the categories and brands of the response
    with django_assert_num_queries(10):
        response = shopper_client.put("/api/v1/me/preferences/", {"categories": [dresses.pk]}, format="json")
    # then
    assert response.status_code == 200
