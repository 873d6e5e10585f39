"""Train encoder v2 on a retailer's catalog (``manage.py train_encoder --from-catalog``).

The recipe is encoder v2's (``encoder_street_training``: CosFace over the classes, batched
augmentation with background swaps, EMA weights, checkpoint choice on the selection split),
fed with the catalog's own photos and classes (``encoder_catalog_data``) instead of the dataset
folders and CCP street photos. The report split is decoded with the rest but never given to the
trainer: it is embedded once, with the finished weights, for the report figures of the card.

Outputs in the run's folder: ``encoder.pt`` (its card records the level, class merging, seed and
the training set's digest, so ``bench/retrieval.py --from-catalog`` can draw the same report
split), ``MODEL_CARD.md``, ``metrics.json``; ``checkpoint.pt`` while a run is unfinished.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from recommender.vision.encoder_catalog_data import (
    MIN_PRODUCTS_TO_SPLIT,
    REPORT,
    REPORT_SHARE,
    SELECTION,
    SELECTION_SHARE,
    TRAIN,
    CatalogTrainingSet,
    build_catalog_encoder_data,
)
from recommender.vision.encoder_data import EncoderData
from recommender.vision.encoder_eval import retrieval_metrics
from recommender.vision.encoder_model import AutoencoderConfig, GarmentAutoencoder
from recommender.vision.encoder_street_training import (
    CARD_NAME,
    METRICS_NAME,
    StreetTrainSettings,
    embed_arrays,
    train_street,
)

Progress = Callable[[str], None]
DATA_FORMAT = 1


@dataclass(frozen=True)
class CatalogSpec:
    """How the training set was drawn from the catalog: what a benchmark needs to draw it again."""

    level: int | None
    min_per_class: int
    seed: int


@dataclass
class CatalogTrainResult:
    weights_path: Path | None  # None: stopped by the time budget, run again to resume
    version: str | None
    selection: dict
    report: dict


def _decoded(training_set: CatalogTrainingSet, settings: StreetTrainSettings, progress: Progress):
    """``build_catalog_encoder_data``, kept in ``settings.cache_dir`` between runs (a resumed run
    would otherwise decode every photo again)."""
    aug_size = round(settings.image_size * 8 / 7)
    cache_file = None
    if settings.cache_dir is not None:
        key = json.dumps([DATA_FORMAT, training_set.digest(), aug_size, settings.image_size])
        cache_file = Path(settings.cache_dir) / f"encoder-catalog-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
        if cache_file.exists():
            progress(f"using decoded photos from {cache_file}")
            with np.load(cache_file, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            report = arrays.pop("report")
            data = EncoderData(
                **{k: v for k, v in arrays.items() if k not in ("class_names", "names")},
                class_names=[str(n) for n in arrays["class_names"]],
                names=[str(n) for n in arrays["names"]],
            )
            return data, report
    data, report = build_catalog_encoder_data(
        training_set, aug_size=aug_size, eval_size=settings.image_size, progress=progress
    )
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_name(cache_file.name + ".partial.npz")
        arrays = {k: v for k, v in vars(data).items() if k not in ("class_names", "names")}
        np.savez(partial, **arrays, report=report, class_names=np.array(data.class_names), names=np.array(data.names))
        partial.replace(cache_file)
    return data, report


def report_figures(weights_path: Path, data: EncoderData, report: np.ndarray, device: str = "cpu") -> dict:
    """Retrieval with the finished weights: every report photo a query, every other photo
    (train and selection splits) the catalog; a hit is a neighbour of the query's class."""
    if not report.any() or report.all():
        return {}
    checkpoint = torch.load(weights_path, map_location="cpu", weights_only=True)
    model = GarmentAutoencoder(AutoencoderConfig.from_dict(checkpoint["config"])).to(device)
    model.load_state_dict(checkpoint["state_dict"], strict=False)  # no decoder in v2 weights
    norm = checkpoint["normalisation"]
    embeddings = embed_arrays(model, data.eval, norm["mean"], norm["std"], device)
    result = retrieval_metrics(
        embeddings[report],
        data.categories[report],
        embeddings[~report],
        data.categories[~report],
        data.class_names,
        k=10,
    )
    return {
        "queries": int(report.sum()),
        "catalog": int((~report).sum()),
        "precision@10": round(result.precision, 4),
        "map@10": round(result.map, 4),
        "per_class": {
            name: {key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}
            for name, row in result.per_class.items()
        },
    }


