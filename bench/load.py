"""Load test: gunicorn on the embedded PostgreSQL, wrk on loopback, 20 clients for 60 s.

The mix is 70 % product-id recommendations (``GET /api/v1/products/{id}/similar/``) and 30 %
image recommendations (``POST /api/v1/recommendations/`` with a real photo: decode, detect,
encode, query). The script imports a slice of the clothing catalog into its own database
(``fashionrec_bench_load`` on the embedded server), starts gunicorn and warms every worker up.

Then a single-client pass sends each request type on its own, one request at a time, and
measures the CPU time per request of the processes that serve it: the gunicorn workers and the
PostgreSQL processes of the benchmark's database (``bench/load_cpu.py``; the client is left
out). From those, the machine's limit for the mix: ``cores × 1000 / (0.7 × product CPU ms + 0.3 ×
image CPU ms)`` requests per second, the cores being the ones this process may run on. The target
(issue 19.6) is throughput of at least 85 % of that limit, whatever the machine's speed.

Then wrk runs the mix while the resident memory of every gunicorn process is sampled once a
second and the CPU time of the server, the database, wrk and the rest of the machine is
accounted (so a reader sees when other processes took cores). The report is
``bench/reports/load.md``; the last line is
``errors <count> rps <value> p95_ms <value> cpu_limit_rps <value>``.

Throttling is raised for this run only (``FASHIONREC_*_RECOMMEND_RATE``): the point is the
service's capacity, not the per-client rate limit.

    .venv/bin/python bench/load.py [--clients 20] [--seconds 60] [--products 300]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import runpy
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load_cpu import (  # noqa: E402
    CpuSampler,
    DemandSampler,
    available_cpus,
    cpu_limit_rps,
    gunicorn_processes,
    machine_busy_seconds,
    postgres_processes,
    refreshed_every,
)

DATABASE = "fashionrec_bench_load"
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
DATA_DIR = Path(os.environ.get("FASHIONREC_DATA_DIR", ROOT / "var")).resolve()
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
        "FASHIONREC_EMBEDDED_DB_NAME": DATABASE,
        "FASHIONREC_MEDIA_ROOT": str(ROOT / "var" / "bench-load-media"),
        "FASHIONREC_ANON_RECOMMEND_RATE": "1000000/min",
        "FASHIONREC_USER_RECOMMEND_RATE": "1000000/min",
        # The load replays a few dozen photos; shoppers' uploads are distinct photos. With the
        # analysis cache on, every repeat would skip decode, detect and encode and the "image"
        # requests would measure a cache read (recommender/analysis_cache.py).
        "FASHIONREC_ANALYSIS_CACHE_SECONDS": "0",
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


WORKER_LOADED = re.compile(r"vision models loaded, (\d+) torch threads, OMP_WAIT_POLICY (\S+)")


def serving_configuration(master_pid: int, log: Path, timeout: float = 120) -> dict:
    """What the running gunicorn does: its workers, their threads, their torch and OpenMP settings.

    Torch threads and the OpenMP policy come from the line each worker logs once it has loaded
    the vision models (deploy/gunicorn.conf.py), so the report cannot describe another setting.
    """
    master = psutil.Process(master_pid)
    workers = len(master.children())
    deadline = time.monotonic() + timeout
    while len(loaded := WORKER_LOADED.findall(log.read_text() if log.exists() else "")) < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"{workers - len(loaded)} gunicorn workers did not load the vision models: see {log}")
        time.sleep(0.5)
    command = master.cmdline()
    if "--threads" in command:
        threads = int(command[command.index("--threads") + 1])
    else:
        threads = runpy.run_path(str(GUNICORN_CONFIG))["threads"]
    return {
        "workers": workers,
        "threads": threads,
        "FASHIONREC_TORCH_THREADS": ", ".join(sorted({torch for torch, _ in loaded})),
        "OMP_WAIT_POLICY": ", ".join(sorted({policy for _, policy in loaded})),
    }


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


BOUNDARY = "fashionrecbenchboundary"


def image_body(image: Path) -> bytes:
    """The multipart body wrk sends for ``image`` (the same form: the photo and ``k=10``)."""
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="q.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + image.read_bytes()
        + f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="k"\r\n\r\n10\r\n--{BOUNDARY}--\r\n'.encode()
    )


def product_request(base: str, token: str, product_id: int) -> urllib.request.Request:
    return urllib.request.Request(
        f"{base}/api/v1/products/{product_id}/similar/?k=10", headers={"Authorization": f"Token {token}"}
    )


def image_request(base: str, token: str, body: bytes) -> urllib.request.Request:
    return urllib.request.Request(
        f"{base}/api/v1/recommendations/",
        data=body,
        headers={"Authorization": f"Token {token}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )


def warm_up(base: str, token: str, product_ids: list[int], bodies: list[bytes], clients: int) -> None:
    # Several requests of each kind from parallel clients, so that every worker has served both
    # before anything is measured (one client's requests may all land on one worker).
    def client(offset: int) -> None:
        for i in range(offset, offset + 6):
            urllib.request.urlopen(product_request(base, token, product_ids[i % len(product_ids)]), timeout=60).read()
            urllib.request.urlopen(image_request(base, token, bodies[i % len(bodies)]), timeout=60).read()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(0, clients * 6, 6)))


@dataclass
class Calibration:
    """One request type served to a single client, one request after another."""

    kind: str
    requests: int
    cpu_s: dict[str, float]  # per process group (server, database)
    latencies_ms: list[float]

    @property
    def cpu_ms(self) -> float:
        return sum(self.cpu_s.values()) * 1000 / self.requests

    def group_ms(self, group: str) -> float:
        return self.cpu_s[group] * 1000 / self.requests


def calibrate(kind: str, requests: list[urllib.request.Request], groups: dict) -> Calibration:
    """CPU time the server and database processes spend on ``requests``, sent one at a time.

    The client (this process) is not in ``groups``; nothing else talks to the benchmark's
    gunicorn or database meanwhile, so their CPU time is this pass's.
    """
    latencies = []
    sampler = CpuSampler(groups)
    sampler.start()
    for request in requests:
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        latencies.append((time.perf_counter() - started) * 1000)
    return Calibration(kind, len(requests), sampler.stop(), latencies)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--products", type=int, default=300, help="products imported from the train split")
    parser.add_argument("--image-share", type=float, default=0.3)
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (default: deploy/gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, help="threads per gunicorn worker (default: deploy/gunicorn.conf.py's)")
    parser.add_argument("--calibrate-product", type=int, default=200, help="single-client product requests")
    parser.add_argument("--calibrate-image", type=int, default=60, help="single-client image requests")
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
    bodies = [image_body(image) for image in images]
    cpus = available_cpus()
    shares = {"product": 1 - args.image_share, "image": args.image_share}

    base = f"http://127.0.0.1:{args.port}"
    server_log = Path(tempfile.mkdtemp()) / "gunicorn.log"
    # The deployment's configuration (workers, threads, torch threads sized from the cores); only
    # what is given on this command line overrides it.
    overrides = [*(["--workers", str(args.workers)] if args.workers else [])]
    overrides += [*(["--threads", str(args.threads)] if args.threads else [])]
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"), "fashionrec.wsgi:application", "--config", str(GUNICORN_CONFIG),
            "--bind", f"127.0.0.1:{args.port}", "--log-level", "info", "--error-logfile", str(server_log),
            *overrides,
        ],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        wait_for(f"{base}/healthz")
        serving = serving_configuration(server.pid, server_log)
        warm_up(base, token, product_ids, bodies, serving["workers"] * serving["threads"])
        groups = {
            "server": refreshed_every(gunicorn_processes(server.pid), 2.0),
            "database": refreshed_every(postgres_processes(DATA_DIR / "pgdata", DATABASE, "backend"), 2.0),
            "database helpers": refreshed_every(postgres_processes(DATA_DIR / "pgdata", DATABASE, "helper"), 2.0),
        }
        calibrations = [
            calibrate(
                "product",
                [
                    product_request(base, token, product_ids[i % len(product_ids)])
                    for i in range(args.calibrate_product)
                ],
                groups,
            ),
            calibrate(
                "image",
                [image_request(base, token, bodies[i % len(bodies)]) for i in range(args.calibrate_image)],
                groups,
            ),
        ]
        limit = cpu_limit_rps({c.kind: c.cpu_ms for c in calibrations}, shares, cpus)
        print(
            "single client: "
            + ", ".join(f"{c.kind} {c.cpu_ms:.1f} CPU ms/request" for c in calibrations)
            + f"; {cpus}-core limit for the mix {limit:.1f} rps",
            flush=True,
        )

        load_before = os.getloadavg()
        memory = MemorySampler(server.pid)
        memory.start()
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
            cpu = CpuSampler(groups)
            demand = DemandSampler([groups["server"], groups["database"]])
            machine_before, steal_before = machine_busy_seconds()
            own_before, children_before = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)
            wall_before = time.monotonic()
            cpu.start()
            demand.start()
            wrk = subprocess.run(
                ["wrk", "-t2", f"-c{args.clients}", f"-d{args.seconds}s", "--timeout", "10s", "-s", str(lua), base],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            served = cpu.stop()
            wanting = demand.stop()
            wall = time.monotonic() - wall_before
            machine_after, steal_after = machine_busy_seconds()
            own_after, children_after = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)
        memory.stop_event.set()
        memory.join()
        load_after = os.getloadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    result = json.loads(next(line for line in wrk.stdout.splitlines() if line.startswith("RESULT "))[7:])
    errors = sum(result[key] for key in ("connect", "read", "write", "status", "timeout"))
    rps = result["requests"] / (result["duration_us"] / 1e6)
    p50, p95, p99 = (result[f"p{q}_us"] / 1000 for q in (50, 95, 99))

    # Who used the machine during the load, in core-seconds. wrk is the only child this process
    # waited for meanwhile, so the children's rusage is wrk's own.
    usage = {
        "gunicorn (web workers)": served["server"],
        "PostgreSQL (the benchmark database's backends)": served["database"],
        "PostgreSQL (the server's helpers: io workers, WAL, checkpoints, autovacuum)": served["database helpers"],
        "wrk (load generator)": (children_after.ru_utime - children_before.ru_utime)
        + (children_after.ru_stime - children_before.ru_stime),
        "this script (samplers)": (own_after.user - own_before.user) + (own_after.system - own_before.system),
    }
    busy = machine_after - machine_before
    usage["other processes"] = max(0.0, busy - sum(usage.values()))
    capacity = wall * cpus
    usage["idle"] = max(0.0, capacity - busy)
    steal = steal_after - steal_before
    service_s = served["server"] + served["database"] + served["database helpers"]
    service_ms = max(service_s, 1e-9) * 1000 / max(result["requests"], 1)
    single_ms = sum(shares[c.kind] * c.cpu_ms for c in calibrations)
    # rps / limit factors exactly into these two: the CPU the service got, and what it did with it.
    served_share = service_s / capacity
    efficiency = single_ms / service_ms
    saturated = sum(count >= cpus for count in wanting) / max(len(wanting), 1)
    available_share = 1 - (usage["wrk (load generator)"] + usage["this script (samplers)"]) / capacity

    memory_rows = []
    for pid, samples in sorted(memory.samples.items()):
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
        f"gunicorn (`deploy/gunicorn.conf.py`{' with ' + ' '.join(overrides) if overrides else ''}: "
        f"{serving['workers']} gthread workers × {serving['threads']} threads, torch threads "
        f"{serving['FASHIONREC_TORCH_THREADS']}, OMP_WAIT_POLICY {serving['OMP_WAIT_POLICY']}, as each worker "
        f"logged them) on the embedded PostgreSQL, "
        f"wrk with {args.clients} connections for {args.seconds} s on loopback; "
        f"{round(args.image_share * 100)} % image queries (real validation photos), the rest product-id queries; "
        f"catalog: {len(product_ids)} products with embeddings. "
        f"Machine: {cpus} cores, shared by the server, PostgreSQL and the load generator; load average "
        f"{load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f} before the load, "
        f"{load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f} after it.",
        "",
        "## Single client: CPU per request and the machine's limit",
        "",
        "One request at a time after the warm-up; CPU time of the gunicorn processes and of the "
        "benchmark database's PostgreSQL processes (the client excluded).",
        "",
        "| request | n | web CPU ms | database backends CPU ms | database helpers CPU ms | CPU ms per request "
        "| latency p50 ms | latency p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {c.kind} | {c.requests} | {c.group_ms('server'):.1f} | {c.group_ms('database'):.1f} "
            f"| {c.group_ms('database helpers'):.1f} "
            f"| {c.cpu_ms:.1f} | {percentile(c.latencies_ms, 50):.1f} | {percentile(c.latencies_ms, 95):.1f} |"
            for c in calibrations
        ),
        "",
        f"Mix ({round(shares['product'] * 100)} % product, {round(shares['image'] * 100)} % image): "
        f"{single_ms:.1f} CPU ms per request → **limit {limit:.1f} rps** on {cpus} cores "
        f"({cpus} × 1000 / {single_ms:.1f}).",
        "",
        "## Load",
        "",
        "| requests | errors | rps | limit rps | rps / limit | p50 ms | p95 ms | p99 ms | max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result['requests']} | {errors} | {rps:.1f} | {limit:.1f} | **{rps / limit:.0%}** | {p50:.1f} "
        f"| {p95:.1f} | {p99:.1f} | {result['max_us'] / 1000:.1f} |",
        "",
        f"Errors by kind: connect {result['connect']}, read {result['read']}, write {result['write']}, "
        f"non-2xx {result['status']}, timeout {result['timeout']}.",
        "",
        f"CPU during the load ({wall:.1f} s × {cpus} cores = {capacity:.1f} core-seconds):",
        "",
        "| who | core-seconds | share of the machine |",
        "|---|---:|---:|",
        *(f"| {who} | {seconds:.1f} | {seconds / capacity:.1%} |" for who, seconds in usage.items()),
        "",
        f"Web + database CPU per request under load: {service_ms:.1f} ms (single client, same mix: "
        f"{single_ms:.1f} ms). Steal time (the hypervisor's): {steal:.1f} core-seconds.",
        "",
        f"So rps / limit = {served_share:.0%} of the machine's CPU went to the web workers and the "
        f"database × {efficiency:.0%} CPU efficiency (single-client CPU per request / CPU per request "
        f"under load). Other processes took {usage['other processes'] / capacity:.0%} of the machine; "
        f"with the cores to itself (all but wrk's and this script's share), the same efficiency would "
        f"give about {efficiency * available_share:.0%} of the limit (an estimate), provided the service "
        f"keeps every core busy: its threads running or waiting for a core numbered "
        f"{statistics.mean(wanting) if wanting else 0:.1f} on average (sampled every {demand.interval} s), "
        f"and at least {cpus} in {saturated:.0%} of the samples.",
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
    shutil.rmtree(server_log.parent, ignore_errors=True)
    print(f"errors {errors} rps {rps:.1f} p95_ms {p95:.1f} cpu_limit_rps {limit:.1f}")


if __name__ == "__main__":
    main()
