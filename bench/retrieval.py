"""Retrieval quality benchmark: the clothing train split is the catalog, every validation photo a query.

Methods, all in one run over the same decoded photos:

- **default models** (encoder + detector crops): each photo goes through the real pipeline
  (``VisionPipeline.analyse_images``: detect → crop → encode, whole-image fallback when nothing
  passes the threshold). The catalog index holds the garments ingest stores for each train photo
  (the product's own, ``ingest.garment_is_products_own``), as the ``Garment`` table does; a
  query uses its main garment, as the recommend API does by default; a catalog photo's score is
  its best garment's similarity (results are products, not crops).
- **encoder, whole images** (no detection crops): the same encoder on the full photos.
- **colour histogram**: HSV histogram (16 hue × 4 saturation × 4 value bins on a 144 px
  thumbnail, square-rooted, L2-normalised): the no-learning baseline.

Metrics: precision@10 (share of the top 10 in the query's category) and mAP@10 (average
precision over the top 10, divided by min(10, catalog items of that category)), overall and per
category. Writes ``bench/reports/retrieval.md`` and ``bench/reports/retrieval.png`` (queries with
their top 5; green = same category). The last line printed is ``precision@10 <value>`` for the
default models.

``--from-catalog`` (``make bench-retrieval RETRIEVAL_ARGS=--from-catalog``) measures the catalog in
the database instead (imported from a CSV, say): the photos are labelled, merged and split by
product exactly as ``train_encoder --from-catalog`` does (``encoder_catalog_data``), with the
level, merging threshold and seed recorded in the installed encoder's card when it was trained
that way (flags override them); the queries are the report split's photos, the catalog every
other photo, a hit a neighbour of the query's class. It writes ``retrieval-catalog.md``/``.png``.

    .venv/bin/python bench/retrieval.py [--limit N] [--k 10] [--from-catalog [--level N] [--min-per-class M] [--seed S]]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "reports" / "retrieval.md"
GRID = ROOT / "bench" / "reports" / "retrieval.png"
CATALOG_REPORT = ROOT / "bench" / "reports" / "retrieval-catalog.md"
CATALOG_GRID = ROOT / "bench" / "reports" / "retrieval-catalog.png"
CHUNK = 32


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionrec.settings")
    import django

    django.setup()


def colour_histogram(image) -> np.ndarray:
    hsv = np.asarray(image.resize((144, 144)).convert("HSV"), dtype=np.int32)
    hue, sat, val = hsv[..., 0] * 16 // 256, hsv[..., 1] * 4 // 256, hsv[..., 2] * 4 // 256
    counts = np.bincount((hue * 16 + sat * 4 + val).ravel(), minlength=256).astype(np.float32)
    vector = np.sqrt(counts)
    return vector / np.linalg.norm(vector)


def analyse_split(paths, pipeline, encoder, progress_label: str):
    """Per photo: garments (embeddings, labels, whole flags), whole-image embedding, histogram."""
    from fashionrec.imaging import load_image

    garments, whole, histograms = [], [], []
    seconds = {"decode": 0.0, "pipeline": 0.0, "whole": 0.0}
    for start in range(0, len(paths), CHUNK):
        t0 = time.perf_counter()
        images = [load_image(p) for p in paths[start : start + CHUNK]]
        t1 = time.perf_counter()
        analyses = pipeline.analyse_images(images)
        t2 = time.perf_counter()
        whole.append(encoder.encode(images))
        t3 = time.perf_counter()
        histograms += [colour_histogram(image) for image in images]
        seconds["decode"] += t1 - t0
        seconds["pipeline"] += t2 - t1
        seconds["whole"] += t3 - t2
        garments += [a.garments for a in analyses]
        done = min(start + CHUNK, len(paths))
        if done == len(paths) or (start // CHUNK) % 10 == 0:
            print(f"  {progress_label}: {done}/{len(paths)} photos", flush=True)
    return garments, np.concatenate(whole), np.stack(histograms), seconds


def products_own_garments(index_garments, labels, class_names):
    """The rows ingest stores for each catalog photo (``ingest.garment_is_products_own``), the kind of
    its category guessed from the class name as ``import_catalog`` does for a new category."""
    from catalog.garment_kinds import kind_guess
    from recommender.services.ingest import garment_is_products_own

    kept = []
    for garments, label in zip(index_garments, labels, strict=True):
        kind = kind_guess(class_names[label]) or "none"
        kept.append(
            [
                g
                for position, g in enumerate(garments)
                if garment_is_products_own(
                    position=position, label=g.label, is_whole_image=g.is_whole_image, category_kind=kind
                )
            ]
        )
    return kept


def garment_ranking(query_garments, index_garments, k: int) -> np.ndarray:
    """Top-k catalog photos per query: first query garment vs every catalog garment, best per photo."""
    queries = np.stack([g[0].embedding for g in query_garments])
    owners = np.array([i for i, gs in enumerate(index_garments) for _ in gs])
    vectors = np.stack([g.embedding for gs in index_garments for g in gs])
    similarity = queries @ vectors.T
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    per_photo = np.maximum.reduceat(similarity, starts, axis=1)
    return np.argsort(-per_photo, axis=1, kind="stable")[:, :k]


def metrics_from_neighbours(neighbours, query_labels, index_labels, class_names, k):
    query_labels = np.asarray(query_labels)
    index_labels = np.asarray(index_labels)
    hits = index_labels[neighbours] == query_labels[:, None]
    precision = hits.mean(axis=1)
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    relevant = np.array([min(k, int((index_labels == q).sum())) for q in query_labels])
    ap = (precision_at_rank * hits).sum(axis=1) / np.maximum(relevant, 1)
    per_class = {
        name: (float(precision[query_labels == c].mean()), float(ap[query_labels == c].mean()))
        for c, name in enumerate(class_names)
        if (query_labels == c).any()
    }
    return float(precision.mean()), float(ap.mean()), per_class


def draw_grid(path: Path, query_paths, index_paths, neighbours, query_labels, index_labels, rows: list[int]):
    from PIL import Image, ImageDraw

    from fashionrec.imaging import load_image

    cell, border, top_n = 120, 5, 5
    grid = Image.new("RGB", ((top_n + 1) * cell + 10, len(rows) * cell), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for row, q in enumerate(rows):
        y = row * cell
        query = load_image(query_paths[q])
        query.thumbnail((cell - 2 * border, cell - 2 * border))
        grid.paste(query, (border, y + border))
        draw.rectangle([0, y, cell - 1, y + cell - 1], outline=(30, 30, 200), width=3)
        for j, n in enumerate(neighbours[q][:top_n]):
            x = (j + 1) * cell + 10
            thumb = load_image(index_paths[n])
            thumb.thumbnail((cell - 2 * border, cell - 2 * border))
            grid.paste(thumb, (x + border, y + border))
            hit = index_labels[n] == query_labels[q]
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], outline=(20, 160, 20) if hit else (210, 30, 30), width=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    # An adaptive 256-colour palette keeps the committed PNG small (~3x) at no visible cost.
    grid.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--limit", type=int, default=None, help="at most N photos per split (quick runs)")
    parser.add_argument("--report", type=Path, default=None, help="default: bench/reports/retrieval[-catalog].md")
    parser.add_argument("--grid", type=Path, default=None, help="default: bench/reports/retrieval[-catalog].png")
    catalog = parser.add_argument_group("the catalog in the database (the report split of train_encoder)")
    catalog.add_argument("--from-catalog", action="store_true", help="measure the products in the database")
    catalog.add_argument("--level", type=int, default=None, help="category depth of the classes (default: card)")
    catalog.add_argument("--min-per-class", type=int, default=None, help="merging threshold (default: card, or 5)")
    catalog.add_argument("--seed", type=int, default=None, help="seed of the split (default: card, or 0)")
    args = parser.parse_args()
    args.report = args.report or (CATALOG_REPORT if args.from_catalog else REPORT)
    args.grid = args.grid or (CATALOG_GRID if args.from_catalog else GRID)

    _setup_django()
    from django.conf import settings

    from recommender.vision.encoder_eval import list_split, top_k
    from recommender.vision.encoder_training import _limited
    from recommender.vision.pipeline import get_pipeline

    dataset = Path(os.environ.get("FASHIONREC_DATASET") or settings.FASHIONREC_DATASET)
    started = time.perf_counter()
    pipeline = get_pipeline()
    encoder = pipeline.encoder
    detector = pipeline.detector
    if args.from_catalog:
        train_paths, train_labels, val_paths, val_labels, class_names, source = catalog_splits(args, encoder)
    else:
        train_paths, train_labels, class_names = list_split(dataset, "train")
        val_paths, val_labels, _ = list_split(dataset, "validation")
        source = (
            f"Catalog: the `train` split ({len(train_paths)} photos, {{index_rows}} garment crops indexed); "
            f"queries: every `validation` photo ({len(val_paths)})."
        )
    train_paths, train_labels = _limited(train_paths, train_labels, args.limit)
    val_paths, val_labels = _limited(val_paths, val_labels, args.limit)
    if not train_paths or not val_paths:
        sys.exit("nothing to measure: the catalog or the queries are empty")
    where = "the database" if args.from_catalog else dataset
    print(f"catalog: {len(train_paths)} photos, queries: {len(val_paths)} photos ({where})")
    print(f"encoder {pipeline.encoder_version}, detector {getattr(detector, 'weights_path', None)}", flush=True)

    index_garments, index_whole, index_hist, index_seconds = analyse_split(train_paths, pipeline, encoder, "catalog")
    index_garments = products_own_garments(index_garments, train_labels, class_names)
    query_garments, query_whole, query_hist, _ = analyse_split(val_paths, pipeline, encoder, "queries")

    k = args.k
    rankings = {
        "encoder + detector crops (default models)": garment_ranking(query_garments, index_garments, k),
        "encoder, whole images (no detection crops)": top_k(query_whole, index_whole, k),
        "colour histogram (HSV, no learning)": top_k(query_hist, index_hist, k),
    }
    results = {
        name: metrics_from_neighbours(n, val_labels, train_labels, class_names, k) for name, n in rankings.items()
    }
    default_name = next(iter(rankings))

    whole_queries = sum(g[0].is_whole_image for g in query_garments)
    index_rows = sum(len(g) for g in index_garments)
    label_counts: dict[str, int] = {}
    for garments in query_garments:
        label_counts[garments[0].label] = label_counts.get(garments[0].label, 0) + 1
    chance = sum(
        (np.asarray(train_labels) == c).mean() * (np.asarray(val_labels) == c).mean() for c in range(len(class_names))
    )

    print()
    print(f"| method | precision@{k} | mAP@{k} |")
    print("|---|---:|---:|")
    for name, (p, m, _) in results.items():
        print(f"| {name} | {p:.3f} | {m:.3f} |")

    # The grid: the first query photo of each category.
    rows = [val_labels.index(c) for c in range(len(class_names)) if c in val_labels]
    draw_grid(args.grid, val_paths, train_paths, rankings[default_name], val_labels, train_labels, rows)

    elapsed = time.perf_counter() - started
    lines = [
        f"# Retrieval benchmark ({'the catalog in the database' if args.from_catalog else 'clothing-small'})",
        "",
        source.format(index_rows=index_rows) + " Exact cosine search (NumPy), a hit is a "
        f"neighbour of the query's category. mAP@{k}: AP over the top {k} divided by min({k}, catalog "
        "photos of that category). Class-frequency chance for precision: "
        f"{chance:.3f}.",
        "",
        f"- encoder: `{pipeline.encoder_version}` (`{settings.FASHIONREC_ENCODER_WEIGHTS}`)",
        f"- detector: `{getattr(detector, 'weights_path', 'none (weights missing: whole images only)')}`"
        + (f", confidence ≥ {detector.confidence}, imgsz {detector.imgsz}" if detector is not None else ""),
        f"- queries whose first garment is the whole-image fallback: {whole_queries}/{len(val_paths)}; "
        f"first-garment labels: {', '.join(f'{k_}: {v}' for k_, v in sorted(label_counts.items()))}",
        f"- run: `make bench-retrieval{' RETRIEVAL_ARGS=--from-catalog' if args.from_catalog else ''}` on "
        f"{platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"{elapsed / 60:.1f} min in total (catalog pipeline {index_seconds['pipeline']:.0f} s, "
        f"whole-image encoding {index_seconds['whole']:.0f} s, decoding {index_seconds['decode']:.0f} s)",
        "",
        f"| method | precision@{k} | mAP@{k} |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {p:.3f} | {m:.3f} |" for name, (p, m, _) in results.items()]
    short = ["crops", "whole", "histogram"]
    lines += [
        "",
        "## Per category",
        "",
        "| category | queries | " + " | ".join(f"{s} p@{k} | {s} mAP@{k}" for s in short) + " |",
        "|---|---:|" + "---:|" * (2 * len(short)),
    ]
    for c, name in enumerate(class_names):
        cells = []
        for method in results.values():
            p, m = method[2].get(name, (float("nan"), float("nan")))
            cells += [f"{p:.3f}", f"{m:.3f}"]
        lines.append(f"| {name} | {val_labels.count(c)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"![queries and their top 5]({args.grid.name})",
        "",
        f"`{args.grid.name}`: the first validation photo of each category (blue) and its top 5 catalog "
        "photos with the default models (green: same category, red: another).",
        "",
    ]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines))
    print(f"\nwrote {args.report} and {args.grid}")
    print(f"precision@{k} {results[default_name][0]:.4f}")


def catalog_splits(args, encoder):
    """(catalog paths, labels, query paths, labels, class names, description) from the database:
    the queries are the report split of ``train_encoder --from-catalog``, the catalog the rest."""
    from recommender.training_selectors import catalog_training_photos
    from recommender.vision.encoder_catalog_data import DEFAULT_MIN_PER_CLASS, REPORT, catalog_training_set
    from recommender.vision.encoder_catalog_training import CatalogSpec, catalog_spec_from_card

    recorded = catalog_spec_from_card(getattr(encoder, "card", {}) or {})
    spec = CatalogSpec(
        level=args.level if args.level is not None else recorded.level if recorded else None,
        min_per_class=args.min_per_class or (recorded.min_per_class if recorded else DEFAULT_MIN_PER_CLASS),
        seed=args.seed if args.seed is not None else recorded.seed if recorded else 0,
    )
    print(
        f"classes: level {spec.level or 'leaf'}, min {spec.min_per_class} photos, seed {spec.seed}"
        f" ({'from the encoder card' if recorded else 'not trained from the catalog: defaults and flags'})"
    )
    training_set = catalog_training_set(
        catalog_training_photos(), level=spec.level, min_per_class=spec.min_per_class, seed=spec.seed, log=print
    )
    names = training_set.class_names
    index = [p for p in training_set.photos if p.split != REPORT]
    queries = [p for p in training_set.photos if p.split == REPORT]
    source = (
        f"Catalog: the products in the database, {len(index)} photos ({{index_rows}} garment crops indexed) of "
        f"{len(names)} classes (category paths at level {spec.level or 'leaf'}, classes under "
        f"{spec.min_per_class} photos merged upwards); queries: the {len(queries)} photos of the report split "
        f"(by product, seed {spec.seed}; `encoder_catalog_data`), never trained on by an encoder trained "
        "from this catalog with the same level, threshold and seed."
    )
    return (
        [p.path for p in index],
        [names.index(p.label) for p in index],
        [p.path for p in queries],
        [names.index(p.label) for p in queries],
        names,
        source,
    )


if __name__ == "__main__":
    main()
