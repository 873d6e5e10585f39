"""The ingest service with the shipped models, in-process (the no-broker default runs tasks eagerly)."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from catalog.models import ProductImage
from catalog.models.products import ProcessingStatus
from catalog.services.images import product_image_create
from recommender.models import EncoderVersion, Garment, ImageIngestState
from recommender.services import ingest
from recommender.tasks import product_images_process
from recommender.vision.pipeline import VisionPipeline, get_pipeline
from tests.factories import product_create
from tests.ingestion.conftest import dataset_photos, small_jpeg


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    return [small_jpeg(path, width=160) for category in ("t-shirt", "shoes") for path in dataset_photos(category, 2)]


def stored(photos: list[bytes]) -> list[ProductImage]:
    return [product_image_create(product=product_create(), file=photo, enqueue=False) for photo in photos]


def renamed_pipeline(name: str) -> VisionPipeline:
    """The shipped models under another version name: what a retrained encoder looks like to ingest."""
    shipped = get_pipeline()
    pipeline = VisionPipeline(shipped.encoder, shipped.detector, max_bytes=shipped.max_bytes)
    pipeline.encoder_version = name
    return pipeline


@pytest.mark.django_db
def test_images_become_ready_with_unit_embeddings_and_the_first_encoder_is_activated(media_root, photos):
    # given
    images = stored(photos)
    # when
    result = ingest.product_images_ingest(image_ids=[image.pk for image in images])
    # then
    assert sorted(result.ready) == sorted(image.pk for image in images) and not result.failed
    version = get_pipeline().encoder_version
    assert EncoderVersion.objects.get(is_active=True).name == version
    for image in images:
        image.refresh_from_db()
        assert (image.status, image.encoder_version, image.attempts) == (ProcessingStatus.READY, version, 1)
        garments = list(image.garments.all())
        assert garments and garments[0].product_id == image.product_id
        for garment in garments:
            assert np.linalg.norm(np.asarray(garment.embedding)) == pytest.approx(1.0, abs=1e-3)
            assert 0 <= garment.box_x1 < garment.box_x2 <= image.width
            assert 0 <= garment.box_y1 < garment.box_y2 <= image.height


@pytest.mark.django_db
def test_running_again_replaces_the_rows_and_a_plain_redelivery_skips_ready_images(media_root, photos):
    # given
    images = stored(photos[:2])
    ids = [image.pk for image in images]
    ingest.product_images_ingest(image_ids=ids)
    before = {i: list(Garment.objects.filter(image_id=i).values_list("pk", flat=True)) for i in ids}
    # when
    redelivered = ingest.product_images_ingest(image_ids=ids)
    forced = ingest.product_images_ingest(image_ids=ids, force=True)
    # then
    assert sorted(redelivered.skipped) == sorted(ids) and not redelivered.ready
    assert sorted(forced.ready) == sorted(ids)
    for image_id in ids:
        after = list(Garment.objects.filter(image_id=image_id).values_list("pk", flat=True))
        assert len(after) == len(before[image_id])  # replaced, not added to
        assert set(after).isdisjoint(before[image_id])


@pytest.mark.django_db
def test_a_corrupt_or_missing_file_fails_with_its_reason_and_the_rest_of_the_batch_is_ready(media_root, photos):
    # given
    good = stored(photos[:1])[0]
    corrupt = ProductImage(product=product_create(), checksum="1" * 64)
    corrupt.file.save("upload", ContentFile(b"GIF89a not really"), save=True)
    missing = ProductImage.objects.create(product=product_create(), checksum="2" * 64, file="products/gone.img")
    # when
    result = ingest.product_images_ingest(image_ids=[good.pk, corrupt.pk, missing.pk])
    # then
    assert result.ready == [good.pk]
    statuses = dict(ProductImage.objects.values_list("pk", "status"))
    assert statuses == {good.pk: "ready", corrupt.pk: "failed", missing.pk: "failed"}
    corrupt.refresh_from_db()
    missing.refresh_from_db()
    assert corrupt.error.startswith("truncated: ") or corrupt.error.startswith("not_an_image: ")
    assert missing.error.startswith("file_missing: ")
    # a failed image is not retried by a redelivery
    assert corrupt.pk in ingest.product_images_ingest(image_ids=[corrupt.pk]).skipped


@pytest.mark.django_db
def test_a_new_encoder_version_is_switched_to_only_once_it_covers_every_ready_image(media_root, photos):
    # given: the catalog embedded by the shipped encoder (v1, active)
    images = stored(photos[:3])
    ids = [image.pk for image in images]
    ingest.product_images_ingest(image_ids=ids)
    v1 = EncoderVersion.objects.get(is_active=True).name
    v2 = renamed_pipeline("retrained-v2")
    # when: v2 has embedded two of the three images
    ingest.product_images_ingest(image_ids=ids[:2], pipeline=v2)
    # then: queries still use v1, whose rows are all still there
    assert EncoderVersion.objects.get(is_active=True).name == v1
    assert Garment.objects.filter(encoder_version=v1).values("image_id").distinct().count() == 3
    assert ProductImage.objects.get(pk=ids[0]).status == ProcessingStatus.READY
    # when: the last one is done
    ingest.product_images_ingest(image_ids=ids[2:], pipeline=v2)
    # then: v2 is active, and v1's rows go once the grace period is over
    assert EncoderVersion.objects.get(is_active=True).name == "retrained-v2"
    assert ingest.encoder_versions_prune() == 0  # still inside the grace period
    assert ingest.encoder_versions_prune(grace=timedelta(0)) > 0
    assert set(Garment.objects.values_list("encoder_version", flat=True)) == {"retrained-v2"}


def street_encoder_pipeline(path) -> VisionPipeline:
    """An encoder v2 weights file (recipe "street": kind head, match calibration), untrained and
    tiny, loaded the way production loads weights, with the shipped detector."""
    import torch

    from recommender.vision.calibration import MatchCalibration
    from recommender.vision.encoder import load_encoder
    from recommender.vision.encoder_model import AutoencoderConfig, GarmentAutoencoder
    from recommender.vision.encoder_street_training import encoder_checkpoint

    config = AutoencoderConfig(input_size=32, widths=(8, 16), num_kinds=8)
    torch.manual_seed(0)
    model = GarmentAutoencoder(config)
    normalisation = {"mean": [0.5] * 3, "std": [0.25] * 3, "input_size": 32, "resize": "stretch", "range": "0-1"}
    calibration = MatchCalibration((0.0, 0.5, 1.0), (0.1, 0.4, 0.9), pairs=3)
    checkpoint = encoder_checkpoint(model.state_dict(), config, ["a"] * 10, normalisation, {}, calibration)
    torch.save(checkpoint, path)
    shipped = get_pipeline()
    return VisionPipeline(load_encoder(path), shipped.detector, max_bytes=shipped.max_bytes)


@pytest.mark.django_db
def test_encoder_v2_weights_are_switched_to_only_once_they_cover_every_ready_image(media_root, photos, tmp_path):
    # given: the catalog embedded and served by the shipped encoder
    images = stored(photos[:3])
    ids = [image.pk for image in images]
    ingest.product_images_ingest(image_ids=ids)
    v1 = EncoderVersion.objects.get(is_active=True).name
    v2 = street_encoder_pipeline(tmp_path / "encoder.pt")
    assert v2.encoder_version.startswith("st128-") and v2.encoder_version != v1
    # when: v2 has embedded two of the three images
    ingest.product_images_ingest(image_ids=ids[:2], pipeline=v2)
    # then: queries still use v1
    assert EncoderVersion.objects.get(is_active=True).name == v1
    # when: the last one is done
    ingest.product_images_ingest(image_ids=ids[2:], pipeline=v2)
    # then: v2 is active and its vectors are its own (another space, unit norm)
    assert EncoderVersion.objects.get(is_active=True).name == v2.encoder_version
    assert Garment.objects.filter(encoder_version=v2.encoder_version).values("image_id").distinct().count() == 3
    first_crop = Garment.objects.filter(image_id=ids[0]).order_by("pk")
    old = np.asarray(first_crop.filter(encoder_version=v1).first().embedding)
    new = np.asarray(first_crop.filter(encoder_version=v2.encoder_version).first().embedding)
    assert np.linalg.norm(new) == pytest.approx(1.0, abs=1e-3)
    assert not np.allclose(old, new, atol=1e-2)


@pytest.mark.django_db
def test_the_catch_up_resends_lost_images_and_re_embeds_stale_ones(media_root, photos, settings):
    # given: one image whose task was lost an hour ago, one never sent, one of an old encoder
    lost, never_sent, stale = stored(photos[:3])
    hour_ago = timezone.now() - timedelta(hours=1)
    ImageIngestState.objects.create(image=lost, enqueued_at=hour_ago)
    ProductImage.objects.filter(pk=never_sent.pk).update(created_at=hour_ago)
    ingest.product_images_ingest(image_ids=[stale.pk], pipeline=renamed_pipeline("old-v0"))
    recent = stored(photos[3:4])[0]  # just uploaded, its task is on its way: left alone
    ImageIngestState.objects.create(image=recent, enqueued_at=timezone.now())
    # when (no broker: the resent tasks run in-process)
    result = ingest.ingest_catch_up(version_name=get_pipeline().encoder_version)
    # then
    assert (result.stuck, result.stale) == (2, 1)
    current = get_pipeline().encoder_version
    for image in (lost, never_sent, stale):
        image.refresh_from_db()
        assert (image.status, image.encoder_version) == (ProcessingStatus.READY, current)
    assert ProductImage.objects.get(pk=recent.pk).status == ProcessingStatus.PENDING


@pytest.mark.django_db
def test_reindex_embeds_with_the_current_encoder_and_activates_it(media_root, photos):
    # given: a catalog embedded by an older encoder, which is active
    images = stored(photos[:2])
    ingest.product_images_ingest(image_ids=[image.pk for image in images], pipeline=renamed_pipeline("old-v0"))
    assert EncoderVersion.objects.get(is_active=True).name == "old-v0"
    # when
    out = io.StringIO()
    call_command("reindex", "--sync", "--no-progress", stdout=out)
    # then
    current = get_pipeline().encoder_version
    assert f"{current} is the active encoder version" in out.getvalue()
    assert EncoderVersion.objects.get(is_active=True).name == current
    assert Garment.objects.filter(encoder_version=current).values("image_id").distinct().count() == 2


@pytest.mark.django_db(transaction=True)
def test_when_retries_run_out_the_images_fail_with_the_last_error(media_root, photos, settings):
    # given: the task's database connection is cut (a real OperationalError), on its last attempt
    image = stored(photos[:1])[0]
    get_pipeline()  # models loaded before the connection goes
    pid = connection.cursor().connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], user=db["USER"], dbname=db["NAME"], autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    # when
    outcome = product_images_process.apply(args=[[image.pk]], retries=settings.FASHIONREC_INGEST_MAX_RETRIES)
    # then
    assert outcome.failed()
    image.refresh_from_db()
    assert image.status == ProcessingStatus.FAILED
    assert image.error.startswith(f"gave up after {settings.FASHIONREC_INGEST_MAX_RETRIES + 1} attempts: ")


@pytest.mark.django_db(transaction=True)
def test_an_import_without_a_broker_processes_its_images_in_batches_in_process(media_root, tmp_path):
    # given
    root = tmp_path / "train"
    for category in ("hat", "shorts"):
        (root / category).mkdir(parents=True)
        for path in dataset_photos(category, 3):
            (root / category / path.name).write_bytes(small_jpeg(path, width=160))
    # when
    out = io.StringIO()
    call_command("import_catalog", str(root), "--no-progress", "--batch-size", "4", stdout=out)
    # then
    assert "created 6, skipped 0, failed 0" in out.getvalue() and "(2 processing batches sent)" in out.getvalue()
    assert set(ProductImage.objects.values_list("status", flat=True)) == {ProcessingStatus.READY}
    assert Garment.objects.values("image_id").distinct().count() == 6


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliveries_of_a_batch_leave_one_set_of_garments(media_root, photos):
    # given: a ready batch, and both deliveries held at the row lock until they are both running
    import threading

    from django.db import connections, transaction

    images = stored(photos[:3])
    ids = [image.pk for image in images]
    ingest.product_images_ingest(image_ids=ids)
    expected = Garment.objects.filter(image_id__in=ids).count()
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            ingest.product_images_ingest(image_ids=ids, force=True)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    # when
    with transaction.atomic():
        list(ProductImage.objects.select_for_update().filter(pk__in=ids))
        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        # both analyse, then wait on the lock this transaction holds (pg_locks shows the waiters)
        deadline = timezone.now() + timedelta(seconds=60)
        while timezone.now() < deadline:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                if cursor.fetchone()[0] >= 2:
                    break
    for thread in threads:
        thread.join(timeout=60)
    # then
    assert not errors
    assert Garment.objects.filter(image_id__in=ids).count() == expected