def train_from_catalog(
    training_set: CatalogTrainingSet,
    spec: CatalogSpec,
    settings: StreetTrainSettings,
    *,
    progress: Progress = print,
) -> CatalogTrainResult:
    """Train (or resume) encoder v2 on ``training_set``; write weights and the model card."""
    if len(training_set.class_names) < 2:
        raise ValueError(
            f"the catalog gives {len(training_set.class_names)} class(es) with enough photos; training needs 2 or more "
            "(lower --min-per-class, or choose a deeper --level)"
        )
    counts = training_set.counts()
    progress(
        f"catalog: {len(training_set.photos)} photos, {len({p.product for p in training_set.photos})} products, "
        f"{len(counts)} classes"
    )
    for name, row in counts.items():
        progress(f"  {name}: {row[TRAIN]} train, {row[SELECTION]} selection, {row[REPORT]} report photos")
    settings = dataclasses.replace(settings, dataset=None, ccp=None, data_digest=training_set.digest())
    data, report = _decoded(training_set, settings, progress)
    result = train_street(settings, progress=progress, data=data.subset(~report))
    if result.weights_path is None:
        return CatalogTrainResult(None, None, result.selection, {})

    figures = report_figures(result.weights_path, data, report, settings.device)
    if figures:
        progress(f"report split: precision@10 {figures['precision@10']} mAP@10 {figures['map@10']}")
    catalog_card = {
        "level": spec.level,
        "min_per_class": spec.min_per_class,
        "seed": spec.seed,
        "digest": training_set.digest(),
        "counts": counts,
        "merged": training_set.merged,
        "dropped": training_set.dropped,
        "report": figures,
    }
    checkpoint = torch.load(result.weights_path, map_location="cpu", weights_only=True)
    checkpoint["card"]["catalog"] = json.dumps(catalog_card)
    partial = result.weights_path.with_name(result.weights_path.name + ".partial")
    torch.save(checkpoint, partial)
    partial.replace(result.weights_path)
    metrics_path = Path(settings.output) / METRICS_NAME
    metrics = json.loads(metrics_path.read_text())
    metrics_path.write_text(json.dumps(metrics | {"catalog": catalog_card}, indent=2) + "\n")
    (Path(settings.output) / CARD_NAME).write_text(
        catalog_model_card(checkpoint, result.weights_path, catalog_card, metrics)
    )
    return CatalogTrainResult(result.weights_path, result.version, result.selection, figures)


def catalog_spec_from_card(card: dict) -> CatalogSpec | None:
    """The spec recorded in an encoder's card by ``train_from_catalog`` (None for other weights)."""
    value = card.get("catalog")
    if not value:
        return None
    recorded = json.loads(value) if isinstance(value, str) else value
    return CatalogSpec(recorded["level"], recorded["min_per_class"], recorded["seed"])


