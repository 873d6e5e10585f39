"""``POST /api/v1/me/interactions/`` is rate limited per shopper."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import assert_error
from tests.factories import product_create
from users.api.throttles import InteractionsThrottle
from users.models import Interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper_client(django_user_model) -> APIClient:
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("shopper", password=None))
    return client


@pytest.fixture
def tiny_interaction_budget(monkeypatch):
    # DRF binds the rates when the throttle class is defined, so patch the class, not settings.
    monkeypatch.setattr(InteractionsThrottle, "THROTTLE_RATES", {"interactions": "2/min"})


def test_interactions_over_the_budget_are_429_in_the_error_format(tiny_interaction_budget, shopper_client):
    # given: a shopper who spent the budget
    product = product_create()
    like = {"product_id": product.pk, "kind": "like"}
    for _ in range(2):
        assert shopper_client.post("/api/v1/me/interactions/", like, format="json").status_code == 201
    # when
    response = shopper_client.post("/api/v1/me/interactions/", like, format="json")
    # then: refused before anything is recorded
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert Interaction.objects.count() == 2


def test_the_default_interaction_budget_comes_from_settings(settings):
    assert InteractionsThrottle().get_rate() == settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["interactions"]
