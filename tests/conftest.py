import os

import pytest


@pytest.fixture
def season_summer(db):
    from catalog.models import Season

    return Season.objects.create(name="Summer", slug="summer", start_month=6, start_day=1, end_month=8, end_day=31)


@pytest.fixture
def season_winter(db):
    from catalog.models import Season

    return Season.objects.create(name="Winter", slug="winter", start_month=12, start_day=1, end_month=2, end_day=28)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache: without this, tests would throttle each other."""
    from django.core.cache import cache, caches

    from fashionrec.api.throttling import THROTTLE_CACHE

    for each in (cache, caches[THROTTLE_CACHE]):
        each.clear()
    yield
    for each in (cache, caches[THROTTLE_CACHE]):
        each.clear()


@pytest.fixture
def start_transaction():
    """Start a transaction in a thread of its own (``tests.concurrency.TransactionThread``)."""
    from tests.concurrency import transaction_threads

    yield from transaction_threads()


@pytest.fixture(scope="session", autouse=True)
def _onnx_cache_of_the_session(tmp_path_factory):
    """ONNX copies of the models go to a folder of the test session, not the checkout's
    var/cache/onnx: tests load throwaway weights (the tiny encoder ``train_encoder`` writes in
    test_train_from_catalog, an untrained detector), whose copies would stay behind there. The
    environment variable carries it to the workers and commands the tests start. Costs one export
    of the shipped models per session (about 3 s on 2 cores)."""
    from django.test import override_settings

    folder = tmp_path_factory.mktemp("onnx-cache")
    previous = os.environ.get("FASHIONREC_ONNX_CACHE_DIR")
    os.environ["FASHIONREC_ONNX_CACHE_DIR"] = str(folder)
    try:
        with override_settings(FASHIONREC_ONNX_CACHE_DIR=folder):
            yield folder
    finally:
        if previous is None:
            os.environ.pop("FASHIONREC_ONNX_CACHE_DIR", None)
        else:
            os.environ["FASHIONREC_ONNX_CACHE_DIR"] = previous
