"""A shopper's page in admin shows their preferences and recent interactions, read-only for merchandisers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import brand_create, product_create
from users.models import Interaction, UserPreference

pytestmark = pytest.mark.django_db


def test_the_user_page_shows_preferences_and_the_latest_interactions(client_for, users):
    # given: preferences and 25 interactions, the newest a purchase
    shopper = users["shopper"]
    preference = UserPreference.objects.create(user=shopper, colours=["navy"], sizes=["M", "L"], price_max=80)
    preference.brands.add(brand_create("Zara"))
    products = [product_create(title=f"Item {n}") for n in range(25)]
    for product in products[:-1]:
        Interaction.objects.create(user=shopper, product=product, kind="view")
    Interaction.objects.create(user=shopper, product=products[-1], kind="purchase")
    # when
    html = client_for("merchandiser").get(reverse("admin:auth_user_change", args=[shopper.pk])).content.decode()
    # then
    assert "<th>colours</th><td>navy</td>" in html
    assert "<th>sizes</th><td>M, L</td>" in html
    assert "<th>brands</th><td>Zara</td>" in html
    assert "Purchase" in html and "Item 24" in html
    assert "Item 0<" not in html  # only the latest 20 are listed
    assert f"?user__id__exact={shopper.pk}" in html


def test_the_link_to_all_interactions_filters_by_user(client_for, users):
    # given
    product = product_create()
    Interaction.objects.create(user=users["shopper"], product=product, kind="like")
    Interaction.objects.create(user=users["staff"], product=product, kind="like")
    # when
    response = client_for("merchandiser").get(
        reverse("admin:users_interaction_changelist"), {"user__id__exact": users["shopper"].pk}
    )
    # then
    assert [i.user for i in response.context["cl"].result_list] == [users["shopper"]]


def test_preferences_are_read_only_for_merchandisers(client_for, users):
    preference = UserPreference.objects.create(user=users["shopper"], colours=["navy"])
    url = reverse("admin:users_userpreference_change", args=[preference.pk])
    client = client_for("merchandiser")
    assert 'name="colours"' not in client.get(url).content.decode()
    assert client.post(url, {"colours": "red"}).status_code == 403
    preference.refresh_from_db()
    assert preference.colours == ["navy"]
