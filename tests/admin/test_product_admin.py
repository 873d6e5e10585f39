"""The product pages: uploads through the ingestion service, filters, the similar panel, read-only prices."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Product, ProductImage
from catalog.models.products import ProcessingStatus
from catalog.services.images import image_validate
from tests.admin.conftest import jpeg_bytes
from tests.factories import category_create, product_create

pytestmark = pytest.mark.django_db


def product_form(product: Product, **extra) -> dict:
    """The product change form as the browser posts it, with its two inline formsets."""
    variants = list(product.variants.all())
    images = list(product.images.all())
    data = {
        "sku": product.sku,
        "title": product.title,
        "description": "",
        "category": product.category_id,
        "department": product.department,
        "colour": "",
        "price": str(product.price),
        "currency": product.currency,
        "tags": "",
        "is_active": "on",
        "variants-TOTAL_FORMS": str(len(variants)),
        "variants-INITIAL_FORMS": str(len(variants)),
        "images-TOTAL_FORMS": str(len(images)),
        "images-INITIAL_FORMS": str(len(images)),
    }
    for n, variant in enumerate(variants):
        data |= {
            f"variants-{n}-id": variant.pk,
            f"variants-{n}-product": product.pk,
            f"variants-{n}-sku": variant.sku,
            f"variants-{n}-size": variant.size,
            f"variants-{n}-colour": "",
            f"variants-{n}-stock": variant.stock,
        }
    for n, image in enumerate(images):
        data |= {f"images-{n}-id": image.pk, f"images-{n}-product": product.pk}
        if image.is_primary:
            data[f"images-{n}-is_primary"] = "on"
    return data | extra


def test_an_upload_in_admin_goes_through_the_ingestion_service(client_for, django_capture_on_commit_callbacks):
    # given
    product = product_create()
    data = jpeg_bytes(size=(90, 120))
    form = product_form(product) | {
        "images-TOTAL_FORMS": "1",
        "images-0-file": SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg"),
        "images-0-product": product.pk,
    }
    client = client_for("staff")
    # when: the enqueue callback is captured, not run (no models are needed for this test)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("admin:catalog_product_change", args=[product.pk]), form)
    # then: the service stored it with its checksum and size, made it primary and queued it
    assert response.status_code == 302, response.content.decode()[:2000]
    image = ProductImage.objects.get(product=product)
    # the checksum is of the stored bytes: the photo re-encoded without metadata
    stored = image.file.read()
    assert image.checksum == hashlib.sha256(stored).hexdigest() == image_validate(data).checksum
    assert (image.width, image.height, image.status, image.is_primary) == (90, 120, ProcessingStatus.PENDING, True)
    assert not image.file.name.endswith("photo.jpg")  # a generated name, never the client's
    assert len(callbacks) == 1


def test_an_upload_that_is_not_an_image_is_refused_with_the_reason(client_for):
    # given
    product = product_create()
    form = product_form(product) | {
        "images-TOTAL_FORMS": "1",
        "images-0-file": SimpleUploadedFile("notes.jpg", b"not an image at all", content_type="image/jpeg"),
        "images-0-product": product.pk,
    }
    # when
    response = client_for("staff").post(reverse("admin:catalog_product_change", args=[product.pk]), form)
    # then: the form comes back with the decoder's message; nothing stored
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][1].formset.errors
    assert errors[0]["file"]
    assert not ProductImage.objects.exists()


def test_the_same_photo_twice_is_skipped_with_a_warning(client_for):
    # given
    product = product_create()
    data = jpeg_bytes()
    client = client_for("staff")
    url = reverse("admin:catalog_product_change", args=[product.pk])
    upload = {"images-TOTAL_FORMS": "1", "images-0-product": product.pk}
    client.post(url, product_form(product) | upload | {"images-0-file": SimpleUploadedFile("a.jpg", data)})
    # when
    form = product_form(product) | {
        "images-TOTAL_FORMS": "2",
        "images-1-product": product.pk,
        "images-1-file": SimpleUploadedFile("b.jpg", data),
    }
    response = client.post(url, form, follow=True)
    # then
    assert ProductImage.objects.filter(product=product).count() == 1
    assert any("already has this image" in str(m) for m in response.context["messages"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"stock": "out"}, {"OUT"}),
        ({"stock": "low"}, {"LOW"}),
        ({"stock": "in"}, {"LOW", "PLENTY"}),
        ({"processing": "failed"}, {"PLENTY"}),
        ({"processing": "none"}, {"OUT", "LOW"}),
        ({"category_path": "women"}, {"LOW", "PLENTY"}),
        ({"category_path": "women/tops"}, {"PLENTY"}),
        ({"q": "LOW-M"}, {"LOW"}),  # a variant's SKU finds its product
    ],
)
def test_product_filters_and_search(client_for, query, expected):
    # given
    product_create(sku="OUT", category=category_create("men/shoes"), sizes={"M": 0})
    product_create(sku="LOW", category=category_create("women/dresses"), sizes={"M": 2})
    plenty = product_create(sku="PLENTY", category=category_create("women/tops/t-shirts"), sizes={"M": 50})
    ProductImage.objects.create(product=plenty, file="x.img", checksum="1" * 64, status=ProcessingStatus.FAILED)
    # when
    response = client_for("superuser").get(reverse("admin:catalog_product_changelist"), query)
    # then
    assert {p.sku for p in response.context["cl"].result_list} == expected


def test_the_product_list_shows_thumbnails_stock_and_processing(client_for, catalog):
    html = client_for("staff").get(reverse("admin:catalog_product_changelist")).content.decode()
    image = ProductImage.objects.filter(product=catalog[0]).get()
    assert f'src="{image.file.url}"' in html
    assert ">ready<" in html


def test_the_similar_panel_shows_the_recommend_query_with_its_breakdown(client_for, catalog):
    # when
    response = client_for("merchandiser").get(reverse("admin:catalog_product_change", args=[catalog[0].pk]))
    # then: the two other products, best first, each with the API's score breakdown
    similar = response.context["similar"]
    assert [item["product"].pk for item in similar] != []
    assert {item["product"].pk for item in similar} == {catalog[1].pk, catalog[2].pk}
    scores = [item["row"].score for item in similar]
    assert scores == sorted(scores, reverse=True)
    for item in similar:
        parts = item["row"].breakdown
        assert item["row"].score == pytest.approx(sum(v for k, v in parts.items() if k != "similarity"))
    assert 'id="similar-panel"' in response.content.decode()


def test_the_similar_panel_says_why_it_is_empty(client_for, db):
    product = product_create()
    response = client_for("superuser").get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert "No encoder version is active" in response.content.decode()


def test_prices_and_stock_stay_read_only_for_a_merchandiser_given_change_permission(client_for, users, catalog):
    # given: someone granted the merchandiser product and variant change permission by hand
    merchandiser = users["merchandiser"]
    merchandiser.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_product", "change_productvariant"])
    )
    product = catalog[0]
    client = client_for("merchandiser")
    url = reverse("admin:catalog_product_change", args=[product.pk])
    # when
    page = client.get(url).content.decode()
    client.post(url, product_form(product, title="Renamed", price="1.00"))
    # then: the title changed, the price did not
    assert 'name="title"' in page and 'name="price"' not in page and 'name="variants-0-stock"' not in page
    product.refresh_from_db()
    assert (product.title, str(product.price)) == ("Renamed", "49.90")
