"""Golden API responses: record what the main endpoints answer to a fixed list of requests, and
compare two recordings.

It proves a refactor left behaviour unchanged: record at the commit before it, record again after
it, compare. So that it runs unchanged at any commit of this repository, it touches the project
only through public interfaces: ``manage.py`` commands (``migrate``, ``import_catalog``,
``runserver``; ``shell`` only with Django's and DRF's own models and raw SQL on the public tables)
and HTTP. It imports nothing from ``fashionrec``, ``catalog``, ``recommender`` or ``users``.

1. A fresh embedded PostgreSQL of its own: ``FASHIONREC_DATA_DIR`` in a temporary folder (database
   ``snapshot``, media there too), no broker (images are processed inside the import), so ids
   from sequences are the same on every run.
2. ``import_catalog --seed 7`` of 60 photos of the clothing ``train/`` split: the first 6 file names,
   sorted, of each category folder; then a shopper and a staff user with fixed tokens, two seasonal
   rules with explicit dates spanning 2000-2099 (so the result does not depend on today's date),
   and ``ANALYZE`` (the planner's row estimates are part of the response).
3. ``runserver`` on a free port, and the requests of :data:`REQUESTS` in order (later ones see the
   likes and preferences earlier ones wrote): product lists with each filter and pagination,
   details, categories and seasons, similar items with each filter, image recommendations with
   and without filters (a flat lay and a street photo with several garments), ``/me/``
   preferences and interactions with a token, error cases (400, 401/403, 404, 405, 413, 415)
   and the OpenAPI schema; then a few similar-item and photo queries against a second server
   made to take the approximate (HNSW) plan, which sixty garments would never get otherwise.
4. One JSON file of ``{name, request, status, content_type, body}``. Volatile values are
   normalised: every value under ``timings_ms`` becomes ``"<ms>"``, ISO date-times
   ``"<datetime>"``, UUIDs in stored file names ``"<uuid>"``, floats are rounded to 6 decimals;
   a binary body (a product photo) is recorded as its length and SHA-256. Requests carry
   ``Host: testserver``, so absolute pagination links do not carry the server's random port.

Usage (from the repository root; 4 to 6 minutes on this 2-core machine at load average 12, the
import of the 60 photos about 2 of them)::

    .venv/bin/python bench/api_snapshot.py                  # writes bench/reports/api-snapshot-<short sha>.json
    .venv/bin/python bench/api_snapshot.py --out /tmp/a.json
    .venv/bin/python bench/api_snapshot.py --compare A.json B.json   # prints differences; exit 1 if any

To check a refactor, record the commit before it with this script and ``--root``, then the
refactored tree, and compare (the checkout runs with this script's Python, so this ``.venv``)::

    git worktree add /tmp/before <tag>
    .venv/bin/python bench/api_snapshot.py --root /tmp/before --out /tmp/before.json
    .venv/bin/python bench/api_snapshot.py --out /tmp/after.json
    .venv/bin/python bench/api_snapshot.py --compare /tmp/before.json /tmp/after.json

Two runs at the same commit compare equal (checked: three fresh runs, identical).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "bench" / "reports"
DATASETS = ROOT.parent / "shared" / "datasets"
PHOTOS_PER_CATEGORY = 6
SEED = 7
# Fixed keys: the tokens are part of the requests, so they must not change between runs.
SHOPPER_TOKEN = "5a0b5e7e5a0b5e7e5a0b5e7e5a0b5e7e5a0b5e7e"
STAFF_TOKEN = "57aff0057aff0057aff0057aff0057aff0057aff"
# Uploads above this are refused with 413; the oversized request sends a little more.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024

SETUP = f"""
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

