"""Load test: gunicorn on the embedded PostgreSQL, wrk on loopback, 20 clients for 60 s.

The mix is 70 % product-id recommendations (``GET /api/v1/products/{id}/similar/``) and 30 %
image recommendations (``POST /api/v1/recommendations/`` with a real photo: decode, detect,
encode, query). The script imports a slice of the clothing catalog into its own database
(``fashionrec_bench_load`` on the embedded server), starts gunicorn, warms every worker up,
samples the resident memory of every gunicorn process once a second, runs wrk, and writes
``bench/reports/load.md``. Its last line is ``errors <count> rps <value> p95_ms <value>``.

Throttling is raised for this run only (``FASHIONREC_*_RECOMMEND_RATE``): the point is the
service's capacity, not the per-client rate limit.

    .venv/bin/python bench/load.py [--clients 20] [--seconds 60] [--products 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "reports" / "load.md"
PYTHON = sys.executable

LUA = r"""
local product_ids = {%(product_ids)s}
local image_paths = {%(image_paths)s}
local token = "%(token)s"
local image_share = %(image_share)s
local boundary = "fashionrecbenchboundary"
local bodies = {}

function init(args)
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) %% 100000)
    for i, path in ipairs(image_paths) do
        local f = assert(io.open(path, "rb"))
        local bytes = f:read("*all")
        f:close()
        bodies[i] = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.jpg\"\r\n"
            .. "Content-Type: image/jpeg\r\n\r\n" .. bytes .. "\r\n--" .. boundary
            .. "\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n10\r\n--" .. boundary .. "--\r\n"
    end
end

