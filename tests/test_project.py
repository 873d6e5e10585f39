"""Project-level checks: settings, system checks, and the docker-compose production shape."""

import os
import subprocess
import sys
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_database_is_postgresql():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def test_manage_check_is_clean():
    result = run_manage("check", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DJANGO_SETTINGS_MODULE": "fashionrec.settings_production",
            "DJANGO_SECRET_KEY": "x" * 64 + "-a-long-random-production-secret",
            "DJANGO_ALLOWED_HOSTS": "shop.example.com",
            "REDIS_CACHE_URL": "redis://127.0.0.1:6379/1",  # read, never connected to by a check
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_shared_throttle_cache():
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_CACHE_URL", "FASHIONREC_THROTTLE_CACHE_URL"}}
    env |= {"DJANGO_SETTINGS_MODULE": "fashionrec.settings_production", "DJANGO_SECRET_KEY": "x" * 64}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "Production throttles need a shared cache" in result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_SETTINGS_MODULE"] = "fashionrec.settings_production"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


class TestDockerCompose:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    def test_it_has_the_production_services(self):
        assert set(self.services) == {"db", "replica", "redis", "web", "worker", "beat"}

    def test_the_database_image_ships_pgvector(self):
        assert self.services["db"]["image"].startswith("pgvector/pgvector:")

    def test_every_long_running_service_has_a_health_check(self):
        for name in ("db", "replica", "redis", "web", "worker"):
            assert "healthcheck" in self.services[name], name

    def test_the_replica_is_a_pgvector_standby_made_from_a_base_backup_of_db(self):
        replica = self.services["replica"]
        assert replica["image"] == self.services["db"]["image"]
        entrypoint = ROOT / "deploy" / "postgres" / "replica-entrypoint.sh"
        assert f"./{entrypoint.relative_to(ROOT)}:{replica['entrypoint'][-1]}:ro" in replica["volumes"]
        script = entrypoint.read_text()
        assert "pg_basebackup" in script and "--write-recovery-conf" in script  # standby.signal + conninfo
        assert replica["environment"]["PRIMARY_HOST"] == "db"
        # the primary creates the replication role on its first start
        init = [v for v in self.services["db"]["volumes"] if "/docker-entrypoint-initdb.d/" in v]
        assert init and (ROOT / init[0].split(":")[0]).read_text().count("REPLICATION LOGIN") == 1
        assert (
            self.services["db"]["environment"]["REPLICATION_PASSWORD"] == replica["environment"]["REPLICATION_PASSWORD"]
        )

    def test_web_reads_from_the_replica_and_celery_stays_on_the_primary(self):
        from fashionrec.db import replica_database_settings

        url = self.services["web"]["environment"]["DATABASE_REPLICA_URLS"]
        (replica,) = replica_database_settings(url, conn_max_age=60, connect_timeout=2).values()
        assert replica["HOST"] == "replica" and replica["NAME"] == "fashionrec"
        for name in ("worker", "beat"):
            assert "DATABASE_REPLICA_URLS" not in self.services[name]["environment"], name

    def test_commands_point_at_modules_that_exist(self):
        web = self.services["web"]["command"]
        assert "gunicorn fashionrec.wsgi:application" in web
        assert "manage.py migrate" in web
        # after migrate: the HNSW graph of FASHIONREC_EMBEDDING_STORAGE (vector or halfvec)
        assert web.index("manage.py apply_embedding_storage") > web.index("manage.py migrate")
        from recommender.management.commands import apply_embedding_storage  # noqa: F401

        assert self.services["worker"]["command"].startswith("celery -A fashionrec worker")
        assert self.services["beat"]["command"].startswith("celery -A fashionrec beat")
        from fashionrec import celery, wsgi  # noqa: F401  (the modules the commands name)

    def test_app_services_get_the_variables_the_settings_read(self):
        settings_source = (ROOT / "fashionrec" / "settings.py").read_text() + (
            ROOT / "fashionrec" / "settings_production.py"
        ).read_text()
        for name in ("web", "worker", "beat"):
            environment = self.services[name]["environment"]
            for variable in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE"):
                assert variable in environment, (name, variable)
            for variable in environment:
                if variable != "DJANGO_SETTINGS_MODULE":
                    assert f'"{variable}"' in settings_source, f"{variable} is set for {name} but never read"
            assert environment["DJANGO_SETTINGS_MODULE"] == "fashionrec.settings_production"
            assert environment["DATABASE_URL"].startswith("postgres://")
            assert "@db:5432/" in environment["DATABASE_URL"]
            assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379")

    def test_media_is_shared_between_web_and_worker(self):
        assert self.services["web"]["volumes"] == self.services["worker"]["volumes"]


def test_tests_keep_onnx_copies_out_of_the_checkout(_onnx_cache_of_the_session):
    # the session's folder (tests/conftest.py), for this process and the processes it starts
    assert Path(settings.FASHIONREC_ONNX_CACHE_DIR) == _onnx_cache_of_the_session
    assert os.environ["FASHIONREC_ONNX_CACHE_DIR"] == str(_onnx_cache_of_the_session)
    assert Path(settings.DATA_DIR) not in Path(settings.FASHIONREC_ONNX_CACHE_DIR).parents
