"""Bulk catalog import: a folder of photos (one sub-folder per category) or a CSV.

Idempotent: a row whose SKU exists, or whose photo (SHA-256) is already in the catalog, is
skipped, so re-running an import creates nothing. Each row is its own transaction (one bad
row does not cost the others), and new images are sent to the workers in batches.

The clothing dataset has photos and a category per folder, nothing else. The attributes a
shop needs (brand, price, sizes and stock, seasons, department) are generated from a seed
and the photo's file name, so the same seed gives the same catalog whatever the order,
``--limit`` or machine; the colour is estimated from the photo itself. See docs/ingestion.md,
"The clothing dataset", for the rules.
"""

from __future__ import annotations

import csv
import math
import random
import shutil
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils.text import slugify
from PIL import Image

from catalog import hooks
from catalog.garment_kinds import KINDS, kind_guess, kind_parse
from catalog.models import Brand, Category, Product, ProductImage, ProductVariant, Season
from catalog.models.products import Colour, Department
from catalog.models.seasons import Hemisphere
from catalog.services.images import ImageDuplicate, ImageRejected, ValidatedImage, image_validate, product_image_create

CLOTHING_DATASET_URL = "https://github.com/alexeygrigorev/clothing-dataset-small/archive/refs/heads/master.zip"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}

# Northern hemisphere meteorological seasons (the defaults when the catalog has none).
DEFAULT_SEASONS: tuple[tuple[str, str, int, int, int, int], ...] = (
    ("spring", "Spring", 3, 1, 5, 31),
    ("summer", "Summer", 6, 1, 8, 31),
    ("autumn", "Autumn", 9, 1, 11, 30),
    ("winter", "Winter", 12, 1, 2, 29),  # 29 February: inclusive in leap years, harmless otherwise
)

BRANDS = ("Nordwind", "Acorn & Ash", "Bluefjord", "Cotton Field", "Urban Loom", "Mistral", "Ravel", "Solstice")
APPAREL_SIZES = ("XS", "S", "M", "L", "XL", "XXL")


@dataclass(frozen=True)
class FolderCategory:
    path: tuple[str, ...]  # category names from the root
    noun: str  # singular, for titles
    price_range: tuple[int, int]  # EUR, drawn log-uniformly
    sizes: str  # "apparel", "shoes" or "hats"
    seasons: tuple[tuple[str, ...], ...]  # one of these season sets is drawn
    women_only: bool = False


# The 10 folders of the clothing dataset → a category tree and plausible shop attributes.
CLOTHING_FOLDERS: dict[str, FolderCategory] = {
    "t-shirt": FolderCategory(
        ("Clothing", "Tops", "T-shirts"),
        "t-shirt",
        (9, 40),
        "apparel",
        (("spring", "summer"), ("spring", "summer", "autumn")),
    ),
    "shirt": FolderCategory(
        ("Clothing", "Tops", "Shirts"),
        "shirt",
        (20, 70),
        "apparel",
        (("spring", "summer", "autumn", "winter"), ("spring", "summer"), ("autumn", "winter")),
    ),
    "longsleeve": FolderCategory(
        ("Clothing", "Tops", "Long sleeves"),
        "long-sleeve top",
        (15, 50),
        "apparel",
        (("spring", "autumn", "winter"), ("autumn", "winter")),
    ),
    "outwear": FolderCategory(
        ("Clothing", "Outerwear"),
        "jacket",
        (50, 250),
        "apparel",
        (("autumn", "winter"), ("spring", "autumn"), ("winter",)),
    ),
    "dress": FolderCategory(
        ("Clothing", "Dresses"),
        "dress",
        (25, 130),
        "apparel",
        (("spring", "summer"), ("summer",), ("autumn", "winter")),
        women_only=True,
    ),
    "pants": FolderCategory(
        ("Clothing", "Bottoms", "Trousers"),
        "trousers",
        (25, 100),
        "apparel",
        (("spring", "summer", "autumn", "winter"), ("autumn", "winter"), ("spring", "summer")),
    ),
    "shorts": FolderCategory(
        ("Clothing", "Bottoms", "Shorts"), "shorts", (15, 50), "apparel", (("summer",), ("spring", "summer"))
    ),
    "skirt": FolderCategory(
        ("Clothing", "Bottoms", "Skirts"),
        "skirt",
        (20, 80),
        "apparel",
        (("spring", "summer"), ("spring", "summer", "autumn", "winter")),
        women_only=True,
    ),
    "shoes": FolderCategory(
        ("Clothing", "Shoes"),
        "shoes",
        (40, 180),
        "shoes",
        (("spring", "summer", "autumn", "winter"), ("spring", "summer"), ("autumn", "winter")),
    ),
    "hat": FolderCategory(
        ("Clothing", "Accessories", "Hats"), "hat", (10, 50), "hats", (("summer",), ("autumn", "winter"))
    ),
}