def catalog_model_card(checkpoint: dict, weights_path: Path, catalog: dict, metrics: dict) -> str:
    """MODEL_CARD.md of a catalog-trained encoder, from what the run actually used and measured."""
    settings = metrics.get("settings", {})
    selection = metrics.get("selection", {})
    environment = metrics.get("environment", {})
    report = catalog["report"]
    config = AutoencoderConfig.from_dict(checkpoint["config"])
    parameters = sum(p.numel() for p in GarmentAutoencoder(config).encoder.parameters())
    level = catalog["level"]
    lines = [
        f"# Garment encoder `{checkpoint['version']}` (encoder v2 recipe, trained on the catalog in the database)",
        "",
        f"- weights: `{weights_path.name}`, {weights_path.stat().st_size / 1e6:.2f} MB, {parameters:,} parameters "
        f"used at inference; sha256 `{checkpoint['card'].get('weights_sha256', '')}`",
        f"- created {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; widths {'/'.join(map(str, config.widths))}, "
        f"{config.input_size} px input, 128-d unit embedding",
        "- loading: `recommender.vision.encoder.load_encoder(path)`; switching the catalog to it: "
        'docs/vision.md, "Training on your catalog"',
        "",
        "## Data: the catalog's products, photos and categories",
        "",
        f"- label of a photo: its product's category path{'' if level is None else f' cut to depth {level}'}; "
        f"classes with fewer than {catalog['min_per_class']} photos merged into their parent category, deepest first "
        "(`encoder_catalog_data.merge_small_classes`).",
        "- merged: "
        + (", ".join(f"`{s}` → `{t}`" for s, t in sorted(catalog["merged"].items())) or "none")
        + "; left out (too few photos even at the root): "
        + (", ".join(f"`{n}` ({c} photos)" for n, c in sorted(catalog["dropped"].items())) or "none")
        + ".",
        f"- splits drawn **by product** per class with seed {catalog['seed']} (a product's photos are all in one "
        f"split): report {REPORT_SHARE:.0%} of each class's products (at least one), selection "
        f"{SELECTION_SHARE:.0%} (at least one), the rest train; a class with fewer than {MIN_PRODUCTS_TO_SPLIT} "
        "products trains on all of them. The report split is never trained on nor used for choices.",
        f"- training set digest `{catalog['digest']}` (photos, labels and splits; a resumed run checks it).",
        "",
        "| class | train | selection | report |",
        "|---|---:|---:|---:|",
    ]
    totals = {TRAIN: 0, SELECTION: 0, REPORT: 0}
    for name, row in catalog["counts"].items():
        lines.append(f"| `{name}` | {row[TRAIN]} | {row[SELECTION]} | {row[REPORT]} |")
        for split in totals:
            totals[split] += row[split]
    lines.append(f"| **all** | {totals[TRAIN]} | {totals[SELECTION]} | {totals[REPORT]} |")
    lines += [
        "",
        "## Schedule",
        "",
        f"{settings.get('epochs')} epochs of {settings.get('batch_size')}-photo batches (drawn ∝ 1/√class size), "
        f"AdamW at peak {settings.get('learning_rate')} with linear warm-up then cosine decay, CosFace margin "
        f"{settings.get('margin')}, EMA weights (these are the final EMA), seed {settings.get('seed')}; "
        f"{metrics.get('train_seconds')} s of training on {environment.get('device')} "
        f"({environment.get('cpu_threads')} CPU thread(s)).",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | `{v}` |" for k, v in settings.items() if k not in ("dataset", "ccp")]
    lines += [
        "",
        "## Figures",
        "",
        "Retrieval by cosine top 10; a hit is a neighbour of the query's class.",
        "",
        "| split | queries → catalog | precision@10 | mAP@10 |",
        "|---|---|---:|---:|",
        f"| selection (chooses checkpoints) | selection → train photos | {selection.get('catalog_p10', '')} | |",
    ]
    if report:
        lines.append(
            f"| **report** (held out) | {report['queries']} report → {report['catalog']} train + selection photos | "
            f"{report['precision@10']} | {report['map@10']} |"
        )
        lines += ["", "| class | report queries | precision@10 | mAP@10 |", "|---|---:|---:|---:|"]
        for name, row in report["per_class"].items():
            lines.append(f"| `{name}` | {row['queries']} | {row['precision@10']} | {row['map@10']} |")
    else:
        lines.append("| report | (no report split: too few products per class) | | |")
    lines += [
        "",
        "With the whole pipeline (detector crops, as the API answers): `make bench-retrieval "
        'RETRIEVAL_ARGS="--from-catalog"` with these weights installed (it draws the same report split).',
        "",
        "## Reproduce",
        "",
        "```sh",
        metrics.get("command") or "python manage.py train_encoder --from-catalog (see settings above)",
        "```",
        "",
        f"Same database rows, torch {environment.get('torch')} and thread count give the same weights (seeded, "
        "deterministic); an interrupted run resumes after its last finished epoch with the same command.",
        "",
        "## Training curve",
        "",
        "| epoch | loss | class loss | class acc | s | selection p@10 |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in metrics.get("history", []):
        lines.append(
            f"| {row['epoch']} | {row['loss']:.3f} | {row['category']:.3f} | {row['accuracy']:.3f} | "
            f"{row['seconds']} | {row.get('catalog_p10', '')} |"
        )
    return "\n".join(lines) + "\n"