User = get_user_model()
shopper = User.objects.create_user(username="shopper", password="a-long-snapshot-password")
staff = User.objects.create_user(username="staff", password="a-long-snapshot-password", is_staff=True)
Token.objects.create(user=shopper, key="{SHOPPER_TOKEN}")
Token.objects.create(user=staff, key="{STAFF_TOKEN}")
with connection.cursor() as cursor:
    cursor.execute("SELECT id FROM catalog_category WHERE path = 'clothing/tops'")
    tops = cursor.fetchone()[0]
    # Explicit dates over the whole century: the seasonal term does not depend on the day it runs.
    cursor.execute(
        "INSERT INTO catalog_seasonalrule (name, starts_on, ends_on, target_category_id, target_colour,"
        " target_tag, weight, priority, is_active, created_at, updated_at) VALUES"
        " ('tops forward', '2000-01-01', '2099-12-31', %s, '', '', 0.5, 10, true, now(), now()),"
        " ('black back', '2000-01-01', '2099-12-31', NULL, 'black', '', -0.3, 5, true, now(), now())",
        [tops],
    )
    cursor.execute("ANALYZE")
    cursor.execute("SELECT status, count(*) FROM catalog_productimage GROUP BY status ORDER BY status")
    print("images", cursor.fetchall())