@dataclass
class ImportRow:
    """One product to import, whatever the source."""

    where: str  # for people: "dress/0a1b.jpg" or "line 7"
    sku: str
    image: str | Path  # a path, or an http(s)/file URL
    title: str = ""
    category: tuple[str, ...] = ()
    brand: str = ""
    price: Decimal | None = None
    currency: str = "EUR"
    sizes: dict[str, int] = field(default_factory=dict)
    seasons: tuple[str, ...] = ()
    colour: str = ""  # empty: estimated from the photo
    department: str = Department.UNISEX
    description: str = ""
    noun: str = ""  # for a generated title once the colour is known
    garment_kind: str = ""  # of the (last) category; "": keep its kind, or guess one for a new category
    error: str = ""  # the row could not be parsed


@dataclass
class ImportSummary:
    created: int = 0
    skipped: Counter = field(default_factory=Counter)
    failed: list[tuple[str, str]] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    batches_sent: int = 0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


# --- Sources ------------------------------------------------------------------------------


def folder_rows(root: Path, *, seed: int) -> Iterator[ImportRow]:
    """Rows for a folder with one sub-folder per category; attributes generated from ``seed``."""
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        spec = CLOTHING_FOLDERS.get(folder.name.lower()) or FolderCategory(
            ("Clothing", folder.name.replace("-", " ").replace("_", " ").capitalize()),
            folder.name.replace("-", " ").lower(),
            (15, 80),
            "apparel",
            (("spring", "summer", "autumn", "winter"),),
        )
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                yield generated_row(path, spec, seed=seed, where=f"{folder.name}/{path.name}")


def generated_row(path: Path, spec: FolderCategory, *, seed: int, where: str) -> ImportRow:
    """The deterministic attributes of one dataset photo (see docs/ingestion.md)."""
    # String seeds are hashed with SHA-512 by `random`: stable across runs and machines.
    rng = random.Random(f"{seed}:{path.parent.name}:{path.stem}")
    low, high = spec.price_range
    price = Decimal(math.floor(math.exp(rng.uniform(math.log(low), math.log(high))))) + Decimal("0.90")
    if spec.women_only:
        department = Department.WOMEN
    else:
        department = rng.choices([Department.WOMEN, Department.MEN, Department.UNISEX], weights=[45, 45, 10])[0]
    if spec.sizes == "shoes":
        first = 36 if department == Department.WOMEN else 39 if department == Department.MEN else 37
        sizes = [str(size) for size in range(first, first + 7)]
    elif spec.sizes == "hats":
        sizes = rng.choice([["ONE SIZE"], ["S/M", "L/XL"]])
    else:
        sizes = list(APPAREL_SIZES[: rng.choice([5, 6])])
    # About one size in five is sold out, so "in stock" filters have something to do.
    stock = {size: (0 if rng.random() < 0.2 else rng.randint(1, 12)) for size in sizes}
    return ImportRow(
        where=where,
        sku=f"CS-{path.stem}"[:64],
        image=path,
        category=spec.path,
        brand=rng.choice(BRANDS),
        price=price,
        sizes=stock,
        seasons=rng.choice(spec.seasons),
        department=department,
        noun=spec.noun,
    )


CSV_COLUMNS = ("sku", "title", "category", "brand", "price", "currency", "sizes", "seasons", "colour", "image")
OPTIONAL_CSV_COLUMNS = ("department", "description", "garment_kind")


