"""deploy/gunicorn.conf.py: the web process's sizing, and the deploy files that use it."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


@pytest.fixture
def config(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("GUNICORN_THREADS", raising=False)
    return runpy.run_path(str(CONFIG))


@pytest.mark.parametrize(("cores", "workers", "threads"), [(2, 2, 1), (2, 3, 1), (8, 2, 4), (8, 8, 1), (1, 1, 1)])
def test_torch_threads_of_all_workers_fit_the_cores(config, cores, workers, threads):
    assert config["torch_threads"](cores, workers) == threads


def test_one_gthread_worker_per_core_by_default(config):
    assert config["workers"] == config["cores"] == config["available_cores"]()
    assert 1 <= config["cores"] <= len(os.sched_getaffinity(0))
    assert (config["worker_class"], config["threads"]) == ("gthread", 4)


def test_the_environment_overrides_the_sizing(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "2")

    config = runpy.run_path(str(CONFIG))

    assert (config["workers"], config["threads"]) == (3, 2)


def test_torch_threads_follow_the_final_worker_count(config, monkeypatch):
    # given a command line that overrides the workers (gunicorn --workers 4)
    monkeypatch.delenv("FASHIONREC_TORCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)

    class Server:
        class cfg:
            workers = 4

    # when the master starts
    config["on_starting"](Server)

    # then the workers it forks get the threads for 4 workers, and OpenMP threads that sleep
    assert os.environ["FASHIONREC_TORCH_THREADS"] == str(config["torch_threads"](config["cores"], 4))
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_the_image_and_compose_serve_with_this_config():
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    assert "gunicorn fashionrec.wsgi:application --config deploy/gunicorn.conf.py" in web
    assert "--workers" not in web and "--threads" not in web  # sized in one place
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"gunicorn", "fashionrec.wsgi:application", "--config", "deploy/gunicorn.conf.py"' in dockerfile
