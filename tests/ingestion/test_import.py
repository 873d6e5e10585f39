"""``manage.py import_catalog``: folders and CSVs, generated attributes, idempotent re-runs."""

from __future__ import annotations

import io
import logging
import os
import pty
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from catalog.models import Category, Product, ProductImage, Season
from catalog.models.products import ProcessingStatus
from catalog.services.catalog_import import (
    CLOTHING_FOLDERS,
    dataset_download,
    dataset_extract,
    dataset_split_folder,
    dominant_colour,
    folder_rows,
    generated_row,
    parse_sizes,
)
from tests.ingestion.conftest import ROOT, database_url_for_workers, dataset_photos, small_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_dataset(tmp_path) -> Path:
    """Two category folders with three scaled-down dataset photos each (copied to a temp dir)."""
    root = tmp_path / "train"
    for category in ("t-shirt", "shoes"):
        (root / category).mkdir(parents=True)
        for path in dataset_photos(category, 3):
            (root / category / path.name).write_bytes(small_jpeg(path))
    return root


@pytest.fixture
def eight_photos(tmp_path) -> Path:
    """Two category folders with four scaled-down dataset photos each: two batches of four."""
    root = tmp_path / "eight"
    for category in ("hat", "shorts"):
        (root / category).mkdir(parents=True)
        for path in dataset_photos(category, 4):
            (root / category / path.name).write_bytes(small_jpeg(path, width=160))
    return root


def run_import(*args) -> str:
    out = io.StringIO()
    call_command("import_catalog", *map(str, args), "--no-progress", "--no-process", stdout=out)
    return out.getvalue()


def test_importing_a_folder_twice_creates_nothing_the_second_time(small_dataset, media_root):
    # given
    first = run_import(small_dataset, "--seed", 3)
    # when
    second = run_import(small_dataset, "--seed", 3)
    # then
    assert "created 6, skipped 0, failed 0" in first
    assert "created 0, skipped 6, failed 0" in second
    assert "skipped 6: SKU already in the catalog" in second
    assert Product.objects.count() == 6
    assert ProductImage.objects.count() == 6
    assert set(ProductImage.objects.values_list("status", flat=True)) == {ProcessingStatus.PENDING}


def test_a_folder_import_builds_the_category_tree_seasons_and_stock(small_dataset, media_root):
    # when
    run_import(small_dataset)
    # then
    assert Category.objects.get(path="clothing/tops/t-shirts").parent.path == "clothing/tops"
    assert Category.objects.filter(path="clothing/shoes").exists()
    assert set(Season.objects.values_list("slug", flat=True)) == {"spring", "summer", "autumn", "winter"}
    tee = Product.objects.filter(category__path="clothing/tops/t-shirts").first()
    assert tee.brand is not None and tee.price > 0 and tee.colour
    assert tee.variants.count() >= 5
    assert set(tee.seasons.values_list("slug", flat=True)) <= {"spring", "summer", "autumn"}
    image = tee.images.get()
    assert image.is_primary and len(image.checksum) == 64 and image.width and image.height
    assert image.file.name.startswith(f"products/{tee.pk}/")


def test_generated_attributes_depend_only_on_the_seed_and_the_photo(small_dataset):
    # given
    path = next((small_dataset / "shoes").iterdir())
    spec = CLOTHING_FOLDERS["shoes"]
    # when
    same = [generated_row(path, spec, seed=1, where="x") for _ in range(2)]
    other = generated_row(path, spec, seed=2, where="x")
    sliced = next(folder_rows(small_dataset, seed=1))  # the order or a --limit changes nothing
    # then
    assert same[0] == same[1]
    assert (same[0].price, same[0].sizes, same[0].brand) != (other.price, other.sizes, other.brand)
    assert same[0].sizes and all(size.isdigit() for size in same[0].sizes)  # shoe sizes
    assert sliced.sku == generated_row(Path(sliced.image), CLOTHING_FOLDERS["shoes"], seed=1, where="x").sku


def test_limit_imports_a_slice(small_dataset, media_root):
    assert "created 2," in run_import(small_dataset, "--limit", 2)
    assert Product.objects.count() == 2


def test_a_csv_import_reports_bad_rows_and_skips_known_skus_and_photos(tmp_path, media_root):
    # given
    photos = dataset_photos("dress", 2)
    for path in photos:
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    csv_path = tmp_path / "catalog.csv"
    csv_path.write_text(
        "sku,title,category,brand,price,currency,sizes,seasons,colour,image,department\n"
        f"D-1,Linen dress,Women › Dresses,Nordwind,79.90,EUR,S:3|M:0|L:2,spring|summer,red,{photos[0].name},women\n"
        f"D-2,Same photo again,Women › Dresses,Nordwind,59.90,EUR,M:1,summer,,{photos[0].name},women\n"
        f"D-3,No price,Women › Dresses,Nordwind,abc,EUR,M:1,summer,,{photos[1].name},women\n"
        "D-4,Broken photo,Women › Dresses,Nordwind,19.90,EUR,M:1,summer,,broken.jpg,women\n"
        f"D-5,Unknown season,Women › Dresses,,19.90,EUR,M:1,monsoon,,{photos[1].name},women\n"
        f"D-6,From a URL,Women/Dresses,,29.00,usd,XS:2,,,{(tmp_path / photos[1].name).as_uri()},women\n"
    )
    # when
    first = run_import(csv_path)
    second = run_import(csv_path)
    # then
    assert "created 2, skipped 1, failed 3" in first
    assert "skipped 1: same photo already in the catalog" in first
    assert "failed line 4: price 'abc' is not a non-negative number" in first
    assert "failed line 5: truncated" in first or "failed line 5: not_an_image" in first
    assert "failed line 6: unknown season(s) monsoon" in first
    dress = Product.objects.get(sku="D-1")
    assert (dress.title, dress.price) == ("Linen dress", Decimal("79.90"))
    assert (dress.colour, dress.department) == ("red", "women")
    assert dress.category.path == "women/dresses"
    assert dict(dress.variants.values_list("size", "stock")) == {"S": 3, "M": 0, "L": 2}
    assert sorted(dress.seasons.values_list("slug", flat=True)) == ["spring", "summer"]
    assert Product.objects.get(sku="D-6").currency == "USD"
    # D-5's photo is in the catalog now (D-6), so it is skipped before its season is checked.
    assert "created 0, skipped 4, failed 2" in second