function request()
    local headers = {["Authorization"] = "Token " .. token}
    if math.random() < image_share then
        headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
        return wrk.format("POST", "/api/v1/recommendations/", headers, bodies[math.random(#bodies)])
    end
    local id = product_ids[math.random(#product_ids)]
    return wrk.format("GET", "/api/v1/products/" .. id .. "/similar/?k=10", headers)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'RESULT {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, "status": %%d, '
        .. '"timeout": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d}\n',
        summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def bench_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fashionrec.settings",
        "DJANGO_DEBUG": "false",
        "FASHIONREC_EMBEDDED_DB_NAME": "fashionrec_bench_load",
        "FASHIONREC_MEDIA_ROOT": str(ROOT / "var" / "bench-load-media"),
        "FASHIONREC_ANON_RECOMMEND_RATE": "1000000/min",
        "FASHIONREC_USER_RECOMMEND_RATE": "1000000/min",
        "FASHIONREC_LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": "",
    }


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def prepare_catalog(dataset: Path, products: int, env: dict[str, str]) -> tuple[list[int], str]:
    manage("migrate", "--noinput", "-v", "0", env=env)
    manage("import_catalog", str(dataset / "train"), "--limit", str(products), "--no-progress", env=env)
    # A catalog imported by an earlier run may hold another encoder's vectors: bring it up to
    # the shipped encoder (a no-op when it is current), or the API answers 503 encoder_mismatch.
    manage("reindex", "--no-progress", "--prune", env=env)
    script = (
        "from django.contrib.auth import get_user_model;"
        "from rest_framework.authtoken.models import Token;"
        "from catalog.models import Product;"
        "u, _ = get_user_model().objects.get_or_create(username='bench-load');"
        "t, _ = Token.objects.get_or_create(user=u);"
        "import json;"
        "ids = list(Product.objects.filter(garments__isnull=False).distinct().values_list('id', flat=True));"
        "print(json.dumps({'token': t.key, 'ids': ids}))"
    )
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return data["ids"], data["token"]


class MemorySampler(threading.Thread):
    def __init__(self, master_pid: int) -> None:
        super().__init__(daemon=True)
        self.master = psutil.Process(master_pid)
        self.samples: dict[int, list[tuple[float, int]]] = {}
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            now = time.monotonic()
            for process in [self.master, *self.master.children(recursive=True)]:
                try:
                    self.samples.setdefault(process.pid, []).append((now, process.memory_info().rss))
                except psutil.Error:
                    continue
            self.stop_event.wait(1.0)


def wait_for(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"server did not answer {url} within {timeout} s")


def warm_up(base: str, token: str, product_ids: list[int], image: Path, workers: int) -> None:
    # Several requests of each kind so every worker has loaded its models before measuring.
    boundary = "warm"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="q.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + image.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Authorization": f"Token {token}"}
    for i in range(workers * 6):
        urllib.request.urlopen(
            urllib.request.Request(
                f"{base}/api/v1/products/{product_ids[i % len(product_ids)]}/similar/", headers=headers
            ),
            timeout=60,
        ).read()
        request = urllib.request.Request(
            f"{base}/api/v1/recommendations/",
            data=body,
            headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        urllib.request.urlopen(request, timeout=60).read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--products", type=int, default=300, help="products imported from the train split")
    parser.add_argument("--image-share", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--port", type=int, default=8931)
    parser.add_argument(
        "--dataset",
        type=Path,
        default=Path(os.environ.get("FASHIONREC_DATASET", ROOT.parent / "shared" / "datasets" / "clothing-small")),
    )
    args = parser.parse_args()

    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    env = bench_env()
    product_ids, token = prepare_catalog(args.dataset, args.products, env)
    if not product_ids:
        raise SystemExit("no product has embeddings: the import failed")
    images = sorted((args.dataset / "validation").rglob("*.jpg"))[::17][:12]

    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"), "fashionrec.wsgi:application",
            "--bind", f"127.0.0.1:{args.port}", "--workers", str(args.workers), "--worker-class", "gthread",
            "--threads", str(args.threads), "--timeout", "120", "--log-level", "warning",
        ],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        wait_for(f"{base}/healthz")
        warm_up(base, token, product_ids, images[0], args.workers)
        sampler = MemorySampler(server.pid)
        sampler.start()
        with tempfile.TemporaryDirectory() as tmp:
            lua = Path(tmp) / "load.lua"
            lua.write_text(
                LUA
                % {
                    "product_ids": ",".join(map(str, product_ids)),
                    "image_paths": ",".join(json.dumps(str(p)) for p in images),
                    "token": token,
                    "image_share": args.image_share,
                }
            )
            wrk = subprocess.run(
                ["wrk", "-t2", f"-c{args.clients}", f"-d{args.seconds}s", "--timeout", "10s", "-s", str(lua), base],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
        sampler.stop_event.set()
        sampler.join()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    result = json.loads(next(line for line in wrk.stdout.splitlines() if line.startswith("RESULT "))[7:])
    errors = sum(result[key] for key in ("connect", "read", "write", "status", "timeout"))
    rps = result["requests"] / (result["duration_us"] / 1e6)
    p50, p95, p99 = (result[f"p{q}_us"] / 1000 for q in (50, 95, 99))

    memory_rows = []
    for pid, samples in sorted(sampler.samples.items()):
        if len(samples) < 4:
            continue
        rss = [value / 2**20 for _, value in samples]
        quarter = max(1, len(rss) // 4)
        first, last = statistics.mean(rss[:quarter]), statistics.mean(rss[-quarter:])
        role = "master" if pid == server.pid else "worker"
        memory_rows.append((pid, role, first, last, last - first, max(rss)))

    lines = [
        "# Load test",
        "",
        f"gunicorn ({args.workers} gthread workers × {args.threads} threads) on the embedded PostgreSQL, "
        f"wrk with {args.clients} connections for {args.seconds} s on loopback; "
        f"{round(args.image_share * 100)} % image queries (real validation photos), the rest product-id queries; "
        f"catalog: {len(product_ids)} products with embeddings. "
        f"Machine: {os.cpu_count()} cores, shared by the server, PostgreSQL and the load generator.",
        "",
        "| requests | errors | rps | p50 ms | p95 ms | p99 ms | max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result['requests']} | {errors} | {rps:.1f} | {p50:.1f} | {p95:.1f} | {p99:.1f} "
        f"| {result['max_us'] / 1000:.1f} |",
        "",
        f"Errors by kind: connect {result['connect']}, read {result['read']}, write {result['write']}, "
        f"non-2xx {result['status']}, timeout {result['timeout']}.",
        "",
        "Resident memory per gunicorn process (MiB; mean of the first and last quarter of the run):",
        "",
        "| pid | role | first quarter | last quarter | growth | peak |",
        "|---:|---|---:|---:|---:|---:|",
        *(f"| {pid} | {role} | {a:.1f} | {b:.1f} | {d:+.1f} | {m:.1f} |" for pid, role, a, b, d, m in memory_rows),
    ]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nreport: {REPORT.relative_to(ROOT)}")
    print(f"errors {errors} rps {rps:.1f} p95_ms {p95:.1f}")


if __name__ == "__main__":
    main()
