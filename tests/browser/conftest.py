"""Fixtures for the browser tests: Debian's chromium through Playwright, a live server, a small
real catalog.

Chromium is the system package (``make test`` installs it: ``scripts/ensure_chromium.sh``);
Playwright only drives it, so nothing is downloaded (never ``playwright install``).

The catalog slice is imported and run through the real models once per module, which is most
of the module's time. pytest-django's ``live_server`` would force ``transactional_db`` and so
flush it after every test; instead each module runs its own ``LiveServerThread``, the catalog
is committed once, the tests only read it (``django_db`` without transaction: they see the
committed rows, the server thread sees them too), and the module removes every row it added.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import ProtectedError
from django.test import override_settings

CHROMIUM = os.environ.get("FASHIONREC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"
# Products per category in the catalog slice: 10 categories x 2 = 20 products, enough for a
# full grid of 12 and for every filter to keep something; processing them is most of the
# module's time (about 1 s per image on a loaded 2-core machine).
PER_CATEGORY = 2
SHOPPER = {"username": "ada", "password": "a-long-test-password"}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def chromium(django_db_setup, django_db_blocker):
    """Chromium for one module: Playwright's event loop must not outlive the browser tests, or
    later tests would run beside a running asyncio loop."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread, which Django takes for
    # an async context and refuses ORM calls. The tests are synchronous code that only talks to
    # the browser over that loop, so the check does not apply while they run.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # Django keeps connections per context, and Playwright switches contexts: a connection
    # opened before it starts (by the test database setup) would be orphaned, still open when
    # the test database is dropped. Close them on both sides of the browser's lifetime.
    with django_db_blocker.unblock():
        connections.close_all()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
            with django_db_blocker.unblock():
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def media_root():
    with (
        tempfile.TemporaryDirectory(prefix="fashionrec-browser-media-") as folder,
        override_settings(MEDIA_ROOT=folder),
    ):
        yield Path(folder)


@pytest.fixture(scope="module")
def live_url(django_db_setup, django_db_blocker, media_root):
    """A threaded live server for this module (static files and media served as in the app)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    with django_db_blocker.unblock():
        server = LiveServerThread("localhost", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
    yield f"http://localhost:{server.port}"
    server.terminate()


def _new_rows_remover(models: list):
    """Remember the highest primary key of each model; the returned function deletes newer rows."""
    marks = {model: (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) for model in models}

    def delete(queryset) -> bool:
        try:
            with transaction.atomic():
                queryset.delete()
        except (ProtectedError, IntegrityError):
            return False
        return True

    def remove() -> None:
        # PROTECT foreign keys (a product's category, a category's parent): rows that still have
        # dependants are retried, one by one, until every new row is gone.
        for _ in range(10):
            left = [model for model in models if model.objects.filter(pk__gt=marks[model]).exists()]
            if not left:
                return
            for model in left:
                new = model.objects.filter(pk__gt=marks[model])
                if not delete(new):
                    for pk in new.values_list("pk", flat=True):
                        delete(model.objects.filter(pk=pk))
        raise AssertionError(f"could not remove the browser tests' rows of {left}")

    return remove


@pytest.fixture(scope="module")
def clothing_catalog(django_db_setup, django_db_blocker, media_root):
    """PER_CATEGORY photos of each clothing category, imported and processed by the real models,
    committed for the module, plus a shopper account; all removed afterwards."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    from catalog.models import Brand, Category, Product, ProductImage, ProductVariant, Season
    from catalog.services.catalog_import import catalog_import, folder_rows
    from recommender.models import EncoderVersion, Garment
    from recommender.services.ingest import product_images_ingest
    from users.models import Interaction, UserPreference

    models = [
        Interaction,
        UserPreference,
        get_user_model(),
        Garment,
        ProductImage,
        ProductVariant,
        Product,
        Category,
        Brand,
        Season,
        EncoderVersion,
    ]
    with django_db_blocker.unblock():
        remove_new_rows = _new_rows_remover(models)
        sessions = set(Session.objects.values_list("pk", flat=True))
        try:
            rows = folder_rows(Path(settings.FASHIONREC_DATASET) / "train", seed=7)
            by_category = itertools.groupby(rows, key=lambda row: row.category)
            chosen = [row for _, group in by_category for row in itertools.islice(group, PER_CATEGORY)]
            # Processed here rather than through Celery: no broker or worker needed.
            summary = catalog_import(iter(chosen), enqueue=False)
            assert summary.created == len(chosen), summary.failed
            result = product_images_ingest(image_ids=summary.image_ids)
            assert not result.failed, result.failed
            get_user_model().objects.create_user(**SHOPPER)
            yield summary
        finally:
            remove_new_rows()
            Session.objects.exclude(pk__in=sessions).delete()
            # This connection was opened outside any test; leave none behind, or dropping the
            # test database at the end of the run finds it still in use.
            connections.close_all()


@pytest.fixture
def page(chromium, live_url):
    """A fresh browser context (no cookies) on the live server; fails the test on any JS error."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=live_url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def validation_photos(category: str, count: int) -> list[Path]:
    folder = Path(settings.FASHIONREC_DATASET) / "validation" / category
    return sorted(folder.iterdir())[:count]


def street_photo(number: int) -> Path:
    return Path(settings.FASHIONREC_CCP_DATASET) / "photos" / f"{number:04d}.jpg"