"""


# ------------------------------------------------------------------------------ the requests

# Placeholders, resolved from the catalog once it is imported: {p0}..{p59} the products by SKU
# order; {cat:<path>}, {season:<slug>}, {brand:<n>}, {colour:<n>} ids and values found there.
# "photo": a dataset file (see dataset_photo), "payload": generated bytes (see payload);
# "auth": the shopper's or the staff user's token.


def get(name: str, path: str, query: dict | list | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "method": "GET", "path": path, "query": query or {}, **extra}


def write(method: str, name: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "method": method, "path": path, "query": {}, **extra}


PRODUCTS = "/api/v1/products/"
SIMILAR = "/api/v1/products/{p0}/similar/"
RECOMMEND = "/api/v1/recommendations/"
PREFERENCES = "/api/v1/me/preferences/"
INTERACTIONS = "/api/v1/me/interactions/"

REQUESTS: list[dict[str, Any]] = [
    # the catalog
    get("categories", "/api/v1/categories/"),
    get("seasons", "/api/v1/seasons/"),
    get("products page 1", PRODUCTS, {"limit": 10}),
    get("products page 2", PRODUCTS, {"limit": 10, "offset": 10}),
    get("products last page", PRODUCTS, {"limit": 10, "offset": 55}),
    get("products past the end", PRODUCTS, {"limit": 10, "offset": 100}),
    get("products limit above the cap", PRODUCTS, {"limit": 500}),
    get("products default page", PRODUCTS),
    get("products category parent", PRODUCTS, {"category": "{cat:clothing/tops}"}),
    get("products category leaf", PRODUCTS, {"category": "{cat:clothing/dresses}"}),
    get("products brand", PRODUCTS, {"brand": "{brand:0}"}),
    get("products department", PRODUCTS, {"department": "men"}),
    get("products colour", PRODUCTS, {"colour": "{colour:0}"}),
    get("products price range", PRODUCTS, {"price_min": "20", "price_max": "60"}),
    get("products in stock", PRODUCTS, {"in_stock": "true", "limit": 100}),
    get("products sizes", PRODUCTS, {"sizes": "M,L"}),
    get("products season", PRODUCTS, {"season": "{season:winter}"}),
    get("products search", PRODUCTS, {"q": "dress"}),
    get(
        "products combined filters",
        PRODUCTS,
        {"category": "{cat:clothing}", "price_max": "100", "in_stock": "true", "department": "women"},
    ),
    get("product detail", "/api/v1/products/{p0}/"),
    get("product detail another", "/api/v1/products/{p40}/"),
    get("product images anonymous", "/api/v1/products/{p0}/images/"),
    get("product images staff", "/api/v1/products/{p0}/images/", auth="staff"),
    get("product photo file", "{photo_url:p0}"),
    # similar items for a product
    get("similar", SIMILAR),
    get("similar k 5", "/api/v1/products/{p12}/similar/", {"k": 5}),
    get("similar category", SIMILAR, {"category": "{cat:clothing/tops}"}),
    get("similar price min", SIMILAR, {"price_min": "30"}),
    get("similar price max", SIMILAR, {"price_max": "40"}),
    get("similar sizes", SIMILAR, {"sizes": "S,XL"}),
    get("similar sizes repeated", SIMILAR, [("sizes", "S"), ("sizes", "XL")]),
    get("similar in stock", SIMILAR, {"in_stock": "true"}),
    get("similar department", SIMILAR, {"department": "women"}),
    get("similar brand", SIMILAR, {"brand": "{brand:1}"}),
    get("similar colour", SIMILAR, {"colour": "{colour:0}"}),
    get("similar season", SIMILAR, {"season": "{season:summer}"}),
    get("similar exclude", SIMILAR, {"exclude": "{p1},{p2},{p3}"}),
    get("similar max per category", "/api/v1/products/{p30}/similar/", {"max_per_category": 2}),
    get(
        "similar combined filters",
        "/api/v1/products/{p30}/similar/",
        {"category": "{cat:clothing}", "price_max": "120", "in_stock": "true", "k": 8},
    ),
    get("similar nothing matches", SIMILAR, {"price_min": "9999"}),
    write("POST", "recommend by product json", RECOMMEND, json={"product_id": "{p5}", "k": 6}),
    write("POST", "recommend by product form", RECOMMEND, data={"product_id": "{p5}", "k": "6", "in_stock": "true"}),
    # recommendations for a photo (none of them is in the catalog)
    write("POST", "image flat lay", RECOMMEND, photo="validation/dress/0"),
    write(
        "POST",
        "image flat lay filters",
        RECOMMEND,
        photo="validation/pants/0",
        data={"category": "{cat:clothing/bottoms}", "in_stock": "true", "price_max": "90", "k": "5"},
    ),
    write("POST", "image street photo", RECOMMEND, photo="ccp/7"),
    write("POST", "image street photo garment 1", RECOMMEND, photo="ccp/7", data={"garment": "1"}),
    write("POST", "image shoes k 3", RECOMMEND, photo="validation/shoes/0", data={"k": "3"}),
    # a shopper with a token: preferences, interactions, personalised results
    get("me preferences anonymous", PREFERENCES),
    get("me preferences empty", PREFERENCES, auth="shopper"),
    write(
        "PUT",
        "me preferences put",
        PREFERENCES,
        auth="shopper",
        json={
            "categories": ["{cat:clothing/tops}"],
            "brands": ["{brand:2}"],
            "colours": ["{colour:1}"],
            "sizes": ["M"],
            "price_min": "10",
            "price_max": "80",
        },
    ),
    get("me preferences after put", PREFERENCES, auth="shopper"),
    write("POST", "me like", INTERACTIONS, auth="shopper", json={"product_id": "{p3}", "kind": "like"}),
    write("POST", "me purchase", INTERACTIONS, auth="shopper", json={"product_id": "{p11}", "kind": "purchase"}),
    write("POST", "me dislike", INTERACTIONS, auth="shopper", json={"product_id": "{p7}", "kind": "dislike"}),
    write("POST", "me view", INTERACTIONS, auth="shopper", json={"product_id": "{p20}", "kind": "view"}),
    get("me preferences after interactions", PREFERENCES, auth="shopper"),
    get("me similar personalised", SIMILAR, auth="shopper"),
    write("POST", "me image personalised", RECOMMEND, auth="shopper", photo="validation/dress/0"),
    # bad input
    get("error products bad price", PRODUCTS, {"price_min": "abc"}),
    get("error products unknown category", PRODUCTS, {"category": "999999"}),
    get("error products bad limit", PRODUCTS, {"limit": "-1"}),
    get("error similar bad k", SIMILAR, {"k": "0"}),
    get("error similar bad in stock", SIMILAR, {"in_stock": "maybe"}),
    get("error similar unknown brand", SIMILAR, {"brand": "999999"}),
    get("error similar price order", SIMILAR, {"price_min": "50", "price_max": "10"}),
    get("error product not found", "/api/v1/products/999999/"),
    get("error product id not a number", "/api/v1/products/abc/"),
    get("error similar not found", "/api/v1/products/999999/similar/"),
    get("error unknown api route", "/api/v1/nothing-here/"),
    write("DELETE", "error method not allowed", PRODUCTS, auth="staff"),
    write("POST", "error write anonymous", PRODUCTS, json={"title": "x"}),
    write("POST", "error recommend nothing to query", RECOMMEND, json={"k": 3}),
    write("POST", "error recommend unknown product", RECOMMEND, json={"product_id": 999999}),
    write("POST", "error upload too large", RECOMMEND, payload="too_large"),
    write("POST", "error upload not an image", RECOMMEND, payload="text"),
    write("POST", "error upload empty", RECOMMEND, payload="empty"),
    write("POST", "error upload truncated", RECOMMEND, payload="truncated"),
    write("POST", "error recommend bad garment", RECOMMEND, photo="validation/dress/0", data={"garment": "99"}),
    write(
        "POST", "error interaction bad kind", INTERACTIONS, auth="shopper", json={"product_id": "{p3}", "kind": "love"}
    ),
    write(
        "POST",
        "error interaction unknown product",
        INTERACTIONS,
        auth="shopper",
        json={"product_id": 999999, "kind": "like"},
    ),
    write("PUT", "error preferences bad", PREFERENCES, auth="shopper", json={"price_min": "90", "price_max": "10"}),
    get("error bad token", PREFERENCES, headers={"Authorization": "Token not-a-real-token"}),
    # the schema
    get("schema", "/api/v1/schema/", {"format": "json"}),
]

# Sixty garments always take the exact plan; these run against a second server told to take the
# approximate one (the HNSW index with iterative scans) whatever the filter.
ANN_SETTINGS = {"FASHIONREC_RECOMMEND_EXACT_MAX_ROWS": "0", "FASHIONREC_RECOMMEND_EXACT_FRACTION": "0"}
ANN_REQUESTS: list[dict[str, Any]] = [
    get("ann similar", SIMILAR),
    get("ann similar category", SIMILAR, {"category": "{cat:clothing/tops}"}),
    get("ann similar filters", "/api/v1/products/{p30}/similar/", {"in_stock": "true", "price_max": "80", "k": 6}),
    get("ann similar max per category", "/api/v1/products/{p30}/similar/", {"max_per_category": 1}),
    write("POST", "ann image flat lay", RECOMMEND, photo="validation/dress/0"),
    get("ann similar personalised", SIMILAR, auth="shopper"),
]


# ------------------------------------------------------------------------------ normalising

DATETIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
# Stored files get a random name (products/<id>/<uuid>.img); the dataset's photos are named by
# UUIDs too, but those make SKUs and titles and stay.
STORED_FILE = re.compile(r"(products/\d+/)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


def normalise(value: Any, key: str = "") -> Any:
    if key == "timings_ms" and isinstance(value, dict):
        return dict.fromkeys(value, "<ms>")
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, str):
        return STORED_FILE.sub(r"\1<uuid>", DATETIME.sub("<datetime>", value))
    return value


# ------------------------------------------------------------------------------ recording


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_CACHE_URL", "FASHIONREC_MEDIA_ROOT"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "fashionrec.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,testserver",
            "FASHIONREC_DATA_DIR": str(data_dir),
            "FASHIONREC_EMBEDDED_DB_NAME": "snapshot",
            "FASHIONREC_EMBEDDED_DB_SHARED_BUFFERS": "128MB",
            "FASHIONREC_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
            # No request of the list may be throttled, however fast the machine.
            "FASHIONREC_ANON_RECOMMEND_RATE": "100000/min",
            "FASHIONREC_USER_RECOMMEND_RATE": "100000/min",
            "FASHIONREC_TIME_ZONE": "UTC",
            "FASHIONREC_LOG_LEVEL": "WARNING",
            "PYTHONHASHSEED": "0",
        }
    )
    return env


def manage(project: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=project, env=env, capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def photo_folder(target: Path) -> Path:
    """The first PHOTOS_PER_CATEGORY file names, sorted, of each category folder of train/."""
    train = DATASETS / "clothing-small" / "train"
    for category in sorted(path for path in train.iterdir() if path.is_dir()):
        (target / category.name).mkdir(parents=True)
        for photo in sorted(category.iterdir())[:PHOTOS_PER_CATEGORY]:
            shutil.copyfile(photo, target / category.name / photo.name)
    return target


def dataset_photo(reference: str) -> Path:
    """``validation/<category>/<n>``: the n-th file, sorted; ``ccp/<n>``: CCP street photo n."""
    parts = reference.split("/")
    if parts[0] == "ccp":
        return DATASETS / "ccp" / "photos" / f"{int(parts[1]):04d}.jpg"
    folder = DATASETS / "clothing-small" / parts[0] / parts[1]
    return sorted(folder.iterdir())[int(parts[2])]


def payload(kind: str) -> tuple[str, bytes, str]:
    jpeg = dataset_photo("validation/dress/0").read_bytes()
    return {
        "too_large": ("big.jpg", jpeg + b"\0" * (MAX_UPLOAD_BYTES + 1024), "image/jpeg"),
        "text": ("notes.jpg", b"just some text, not a photo\n" * 40, "image/jpeg"),
        "empty": ("empty.jpg", b"", "image/jpeg"),
        "truncated": ("cut.jpg", jpeg[: len(jpeg) // 3], "image/jpeg"),
    }[kind]


class Server:
    def __init__(self, project: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=project,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"runserver exited; see {log}")
            try:
                if requests.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"runserver did not answer in 120 s; see {log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def listed(url: str) -> list[dict]:
    body = requests.get(url, params={"limit": 100}, timeout=60).json()
    return body if isinstance(body, list) else body["results"]


def references(base: str) -> dict[str, str]:
    """Values of the placeholders, read from the imported catalog through the API."""
    products = listed(f"{base}/api/v1/products/")
    products.sort(key=lambda product: product["sku"])
    found: dict[str, str] = {f"p{n}": str(product["id"]) for n, product in enumerate(products)}
    found.update({f"photo_url:p{n}": product["primary_image_url"] or "" for n, product in enumerate(products)})
    for category in listed(f"{base}/api/v1/categories/"):
        found[f"cat:{category['path']}"] = str(category["id"])
    for season in listed(f"{base}/api/v1/seasons/"):
        found[f"season:{season['slug']}"] = str(season["id"])
    # Brands and colours in the order of their first product by SKU.
    brands = list(dict.fromkeys(product["brand"] for product in products if product["brand"]))
    details = {product["brand"]: product["id"] for product in products}
    for n, brand in enumerate(brands):
        detail = requests.get(f"{base}/api/v1/products/{details[brand]}/", timeout=60).json()
        found[f"brand:{n}"] = str(detail["brand_id"])
    for n, colour in enumerate(dict.fromkeys(product["colour"] for product in products if product["colour"])):
        found[f"colour:{n}"] = colour
    return found


def resolve(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\{([^{}]+)\}", value)
        if whole and whole.group(1) in refs and refs[whole.group(1)].isdigit() and not value.startswith("/"):
            return int(refs[whole.group(1)])  # a lone id placeholder in a JSON body stays a number
        return re.sub(r"\{([^{}]+)\}", lambda match: refs[match.group(1)], value)
    if isinstance(value, dict):
        return {key: resolve(item, refs) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(item, refs) for item in value]
    return value


def send(session: requests.Session, base: str, spec: dict, refs: dict[str, str]) -> dict:
    method = spec["method"]
    path = resolve(spec["path"], refs)
    # A fixed host name: pagination links are absolute, and the port is a new one every run.
    headers = {"Accept": "application/json", "Host": "testserver", **spec.get("headers", {})}
    if spec.get("auth"):
        headers["Authorization"] = f"Token {SHOPPER_TOKEN if spec['auth'] == 'shopper' else STAFF_TOKEN}"
    query = spec["query"]
    params = [
        (name, str(resolve(value, refs))) for name, value in (query.items() if isinstance(query, dict) else query)
    ]
    kwargs: dict[str, Any] = {"params": params, "headers": headers, "timeout": 300}
    request = {"method": method, "path": spec["path"], "query": query}
    if "json" in spec:
        kwargs["json"] = resolve(spec["json"], refs)
        request["json"] = spec["json"]
    if "data" in spec:
        kwargs["data"] = resolve(spec["data"], refs)
        request["data"] = spec["data"]
    if "photo" in spec:
        photo = dataset_photo(spec["photo"])
        kwargs["files"] = {"image": (photo.name, photo.read_bytes(), "image/jpeg")}
        request["photo"] = spec["photo"]
    if "payload" in spec:
        kwargs["files"] = {"image": payload(spec["payload"])}
        request["payload"] = spec["payload"]
    response = session.request(method, base + path, **kwargs)
    content_type = response.headers.get("Content-Type", "").split(";")[0]
    if content_type == "application/json" or content_type.endswith("+json"):
        body = normalise(response.json())
    elif content_type.startswith("text/"):
        body = normalise(response.text)
    else:
        body = {"bytes": len(response.content), "sha256": hashlib.sha256(response.content).hexdigest()}
    return {
        "name": spec["name"],
        "request": request,
        "status": response.status_code,
        "content_type": content_type,
        "body": body,
    }


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True).stdout.strip()


def record(project: Path, out: Path, keep: bool) -> None:
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="fr-snapshot-"))
    env = environment(data_dir)
    server = None
    try:
        print(f"data dir {data_dir}")
        print(f"project {project}")
        manage(project, env, "migrate", "--noinput")
        photos = photo_folder(data_dir / "photos")
        print(
            manage(project, env, "import_catalog", str(photos), "--seed", str(SEED), "--no-progress")
            .strip()
            .splitlines()[-1]
        )
        print(manage(project, env, "shell", "-c", SETUP).strip())
        entries = []
        for requests_, overrides in ((REQUESTS, {}), (ANN_REQUESTS, ANN_SETTINGS)):
            server = Server(project, {**env, **overrides}, data_dir / "runserver.log")
            refs = references(server.base)
            assert len([key for key in refs if re.fullmatch(r"p\d+", key)]) == 60, "expected 60 products"
            with requests.Session() as session:
                entries += [send(session, server.base, spec, refs) for spec in requests_]
            server.stop()
            server = None
    finally:
        if server:
            server.stop()
        if not keep:
            time.sleep(1)  # the embedded server stops once its last client has gone
            shutil.rmtree(data_dir, ignore_errors=True)
    commit = git(project, "rev-parse", "HEAD")
    dirty = bool(git(project, "status", "--porcelain", "--untracked-files=no"))
    snapshot = {"commit": commit, "dirty": dirty, "requests": len(entries), "responses": entries}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    statuses: dict[int, int] = {}
    for entry in entries:
        statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
    print(f"{len(entries)} requests, statuses {dict(sorted(statuses.items()))}, {time.monotonic() - started:.0f} s")
    print(f"wrote {out}")


# ------------------------------------------------------------------------------ comparing


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            where = f"{path}.{key}"
            if key not in a:
                found.append(f"{where}: only in B: {json.dumps(b[key])[:200]}")
            elif key not in b:
                found.append(f"{where}: only in A: {json.dumps(a[key])[:200]}")
            else:
                found += differences(a[key], b[key], where)
        return found
    if isinstance(a, list) and isinstance(b, list):
        found = [f"{path}: {len(a)} items in A, {len(b)} in B"] if len(a) != len(b) else []
        for n, (x, y) in enumerate(zip(a, b, strict=False)):
            found += differences(x, y, f"{path}[{n}]")
        return found
    if a != b:
        return [f"{path}: A {json.dumps(a)[:200]} != B {json.dumps(b)[:200]}"]
    return []


def compare(first: Path, second: Path, limit: int = 20) -> int:
    a, b = (json.loads(path.read_text()) for path in (first, second))
    print(f"A {first} (commit {a.get('commit', '?')[:10]})\nB {second} (commit {b.get('commit', '?')[:10]})")
    responses_a = {entry["name"]: entry for entry in a["responses"]}
    responses_b = {entry["name"]: entry for entry in b["responses"]}
    changed = 0
    for name in sorted(set(responses_a) - set(responses_b)):
        print(f"- {name}: only in A")
        changed += 1
    for name in sorted(set(responses_b) - set(responses_a)):
        print(f"+ {name}: only in B")
        changed += 1
    for name in [entry["name"] for entry in a["responses"] if entry["name"] in responses_b]:
        found = differences(responses_a[name], responses_b[name])
        if found:
            changed += 1
            print(f"~ {name}: {len(found)} difference(s)")
            for line in found[:limit]:
                print(f"    {line}")
            if len(found) > limit:
                print(f"    … {len(found) - limit} more")
    same = len(set(responses_a) & set(responses_b))
    print(f"{changed} response(s) differ; {same} compared" if changed else f"identical: {same} responses")
    return 1 if changed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, help="where to write the snapshot (default bench/reports/api-snapshot-<sha>.json)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary data folder (database, media, server log)"
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout to record (default: this one), e.g. a worktree at a tag"
    )
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two snapshots")
    args = parser.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    project = args.root.resolve()
    short = git(project, "rev-parse", "--short", "HEAD")
    record(project, args.out or REPORTS / f"api-snapshot-{short}.json", keep=args.keep)


if __name__ == "__main__":
    main()
