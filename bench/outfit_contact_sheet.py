"""Contact sheet of complete-the-look results on the demo catalog, for people to judge (issue 17).

    make bench-outfits-sheet      # .venv/bin/python bench/outfit_contact_sheet.py [--per-category N] [--seed S]

Imports a slice of the clothing demo catalog (``--per-category`` photos of every category folder
of ``../shared/datasets/clothing-small/train``, drawn with ``--seed``) into its own database
(``fashionrec_bench_outfits`` on the embedded server; a second run reuses it), picks 12 query
products of different kinds (round robin over the categories' kinds, seeded), and asks the
production selector (``outfit_selectors.look_for_product``, what ``GET
/api/v1/products/{id}/complete-the-look/`` answers, no filters, no shopper) for the best product
of each complementary kind. Each row of ``bench/reports/outfits-contact-sheet.png`` is the query
photo, then one photo per kind with its kind and compatibility. The table printed lists the same
figures; its last line is ``queries <n> kinds_filled <n> mean_top_compatibility <v>``.

Twelve rows are a small sample of the *hub effect* (a few products that top the look of many
queries), so the script also asks for the look of every indexed product of the slice (``k`` =
``HUB_K`` per kind, as the product page) and prints how concentrated the answers are: distinct
products among the best of each row and among all results, the share of the best-of-row slots held
by the ``HUB_TOP`` most frequent products, and the skewness of the k-occurrence (how many result
lists each product of a kind appears in; Radovanović et al., JMLR 2010: a large positive skew
means hubs). The same figures with ``--model`` for another outfit model folder compare two models
on one catalog.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionrec.settings")
# Its own database and media on the embedded server, and ingest in this process (no broker).
os.environ["FASHIONREC_EMBEDDED_DB_NAME"] = "fashionrec_bench_outfits"
os.environ.setdefault("FASHIONREC_MEDIA_ROOT", str(ROOT / "var" / "bench-outfits-media"))
os.environ["CELERY_BROKER_URL"] = ""
os.environ.setdefault("FASHIONREC_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from PIL import Image, ImageDraw, ImageFont, ImageOps  # noqa: E402

from catalog.garment_kinds import NONE  # noqa: E402
from catalog.models import Product, ProductImage  # noqa: E402
from recommender.outfit_selectors import LookRequest, look_for_product  # noqa: E402

DATASET = ROOT.parent / "shared" / "datasets" / "clothing-small" / "train"
SHEET = ROOT / "bench" / "reports" / "outfits-contact-sheet.png"
QUERIES = 12
THUMB = 150  # px per photo: 12 rows of up to 9 photos stay under 1.5 MB
CAPTION = 30  # px under each photo
MAX_BYTES = 1_500_000
HUB_K = 4
HUB_TOP = 5


def catalog_slice(folder: Path, per_category: int, seed: int) -> Path:
    """A folder of category folders holding links to ``per_category`` seeded photos of each."""
    rng = random.Random(seed)
    target = Path(tempfile.mkdtemp(prefix="fashionrec-outfit-sheet-"))
    for category in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = sorted(category.iterdir())
        (target / category.name).mkdir()
        for photo in rng.sample(photos, min(per_category, len(photos))):
            (target / category.name / photo.name).symlink_to(photo.resolve())
    return target


def prepare(per_category: int, seed: int) -> None:
    call_command("migrate", "--noinput", verbosity=0)
    source = catalog_slice(DATASET, per_category, seed)
    call_command("import_catalog", str(source), "--no-progress")
    # An earlier run's catalog may hold another encoder's vectors: bring it up to the shipped one.
    call_command("reindex", "--no-progress", "--prune")
    # ... and colours read by another outfit model (``--model``, or an earlier run's): read with this one.
    call_command("outfit_colours", stdout=io.StringIO())


def indexed_products():
    return (
        Product.objects.filter(is_active=True, garments__isnull=False)
        .select_related("category")
        .distinct()
        .order_by("id")
    )


def pick_queries(seed: int) -> list[Product]:
    """``QUERIES`` indexed products, round robin over the kinds (then categories) of the catalog."""
    rng = random.Random(seed)
    by_kind: dict[str, list[Product]] = {}
    for product in indexed_products():
        by_kind.setdefault(product.category.effective_garment_kind, []).append(product)
    for group in by_kind.values():
        rng.shuffle(group)
    kinds = sorted(kind for kind in by_kind if kind != NONE) or sorted(by_kind)
    chosen: list[Product] = []
    while len(chosen) < QUERIES and any(by_kind[kind] for kind in kinds):
        for kind in kinds:
            if by_kind[kind] and len(chosen) < QUERIES:
                chosen.append(by_kind[kind].pop())
    return chosen


def photo(product_id: int) -> Image.Image:
    image = ProductImage.objects.filter(product_id=product_id).order_by("-is_primary", "id").first()
    with image.file.open("rb") as handle:
        picture = ImageOps.exif_transpose(Image.open(handle)).convert("RGB")
    return ImageOps.pad(picture, (THUMB, THUMB), color=(255, 255, 255))


def render(rows: list[tuple[Product, str, list[tuple[str, int | None, float | None]]]]) -> Image.Image:
    columns = 1 + max((len(cells) for _, _, cells in rows), default=0)
    cell_w, cell_h = THUMB + 8, THUMB + CAPTION + 8
    sheet = Image.new("RGB", (columns * cell_w + 8, len(rows) * cell_h + 8), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, (query, query_kind, cells) in enumerate(rows):
        y = 8 + r * cell_h
        sheet.paste(photo(query.pk), (8, y))
        draw.rectangle((6, y - 2, 8 + THUMB + 1, y + THUMB + 1), outline=(40, 40, 200), width=2)
        draw.text((8, y + THUMB + 2), f"#{query.pk} {query.category.name}"[:24], fill=(0, 0, 0), font=font)
        draw.text((8, y + THUMB + 15), f"query: {query_kind}", fill=(40, 40, 200), font=font)
        for c, (kind, product_id, compatibility) in enumerate(cells, start=1):
            x = 8 + c * cell_w
            if product_id is None:
                draw.rectangle((x, y, x + THUMB, y + THUMB), outline=(200, 200, 200))
                draw.text((x + 4, y + THUMB // 2), "nothing", fill=(120, 120, 120), font=font)
            else:
                sheet.paste(photo(product_id), (x, y))
            draw.text((x, y + THUMB + 2), kind, fill=(0, 0, 0), font=font)
            if compatibility is not None:
                draw.text((x, y + THUMB + 15), f"compat {compatibility:.3f}", fill=(0, 110, 0), font=font)
    return sheet


def save(sheet: Image.Image, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        # 256 colours: photos keep enough to judge an outfit, the file a fraction of the size
        sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path.stat().st_size


def hubness(products: list[Product]) -> dict[str, float]:
    """How concentrated the looks of ``products`` are (module docstring): every query's look at
    ``HUB_K`` per kind, counted per product over the best-of-row slots and over all results."""
    best, every, slots, results = Counter(), Counter(), 0, 0
    kinds: set[str] = set()
    for product in products:
        for group in look_for_product(product_id=product.pk, request=LookRequest(k=HUB_K)).groups:
            if not group.results:
                continue
            slots += 1
            best[group.results[0].row.product_id] += 1
            for item in group.results:
                every[item.row.product_id] += 1
                results += 1
            kinds.add(group.kind)
    # the k-occurrence of every product that could be a result (of a kind some row asked for),
    # never-shown ones at 0: the skew is over the whole catalog of those kinds, not only the shown
    pool = [p.pk for p in products if p.category.effective_garment_kind in kinds]
    counts = np.array([every.get(pk, 0) for pk in pool], dtype=np.float64)
    spread = counts.std()
    skew = float(((counts - counts.mean()) ** 3).mean() / spread**3) if spread > 0 else 0.0
    return {
        "queries": len(products),
        "slots": slots,
        "best_distinct": len(best),
        "best_top_share": sum(n for _, n in best.most_common(HUB_TOP)) / max(slots, 1),
        "results": results,
        "results_distinct": len(every),
        "pool": len(pool),
        "k_occurrence_skew": skew,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-category", type=int, default=40, help="photos imported per category folder")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--output", type=Path, default=SHEET)
    parser.add_argument("--model", type=Path, default=None, help="outfit model folder (default: the setting's)")
    args = parser.parse_args()
    if args.model is not None:
        settings.FASHIONREC_OUTFIT_MODEL = str(args.model)

    started = time.perf_counter()
    prepare(args.per_category, args.seed)
    print(f"catalog ready in {time.perf_counter() - started:.0f} s: {Product.objects.count()} products")

    rows, tops = [], []
    print(f"{'product':>8}  {'category':<12} {'query kind':<10}  top result per kind (compatibility)")
    for query in pick_queries(args.seed):
        result = look_for_product(product_id=query.pk, request=LookRequest(k=1))
        cells = []
        for group in result.groups:
            best = group.results[0] if group.results else None
            cells.append((group.kind, best.row.product_id if best else None, best.row.compatibility if best else None))
            if best:
                tops.append(best.row.compatibility)
        rows.append((query, result.query_kind, cells))
        line = "  ".join(f"{kind} {value:.3f}" if value is not None else f"{kind} -" for kind, _, value in cells)
        print(f"{query.pk:>8}  {query.category.name:<12} {result.query_kind:<10}  {line}")
    shown = Counter(product_id for _, _, cells in rows for _, product_id, _ in cells if product_id is not None)
    repeated = ", ".join(f"#{pid} x{n}" for pid, n in shown.most_common(4) if n > 1) or "none"
    print(f"distinct products among the results: {len(shown)} of {sum(shown.values())} (most repeated: {repeated})")
    hubs = hubness(list(indexed_products()))
    print(
        f"hubness over {hubs['queries']} queries (every indexed product, k {HUB_K} per kind): best of row "
        f"{hubs['best_distinct']} distinct of {hubs['slots']}, the {HUB_TOP} most frequent hold "
        f"{100 * hubs['best_top_share']:.1f} %; all results {hubs['results_distinct']} distinct of {hubs['results']} "
        f"({hubs['pool']} products could be shown); k-occurrence skewness {hubs['k_occurrence_skew']:.2f}"
    )
    size = save(render(rows), args.output)
    print(
        f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output} ({size:,} bytes)"
    )
    print(f"1-minute load average {os.getloadavg()[0]:.1f} (2 cores: above 2, other jobs competed)")
    mean = sum(tops) / len(tops) if tops else 0.0
    print(f"queries {len(rows)} kinds_filled {len(tops)} mean_top_compatibility {mean:.3f}")


if __name__ == "__main__":
    main()
