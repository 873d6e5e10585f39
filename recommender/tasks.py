"""Celery tasks for ingestion: thin, id-based wrappers around ``recommender.services.ingest``.

Reliability, in one place:
- ``acks_late`` + ``reject_on_worker_lost``: a task is acknowledged only once it finished, so
  a worker killed mid-batch leaves it unacknowledged and Redis redelivers it (after the
  broker's visibility timeout); the service's writes are idempotent, so a redelivery or a
  double delivery never duplicates garments.
- Retries with exponential backoff only on *transient* errors (database or broker
  unavailable). A bad image is not an exception here: the service marks it ``failed`` with
  its reason at once and it is never retried. When retries run out, the images become
  ``failed`` with the last error as the reason.
- Models are loaded once per worker process (``get_pipeline()`` is a process-wide
  singleton, warmed when a pool process starts), never per task.
"""

from __future__ import annotations

import logging
import os
import random
import time

from celery import shared_task
from celery.signals import celeryd_init, worker_process_init
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connections
from kombu.exceptions import OperationalError as BrokerOperationalError

from catalog.services.images import product_image_orphan_files_sweep
from recommender.services import ingest

logger = logging.getLogger(__name__)


def _transient_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OperationalError, InterfaceError, BrokerOperationalError]
    try:
        import redis.exceptions

        errors += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # the redis client is only there with celery[redis]
        pass
    return tuple(errors)


TRANSIENT_ERRORS = _transient_errors()


def retry_countdown(retries: int) -> float:
    """Exponential backoff with jitter: base, 2·base, 4·base… capped, ±25% so workers do not stampede."""
    base = settings.FASHIONREC_INGEST_RETRY_BACKOFF_S
    delay = min(base * (2**retries), settings.FASHIONREC_INGEST_RETRY_BACKOFF_MAX_S)
    return delay * random.uniform(0.75, 1.25)


@shared_task(
    bind=True,
    name=ingest.PROCESS_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # read from settings at call time, see below
)
def product_images_process(self, image_ids: list[int], force: bool = False) -> dict:
    """Detect, encode and store the garments of a batch of images."""
    max_retries = settings.FASHIONREC_INGEST_MAX_RETRIES
    pipeline = _pipeline_or_note(image_ids)
    try:
        result = ingest.product_images_ingest(image_ids=image_ids, force=force, pipeline=pipeline).as_dict()
    except TRANSIENT_ERRORS as error:
        if self.request.retries >= max_retries:
            reason = f"gave up after {self.request.retries + 1} attempts: {type(error).__name__}: {error}"
            _mark_failed_best_effort(image_ids, reason)
            raise
        if self.request.is_eager:
            # In-process (no broker): sleeping and retrying here would block the request; the
            # images stay pending and the catch-up task (or a later `reindex`) picks them up.
            logger.warning("transient error in in-process ingestion of %s: %s", image_ids, error)
            raise
        countdown = retry_countdown(self.request.retries)
        logger.warning(
            "transient error on images %s (attempt %d), retrying in %.1fs: %s",
            image_ids,
            self.request.retries + 1,
            countdown,
            error,
        )
        raise self.retry(exc=error, countdown=countdown, max_retries=max_retries) from error
    if self.request.is_eager:
        # A worker logs every task at INFO (Celery's "succeeded" line); in-process, a batch is a
        # detail of the import or upload that runs it (settings quiet Celery's line there).
        logger.debug(
            "in-process batch of %d images: %d ready, %d failed, %d skipped",
            len(image_ids),
            len(result["ready"]),
            len(result["failed"]),
            len(result["skipped"]),
        )
    return result


def _pipeline_or_note(image_ids: list[int]):
    """The process's vision pipeline; if the models cannot be loaded, say so on the images.

    A deployment problem (missing or unreadable weights) is not the images' fault: they stay
    ``pending`` with the reason, and the catch-up task sends them again once the worker is fixed.
    """
    from recommender.vision.pipeline import get_pipeline

    try:
        return get_pipeline()
    except Exception as error:
        reason = f"models unavailable: {type(error).__name__}: {error}"[:2000]
        logger.error("images %s left pending: %s", image_ids, reason)
        ingest.product_images_note_pending(image_ids=image_ids, reason=reason)
        raise


def _mark_failed_best_effort(image_ids: list[int], reason: str) -> None:
    # The error may have broken this process's connection: drop it so the write gets a new one.
    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()
    try:
        ingest.product_images_mark_failed(reasons=dict.fromkeys(image_ids, reason))
    except TRANSIENT_ERRORS:
        # Still unavailable: the images stay pending/processing and the catch-up task
        # sends them again once the database is back.
        logger.error("could not mark images %s failed (%s)", image_ids, reason)


@shared_task(
    bind=True,
    name="recommender.ingest_catch_up",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def ingest_catch_up(self) -> dict:
    """Periodic (beat): re-send lost images and stale embeddings in pk batches; switch versions."""
    from recommender.vision.pipeline import get_pipeline

    try:
        result = ingest.ingest_catch_up(version_name=get_pipeline().encoder_version)
        swept = _sweep_orphan_files_if_due()
    except TRANSIENT_ERRORS as error:
        # The next beat tick runs it again; no need to pile up retries of a periodic task.
        logger.warning("catch-up skipped, database or broker unavailable: %s", error)
        return {}
    logger.info("ingest catch-up: %s, orphan files deleted: %s", result, swept)
    return {**result.__dict__, "orphan_files_deleted": swept}


def _sweep_orphan_files_if_due() -> int | None:
    """Delete image files no row references, at most once per ``FASHIONREC_MEDIA_SWEEP_EVERY_S``.

    The catch-up runs every minute; walking the whole images folder that often would cost more
    than the orphans do (deletions remove their files themselves; the sweep only catches leftovers).
    """
    if not cache.add("fashionrec:media-orphan-sweep", True, timeout=settings.FASHIONREC_MEDIA_SWEEP_EVERY_S):
        return None
    return product_image_orphan_files_sweep()


@celeryd_init.connect
def _remember_concurrency(options: dict | None = None, **kwargs) -> None:
    # Read by the pool processes (they inherit the environment) to share the cores between them.
    os.environ["FASHIONREC_WORKER_CONCURRENCY"] = str((options or {}).get("concurrency") or os.cpu_count() or 1)


@worker_process_init.connect
def _load_models_once(**kwargs) -> None:
    """Load the vision models when a pool process starts, so the first task does not pay for it."""
    started = time.perf_counter()
    try:
        import torch

        from recommender.vision.pipeline import get_pipeline

        version = get_pipeline().encoder_version
        if not getattr(settings, "FASHIONREC_TORCH_THREADS", 0):
            # N pool processes on C cores: C/N torch threads each, not C each (oversubscription).
            processes = int(os.environ.get("FASHIONREC_WORKER_CONCURRENCY", "1"))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(processes, 1)))
        logger.info(
            "vision models loaded in %.1fs (encoder %s, %d torch threads)",
            time.perf_counter() - started,
            version,
            torch.get_num_threads(),
        )
    except Exception:  # the task reports it properly; a worker must still start
        logger.exception("could not load the vision models at worker start")
