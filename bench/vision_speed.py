"""Vision speed benchmark: batched ingest throughput and single-query latency of the real pipeline.

Both go through `get_pipeline()` with the default (shipped) weights, exactly as ingest tasks and
the recommend API do: JPEG bytes in → decode (EXIF, RGB) → detect (YOLO) → crop → encode.

- Ingest: `analyse_batch` over catalog photos (clothing-small validation, 400×533) in batches of
  `--batch`, timed end to end; images/s = images / seconds (median of `--rounds` rounds).
- Query: `analyse` on one photo at a time, over catalog photos and CCP street photos (550×832),
  after a warm-up; median and p95 of the wall-clock time per photo. As for a shopper's query,
  every garment is detected and the main one encoded (ingest encodes every garment).
- HTTP image query: `POST /api/v1/recommendations/` (multipart photo, k=10) to gunicorn on the
  loopback (2 gthread workers × 4 threads, as deployed) over the benchmark's own database
  (`fashionrec_bench_vision` on the embedded server: `--http-products` products of the train split,
  imported and indexed by the shipped pipeline). After a warm-up over several connections (every
  worker loads its models), `--http-queries` distinct photos (half CCP, half catalog validation,
  none of the warm-up's) are each sent once at concurrency 1 on one keep-alive connection; the
  latency is the client's, from sending the upload to having read the whole JSON answer.

Writes `bench/reports/vision_speed.md`; the last line printed is
`ingest_images_per_s <value> query_p95_ms <value> http_image_p95_ms <value>`.

    .venv/bin/python bench/vision_speed.py [--images 128] [--batch 16] [--queries 60] [--http-queries 240]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "reports" / "vision_speed.md"
# Warm-up connections of the HTTP part: more than gunicorn's workers, so that each gets some.
WARM_CONNECTIONS, WARM_QUERIES = 4, 12


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionrec.settings")
    import django

    django.setup()


def _spread(files: list[Path], count: int) -> list[Path]:
    if count >= len(files):
        return files
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _size(data: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


# --- HTTP: upload → JSON through gunicorn ------------------------------------------------------

HTTP_DB = "fashionrec_bench_vision"
BOUNDARY = "fashionrecvisionbench"


def _multipart(data: bytes) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="q.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode()
        + data
        + f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="k"\r\n\r\n10\r\n--{BOUNDARY}--\r\n'.encode()
    )


def _post(connection, data: bytes) -> tuple[float, dict]:
    """One image query on a keep-alive connection: (client ms, the answer's timings_ms)."""
    import json

    body = _multipart(data)
    started = time.perf_counter()
    connection.request(
        "POST",
        "/api/v1/recommendations/",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    response = connection.getresponse()
    answer = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}: {answer[:300]!r}")
    payload = json.loads(answer)
    if not payload["results"]:
        raise SystemExit("an image query found no products: is the catalog indexed?")
    return elapsed, payload["timings_ms"]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure_http(
    products: int, warm_up: list[bytes], queries: list[bytes]
) -> tuple[list[float], dict[str, list[float]]]:
    """Image queries over HTTP at concurrency 1: client ms per query, and the server's timings per stage.

    gunicorn serves the benchmark's own database (``HTTP_DB``, ``products`` products of the train
    split, imported and indexed by the shipped pipeline) as in ``bench/recommend_http.py``. The
    warm-up goes over several connections at once so that every worker has loaded its models;
    then each query photo is sent exactly once, one after the other, on one keep-alive connection.
    """
    import http.client
    import threading

    from django.conf import settings

    from bench.load import bench_env, prepare_catalog
    from bench.recommend_http import gunicorn

    env = {
        **bench_env(),
        "FASHIONREC_EMBEDDED_DB_NAME": HTTP_DB,
        "FASHIONREC_MEDIA_ROOT": str(ROOT / "var" / "bench-vision-media"),
    }
    prepare_catalog(Path(settings.FASHIONREC_DATASET), products, env)
    with gunicorn(HTTP_DB, port=_free_port(), root=ROOT) as address:
        host, port = address.split(":")

        def warm(items: list[bytes]) -> None:
            connection = http.client.HTTPConnection(host, int(port), timeout=120)
            for data in items:
                _post(connection, data)
            connection.close()

        clients = [threading.Thread(target=warm, args=(warm_up[i::WARM_CONNECTIONS],)) for i in range(WARM_CONNECTIONS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        client_ms: list[float] = []
        server_ms: dict[str, list[float]] = {}
        for data in queries:
            elapsed, timings = _post(connection, data)
            client_ms.append(elapsed)
            for stage, value in timings.items():
                server_ms.setdefault(stage, []).append(value)
        connection.close()
    return client_ms, server_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=128, help="catalog photos per ingest round")
    parser.add_argument("--batch", type=int, default=16, help="images per analyse_batch call")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=60, help="single-image queries (half catalog, half CCP)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="vision threads (FASHIONREC_TORCH_THREADS: ONNX Runtime's, or torch's when it serves), here and in "
        "gunicorn (default: the settings', min(2, CPUs))",
    )
    parser.add_argument(
        "--runtime",
        choices=("onnx", "torch"),
        default=None,
        help="FASHIONREC_VISION_RUNTIME here and in gunicorn (default: the settings', onnx)",
    )
    parser.add_argument("--http-queries", type=int, default=240, help="image uploads over HTTP (0: skip that part)")
    parser.add_argument("--http-products", type=int, default=200, help="catalog size of the HTTP part")
    args = parser.parse_args()

    # before Django reads the settings, so that the gunicorn of the HTTP part inherits them too
    if args.threads:
        os.environ["FASHIONREC_TORCH_THREADS"] = str(args.threads)
    if args.runtime:
        os.environ["FASHIONREC_VISION_RUNTIME"] = args.runtime
    _setup_django()
    import torch
    from django.conf import settings

    from recommender.vision.pipeline import get_pipeline

    catalog = Path(settings.FASHIONREC_DATASET) / "validation"
    ccp = Path(settings.FASHIONREC_CCP_DATASET) / "photos"
    catalog_files = _spread(sorted(catalog.glob("*/*.jpg")), args.images)
    ccp_files = _spread(sorted(ccp.glob("*.jpg")), args.queries // 2)
    catalog_bytes = [p.read_bytes() for p in catalog_files]
    ccp_bytes = [p.read_bytes() for p in ccp_files]

    load_started = time.perf_counter()
    pipeline = get_pipeline()
    load_s = time.perf_counter() - load_started
    detector = pipeline.detector
    threads = settings.FASHIONREC_TORCH_THREADS or min(2, os.cpu_count() or 1)
    print(f"pipeline loaded in {load_s:.1f} s; vision threads {threads}, torch {torch.get_num_threads()}", flush=True)

    # warm-up: first calls allocate buffers and pick kernels
    pipeline.analyse_batch(catalog_bytes[: args.batch])
    for data in catalog_bytes[:3] + ccp_bytes[:2]:
        pipeline.analyse(data)

    ingest_rates = []
    stage_ms = {"decode": 0.0, "detect": 0.0, "encode": 0.0}
    garments = whole = 0
    for round_index in range(args.rounds):
        started = time.perf_counter()
        results = []
        for start in range(0, len(catalog_bytes), args.batch):
            results += pipeline.analyse_batch(catalog_bytes[start : start + args.batch])
        elapsed = time.perf_counter() - started
        ingest_rates.append(len(catalog_bytes) / elapsed)
        print(f"ingest round {round_index + 1}: {ingest_rates[-1]:.1f} images/s", flush=True)
        if round_index == 0:
            for result in results:
                for stage in stage_ms:
                    stage_ms[stage] += result.timings_ms[stage] / len(results)
                garments += len(result.garments)
                whole += sum(g.is_whole_image for g in result.garments)

    query_ms: dict[str, list[float]] = {"catalog": [], "ccp": []}
    query_stages: dict[str, list[float]] = {"decode": [], "detect": [], "encode": []}
    for kind, items in (("catalog", catalog_bytes[: args.queries - len(ccp_bytes)]), ("ccp", ccp_bytes)):
        for data in items:
            started = time.perf_counter()
            analysis = pipeline.analyse(data)
            query_ms[kind].append((time.perf_counter() - started) * 1000)
            for stage in query_stages:
                query_stages[stage].append(analysis.timings_ms[stage])
    all_queries = query_ms["catalog"] + query_ms["ccp"]

    http_ms: list[float] = []
    http_stages: dict[str, list[float]] = {}
    if args.http_queries:
        street = sorted(ccp.glob("*.jpg"))
        shop = sorted(catalog.glob("*/*.jpg"))
        half = args.http_queries // 2
        # street and catalog photos alternate, so that a drift in machine load touches both alike
        pairs = itertools.zip_longest(_spread(street, half), _spread(shop, args.http_queries - half))
        ordered = [p for pair in pairs for p in pair if p is not None]
        chosen = set(ordered)
        warm_files = _spread([p for p in street + shop if p not in chosen], WARM_QUERIES)
        http_ms, http_stages = measure_http(
            args.http_products, [p.read_bytes() for p in warm_files], [p.read_bytes() for p in ordered]
        )
        print(f"HTTP: {len(http_ms)} image queries, p95 {_percentile(http_ms, 0.95):.1f} ms", flush=True)

    ingest = statistics.median(ingest_rates)
    p95 = _percentile(all_queries, 0.95)
    catalog_size = _size(catalog_bytes[0])
    ccp_size = _size(ccp_bytes[0])
    load = os.getloadavg()
    lines = [
        "# Vision speed",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, vision threads "
        f"{threads} (torch {torch.get_num_threads()}), load average during the run "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (cores shared with other jobs). CPU only.",
        f"Detector: `{Path(getattr(detector, 'weights_path', 'none')).name}` "
        f"at imgsz {getattr(detector, 'imgsz', '–')} ({getattr(detector, 'runtime', '–')}); "
        f"encoder version `{pipeline.encoder_version}` ({getattr(pipeline.encoder, 'runtime', 'torch')}). "
        f"Pipeline loaded in {load_s:.1f} s.",
        "",
        "## Batched ingest (decode → detect → crop → encode)",
        "",
        f"{len(catalog_bytes)} catalog photos ({catalog_size[0]}×{catalog_size[1]} JPEG, clothing-small validation), "
        f"`analyse_batch` in batches of {args.batch}, {args.rounds} rounds.",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| images/s (median of rounds) | {ingest:.1f} |",
        f"| images/s per round | {', '.join(f'{r:.1f}' for r in ingest_rates)} |",
        f"| decode ms/image | {stage_ms['decode']:.1f} |",
        f"| detect ms/image | {stage_ms['detect']:.1f} |",
        f"| encode ms/image (incl. crops) | {stage_ms['encode']:.1f} |",
        f"| garments per image | {garments / len(catalog_bytes):.2f} ({whole} whole-image fallbacks) |",
        "",
        "## One query image (decode → detect → crop → encode)",
        "",
        "| photos | size | n | median ms | p95 ms |",
        "|---|---|---:|---:|---:|",
        f"| catalog | {catalog_size[0]}×{catalog_size[1]} | {len(query_ms['catalog'])} | "
        f"{statistics.median(query_ms['catalog']):.1f} | {_percentile(query_ms['catalog'], 0.95):.1f} |",
        f"| CCP street photos | {ccp_size[0]}×{ccp_size[1]} | {len(query_ms['ccp'])} | "
        f"{statistics.median(query_ms['ccp']):.1f} | {_percentile(query_ms['ccp'], 0.95):.1f} |",
        f"| all | | {len(all_queries)} | {statistics.median(all_queries):.1f} | {p95:.1f} |",
        "",
        "Median per stage of a query: "
        + ", ".join(f"{k} {statistics.median(v):.1f} ms" for k, v in query_stages.items())
        + ".",
        "",
        f"Targets: ingest ≥ 25 images/s ({'met' if ingest >= 25 else 'missed'}), "
        f"query p95 ≤ 80 ms ({'met' if p95 <= 80 else 'missed'}).",
        "",
    ]
    http_p95 = _percentile(http_ms, 0.95) if http_ms else float("nan")
    if http_ms:
        server_total = http_stages.get("total", [])
        overhead = [c - t for c, t in zip(http_ms, server_total, strict=True)]
        lines += [
            "## Image query over HTTP (upload → JSON)",
            "",
            f"gunicorn (2 gthread workers × 4 threads) on the loopback, {args.http_products} catalog products; "
            f"{len(http_ms)} distinct photos (half CCP, half catalog), each sent once at concurrency 1 after "
            f"{WARM_QUERIES} warm-up uploads.",
            "",
            "| metric | median ms | p95 ms |",
            "|---|---:|---:|",
            f"| client: upload → whole JSON | {statistics.median(http_ms):.1f} | {http_p95:.1f} |",
            *(
                f"| server `{stage}` | {statistics.median(values):.1f} | {_percentile(values, 0.95):.1f} |"
                for stage, values in http_stages.items()
            ),
            f"| client − server total (HTTP, multipart parse, JSON, loopback) | {statistics.median(overhead):.1f} | "
            f"{_percentile(overhead, 0.95):.1f} |",
            "",
            f"Target: HTTP image query p95 ≤ 50 ms ({'met' if http_p95 <= 50 else 'missed'}).",
            "",
        ]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"ingest_images_per_s {ingest:.1f} query_p95_ms {p95:.1f} http_image_p95_ms {http_p95:.1f}")


if __name__ == "__main__":
    main()
