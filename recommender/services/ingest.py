"""Turning stored product images into garment embeddings.

An image moves ``pending → processing → ready | failed``. Processing is batched: a worker
reads the files of a batch, runs the vision pipeline once on all of them (``analyse_batch``)
and writes the garment rows. Writing is idempotent and safe under double delivery: the image
rows are locked (``SELECT … FOR UPDATE``, in id order so two workers cannot deadlock) and the
image's garments of this encoder version are replaced inside that transaction, so a query
never sees a half-written image and a redelivered task never duplicates rows. Of the garments
the pipeline finds, only the product's own are stored (:func:`garment_is_products_own`).

Encoder versions: the first version ever seen is activated at once; a later one is filled in
(new uploads and ``reindex``) while queries keep using the active one, and is activated in
one transaction once every ready image has garments of it (:func:`encoder_version_activate_if_complete`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from catalog.garment_kinds import GARMENTS
from catalog.models import ProductImage
from catalog.models.products import ProcessingStatus
from fashionrec.imaging import ImageRejected
from recommender.models import EncoderVersion, Garment, ImageIngestState
from recommender.services.outfit_colours import CatalogColours, catalog_colours, image_limits, loaded_outfit_model
from recommender.vision.garment_choice import EVERY_GARMENT
from recommender.vision.preprocess import clamp_box

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    ready: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    encoder_version: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "ready": self.ready,
            "failed": {str(k): v for k, v in self.failed.items()},
            "skipped": self.skipped,
            "encoder_version": self.encoder_version,
            "timings_ms": self.timings_ms,
        }


# --- Encoder versions -------------------------------------------------------------------


def _weights_sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def encoder_version_ensure(*, name: str, card: dict | None = None, calibration: dict | None = None) -> EncoderVersion:
    """The row for encoder ``name``; created if new, and activated if no version is active yet.

    ``calibration`` (the weights' match calibration, ``MatchCalibration.to_dict()``) is stored on
    the row, and replaces a different one already there (weights calibrated after registration).
    """
    version = EncoderVersion.objects.filter(name=name).first()
    if version is None:
        version, _ = EncoderVersion.objects.get_or_create(
            name=name,
            defaults={
                "dim": settings.FASHIONREC_EMBEDDING_DIM,
                "weights_sha256": _weights_sha256(settings.FASHIONREC_ENCODER_WEIGHTS),
                "card": card or {},
                "calibration": calibration or {},
            },
        )
    if calibration and version.calibration != calibration:
        encoder_version_calibration_update(name=name, calibration=calibration)
        version.calibration = calibration
    if not version.is_active and not EncoderVersion.objects.filter(is_active=True).exists():
        # The very first encoder: nothing to keep serving, so queries use it at once.
        version = encoder_version_activate(version=version)
    return version


def encoder_version_calibration_update(*, name: str, calibration: dict) -> bool:
    """Store the match calibration of encoder ``name``; False when the database has no such version."""
    return EncoderVersion.objects.filter(name=name).update(calibration=calibration) > 0


def encoder_version_missing_images(*, name: str):
    """Ready images that have no garments of encoder ``name`` yet (what a reindex still has to do)."""
    return ProductImage.objects.filter(status=ProcessingStatus.READY).exclude(
        Exists(Garment.objects.filter(image=OuterRef("pk"), encoder_version=name))
    )


def encoder_version_activate(*, version: EncoderVersion) -> EncoderVersion:
    """Make ``version`` the one queries use, in one transaction (at most one is active)."""
    with transaction.atomic():
        # Lock every version row: two workers finishing a reindex at once activate it once.
        list(EncoderVersion.objects.select_for_update().order_by("pk"))
        EncoderVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        EncoderVersion.objects.filter(pk=version.pk, is_active=False).update(
            is_active=True, activated_at=timezone.now()
        )
    version.refresh_from_db()
    logger.info("encoder version %s is now active", version.name)
    return version


def encoder_version_activate_if_complete(*, name: str) -> bool:
    """Activate encoder ``name`` if every ready image has its garments; True if it is active now."""
    version = EncoderVersion.objects.filter(name=name).first()
    if version is None:
        return False
    if version.is_active:
        return True
    if encoder_version_missing_images(name=name).exists():
        return False
    encoder_version_activate(version=version)
    return True


def encoder_versions_prune(*, grace: timedelta | None = None, batch_size: int = 5000) -> int:
    """Delete the garments of versions that were replaced, once the new one has been active for ``grace``.

    Only versions that were active once and are no longer are pruned: a version being filled
    in by a reindex (never active yet) keeps its rows. The grace period lets a query that read
    the previous active version just before the switch finish with its results; afterwards the
    old vectors would only cost HNSW walks.
    """
    grace = grace if grace is not None else timedelta(seconds=settings.FASHIONREC_INGEST_STALE_AFTER_S)
    active = EncoderVersion.objects.filter(is_active=True).first()
    if active is None or active.activated_at is None or active.activated_at > timezone.now() - grace:
        return 0
    replaced = list(
        EncoderVersion.objects.filter(is_active=False, activated_at__isnull=False).values_list("name", flat=True)
    )
    deleted = 0
    while replaced:
        ids = list(
            Garment.objects.filter(encoder_version__in=replaced)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        deleted += Garment.objects.filter(pk__in=ids).delete()[0]
    return deleted


# --- Processing ---------------------------------------------------------------------------


def _read_file(image: ProductImage) -> bytes:
    with image.file.storage.open(image.file.name, "rb") as handle:
        return handle.read()


def _analyse(pipeline, datas: list[bytes]) -> list:
    """``analyse_batch``; if the batch as a whole blows up, isolate the image that did it."""
    try:
        return pipeline.analyse_batch(datas)
    except ImageRejected:
        raise
    except Exception:
        logger.exception("analyse_batch failed on %d images; analysing them one by one", len(datas))
    results = []
    for data in datas:
        try:
            # Every garment, as analyse_batch does: which of them are stored is decided at write time.
            results.append(pipeline.analyse(data, encode=EVERY_GARMENT))
        except ImageRejected as rejected:
            results.append(rejected)
        except Exception as error:  # a bug or a model failure on this one image
            logger.exception("analyse failed")
            results.append(error)
    return results


def product_images_ingest(*, image_ids: Iterable[int], force: bool = False, pipeline=None) -> IngestResult:
    """Detect and encode the garments of these images and store them (idempotent, batched).

    Images already ``ready`` with the current encoder and images that ``failed`` are skipped
    unless ``force`` (a redelivered task should not redo them); a ready image of an older
    encoder is re-embedded and stays ready (its old garments keep serving queries until the
    new version is activated). Database errors propagate (the task retries them); an
    unusable image becomes ``failed`` with the reason at once.
    """
    started = time.perf_counter()
    if pipeline is None:
        from recommender.vision.pipeline import get_pipeline

        pipeline = get_pipeline()
    version_name = pipeline.encoder_version
    version = encoder_version_ensure(name=version_name, calibration=pipeline.match_calibration)
    result = IngestResult(encoder_version=version_name)

    images = _claim(sorted(set(image_ids)), version_name=version_name, force=force, result=result)
    if not images:
        return result

    # Files: a missing file is a permanent failure of that image (nothing to retry).
    datas: dict[int, bytes] = {}
    for image in images:
        try:
            datas[image.pk] = _read_file(image)
        except (FileNotFoundError, ValueError) as error:
            result.failed[image.pk] = f"file_missing: the stored file cannot be read ({error})."
    t_read = time.perf_counter()

    todo = [image for image in images if image.pk in datas]
    analyses = _analyse(pipeline, [datas[image.pk] for image in todo]) if todo else []

    rows: dict[int, tuple[object, str, CatalogColours | None]] = {}
    for image, analysis in zip(todo, analyses, strict=True):
        if isinstance(analysis, ImageRejected):
            result.failed[image.pk] = f"{analysis.code}: {analysis.message}"
        elif isinstance(analysis, BaseException):
            result.failed[image.pk] = f"error: {type(analysis).__name__}: {analysis}"[:1000]
        else:
            rows[image.pk] = (analysis, hashlib.sha256(datas[image.pk]).hexdigest(), None)
    t_analysed = time.perf_counter()
    _read_colours(rows, datas, pipeline)
    t_colours = time.perf_counter()

    _write(rows, version_name=version_name, result=result)
    if result.failed:
        product_images_mark_failed(reasons=result.failed)
    t_write = time.perf_counter()

    if not version.is_active and result.ready:
        encoder_version_activate_if_complete(name=version_name)
    result.timings_ms = {
        "read": round((t_read - started) * 1000, 1),
        "analyse": round((t_analysed - t_read) * 1000, 1),
        "colours": round((t_colours - t_analysed) * 1000, 1),
        "write": round((t_write - t_colours) * 1000, 1),
    }
    return result


def _read_colours(
    rows: dict[int, tuple[object, str, CatalogColours | None]], datas: dict[int, bytes], pipeline
) -> None:
    """Each stored-to-be garment's colour as the outfit model reads it, into ``rows``; none without
    an outfit model. Runs before the write's transaction: no lock is held while a garment is read
    (through the detector's masks the analysis carries; GrabCut where it has none)."""
    colour_model = loaded_outfit_model() if rows else None
    if colour_model is None:
        return
    limits = image_limits(pipeline)
    # Only the garments that will be stored are read (a read is most of this step's cost). The
    # write decides again under its lock; a category changed meanwhile leaves at most a garment
    # without a colour (ranked by its colour name until ``manage.py outfit_colours``).
    kinds = dict(
        ProductImage.objects.filter(pk__in=rows).values_list("pk", "product__category__effective_garment_kind")
    )
    for image_id, (analysis, checksum, _) in rows.items():
        boxes = [
            crop.box
            if garment_is_products_own(
                position=position,
                label=crop.label,
                is_whole_image=crop.is_whole_image,
                category_kind=kinds.get(image_id),
            )
            else None
            for position, crop in enumerate(analysis.garments)
        ]
        try:
            colours = catalog_colours(
                datas[image_id],
                boxes,
                kinds=[crop.label for crop in analysis.garments],
                detections=analysis.detections,
                model=colour_model,
                **limits,
            )
        except Exception:  # a colour is an extra: it never fails the image (its name stands in)
            logger.exception("reading the outfit colours of image %s failed", image_id)
            colours = None
        rows[image_id] = (analysis, checksum, colours)


def _claim(ids: list[int], *, version_name: str, force: bool, result: IngestResult) -> list[ProductImage]:
    """Pick the images of the batch that need work and mark the new ones ``processing``."""
    now = timezone.now()
    with transaction.atomic():
        images = list(ProductImage.objects.filter(pk__in=ids).order_by("pk"))
        result.skipped.extend(sorted(set(ids) - {image.pk for image in images}))  # deleted meanwhile
        todo = []
        for image in images:
            done = image.status == ProcessingStatus.READY and image.encoder_version == version_name
            if not force and (done or image.status == ProcessingStatus.FAILED):
                result.skipped.append(image.pk)
            else:
                todo.append(image)
        first_time = [image.pk for image in todo if image.status != ProcessingStatus.READY]
        if first_time:
            # A ready image being re-embedded keeps its status: it is still served meanwhile.
            ProductImage.objects.filter(pk__in=first_time).update(
                status=ProcessingStatus.PROCESSING, attempts=F("attempts") + 1, error=""
            )
        ImageIngestState.objects.bulk_create(
            [ImageIngestState(image_id=image.pk, started_at=now) for image in todo],
            update_conflicts=True,
            unique_fields=["image"],
            update_fields=["started_at"],
        )
    return todo


def garment_is_products_own(*, position: int, label: str, is_whole_image: bool, category_kind: str) -> bool:
    """Whether a garment the pipeline found on a catalog photo is stored as the product's (a row).

    A product is one item: the trousers in a shirt's model photo are not the product, and a
    search for trousers should not answer with the shirt. So a photo keeps its main garment
    (``position`` 0, the pipeline's most prominent box: the product even when the detector
    mislabelled it), a whole-image fallback, and any other garment labelled with the kind of
    the product's category (``Category.effective_garment_kind``: both shoes of a pair);
    the rest is dropped. The detector runs at confidence 0.15, so a
    flat-lay photo also yields weak extra boxes (one shoe of a pair, a partial crop, a wrong
    label) that, stored, match queries as hubs. On the selection splits (encoder v2, crop padding
    0.1; 2026-12-06), catalog photo -> same category p@10 / worn street garment -> same kind p@10
    (311 photos / 287 garments) were 0.776 / 0.646 with every garment stored, 0.803 / 0.794 with
    this rule and 0.808 / 0.802 with the main garment only (a difference within noise; this rule
    keeps a pair's second shoe and is the one complete-the-look applies to a product's garments,
    ``_LOOK_FILLS_KIND`` in ``recommender/queries.py``).

    A category without a garment kind (``none``: nothing says which garment is the product)
    keeps every garment, as complete-the-look falls back to their detector labels there.
    """
    if category_kind not in GARMENTS:
        return True
    return position == 0 or is_whole_image or label == category_kind


def _garment_rows(
    image: ProductImage, analysis, colours: CatalogColours | None, version_name: str, *, category_kind: str
) -> list[Garment]:
    garments = []
    # The pipeline lists the main garment first (recommender.vision.main_garment): it is the
    # image's main garment, the one the product query uses.
    for position, crop in enumerate(analysis.garments):
        if not garment_is_products_own(
            position=position, label=crop.label, is_whole_image=crop.is_whole_image, category_kind=category_kind
        ):
            continue
        x1, y1, x2, y2 = clamp_box(crop.box, analysis.width, analysis.height)
        root = None if colours is None else colours.roots[position]
        garments.append(
            Garment(
                image_id=image.pk,
                product_id=image.product_id,
                encoder_version=version_name,
                embedding=crop.embedding,
                box_x1=x1,
                box_y1=y1,
                box_x2=x2,
                box_y2=y2,
                label=crop.label,
                confidence=min(max(float(crop.confidence), 0.0), 1.0),
                is_whole_image=bool(crop.is_whole_image),
                is_main=position == 0,
                outfit_colour=None if root is None else root.astype("float32"),
                outfit_colour_model="" if root is None else colours.model_version,
            )
        )
    return garments


def _write(
    rows: dict[int, tuple[object, str, CatalogColours | None]], *, version_name: str, result: IngestResult
) -> None:
    """Replace the garments of every analysed image in one transaction (per image on a data error)."""
    if not rows:
        return
    try:
        _write_images(rows, version_name=version_name, result=result)
    except (IntegrityError, DatabaseError) as error:
        if not _is_data_error(error):
            raise
        # One image's rows broke a constraint: write them one by one to isolate it.
        logger.warning("batch write failed (%s); writing images one by one", error)
        for image_id, row in rows.items():
            try:
                _write_images({image_id: row}, version_name=version_name, result=result)
            except (IntegrityError, DatabaseError) as single_error:
                if not _is_data_error(single_error):
                    raise
                result.failed[image_id] = f"error: the garments could not be stored ({single_error})."[:1000]


def _is_data_error(error: Exception) -> bool:
    return isinstance(error, IntegrityError | DataError)


def _write_images(
    rows: dict[int, tuple[object, str, CatalogColours | None]], *, version_name: str, result: IngestResult
) -> None:
    now = timezone.now()
    with transaction.atomic():
        # The lock serialises two deliveries of the same image: the second replaces the
        # first's garments instead of adding to them.
        # The category's kind comes with the lock (a join, no query per image): it decides
        # which garments are the product's own (``garment_is_products_own``).
        locked = {
            image.pk: image
            for image in ProductImage.objects.select_for_update(of=("self",))
            .filter(pk__in=rows)
            .annotate(category_kind=F("product__category__effective_garment_kind"))
            .order_by("pk")
        }
        current = {}
        for image_id, (analysis, checksum, colours) in rows.items():
            image = locked.get(image_id)
            if image is None:
                result.skipped.append(image_id)  # deleted while it was being analysed
            else:
                # The garments describe the bytes that were analysed: the checksum must too (a
                # file swapped outside the upload service would otherwise keep a stale one).
                image.checksum = checksum
                current[image_id] = (image, analysis, colours)
        if not current:
            return
        Garment.objects.filter(image_id__in=current, encoder_version=version_name).delete()
        garments = [
            garment
            for image, analysis, colours in current.values()
            for garment in _garment_rows(image, analysis, colours, version_name, category_kind=image.category_kind)
        ]
        Garment.objects.bulk_create(garments, batch_size=500)
        for image, analysis, _ in current.values():
            image.status = ProcessingStatus.READY
            image.error = ""
            image.width, image.height = analysis.width, analysis.height
            image.encoder_version = version_name
            image.processed_at = now
        ProductImage.objects.bulk_update(
            [image for image, _, _ in current.values()],
            ["status", "error", "width", "height", "encoder_version", "processed_at", "checksum"],
        )
    result.ready.extend(current)


def product_images_mark_failed(*, reasons: dict[int, str]) -> None:
    """Mark images ``failed`` with a reason for people (a bad image, or retries exhausted)."""
    now = timezone.now()
    with transaction.atomic():
        for image_id, reason in reasons.items():
            # A ready image (re-embedding for a new encoder failed) keeps serving its old garments.
            ProductImage.objects.filter(pk=image_id).exclude(status=ProcessingStatus.READY).update(
                status=ProcessingStatus.FAILED, error=reason[:2000], processed_at=now
            )
            ProductImage.objects.filter(pk=image_id, status=ProcessingStatus.READY).update(error=reason[:2000])


def product_images_note_pending(*, image_ids: Iterable[int], reason: str) -> None:
    """Leave pending images pending, with the reason they are waiting (e.g. the models are missing)."""
    ProductImage.objects.filter(pk__in=list(image_ids), status=ProcessingStatus.PENDING).update(error=reason[:2000])


# --- Enqueueing ---------------------------------------------------------------------------


# The processing task is sent by its name: ``recommender.tasks`` imports this module, so
# importing the task here would close a cycle. ``RecommenderConfig.ready`` imports the tasks
# module, so the name is registered in every process (and runs in-process when eager).
PROCESS_TASK = "recommender.product_images_process"


def _batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def product_images_enqueue(*, image_ids: Iterable[int], force: bool = False, batch_size: int | None = None) -> int:
    """Send the images to the workers in batches; returns how many batches were sent.

    Call it after commit (``transaction.on_commit``). If the broker is unreachable the
    images stay ``pending`` and the catch-up task sends them when it is back: an upload
    never fails because the queue is down.
    """
    ids = sorted(set(image_ids))
    batch_size = batch_size or settings.FASHIONREC_INGEST_BATCH_SIZE
    sent = 0
    for batch in _batches(ids, batch_size):
        ImageIngestState.objects.bulk_create(
            [ImageIngestState(image_id=image_id, enqueued_at=timezone.now()) for image_id in batch],
            update_conflicts=True,
            unique_fields=["image"],
            update_fields=["enqueued_at"],
        )
        try:
            current_app.signature(PROCESS_TASK, args=[batch], kwargs={"force": force}).apply_async(**_publish_options())
        except (BrokerError, OSError) as error:
            # Not sent: clear enqueued_at so the catch-up task sends them soon after the broker returns.
            ImageIngestState.objects.filter(image_id__in=batch).update(enqueued_at=None)
            logger.warning("broker unavailable, %d images stay pending: %s", len(batch), error)
            return sent
        sent += 1
    return sent


def _publish_options() -> dict:
    if current_app.conf.task_always_eager:
        return {}
    # Fail fast when the broker is down instead of blocking the request (kombu retries ~100 s by default).
    return {"retry": True, "retry_policy": {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}}


# --- Catch-up -----------------------------------------------------------------------------


@dataclass
class CatchUpResult:
    stuck: int = 0
    stale: int = 0
    batches: int = 0
    activated: bool = False
    pruned: int = 0


def _ids_in_pk_batches(queryset, batch_size: int, limit: int) -> Iterator[list[int]]:
    last, seen = 0, 0
    while seen < limit:
        ids = list(
            queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[: min(batch_size, limit - seen)]
        )
        if not ids:
            return
        yield ids
        last, seen = ids[-1], seen + len(ids)


def ingest_stuck_images(*, stale_after: timedelta | None = None):
    """Pending or processing images whose task was lost: never sent, or sent/started too long ago.

    "Too long" is ``FASHIONREC_INGEST_STALE_AFTER_S``, longer than the broker's visibility
    timeout, so Redis's own redelivery of a killed worker's task comes first.
    """
    stale_after = stale_after or timedelta(seconds=settings.FASHIONREC_INGEST_STALE_AFTER_S)
    now = timezone.now()
    not_sent_recently = Q(ingest_state__enqueued_at__isnull=True) | Q(ingest_state__enqueued_at__lt=now - stale_after)
    never_sent = Q(
        ingest_state__enqueued_at__isnull=True,
        created_at__lt=now - timedelta(seconds=settings.FASHIONREC_INGEST_UNSENT_GRACE_S),
    )
    pending = Q(status=ProcessingStatus.PENDING) & (never_sent | Q(ingest_state__enqueued_at__lt=now - stale_after))
    processing = (
        Q(status=ProcessingStatus.PROCESSING)
        & (Q(ingest_state__started_at__isnull=True) | Q(ingest_state__started_at__lt=now - stale_after))
        & not_sent_recently
    )
    return ProductImage.objects.filter(pending | processing)


def ingest_stale_images(*, version_name: str, stale_after: timedelta | None = None):
    """Ready images not yet embedded by encoder ``version_name`` and not sent for it recently."""
    stale_after = stale_after or timedelta(seconds=settings.FASHIONREC_INGEST_STALE_AFTER_S)
    not_sent_recently = Q(ingest_state__enqueued_at__isnull=True) | Q(
        ingest_state__enqueued_at__lt=timezone.now() - stale_after
    )
    return (
        ProductImage.objects.filter(status=ProcessingStatus.READY)
        .exclude(encoder_version=version_name)
        .filter(not_sent_recently)
    )


def ingest_catch_up(*, version_name: str, batch_size: int | None = None, limit: int = 20_000) -> CatchUpResult:
    """Re-enqueue lost work in primary-key batches; activate and prune encoder versions."""
    batch_size = batch_size or settings.FASHIONREC_INGEST_BATCH_SIZE
    result = CatchUpResult()
    for ids in _ids_in_pk_batches(ingest_stuck_images(), batch_size, limit):
        result.stuck += len(ids)
        result.batches += product_images_enqueue(image_ids=ids, batch_size=batch_size)
    for ids in _ids_in_pk_batches(ingest_stale_images(version_name=version_name), batch_size, limit):
        result.stale += len(ids)
        result.batches += product_images_enqueue(image_ids=ids, batch_size=batch_size)
    encoder_version_ensure(name=version_name)
    result.activated = encoder_version_activate_if_complete(name=version_name)
    result.pruned = encoder_versions_prune()
    return result
