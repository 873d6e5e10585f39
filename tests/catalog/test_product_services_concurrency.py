"""Catalog write services under concurrent transactions (real PostgreSQL, one thread per transaction)."""

from __future__ import annotations

import threading

import pytest

from catalog.models import Product, ProductVariant
from catalog.services.products import product_update, variant_update
from tests.concurrency import WAIT_S, blocked_or_done
from tests.factories import garment_create, product_create
from tests.recommender.catalog_truth import assert_garments_match_catalog

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_stock_update_racing_an_admin_save_of_the_product_waits_instead_of_deadlocking(start_transaction):
    # given: admin saves the product row first, then its variant inlines
    product = product_create(sizes={"M": 3})
    garment_create(product)
    variant_id = ProductVariant.objects.get(product=product).pk
    product_saved, save_inlines = threading.Event(), threading.Event()

    def admin_save() -> None:
        product_update(product=Product.objects.get(pk=product.pk), title="Renamed")
        product_saved.set()
        save_inlines.wait(WAIT_S)
        ProductVariant.objects.filter(pk=variant_id).update(stock=1)

    admin = start_transaction(admin_save)
    product_saved.wait(WAIT_S)
    # when: the API's stock update arrives between the two
    api = start_transaction(lambda: variant_update(variant=ProductVariant.objects.get(pk=variant_id), stock=5))
    assert blocked_or_done(api) == "blocked"
    save_inlines.set()
    # then: both commit (no deadlock error), the later one's stock wins, the garment agrees
    admin.finish()
    api.finish()
    assert ProductVariant.objects.get(pk=variant_id).stock == 5
    assert_garments_match_catalog()