def test_parse_sizes():
    assert parse_sizes("S:3|M:0| L ") == {"S": 3, "M": 0, "L": 0}
    with pytest.raises(ValueError, match="not a number"):
        parse_sizes("S:three")


@pytest.mark.parametrize(
    ("rgb", "expected"), [((200, 20, 30), "red"), ((20, 40, 160), "blue"), ((15, 15, 15), "black")]
)
def test_dominant_colour_ignores_the_background(rgb, expected):
    # given: a garment-coloured rectangle on a light wooden floor
    image = Image.new("RGB", (300, 400), (196, 164, 120))
    image.paste(Image.new("RGB", (180, 260), rgb), (60, 70))
    # then
    assert dominant_colour(image) == expected


def test_the_dataset_zip_is_downloaded_and_extracted_safely(tmp_path):
    # given: a zip shaped like the public dataset's, served from a file:// URL (no network here)
    archive = tmp_path / "source.zip"
    jpeg = small_jpeg(dataset_photos("hat", 1)[0])
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("clothing-dataset-small-master/train/hat/a.jpg", jpeg)
        bundle.writestr("clothing-dataset-small-master/validation/hat/b.jpg", jpeg)
    # when
    downloaded = dataset_download(archive.as_uri(), tmp_path / "cache" / "dataset.zip")
    extracted = dataset_extract(downloaded, tmp_path / "out")
    # then
    train = dataset_split_folder(extracted, "train")
    assert train == (tmp_path / "out" / "clothing-dataset-small-master" / "train").resolve()
    assert (train / "hat" / "a.jpg").read_bytes() == jpeg
    assert not (tmp_path / "cache" / "dataset.zip.part").exists()


def test_a_zip_entry_outside_the_destination_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../escaped.txt", "x")
    with pytest.raises(ValueError, match="outside the destination"):
        dataset_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


@pytest.mark.django_db(transaction=True)
def test_an_in_process_import_logs_its_batches_at_debug_only(eight_photos, media_root, caplog):
    # given: no broker (the default), so the batches run in this process
    caplog.set_level(logging.DEBUG)
    # when
    call_command("import_catalog", str(eight_photos), "--no-progress", "--batch-size", "4", stdout=io.StringIO())
    # then: one DEBUG line per batch, and nothing from Celery or kombu at INFO or above
    batches = [r for r in caplog.records if r.name == "recommender.tasks"]
    assert [(r.levelno, r.getMessage()) for r in batches] == [
        (logging.DEBUG, "in-process batch of 4 images: 4 ready, 0 failed, 0 skipped"),
        (logging.DEBUG, "in-process batch of 4 images: 4 ready, 0 failed, 0 skipped"),
    ]
    noisy = [
        r.getMessage() for r in caplog.records if r.name.startswith(("celery", "kombu")) and r.levelno >= logging.INFO
    ]
    assert noisy == []


def run_with_stderr_on(stderr_to: str, command: list[str], env: dict) -> tuple[int, str, str]:
    """Run ``command`` with stdout piped and stderr on a pipe or on a pseudo-terminal.

    The pseudo-terminal is 0 columns wide, as under ``script`` or a CI runner that never sizes it.
    Bytes, not text: text mode would turn the bar's carriage returns into newlines.
    """
    if stderr_to == "pipe":
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=300)
        return result.returncode, result.stdout.decode(), result.stderr.decode()
    master, slave = pty.openpty()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # a full terminal buffer would block the command
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    stdout, _ = process.communicate(timeout=300)
    reader.join(timeout=30)
    os.close(master)
    return process.returncode, stdout.decode(), b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.parametrize("stderr_to", ["pipe", "terminal"])
@pytest.mark.django_db(transaction=True)
def test_the_import_command_prints_one_progress_bar_and_a_summary_line(stderr_to, eight_photos, media_root):
    # given: the command as `make run` runs it, on the test database, no broker
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fashionrec.settings",
        "DATABASE_URL": database_url_for_workers(),
        "CELERY_BROKER_URL": "",
        "FASHIONREC_MEDIA_ROOT": str(media_root),
    }
    command = [sys.executable, "manage.py", "import_catalog", str(eight_photos), "--batch-size", "4"]
    # when
    returncode, stdout, stderr = run_with_stderr_on(stderr_to, command, env)
    # then: stdout is the summary; stderr, as a terminal shows it (a carriage return redraws the
    # line), is the finished bar and at most the encoder's one-time activation notice, never a
    # line per batch
    assert returncode == 0, stderr
    assert re.fullmatch(
        r"created 8, skipped 0, failed 0 in [0-9.]+s; images 8 ready, 0 failed, 0 pending "
        r"\(2 processing batches sent\)\n",
        stdout,
    ), stdout
    shown = [line.split("\r")[-1] for line in stderr.rstrip("\n").split("\n")]
    bars = [line for line in shown if line.startswith("import:")]
    assert len(bars) == 1 and "8/8" in bars[0], repr(stderr)
    assert all(line.startswith("encoder version ") for line in shown if line not in bars), repr(stderr)
