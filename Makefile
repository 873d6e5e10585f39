# Every target runs inside .venv/ at the repository root, created on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
N ?= 100000
DATASET ?= $(or $(FASHIONREC_DATASET),../shared/datasets/clothing-small)

.PHONY: install chromium run test lint format worker beat bench-retrieval bench-street bench-vision bench-detect bench-ingest bench-recommend bench-recommend-clothing bench-load bench-replica api-snapshot

# pip -qq: its errors still show (and stop make); its warnings (on some machines one per package
# about an index it cannot use) would bury the first run's output.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "Installing the Python packages into $(VENV)/ (first run only; several minutes)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -qq --upgrade pip
	$(VENV)/bin/pip install -qq -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

run: install
	@# Quiet: a fresh database would list every migration (~35 lines) before the server starts.
	$(PY) manage.py migrate --noinput --verbosity 0
	@# The HNSW graph FASHIONREC_EMBEDDING_STORAGE names (vector by default; idempotent).
	$(PY) manage.py apply_embedding_storage
	$(PY) manage.py ensure_admin
	@# First run only: an empty catalog is filled from the clothing dataset when it is there.
	@if [ -d "$(DATASET)/train" ] && [ "$$($(PY) manage.py shell -c 'from catalog.models import Product; print(Product.objects.exists())' 2>/dev/null | tail -n 1)" = "False" ]; then \
	  echo "Empty catalog: importing $(DATASET)/train (first run only; a few minutes on 2 cores)"; \
	  $(PY) manage.py import_catalog "$(DATASET)/train" || echo "import failed: the app starts with what was imported"; \
	fi
	@echo "fashionrec: http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/, API docs: http://$(HOST):$(PORT)/api/v1/docs/)"
	$(PY) manage.py runserver $(HOST):$(PORT)

# The browser tests drive Debian's chromium and never skip it: installed with apt when missing (as root or
# with passwordless sudo); otherwise make stops here, before pytest (and before a long first install),
# with the command to run.
chromium:
	@scripts/ensure_chromium.sh

test: chromium install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

worker: install
	$(VENV)/bin/celery -A fashionrec worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A fashionrec beat --loglevel=INFO --schedule $(or $(FASHIONREC_DATA_DIR),var)/celerybeat-schedule

# Images/s through real Celery workers (1 and 2 processes) and the import time of the train split.
bench-ingest: install
	$(PY) bench/ingest.py

# Retrieval quality: train split as catalog, every validation photo a query; last line "precision@10 <value>".
# RETRIEVAL_ARGS=--from-catalog: the products in the database instead (queries = the report split of
# train_encoder --from-catalog, catalog = the other photos; docs/vision.md, "Training on your catalog").
RETRIEVAL_ARGS ?=
bench-retrieval: install
	$(PY) bench/retrieval.py $(RETRIEVAL_ARGS)

# Worn garments (ground-truth boxes of the CCP report split) -> catalog items of the same kind.
bench-street: install
	$(PY) bench/street.py $(STREET_ARGS)


# Vision speed: batched ingest images/s and one query's median/p95 ms through the real pipeline.
bench-vision: install
	$(PY) bench/vision_speed.py

# Recommend query at N synthetic garments (own database; vectors from the shipped encoder's
# distribution): recall@10 against SQL exact and an independent NumPy reference, rows, db and HTTP
# (gunicorn, concurrency 1 and 8) p50/p95 per filter selectivity, three FAISS baselines; writes
# bench/reports/recommend-N.md. Runs niced.
bench-recommend: install
	nice -n 10 $(PY) bench/recommend.py --n $(N)

# The same table on the real clothing catalog (both splits imported with detection and encoding).
bench-recommend-clothing: install
	nice -n 10 $(PY) bench/recommend.py --catalog clothing --dataset "$(DATASET)"

# 20 clients for 60 s against gunicorn (deploy/gunicorn.conf.py) on the embedded PostgreSQL, after a
# single-client pass that measures CPU ms per request and the cores' limit (needs wrk: apt-get install -y wrk).
# Last line: errors <n> rps <v> p95_ms <v> cpu_limit_rps <v>.
bench-load: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) bench/load.py

# Primary + 1 streaming replica on this machine, 8 clients x 30 s of recommend reads with 5 % writes,
# the replica stopped hard at 15 s (docs/database.md, "Read replicas").
bench-replica: install
	$(PY) bench/replica.py

# Golden API responses: a fixed list of requests on a fresh 60-photo catalog (own embedded server),
# written to bench/reports/api-snapshot-<sha>.json; compare two with bench/api_snapshot.py --compare A B.
api-snapshot: install
	nice -n 10 $(PY) bench/api_snapshot.py

# Outfits: fill-in-the-blank and pairwise AUC on the held-out CCP outfits (mask-cut crops), with the
# kinds-only, colour-only and lighting-only baselines; writes bench/reports/outfits.md. Last line
# "fitb <v> fitb_ci <v> best_baseline <v> auc <v>".
.PHONY: bench-outfits
bench-outfits: install
	nice -n 5 $(PY) bench/outfits.py

# Contact sheet of 12 complete-the-look results on a demo-catalog slice (its own database on the
# embedded server; the import takes ~5 minutes the first time, then it is reused), for people to
# judge: bench/reports/outfits-contact-sheet.png; then the hubness of every product's look (distinct products, share of
# the 5 most frequent, k-occurrence skew). Last line "queries <n> kinds_filled <n> mean_top_compatibility <v>".
.PHONY: bench-outfits-sheet
bench-outfits-sheet: install
	nice -n 5 $(PY) bench/outfit_contact_sheet.py