def csv_rows(path: Path) -> Iterator[ImportRow]:
    """Rows of a CSV with a header: sku,title,category,brand,price,currency,sizes,seasons,colour,image.

    ``category``: "Clothing/Tops/T-shirts" (also "›" or ">" separated); ``sizes``: "S:3|M:0";
    ``seasons``: "spring|summer" (slugs or names); ``image``: a path relative to the CSV, or a URL.
    Optional columns: ``department``, ``description``, ``garment_kind`` (the kind of the row's
    category, one of ``catalog.garment_kinds.KINDS``; empty: a new category's kind is guessed
    from its name, an existing one keeps its own).
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        present = set(reader.fieldnames or [])
        missing = [column for column in ("sku", "category", "price", "image") if column not in present]
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}")
        for number, record in enumerate(reader, start=2):
            yield _csv_row(record, where=f"line {number}", base=path.parent)


def _csv_row(record: dict[str, str], *, where: str, base: Path) -> ImportRow:
    def value(name: str) -> str:
        return (record.get(name) or "").strip()

    row = ImportRow(where=where, sku=value("sku"), image=value("image"))
    errors = []
    if not row.sku:
        errors.append("sku is empty")
    row.title = value("title")
    row.category = tuple(part.strip() for part in _split_category(value("category")) if part.strip())
    if not row.category:
        errors.append("category is empty")
    row.brand = value("brand")
    try:
        row.price = Decimal(value("price").replace(",", "."))
        if row.price < 0 or not row.price.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors.append(f"price {value('price')!r} is not a non-negative number")
    row.currency = (value("currency") or "EUR").upper()
    if len(row.currency) != 3 or not row.currency.isalpha():
        errors.append(f"currency {row.currency!r} is not an ISO code")
    try:
        row.sizes = parse_sizes(value("sizes"))
    except ValueError as error:
        errors.append(str(error))
    row.seasons = tuple(s.strip() for s in value("seasons").replace(",", "|").split("|") if s.strip())
    colour = value("colour").lower()
    colour = {label.lower(): code for code, label in Colour.choices}.get(colour, colour)
    if colour and colour not in Colour.values:
        errors.append(f"colour {colour!r} is not one of {', '.join(Colour.values)}")
    row.colour = colour
    department = value("department").lower() or Department.UNISEX
    if department not in Department.values:
        errors.append(f"department {department!r} is not one of {', '.join(Department.values)}")
    row.department = department
    row.description = value("description")
    kind = kind_parse(value("garment_kind"))
    if kind is None:
        errors.append(f"garment_kind {value('garment_kind')!r} is not one of {', '.join(KINDS)} (or empty)")
    row.garment_kind = kind or ""
    if not row.image:
        errors.append("image is empty")
    elif "://" not in row.image:
        row.image = (base / row.image).resolve()
    row.error = "; ".join(errors)
    return row


def _split_category(text: str) -> list[str]:
    for separator in ("›", ">"):
        text = text.replace(separator, "/")
    return text.split("/")


def parse_sizes(text: str) -> dict[str, int]:
    """``"S:3|M:0|L"`` → ``{"S": 3, "M": 0, "L": 0}``."""
    sizes: dict[str, int] = {}
    for item in (part.strip() for part in text.replace(",", "|").split("|")):
        if not item:
            continue
        size, _, stock = item.partition(":")
        try:
            count = int(stock.strip() or 0)
        except ValueError:
            raise ValueError(f"sizes: stock {stock.strip()!r} of size {size.strip()!r} is not a number") from None
        if count < 0:
            raise ValueError(f"sizes: stock of size {size.strip()!r} is negative")
        sizes[size.strip()[:16]] = count
    return sizes


# --- Colour -------------------------------------------------------------------------------


def dominant_colour(image: Image.Image) -> str:
    """A simple estimate of the garment's colour: the most common colour name among pixels
    that differ from the background, taken as the median colour of the photo's border."""
    small = np.asarray(image.convert("RGB").resize((48, 64), Image.Resampling.BILINEAR), dtype=np.float32) / 255
    border = np.concatenate([small[:3].reshape(-1, 3), small[-3:].reshape(-1, 3), small[:, :3].reshape(-1, 3)])
    border = np.concatenate([border, small[:, -3:].reshape(-1, 3)])
    background = np.median(border, axis=0)
    pixels = small[6:-6, 4:-4].reshape(-1, 3)  # the centre, where the garment usually is
    distance = np.linalg.norm(pixels - background, axis=1)
    foreground = pixels[distance > 0.18]
    if len(foreground) < 0.08 * len(pixels):
        foreground = pixels  # garment and background alike: judge the centre as a whole
    names, counts = np.unique(colour_names(foreground), return_counts=True)
    return str(names[np.argmax(counts)])


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """The catalog colour name of each RGB row (floats in 0..1), from hue, saturation and value."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    high, low = rgb.max(axis=1), rgb.min(axis=1)
    value = high
    chroma = high - low
    saturation = np.where(high > 0, chroma / np.maximum(high, 1e-6), 0.0)
    safe = np.maximum(chroma, 1e-6)
    hue = np.select(
        [high == r, high == g],
        [(60 * (g - b) / safe) % 360, 60 * (b - r) / safe + 120],
        60 * (r - g) / safe + 240,
    )
    reddish = (hue < 15) | (hue >= 345)
    # First matching condition wins, as in a chain of ifs.
    conditions = [
        value < 0.22,
        (saturation < 0.16) & (value > 0.82),
        saturation < 0.16,
        (hue >= 15) & (hue < 50) & (saturation < 0.4) & (value > 0.6),
        reddish & (value > 0.35) & ((saturation > 0.45) | (value < 0.7)),
        reddish & (value > 0.35),
        ((hue < 45) | (hue >= 345)) & (value < 0.65),
        (hue < 45) | (hue >= 345),
        (hue < 70) & (value > 0.55),
        hue < 70,
        hue < 170,
        (hue < 250) & (value < 0.45),
        hue < 250,
        hue < 295,
    ]
    choices = [
        Colour.BLACK,
        Colour.WHITE,
        Colour.GREY,
        Colour.BEIGE,
        Colour.RED,
        Colour.PINK,
        Colour.BROWN,
        Colour.ORANGE,
        Colour.YELLOW,
        Colour.BROWN,
        Colour.GREEN,
        Colour.NAVY,
        Colour.BLUE,
        Colour.PURPLE,
    ]
    return np.select(conditions, [str(choice) for choice in choices], default=str(Colour.PINK))


# --- Import -------------------------------------------------------------------------------


class _Lookups:
    """Caches of categories, brands and seasons, created on first use."""

    def __init__(self) -> None:
        self.categories: dict[tuple[str, ...], Category] = {}
        self.brands: dict[str, Brand] = {}
        self.seasons = seasons_ensure_defaults()

    def category(self, names: tuple[str, ...], garment_kind: str = "") -> Category:
        """The category at ``names``, created (with ``garment_kind``, else a guessed kind) if missing.

        A row's kind for an existing category that has none of its own is set on it; one that
        contradicts the category's own kind is refused (ValueError: the row fails, the category
        keeps its kind; change it in admin if the CSV is right).
        """
        if names not in self.categories:
            parent = self.category(names[:-1]) if len(names) > 1 else None
            slug = slugify(names[-1])[:120] or "category"
            category, _ = Category.objects.get_or_create(
                parent=parent,
                slug=slug,
                defaults={"name": names[-1][:120], "garment_kind": garment_kind or kind_guess(names[-1]) or ""},
            )
            self.categories[names] = category
        category = self.categories[names]
        if garment_kind and category.garment_kind != garment_kind:
            if category.garment_kind:
                raise ValueError(
                    f"garment_kind {garment_kind!r} contradicts category “{category}”, which is "
                    f"{category.garment_kind!r}; fix the row or change the category in admin"
                )
            category.garment_kind = garment_kind
            category.save(update_fields=["garment_kind"])
        return category

    def brand(self, name: str) -> Brand | None:
        if not name:
            return None
        if name not in self.brands:
            slug = slugify(name)[:120] or "brand"
            brand = Brand.objects.filter(name__iexact=name).first() or Brand.objects.filter(slug=slug).first()
            self.brands[name] = brand or Brand.objects.create(name=name[:120], slug=slug)
        return self.brands[name]

    def season_list(self, names: tuple[str, ...]) -> list[Season]:
        found, unknown = [], []
        for name in names:
            season = self.seasons.get(slugify(name))
            (found if season else unknown).append(season or name)
        if unknown:
            raise ValueError(f"unknown season(s) {', '.join(unknown)}; known: {', '.join(sorted(self.seasons))}")
        return found


def seasons_ensure_defaults() -> dict[str, Season]:
    """The northern-hemisphere seasons by slug, creating spring/summer/autumn/winter if missing."""
    for slug, name, start_month, start_day, end_month, end_day in DEFAULT_SEASONS:
        Season.objects.get_or_create(
            slug=slug,
            hemisphere=Hemisphere.NORTH,
            defaults={
                "name": name,
                "start_month": start_month,
                "start_day": start_day,
                "end_month": end_month,
                "end_day": end_day,
            },
        )
    return {season.slug: season for season in Season.objects.filter(hemisphere=Hemisphere.NORTH)}


def _read_source(image: str | Path) -> bytes:
    max_bytes = settings.FASHIONREC_MAX_UPLOAD_BYTES
    if isinstance(image, Path):
        if image.stat().st_size > max_bytes:
            raise ImageRejected("too_large", f"{image.name} is larger than {max_bytes:,} bytes.")
        return image.read_bytes()
    if not image.startswith(("http://", "https://", "file://")):
        raise ValueError(f"image {image!r}: only http(s) and file URLs are fetched")
    with urllib.request.urlopen(image, timeout=30) as response:
        return response.read(max_bytes + 1)


def catalog_import(
    rows: Iterator[ImportRow],
    *,
    limit: int | None = None,
    enqueue: bool = True,
    batch_size: int | None = None,
    progress: Callable[[ImportRow], None] | None = None,
) -> ImportSummary:
    """Create the products and images of ``rows``; skip what exists; send new images in batches."""
    batch_size = batch_size or settings.FASHIONREC_INGEST_BATCH_SIZE
    summary = ImportSummary()
    lookups = _Lookups()
    skus = set(Product.objects.values_list("sku", flat=True))
    checksums = dict(ProductImage.objects.values_list("checksum", "product__sku"))
    pending: list[int] = []

    def flush() -> None:
        if enqueue and pending:
            summary.batches_sent += hooks.product_images_enqueue(image_ids=pending, batch_size=batch_size)
        pending.clear()

    for count, row in enumerate(rows):
        if limit is not None and count >= limit:
            break
        if progress:
            progress(row)
        if row.error:
            summary.failed.append((row.where, row.error))
            continue
        if row.sku in skus:
            summary.skipped["SKU already in the catalog"] += 1
            continue
        try:
            validated = image_validate(_read_source(row.image))
        except ImageRejected as rejected:
            summary.failed.append((row.where, f"{rejected.code}: {rejected.message}"))
            continue
        except (OSError, ValueError) as error:
            summary.failed.append((row.where, f"image cannot be read: {error}"))
            continue
        if validated.checksum in checksums:
            summary.skipped["same photo already in the catalog"] += 1
            continue
        try:
            image = _create_product(row, validated, lookups)
        except (ValueError, ImageDuplicate) as error:
            summary.failed.append((row.where, str(error)))
            continue
        skus.add(row.sku)
        checksums[validated.checksum] = row.sku
        summary.created += 1
        summary.image_ids.append(image.pk)
        pending.append(image.pk)
        if len(pending) >= batch_size:
            flush()
    flush()
    return summary


def _create_product(row: ImportRow, validated: ValidatedImage, lookups: _Lookups) -> ProductImage:
    colour = row.colour or dominant_colour(validated.image)
    brand = lookups.brand(row.brand)
    parts = (brand.name if brand else "", Colour(colour).label.lower(), row.noun or row.category[-1])
    title = row.title or " ".join(part for part in parts if part)
    seasons = lookups.season_list(row.seasons)
    with transaction.atomic():
        product = Product.objects.create(
            sku=row.sku,
            title=title[:255],
            description=row.description,
            brand=brand,
            category=lookups.category(row.category, row.garment_kind),
            department=row.department,
            colour=colour,
            price=row.price,
            currency=row.currency,
        )
        ProductVariant.objects.bulk_create(
            [
                ProductVariant(product=product, sku=f"{row.sku}-{slugify(size) or 'os'}"[:64], size=size, stock=stock)
                for size, stock in row.sizes.items()
            ]
        )
        if seasons:  # one INSERT for the new product's links (.set() would first read them)
            link = Product.seasons.through
            link.objects.bulk_create([link(product_id=product.pk, season_id=season.pk) for season in seasons])
        return product_image_create(product=product, file=validated, is_primary=True, enqueue=False)


# --- The public dataset download ----------------------------------------------------------


def dataset_download(url: str, destination: Path) -> Path:
    """Download ``url`` to ``destination`` (atomically: a partial download never looks complete)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(destination.suffix + ".part")
    with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as handle:
        shutil.copyfileobj(response, handle, length=1 << 20)
    partial.replace(destination)
    return destination


def dataset_extract(archive: Path, destination: Path, *, max_total_bytes: int = 4 << 30) -> Path:
    """Extract a zip safely (no paths outside ``destination``, no links, bounded size); returns ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        total = sum(member.file_size for member in members)
        if total > max_total_bytes:
            raise ValueError(f"{archive.name} would extract to {total:,} bytes, more than {max_total_bytes:,}")
        for member in members:
            target = (root / member.filename).resolve()
            if not target.is_relative_to(root) or member.filename.startswith("/"):
                raise ValueError(f"{archive.name}: entry {member.filename!r} points outside the destination")
            if (member.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # a symbolic link: never followed, never created
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink, length=1 << 20)
    return destination


def dataset_split_folder(extracted: Path, split: str) -> Path:
    """The ``split`` folder (train/validation/test) inside an extracted dataset archive."""
    candidates = sorted(path for path in extracted.rglob(split) if path.is_dir())
    if not candidates:
        raise FileNotFoundError(f"no {split}/ folder in {extracted}")
    return candidates[0]
