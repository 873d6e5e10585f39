"""Denormalised garment rows stay equal to the catalog whatever the interleaving of committed writes.

Real parallel transactions on PostgreSQL: each writer runs in its own thread, hence its own
connection, and may hold its transaction open so that another one runs into its locks. The
writers use plain ``update()`` calls where they can, not the services, because the triggers
promise this for any writer (a bulk update or raw SQL takes no application-level lock).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from catalog.models import Category, Product, ProductVariant
from catalog.services.products import product_update
from recommender.models import EncoderVersion, Garment
from recommender.selectors import RecommendRequest, recommendations_for_product
from tests.concurrency import WAIT_S, blocked_or_done
from tests.factories import category_create, garment_create, image_create, product_create
from tests.recommender.catalog_truth import assert_garments_match_catalog, garment_mismatches

pytestmark = pytest.mark.django_db(transaction=True)


def set_stock(variant_id: int, stock: int) -> Callable[[], object]:
    return lambda: ProductVariant.objects.filter(pk=variant_id).update(stock=stock)


def test_two_sizes_sold_out_by_two_transactions_one_waiting_for_the_other(start_transaction):
    # given
    product = product_create(sizes={"XS": 5, "M": 16, "L": 3})
    garment_create(product)
    xs, m, large = (ProductVariant.objects.get(product=product, size=size).pk for size in ("XS", "M", "L"))
    # when: the second transaction runs into the first one's locks, then both commit
    first = start_transaction(set_stock(large, 0), hold=True)
    first.worked.wait(WAIT_S)
    second = start_transaction(set_stock(xs, 0))
    assert blocked_or_done(second) == "blocked"
    first.finish()
    second.finish()
    # then
    garment = Garment.objects.get(product=product)
    assert (garment.stock_total, garment.sizes_in_stock, garment.in_stock) == (16, ["M"], True)
    assert_garments_match_catalog()
    assert ProductVariant.objects.get(pk=m).stock == 16


def test_parallel_stock_updates_round_after_round_leave_every_garment_equal_to_the_catalog():
    # given: one writer per size, all writing at once for several rounds; each writer holds its
    # transaction open a moment so that the others run into it
    rounds, sizes = 8, ["XS", "S", "M", "L", "XL", "XXL"]
    product = product_create(sizes=dict.fromkeys(sizes, 5))
    garment_create(product, seed=1)
    garment_create(product, image=image_create(product, is_primary=False), seed=2)
    variant_ids = list(ProductVariant.objects.filter(product=product).order_by("pk").values_list("pk", flat=True))
    rng = random.Random(13)
    plan = [[rng.choice([0, 0, 1, 4, 7]) for _ in variant_ids] for _ in range(rounds)]
    gate = threading.Barrier(len(variant_ids) + 1, timeout=WAIT_S)
    errors: list[BaseException] = []

    def writer(column: int) -> None:
        try:
            for stocks in plan:
                gate.wait()
                with transaction.atomic():
                    ProductVariant.objects.filter(pk=variant_ids[column]).update(stock=stocks[column])
                    time.sleep(0.02)
                gate.wait()
        except BaseException as error:
            errors.append(error)
            gate.abort()
        finally:
            connection.close()

    writers = [threading.Thread(target=writer, args=(column,), daemon=True) for column in range(len(variant_ids))]
    for thread in writers:
        thread.start()
    # when
    wrong_rounds = []
    for number in range(rounds):
        gate.wait()  # the round starts
        gate.wait()  # every writer committed
        if garment_mismatches():
            wrong_rounds.append(number)
    for thread in writers:
        thread.join(WAIT_S)
    # then
    assert not errors
    assert wrong_rounds == []
    assert_garments_match_catalog()


def test_deactivating_a_product_while_its_stock_changes_leaves_it_inactive_and_unrecommended(start_transaction):
    # given
    EncoderVersion.objects.create(name="test-v1", is_active=True)
    product = product_create(sizes={"S": 2, "M": 2, "L": 2})
    neighbour = product_create()
    garment_create(product, seed=1)
    garment_create(neighbour, seed=1)
    variant_ids = list(ProductVariant.objects.filter(product=product).values_list("pk", flat=True))
    # when: the deactivation (as PATCH is_active=false does it) holds its locks while three
    # stock updates run into them
    deactivation = start_transaction(
        lambda: product_update(product=Product.objects.get(pk=product.pk), is_active=False), hold=True
    )
    deactivation.worked.wait(WAIT_S)
    stock_writers = [start_transaction(set_stock(pk, 9)) for pk in variant_ids]
    assert [blocked_or_done(writer) for writer in stock_writers] == ["blocked"] * 3
    deactivation.finish()
    for writer in stock_writers:
        writer.finish()
    # then
    assert_garments_match_catalog()
    assert Garment.objects.get(product=product).is_active is False
    similar = recommendations_for_product(product_id=neighbour.pk, request=RecommendRequest(k=50))
    assert product.pk not in [recommendation.row.product_id for recommendation in similar.results]


@pytest.mark.parametrize("first", ["garment insert", "stock change"])
def test_a_garment_inserted_while_the_stock_changes_copies_the_committed_stock(start_transaction, first):
    # given: ingestion inserts a garment of the product while a stock update is in flight
    product = product_create(sizes={"M": 4})
    image = image_create(product)
    variant_id = ProductVariant.objects.get(product=product).pk
    work = {
        "garment insert": lambda: garment_create(product, image=image),
        "stock change": set_stock(variant_id, 0),
    }
    then = "stock change" if first == "garment insert" else "garment insert"
    # when
    holder = start_transaction(work[first], hold=True)
    holder.worked.wait(WAIT_S)
    follower = start_transaction(work[then])
    blocked_or_done(follower)
    holder.finish()
    follower.finish()
    # then
    assert Garment.objects.get(product=product).in_stock is False
    assert_garments_match_catalog()


@pytest.mark.parametrize("first", ["rename", "move"])
def test_a_product_moved_into_a_category_being_renamed_gets_the_new_path(start_transaction, first):
    # given
    knitwear = category_create("women/knitwear")
    product = product_create(category=category_create("women/tops"))
    garment_create(product)

    def rename() -> None:
        category = Category.objects.get(pk=knitwear.pk)
        category.slug = "jumpers"
        category.save()

    work = {"rename": rename, "move": lambda: Product.objects.filter(pk=product.pk).update(category=knitwear)}
    # when
    holder = start_transaction(work[first], hold=True)
    holder.worked.wait(WAIT_S)
    follower = start_transaction(work["move" if first == "rename" else "rename"])
    blocked_or_done(follower)
    holder.finish()
    follower.finish()
    # then
    assert Garment.objects.get(product=product).category_path == "women/jumpers"
    assert_garments_match_catalog()
