"""Issue 18, done when: a CSV catalog with its own category names → a tiny encoder trained from the
database → the catalog re-embedded and switched to it → a recommendation answered with it."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import torch
from django.core.management import call_command
from rest_framework.test import APIClient

from catalog.models import Category, Product
from recommender.models import EncoderVersion, Garment
from recommender.training_selectors import catalog_training_photos
from recommender.vision.encoder import load_encoder
from recommender.vision.encoder_catalog_data import REPORT, catalog_training_set
from recommender.vision.pipeline import get_pipeline, reset_pipeline
from tests.ingestion.conftest import dataset_photos, small_jpeg

# The retailer's own names, in a two-level tree (none is a dataset folder name).
CLASSES = {
    "Apparel/Tees": "t-shirt",
    "Apparel/Jackets & Coats": "outwear",
    "Footwear/Sneakers & Boots": "shoes",
}
PER_CLASS = 6
TINY = ["--epochs=2", "--batch-size=8", "--image-size=32", "--widths=8,16", "--eval-every=1", "--cache=none"]


@pytest.fixture
def catalog_csv(tmp_path):
    """A CSV in ``import_catalog``'s format beside copies of the dataset photos (tmp, not the repo)."""
    folder = tmp_path / "shop"
    folder.mkdir()
    with (folder / "catalog.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "title", "category", "price", "image"])
        for number, (category, source) in enumerate(CLASSES.items()):
            for index, path in enumerate(dataset_photos(source, PER_CLASS)):
                name = f"{number}-{index}.jpg"
                (folder / name).write_bytes(small_jpeg(path, width=160))
                writer.writerow([f"SKU-{number}-{index}", f"{category} {index}", category, "19.90", name])
    return folder / "catalog.csv"


@pytest.fixture
def media_root(settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def fresh_pipeline():
    reset_pipeline()
    yield
    reset_pipeline()  # the next test loads the shipped weights again


@pytest.mark.django_db(transaction=True)
def test_a_csv_catalog_trains_an_encoder_that_is_switched_to_and_answers_recommendations(
    catalog_csv, media_root, settings, tmp_path, fresh_pipeline, monkeypatch
):
    # given: the catalog imported from the CSV and embedded by the shipped encoder
    monkeypatch.setenv("FASHIONREC_NO_PROGRESS", "1")
    out = io.StringIO()
    call_command("import_catalog", str(catalog_csv), "--no-progress", stdout=out)
    assert f"created {len(CLASSES) * PER_CLASS}, skipped 0, failed 0" in out.getvalue()
    shipped = EncoderVersion.objects.get(is_active=True).name
    leaves = set(Category.objects.filter(parent__isnull=False).values_list("path", flat=True))
    assert leaves == {"apparel/tees", "apparel/jackets-coats", "footwear/sneakers-boots"}

    # when: a tiny encoder is trained from the database
    output = tmp_path / "encoder"
    log = io.StringIO()
    call_command("train_encoder", "--from-catalog", "--min-per-class=3", f"--output={output}", *TINY, stdout=log)

    # then: weights over the catalog's own classes, and a card written from what was used
    new = load_encoder(output / "encoder.pt")
    assert new.version != shipped
    checkpoint = torch.load(output / "encoder.pt", weights_only=True)
    assert checkpoint["class_names"] == sorted(leaves)
    recorded = json.loads(checkpoint["card"]["catalog"])
    assert (recorded["level"], recorded["min_per_class"], recorded["seed"]) == (None, 3, 0)
    assert recorded["counts"]["apparel/tees"] == {"train": 4, "selection": 1, "report": 1}
    assert 0.0 <= recorded["report"]["precision@10"] <= 1.0
    card = (output / "MODEL_CARD.md").read_text()
    for text in ("`apparel/jackets-coats` | 4 | 1 | 1", "by product", "report", "## Reproduce", new.version):
        assert text in card
    assert "epoch=2 " in log.getvalue() and "report split: precision@10" in log.getvalue()

    # when: the workers get the new weights; until the re-embed is done, the index stays on the shipped encoder
    settings.FASHIONREC_ENCODER_WEIGHTS = str(output / "encoder.pt")
    reset_pipeline()
    assert get_pipeline().encoder_version == new.version
    query = small_jpeg(dataset_photos("t-shirt", 1, start=PER_CLASS)[0], width=160)
    client = APIClient()
    switching = client.post("/api/v1/recommendations/", {"image": _upload(query)}, format="multipart")
    assert switching.status_code == 503 and switching.json()["error"]["code"] == "encoder_mismatch"
    out = io.StringIO()
    call_command("reindex", "--sync", "--no-progress", stdout=out)

    # then: every image has garments of the new version, which is active, and answers photo queries
    assert f"{new.version} is the active encoder version" in out.getvalue()
    assert EncoderVersion.objects.get(is_active=True).name == new.version
    embedded = Garment.objects.filter(encoder_version=new.version).values("image_id").distinct().count()
    assert embedded == len(CLASSES) * PER_CLASS
    response = client.post("/api/v1/recommendations/", {"image": _upload(query), "k": 5}, format="multipart")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert len(results) == 5
    assert {r["product"]["id"] for r in results} <= set(Product.objects.values_list("id", flat=True))


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("query.jpg", data, content_type="image/jpeg")


@pytest.mark.django_db
def test_the_selector_hands_the_training_set_the_stored_files_and_category_paths(catalog_csv, media_root):
    # given
    call_command("import_catalog", str(catalog_csv), "--no-progress", "--no-process", stdout=io.StringIO())
    # when
    photos = catalog_training_photos()
    training_set = catalog_training_set(photos, level=1, min_per_class=3)
    # then: real files under the media root, labels at the chosen level, report products held out whole
    assert len(photos) == len(CLASSES) * PER_CLASS
    assert all(photo.path.is_file() and media_root in photo.path.parents for photo in photos)
    assert training_set.class_names == ["apparel", "footwear"]
    report_products = {p.product for p in training_set.photos if p.split == REPORT}
    assert report_products and all(p.split == REPORT for p in training_set.photos if p.product in report_products)


@pytest.mark.django_db
def test_bench_retrieval_from_catalog_measures_the_report_split_against_the_rest(
    catalog_csv, media_root, tmp_path, monkeypatch, capsys
):
    # given: the CSV catalog in the database (not yet embedded: the benchmark reads the files)
    from bench import retrieval

    call_command("import_catalog", str(catalog_csv), "--no-progress", "--no-process", stdout=io.StringIO())
    report = tmp_path / "retrieval-catalog.md"
    argv = ["retrieval.py", "--from-catalog", "--min-per-class=3", f"--report={report}", f"--grid={tmp_path / 'g.png'}"]
    monkeypatch.setattr("sys.argv", argv)
    # when
    retrieval.main()
    # then: one report photo per class is a query, the other 15 photos are the catalog
    printed = capsys.readouterr().out.strip().splitlines()
    assert "catalog: 15 photos, queries: 3 photos (the database)" in printed
    assert re.fullmatch(r"precision@10 \d\.\d{4}", printed[-1])
    text = report.read_text()
    assert text.startswith("# Retrieval benchmark (the catalog in the database)")
    assert "| apparel/jackets-coats | 1 |" in text


@pytest.mark.django_db
def test_train_encoder_from_catalog_refuses_bad_options_and_a_catalog_without_two_classes(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--level counts from 1"):
        call_command("train_encoder", "--from-catalog", "--level=0", f"--output={tmp_path}")
    with pytest.raises(CommandError, match="not available with --from-catalog"):
        call_command("train_encoder", "--from-catalog", "--export=best", f"--output={tmp_path}")
    with pytest.raises(CommandError, match="training needs 2 or more"):
        call_command("train_encoder", "--from-catalog", f"--output={tmp_path}", stdout=io.StringIO())
