"""Ingestion benchmark: images per second through real Celery workers, and the catalog import time.

1. A database of its own (``fashionrec_bench_ingest`` on the embedded server), media in a
   temporary folder, a Redis queue of its own (``redis://127.0.0.1:6379/14`` by default).
2. ``import_catalog`` of the whole clothing ``train/`` split, with the broker configured and no
   worker running: storing, validating and enqueueing every photo (the import time).
3. For 1 and then 2 worker processes (``celery worker --pool prefork -c N``, niced): reset the
   first ``--images`` images to pending, start the worker, wait until every pool process has
   loaded the models, enqueue the images in batches and time until all are ready.

Writes ``bench/reports/ingest.md``; the last line printed is ``images_per_s <value>`` (2 processes).

    .venv/bin/python bench/ingest.py [--images 640] [--batch-size 16] [--skip-import]
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "reports" / "ingest.md"
DB_NAME = "fashionrec_bench_ingest"


def configure_environment(media: Path, broker: str, queue: str) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "fashionrec.settings",
        "FASHIONREC_EMBEDDED_DB_NAME": DB_NAME,
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "FASHIONREC_MEDIA_ROOT": str(media),
        "FASHIONREC_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    os.environ.pop("DATABASE_URL", None)
    return env


def fresh_database() -> None:
    """Drop the benchmark database so every run starts from an empty catalog (settings recreate it)."""
    import psycopg

    from fashionrec.embedded_db import embedded_database_settings

    data_dir = Path(os.environ.get("FASHIONREC_DATA_DIR", ROOT / "var")).resolve()
    socket_dir = embedded_database_settings(data_dir, name="postgres")["HOST"]
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def purge_queue(broker: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(broker)
    client.delete(queue, *client.keys(f"{queue}*"))


class Worker:
    def __init__(self, processes: int, queue: str, env: dict[str, str], log: Path) -> None:
        self.processes, self.log = processes, log
        command = [
            "nice", "-n", "10", sys.executable, "-m", "celery", "-A", "fashionrec", "worker",
            "--queues", queue, "--pool", "prefork", "--concurrency", str(processes),
            "--hostname", f"bench-{processes}-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
        ]  # fmt: skip
        self.handle = log.open("wb")
        worker_env = {**os.environ, **env, "FASHIONREC_LOG_LEVEL": "INFO", "CELERY_SKIP_CHECKS": "1"}
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=worker_env, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_until_models_loaded(self, timeout: float = 300) -> float:
        started = time.monotonic()
        while self.log.read_text(errors="replace").count("vision models loaded") < self.processes:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"models not loaded after {timeout}s:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        return time.monotonic() - started

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker and its pool processes so far."""
        import psutil

        root = psutil.Process(self.process.pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.handle.close()

    def batch_timings(self) -> list[dict[str, float]]:
        """The per-batch timings each task returned (Celery logs every task's result)."""
        timings = []
        for match in re.finditer(r"'timings_ms': (\{[^}]*\})", self.log.read_text(errors="replace")):
            timings.append(ast.literal_eval(match.group(1)))
        return timings


class BackendCpu:
    """CPU time of the PostgreSQL backends serving the benchmark database.

    Backends come and go (Celery closes its connection after every task), so each is sampled
    while it lives and its last reading kept; the server's other users are left out.
    """

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.baseline = self.sample()

    def sample(self) -> float:
        import psutil

        for process in psutil.process_iter(["name", "cmdline"]):
            if process.info["name"] not in ("postgres", "postmaster"):
                continue
            if DB_NAME not in " ".join(process.info["cmdline"] or []):
                continue
            try:
                times = process.cpu_times()
                self.seen[process.pid] = times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return sum(self.seen.values())

    def used(self) -> float:
        return self.sample() - self.baseline


def run_workers(processes: int, ids: list[int], *, batch_size: int, queue: str, env: dict, logs: Path) -> dict:
    from catalog.models import ProductImage
    from catalog.models.products import ProcessingStatus
    from recommender.models import Garment
    from recommender.services.ingest import product_images_enqueue

    Garment.objects.filter(image_id__in=ids).delete()
    ProductImage.objects.filter(pk__in=ids).update(status=ProcessingStatus.PENDING, encoder_version="", error="")
    worker = Worker(processes, queue, env, logs / f"worker-{processes}.log")
    try:
        load_s = worker.wait_until_models_loaded()
        cpu_before, backends, load_before = worker.cpu_seconds(), BackendCpu(), os.getloadavg()[0]
        started = time.perf_counter()
        product_images_enqueue(image_ids=ids, batch_size=batch_size)
        done = ProductImage.objects.filter(pk__in=ids, status__in=[ProcessingStatus.READY, ProcessingStatus.FAILED])
        while done.count() < len(ids):
            if time.perf_counter() - started > 1800:
                raise RuntimeError("not finished after 30 min")
            backends.sample()
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        worker_cpu = worker.cpu_seconds() - cpu_before
        postgres_cpu = backends.used()
        load_avg = (load_before + os.getloadavg()[0]) / 2
    finally:
        worker.stop()
    timings = worker.batch_timings()
    failed = ProductImage.objects.filter(pk__in=ids, status=ProcessingStatus.FAILED).count()
    garments = Garment.objects.filter(image_id__in=ids).count()

    def per_image(key: str) -> float:
        return sum(t.get(key, 0.0) for t in timings) / max(len(ids), 1)

    return {
        "processes": processes,
        "images": len(ids),
        "seconds": elapsed,
        "images_per_s": len(ids) / elapsed,
        "failed": failed,
        "garments": garments,
        "model_load_s": load_s,
        "worker_cpu_ms": worker_cpu * 1000 / len(ids),
        "postgres_cpu_ms": postgres_cpu * 1000 / len(ids),
        "load_avg": load_avg,
        "read_ms": per_image("read"),
        "analyse_ms": per_image("analyse"),
        "colours_ms": per_image("colours"),
        "write_ms": per_image("write"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=640, help="images processed in each worker run")
    parser.add_argument("--batch-size", type=int, default=16, help="images per task")
    parser.add_argument("--processes", default="1,2", help="worker process counts to measure")
    parser.add_argument("--broker", default=os.environ.get("FASHIONREC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--skip-import", action="store_true", help="reuse the catalog of the previous run")
    args = parser.parse_args()

    queue = f"bench-ingest-{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="fashionrec-bench-ingest-"))
    # The catalog's files live as long as its database (reused by --skip-import).
    media = Path(os.environ.get("FASHIONREC_DATA_DIR", ROOT / "var")).resolve() / "bench-ingest-media"
    env = configure_environment(media, args.broker, queue)
    sys.path.insert(0, str(ROOT))
    if not args.skip_import:
        fresh_database()
        shutil.rmtree(media, ignore_errors=True)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from catalog.models import ProductImage

    call_command("migrate", verbosity=0)
    purge_queue(args.broker, queue)
    train = Path(settings.FASHIONREC_DATASET) / "train"
    rows: list[str] = []
    import_s = None
    if not args.skip_import:
        load_before = os.getloadavg()[0]
        started, cpu_started, backends = time.perf_counter(), time.process_time(), BackendCpu()
        call_command("import_catalog", str(train), "--no-progress", "--batch-size", str(args.batch_size))
        import_s = time.perf_counter() - started
        import_cpu_s = time.process_time() - cpu_started + backends.used()
        import_load = (load_before + os.getloadavg()[0]) / 2
        purge_queue(args.broker, queue)  # the worker runs below choose what they process
    total = ProductImage.objects.count()
    ids = list(ProductImage.objects.order_by("pk").values_list("pk", flat=True)[: args.images])

    results = []
    try:
        for processes in (int(p) for p in args.processes.split(",")):
            result = run_workers(processes, ids, batch_size=args.batch_size, queue=queue, env=env, logs=work)
            results.append(result)
            print(
                f"{processes} process(es): {result['images']} images in {result['seconds']:.1f}s = "
                f"{result['images_per_s']:.1f} images/s ({result['failed']} failed)",
                flush=True,
            )
    finally:
        purge_queue(args.broker, queue)

    import torch

    rows.append("# Ingestion benchmark\n")
    rows.append(
        f"Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), shared with other "
        f"jobs; torch {torch.__version__}, each worker process using cores / processes torch threads. Dataset: "
        f"`{train}` ({total} photos imported). Batches of {args.batch_size} images per task; workers "
        "`celery worker --pool prefork` under `nice -n 10`, Redis broker, embedded PostgreSQL.\n"
    )
    if import_s is not None:
        rows.append(
            f"**Import of the whole train split** (`import_catalog`: read, validate, checksum, colour estimate, "
            f"product + variants + seasons + image rows, enqueue): {total} photos in **{import_s:.1f} s** "
            f"({total / import_s:.1f} photos/s), no worker running; it used {import_cpu_s:.1f} s of CPU (this "
            f"process and its PostgreSQL backend), i.e. {total / import_cpu_s:.1f} photos per CPU-second; "
            f"load average {import_load:.1f} during the import.\n"
        )
    rows.append("| worker processes | images | seconds | images/s | failed | garments | read ms/img | "
                "analyse ms/img | colours ms/img | write ms/img | worker CPU ms/img | PostgreSQL CPU ms/img | "
                "CPU-bound images/s on 2 free cores | load average | model load s |")  # fmt: skip
    rows.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        cpu_ms = r["worker_cpu_ms"] + r["postgres_cpu_ms"]
        rows.append(
            f"| {r['processes']} | {r['images']} | {r['seconds']:.1f} | **{r['images_per_s']:.1f}** | {r['failed']} | "
            f"{r['garments']} | {r['read_ms']:.1f} | {r['analyse_ms']:.1f} | {r['colours_ms']:.1f} | "
            f"{r['write_ms']:.1f} | "
            f"{r['worker_cpu_ms']:.1f} | {r['postgres_cpu_ms']:.1f} | {2000 / cpu_ms:.1f} | {r['load_avg']:.1f} | "
            f"{r['model_load_s']:.1f} |"
        )
    rows.append(
        "\nms/img columns: the task's own timings summed over batches and divided by images (per process: "
        "with 2 processes they overlap). images/s is measured from the first enqueue to the last image ready, "
        "after the models were loaded in every pool process. Worker and PostgreSQL CPU ms/img: CPU time the "
        "worker processes and the PostgreSQL backends of the benchmark database (sampled every 0.2 s) used "
        "during the run, per image. The CPU-bound column is 2 cores / (worker + PostgreSQL CPU per image): "
        "what the same work would reach with both cores free, an estimate, not a measurement; the load "
        "average (mean of start and end) shows how busy the machine was. Target: ≥ 25 images/s with "
        "2 processes.\n"
    )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(rows) + "\n")
    print("\n".join(rows))
    shutil.rmtree(work, ignore_errors=True)
    if any(r["failed"] for r in results):
        print("WARNING: some images failed; see the worker logs", file=sys.stderr)
    final = next((r for r in results if r["processes"] == 2), results[-1])
    print(f"images_per_s {final['images_per_s']:.1f}")


if __name__ == "__main__":
    main()
