"""Street benchmark: worn garments, cropped from held-out street photos, against the catalog.

    make bench-street            # .venv/bin/python bench/street.py [--limit N]

- **Catalog**: both splits of the clothing photos (``FASHIONREC_DATASET``, 3,409 products)
  imported as the demo does (``import_catalog``: detector crops, encoder embeddings) into the
  benchmark's own database ``fashionrec_bench_street``. The loaded catalog is reused; when the
  encoder weights changed since, the catalog is re-embedded with ``manage.py reindex`` (the
  production zero-downtime version switch) before any query.
- **Queries**: every garment with a catalog kind on the CCP report photos (photo number a
  multiple of 7; trained on by neither model), boxed by the detector's ground-truth rule
  (``detector_data.boxes_from_label_map``), encoded directly with ``VisionPipeline.embed_box``
  (no re-detection: the detector does not move this number) and sent through the production
  selector ``recommendations_for_vector`` (k = 10, no filters).
- **Hit**: a result of the same coarse kind (top, outerwear, dress, trousers, skirt, shorts,
  shoes, hat). The kinds are graded with this file's own tables (``CCP_KIND``, ``FOLDER_KIND``),
  written independently of the training code's mappings; a result's truth is the dataset folder
  of its photo (found by its SKU), not the category the importer assigned.

Reports precision@10 overall and the mean over kinds, a per-kind table, the colour agreement of
hits (the dominant colour name of the garment's own pixels vs the result's catalog colour, for
information) and a contact sheet of 12 queries with their top 5. Writes
``bench/reports/street.md`` and ``bench/reports/street.png``; the last line printed is
``street_crop_p10 <v> street_crop_p10_kinds <v>``.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "fashionrec_bench_street"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionrec.settings")
os.environ["FASHIONREC_EMBEDDED_DB_NAME"] = BENCH_DB

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import scipy.io  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

REPORT = ROOT / "bench" / "reports" / "street.md"
SHEET = ROOT / "bench" / "reports" / "street.png"
K = 10
REPORT_MODULUS = 7  # the detector's and the encoder's report split: CCP photos numbered 7, 14, 21, ...

# The grading tables of this benchmark. Written here on purpose, not imported: a benchmark that
# borrowed the training code's mapping would agree with it by construction.
KINDS = ("top", "outerwear", "dress", "trousers", "skirt", "shorts", "shoes", "hat")
CCP_KIND = {
    **dict.fromkeys(("t-shirt", "shirt", "blouse", "top", "vest", "bodysuit"), "top"),
    **dict.fromkeys(("sweater", "jumper", "hoodie", "sweatshirt"), "top"),
    **dict.fromkeys(("coat", "jacket", "blazer", "cardigan", "cape", "suit"), "outerwear"),
    **dict.fromkeys(("dress", "romper"), "dress"),
    **dict.fromkeys(("jeans", "pants", "leggings"), "trousers"),
    "skirt": "skirt",
    "shorts": "shorts",
    **dict.fromkeys(
        ("shoes", "boots", "sneakers", "heels", "flats", "loafers", "pumps", "sandals", "wedges", "clogs"), "shoes"
    ),
    "hat": "hat",
}
FOLDER_KIND = {
    "t-shirt": "top",
    "shirt": "top",
    "longsleeve": "top",
    "outwear": "outerwear",
    "dress": "dress",
    "pants": "trousers",
    "skirt": "skirt",
    "shorts": "shorts",
    "shoes": "shoes",
    "hat": "hat",
}


def ensure_catalog(dataset: Path, pipeline) -> dict:
    """Import both splits once; re-embed with the current encoder when it is not the active one."""
    from catalog.models import Product
    from recommender.models import EncoderVersion

    call_command("migrate", verbosity=0)
    timings = {}
    if not Product.objects.exists():
        started = time.perf_counter()
        for split in ("train", "validation"):
            print(f"importing {dataset / split} (detector + encoder; minutes on 2 cores)", flush=True)
            call_command("import_catalog", str(dataset / split), "--no-progress", verbosity=0)
        timings["import_s"] = time.perf_counter() - started
    active = EncoderVersion.objects.filter(is_active=True).values_list("name", flat=True).first()
    if active != pipeline.encoder_version:
        print(f"active version {active}, encoder {pipeline.encoder_version}: reindexing", flush=True)
        started = time.perf_counter()
        call_command("reindex", "--sync", "--no-progress", "--prune")
        timings["reindex_s"] = time.perf_counter() - started
        active = EncoderVersion.objects.filter(is_active=True).values_list("name", flat=True).first()
        if active != pipeline.encoder_version:
            raise SystemExit(f"reindex did not activate {pipeline.encoder_version} (active: {active})")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE recommender_garment")
    return timings


def product_kinds(dataset: Path) -> tuple[dict[int, str], dict[int, str], dict[int, Path]]:
    """Per product id: the kind of its dataset folder, its catalog colour and its photo."""
    from catalog.models import Product

    folder_of = {}
    for split in ("train", "validation"):
        for folder in (dataset / split).iterdir():
            if folder.is_dir():
                for photo in folder.iterdir():
                    folder_of[f"CS-{photo.stem}"] = (folder.name, photo)
    kinds, colours, photos = {}, {}, {}
    for pid, sku, colour in Product.objects.values_list("id", "sku", "colour"):
        if sku in folder_of:
            folder, photo = folder_of[sku]
            kinds[pid], colours[pid], photos[pid] = FOLDER_KIND[folder], colour, photo
    return kinds, colours, photos


def report_garments(ccp: Path, limit: int | None):
    """(photo, box, kind, garment pixels) of every garment with a kind on the CCP report photos."""
    from recommender.vision.detector_data import boxes_from_label_map, ccp_label_names

    names = ccp_label_names(ccp)
    photos = [
        p
        for p in sorted((ccp / "photos").glob("*.jpg"))
        if int(p.stem) % REPORT_MODULUS == 0 and (ccp / "annotations" / "pixel-level" / f"{p.stem}.mat").exists()
    ][:limit]
    kind_of_label = np.array([KINDS.index(CCP_KIND[n]) + 1 if n in CCP_KIND else 0 for n in names])
    garments, disagreements = [], 0
    for photo in photos:
        labels = scipy.io.loadmat(str(ccp / "annotations" / "pixel-level" / f"{photo.stem}.mat"))["groundtruth"]
        for found in boxes_from_label_map(labels, names):
            x1, y1, x2, y2 = found.box
            window = labels[y1:y2, x1:x2]
            # The box's kind by this file's table; its pixels (for the colour) are the window's
            # pixels of that kind.
            if found.garment not in KINDS:
                continue  # bags: not sold in this catalog
            kinds_of = kind_of_label[window]  # 0: no kind, else 1 + index into KINDS
            own = KINDS.index(found.garment) + 1
            if not (kinds_of == own).any():
                # this file's table and the detector's taxonomy disagree: this file grades
                disagreements += 1
                counts = np.bincount(kinds_of.ravel(), minlength=len(KINDS) + 1)[1:]
                if not counts.any():
                    continue
                own = int(counts.argmax()) + 1
            kind, pixels = KINDS[own - 1], kinds_of == own
            garments.append((photo, found.box, kind, pixels))
    return garments, len(photos), disagreements


def dominant_colour_of(photo_rgb: np.ndarray, pixels: np.ndarray) -> str:
    from catalog.services.catalog_import import colour_names

    values = photo_rgb[pixels].astype(np.float32) / 255
    names, counts = np.unique(colour_names(values), return_counts=True)
    return str(names[np.argmax(counts)])


def contact_sheet(path: Path, rows: list[dict], product_photos: dict[int, Path]) -> None:
    from fashionrec.imaging import load_image

    cell, border, top_n = 110, 5, 5
    sheet = Image.new("RGB", ((top_n + 1) * cell + 10, len(rows) * cell), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        y = r * cell
        crop = load_image(row["photo"]).crop(row["box"])
        crop.thumbnail((cell - 2 * border, cell - 2 * border))
        sheet.paste(crop, (border, y + border))
        draw.rectangle([0, y, cell - 1, y + cell - 1], outline=(30, 30, 200), width=3)
        draw.text((border + 2, y + cell - 14), row["kind"], fill=(30, 30, 200))
        for j, (pid, hit) in enumerate(zip(row["results"][:top_n], row["hits"][:top_n], strict=True)):
            x = (j + 1) * cell + 10
            thumb = load_image(product_photos[pid])
            thumb.thumbnail((cell - 2 * border, cell - 2 * border))
            sheet.paste(thumb, (x + border, y + border))
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], outline=(20, 160, 20) if hit else (210, 30, 30), width=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N report photos (quick runs)")
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--sheet", type=Path, default=SHEET)
    args = parser.parse_args()

    from recommender import queries
    from recommender.selectors import RecommendRequest, recommendations_for_vector
    from recommender.vision.pipeline import get_pipeline

    started = time.perf_counter()
    dataset = Path(os.environ.get("FASHIONREC_DATASET") or settings.FASHIONREC_DATASET)
    ccp = Path(settings.FASHIONREC_CCP_DATASET)
    pipeline = get_pipeline()
    print(f"encoder {pipeline.encoder_version} ({settings.FASHIONREC_ENCODER_WEIGHTS})", flush=True)
    timings = ensure_catalog(dataset, pipeline)
    kinds, colours, product_photos = product_kinds(dataset)
    print(f"catalog: {len(kinds)} products ({BENCH_DB})", flush=True)

    garments, n_photos, disagreements = report_garments(ccp, args.limit)
    print(f"queries: {len(garments)} garments on {n_photos} report photos", flush=True)
    rows = []
    encode_s = query_s = 0.0
    for photo, box, kind, pixels in garments:
        data = photo.read_bytes()
        t0 = time.perf_counter()
        vector = pipeline.embed_box(data, box)
        t1 = time.perf_counter()
        result = recommendations_for_vector(
            vector=queries.vector_literal(vector),
            encoder_version=pipeline.encoder_version,
            request=RecommendRequest(k=K),
        )
        query_s += time.perf_counter() - t1
        encode_s += t1 - t0
        results = [r.row.product_id for r in result.results]
        hits = [kinds.get(pid) == kind for pid in results]
        x1, y1, x2, y2 = box
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[y1:y2, x1:x2]
        colour = dominant_colour_of(rgb, pixels)
        rows.append(
            {
                "photo": photo,
                "box": box,
                "kind": kind,
                "results": results,
                "hits": hits,
                "precision": sum(hits) / K,
                "colour": colour,
                "colour_agree": [colours.get(pid) == colour for pid, hit in zip(results, hits, strict=True) if hit],
            }
        )

    overall = float(np.mean([r["precision"] for r in rows]))
    per_kind: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        per_kind[r["kind"]].append(r["precision"])
    kind_means = {kind: float(np.mean(v)) for kind, v in per_kind.items()}
    macro = float(np.mean(list(kind_means.values())))
    agreements = [a for r in rows for a in r["colour_agree"]]
    colour_agreement = float(np.mean(agreements)) if agreements else float("nan")
    # What a result's kind would be by chance: the catalog's share of each kind.
    catalog_share = Counter(kinds.values())
    chance = {kind: catalog_share[kind] / len(kinds) for kind in KINDS}

    # 12 queries for the sheet: spread over the kinds, then over the photos.
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    sheet_rows: list[dict] = []
    while len(sheet_rows) < min(12, len(rows)):
        for kind in KINDS:
            if by_kind[kind] and len(sheet_rows) < 12:
                group = by_kind[kind]
                sheet_rows.append(group.pop(len(group) // 2))
    contact_sheet(args.sheet, sheet_rows, product_photos)

    table = [
        "| kind | queries | precision@10 | catalog share (chance) | hits with the garment's colour |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        if kind in kind_means:
            agree = [a for r in rows if r["kind"] == kind for a in r["colour_agree"]]
            agree_text = f"{np.mean(agree):.2f}" if agree else "–"
            table.append(
                f"| {kind} | {len(per_kind[kind])} | {kind_means[kind]:.3f} | {chance[kind]:.3f} | {agree_text} |"
            )
    elapsed = time.perf_counter() - started
    lines = [
        "# Street benchmark (worn garments → catalog)",
        "",
        f"Catalog: clothing-small train + validation ({len(kinds)} products) imported as the demo does, "
        f"database `{BENCH_DB}`. Queries: the {len(rows)} garments with a catalog kind on the {n_photos} CCP "
        "report photos (number a multiple of 7), boxed by the detector's ground-truth rule, encoded with "
        "`VisionPipeline.embed_box` and sent through `recommendations_for_vector` (k = 10, no filters). "
        "A hit is a result of the same coarse kind (this benchmark's own tables; a result's kind is the "
        "dataset folder of its photo).",
        "",
        f"- encoder: `{pipeline.encoder_version}` (`{settings.FASHIONREC_ENCODER_WEIGHTS}`)",
        f"- run: `make bench-street` on {platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"{elapsed / 60:.1f} min in total"
        + "".join(f", {name.replace('_s', '')} {value:.0f} s" for name, value in timings.items())
        + f"; per query: encode {1000 * encode_s / max(1, len(rows)):.1f} ms, "
        f"selector {1000 * query_s / max(1, len(rows)):.1f} ms",
        f"- boxes whose kind this benchmark's table and the detector's taxonomy disagree on: {disagreements}",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| precision@10, all queries | {overall:.3f} |",
        f"| precision@10, mean over kinds | {macro:.3f} |",
        f"| hits in the garment's dominant colour (information) | {colour_agreement:.3f} |",
        "",
        *table,
        "",
        f"![12 queries and their top 5]({args.sheet.name})",
        "",
        f"`{args.sheet.name}`: 12 worn-garment queries (blue, kind written below) and their top 5 products "
        "(green: same kind, red: another).",
        "",
    ]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines))
    print("\n".join(lines[lines.index("| measure | value |") : -5]))
    print(f"\nwrote {args.report} and {args.sheet}")
    print(f"street_crop_p10 {overall:.4f} street_crop_p10_kinds {macro:.4f}")


if __name__ == "__main__":
    main()
