"""Small, explicit builders for test data (plain functions: no magic, easy to read in a test)."""

from __future__ import annotations

import importlib
import itertools
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.contrib.auth.models import Group, Permission, User

from catalog.models import Brand, Category, Product, ProductImage, ProductVariant, Season
from recommender.models import EMBEDDING_DIM, Garment

_counter = itertools.count(1)


def category_create(path: str) -> Category:
    """Create (or reuse) every node of a slash-separated path and return the leaf."""
    parent = None
    for slug in path.split("/"):
        parent, _ = Category.objects.get_or_create(parent=parent, slug=slug, defaults={"name": slug.title()})
    return parent


def brand_create(name: str = "Acme") -> Brand:
    brand, _ = Brand.objects.get_or_create(slug=name.lower(), defaults={"name": name})
    return brand


def product_create(
    *,
    category: Category | None = None,
    brand: Brand | None = None,
    price: str = "49.90",
    sizes: dict[str, int] | None = None,
    seasons: list[Season] = (),
    **fields,
) -> Product:
    n = next(_counter)
    product = Product.objects.create(
        sku=fields.pop("sku", f"SKU-{n:06d}"),
        title=fields.pop("title", f"Product {n}"),
        category=category or category_create("women/tops/t-shirts"),
        brand=brand,
        price=Decimal(price),
        **fields,
    )
    for size, stock in (sizes or {"M": 3}).items():
        ProductVariant.objects.create(product=product, sku=f"{product.sku}-{size}", size=size, stock=stock)
    product.seasons.set(seasons)
    return product


def image_create(product: Product, *, checksum: str | None = None, is_primary: bool = True) -> ProductImage:
    n = next(_counter)
    return ProductImage.objects.create(
        product=product, file=f"products/test/{n}.img", checksum=checksum or f"{n:064x}", is_primary=is_primary
    )


def unit_vector(seed: int, dim: int = EMBEDDING_DIM) -> list[float]:
    vector = np.random.default_rng(seed).normal(size=dim)
    return (vector / np.linalg.norm(vector)).tolist()


def garment_create(
    product: Product, *, image: ProductImage | None = None, seed: int = 0, version: str = "test-v1"
) -> Garment:
    image = image or image_create(product)
    return Garment.objects.create(
        image=image,
        product=product,
        encoder_version=version,
        embedding=unit_vector(seed),
        box_x1=0,
        box_y1=0,
        box_x2=100,
        box_y2=100,
        label="top",
        confidence=0.9,
    )


def staff_group(name: str) -> Group:
    """A group made by migration ``catalog/0002_staff_groups`` ("Merchandiser", "Catalog staff"), as in production.

    Transactional tests (live server, workers) end with a flush that also empties the rows data
    migrations wrote; the group is then rebuilt from the migration's own table of grants.
    """
    group = Group.objects.filter(name=name).first()
    if group is None:
        grants = importlib.import_module("catalog.migrations.0002_staff_groups").GROUPS[name]
        group = Group.objects.create(name=name)
        for (app_label, model), actions in grants.items():
            codenames = [f"{action}_{model}" for action in actions]
            group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
    return group


def staff_user_create(username: str = "staff", *, group: str = "Catalog staff", **flags) -> User:
    """A staff account in one of the staff groups (catalog writes need the group's permissions)."""
    # No password: tests authenticate otherwise, and hashing one costs about a second here.
    user = User.objects.create_user(username, password=None, is_staff=True, **flags)
    user.groups.add(staff_group(group))
    return user


def outfit_model_create(folder, *, encoder_version: str = "test-v1"):
    """Write a real (tiny) outfit model to ``folder``: tops worn with trousers and shoes, never with
    another top, colours and embeddings varied; returns the model (recommender/outfits/model.py)."""
    from recommender.outfits.catalog import COLOUR_BINS
    from recommender.outfits.model import OutfitModel

    @dataclass
    class StreetGarment:
        kind: str
        colours: np.ndarray
        embedding: np.ndarray

    def hist(name: str) -> np.ndarray:
        return np.eye(len(COLOUR_BINS))[COLOUR_BINS.index(name)]

    street = [
        [
            StreetGarment("top", hist("black"), np.asarray(unit_vector(1 + i % 3), dtype=np.float32)),
            StreetGarment("trousers", hist("white"), np.asarray(unit_vector(10 + i % 3), dtype=np.float32)),
            StreetGarment("shoes", hist("red"), np.asarray(unit_vector(20), dtype=np.float32)),
        ]
        for i in range(30)
    ]
    model = OutfitModel.fit(
        street, kinds=("top", "trousers", "shoes", "hat"), colour_bins=COLOUR_BINS, encoder_version=encoder_version
    )
    model.save(folder)
    return model


def painted_pixels(rgb: tuple[int, int, int], seed: int = 0, n: int = 60) -> np.ndarray:
    """(n, 3) uint8 pixels of one colour, a little noisy: a garment's own pixels."""
    noise = np.random.default_rng(seed).integers(-8, 9, size=(n, 3))
    return np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8)


PAINT = {"black": (20, 20, 25), "white": (235, 235, 230), "red": (200, 25, 30), "blue": (30, 50, 190)}


def outfit_palette_model_create(folder, *, encoder_version: str = "test-v1", palette_size: int = 4):
    """Write a real (tiny) outfit model with a Lab palette to ``folder``: black tops are worn with white
    trousers and red tops with black ones (pixels, as street garments have), everyone in blue shoes."""
    from recommender.outfits.catalog import COLOUR_BINS, colour_namer
    from recommender.outfits.model import OutfitModel

    @dataclass
    class StreetGarment:
        kind: str
        colours: np.ndarray
        embedding: np.ndarray
        pixels: np.ndarray

    def garment(kind: str, name: str, seed: int) -> StreetGarment:
        embedding = np.asarray(unit_vector(seed % 7 + 40 * len(kind)), dtype=np.float32)
        return StreetGarment(
            kind, np.eye(len(COLOUR_BINS))[COLOUR_BINS.index(name)], embedding, painted_pixels(PAINT[name], seed)
        )

    street = []
    for i in range(40):
        top, bottom = ("black", "white") if i % 2 else ("red", "black")
        street.append([garment("top", top, i), garment("trousers", bottom, 100 + i), garment("shoes", "blue", 200 + i)])
    model = OutfitModel.fit(
        street,
        kinds=("top", "trousers", "shoes", "hat"),
        colour_bins=COLOUR_BINS,
        encoder_version=encoder_version,
        palette_size=palette_size,
        namer=colour_namer,
    )
    model.save(folder)
    return model
