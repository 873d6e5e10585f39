"""Every admin page renders with data: each registered model's changelist, change page and add page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.urls import reverse
from rest_framework.authtoken.models import Token

from catalog.models import ProductImage
from catalog.services.rules import seasonal_rule_create
from recommender.models import Garment, GarmentCorrection
from tests.factories import unit_vector
from users.models import Interaction, UserPreference

pytestmark = pytest.mark.django_db

MODEL_ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def everything(catalog, users, season_summer):
    """At least one row of every model that admin shows."""
    product = catalog[0]
    product.seasons.add(season_summer)
    image = ProductImage.objects.filter(product=product).get()
    garment = Garment.objects.filter(image=image).get()
    GarmentCorrection.objects.create(
        image=image,
        garment=garment,
        box_x1=10,
        box_y1=10,
        box_x2=200,
        box_y2=300,
        label="dress",
        previous_box=[0, 0, 100, 100],
        previous_label="top",
        encoder_version="test-v1",
        corrected_by=users["staff"],
    )
    seasonal_rule_create(
        user=users["merchandiser"],
        data={"name": "Summer tops", "season": season_summer, "target_category": product.category, "weight": 0.2},
    )
    seasonal_rule_create(
        user=users["merchandiser"],
        data={
            "name": "Red week",
            "starts_on": dt.date(2026, 5, 1),
            "ends_on": dt.date(2026, 5, 7),
            "target_colour": "red",
            "weight": -0.1,
        },
    )
    preference = UserPreference.objects.create(
        user=users["shopper"], colours=["red"], sizes=["M"], taste_vector=unit_vector(3), taste_weight=2
    )
    preference.categories.add(product.category)
    Interaction.objects.create(user=users["shopper"], product=product, kind="like")
    Token.objects.create(user=users["superuser"])


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_admin_page_renders_for_a_superuser(client_for, users, rf, everything, model, model_admin):
    # given
    client = client_for("superuser")
    info = (model._meta.app_label, model._meta.model_name)
    obj = model._default_manager.first()
    assert obj is not None, f"the fixture has no {model._meta.label}"
    # when
    changelist = client.get(reverse("admin:{}_{}_changelist".format(*info)))
    change = client.get(reverse("admin:{}_{}_change".format(*info), args=[quote(obj.pk)]))
    # then
    assert changelist.status_code == 200
    assert change.status_code == 200
    request = rf.get("/")
    request.user = users["superuser"]
    if model_admin.has_add_permission(request):
        assert client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_changelist_search_and_filter_renders(client_for, everything, model, model_admin):
    # given: a search term and every list filter's first choice, as someone clicking would
    client = client_for("superuser")
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    page = client.get(url)
    filters = page.context["cl"].filter_specs if page.context and "cl" in page.context else []
    # when / then
    if model_admin.search_fields:
        assert client.get(url, {"q": "a"}).status_code == 200
    for spec in filters:
        for choice in list(spec.choices(page.context["cl"]))[1:2]:
            response = client.get(url + choice["query_string"])
            assert response.status_code == 200, f"{spec.title}: {choice['query_string']}"
