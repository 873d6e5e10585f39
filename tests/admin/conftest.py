"""Fixtures of the admin tests: one user per role, and a small catalog with processed images."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from PIL import Image

from recommender.models import EncoderVersion
from tests.factories import brand_create, category_create, garment_create, image_create, product_create, staff_group

ROLES = ["anonymous", "shopper", "merchandiser", "staff", "superuser"]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _user(username: str, *, group: str | None = None, **flags) -> User:
    # No password: tests log in with force_login, and hashing one costs about a second here.
    user = User.objects.create_user(username, password=None, **flags)
    if group:
        user.groups.add(staff_group(group))
    return user


@pytest.fixture
def users(db) -> dict[str, User | None]:
    return {
        "anonymous": None,
        "shopper": _user("shopper"),
        "merchandiser": _user("merch", group="Merchandiser", is_staff=True),
        "staff": _user("staff", group="Catalog staff", is_staff=True),
        "superuser": _user("root", is_staff=True, is_superuser=True),
    }


@pytest.fixture
def client_for(client, users):
    def make(role: str):
        if users[role] is not None:
            client.force_login(users[role])
        return client

    return make


def jpeg_bytes(size=(64, 48), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def two_garment_photo() -> bytes:
    """A 200 × 300 photo: a red block on top of a blue one, so two crops encode differently."""
    image = Image.new("RGB", (200, 300), (240, 240, 240))
    image.paste((200, 30, 30), (40, 20, 160, 140))
    image.paste((30, 40, 180), (50, 150, 150, 290))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture
def catalog(db):
    """Three products with a processed image and a garment each, embeddings of the active version."""
    EncoderVersion.objects.create(name="test-v1", is_active=True)
    tops = category_create("women/tops")
    brand = brand_create("Acme")
    products = []
    for n in range(3):
        product = product_create(category=tops, brand=brand, sizes={"S": n, "M": 2})
        image = image_create(product)
        image.width, image.height, image.status = 400, 500, "ready"
        image.save()
        garment_create(product, image=image, seed=n)
        products.append(product)
    return products
