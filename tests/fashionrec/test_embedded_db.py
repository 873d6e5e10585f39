"""The embedded server's memory settings: sized from RAM, written once, in use."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from fashionrec import embedded_db


def _megabytes(value: str) -> int:
    number, unit = int(value[:-2]), value[-2:]
    return number * {"MB": 1, "GB": 1024}[unit]


def test_shared_buffers_are_a_quarter_of_ram_within_bounds(monkeypatch):
    monkeypatch.delenv("FASHIONREC_EMBEDDED_DB_SHARED_BUFFERS", raising=False)
    values = embedded_db.server_settings()
    assert 128 <= _megabytes(values["shared_buffers"]) <= 8192
    assert values["jit"] == "off"
    assert _megabytes(values["effective_cache_size"]) >= _megabytes(values["shared_buffers"])


def test_the_shared_buffers_can_be_overridden(monkeypatch):
    monkeypatch.setenv("FASHIONREC_EMBEDDED_DB_SHARED_BUFFERS", "256MB")
    assert embedded_db.server_settings()["shared_buffers"] == "256MB"


def test_settings_are_written_once_and_included_once(tmp_path):
    main_conf = tmp_path / "postgresql.conf"
    main_conf.write_text("max_connections = 100\n")

    embedded_db.write_server_settings(tmp_path, {"shared_buffers": "512MB", "jit": "off"})
    embedded_db.write_server_settings(tmp_path, {"shared_buffers": "1024MB", "jit": "off"})

    assert main_conf.read_text().count("include_if_exists = 'fashionrec.conf'") == 1
    assert main_conf.read_text().startswith("max_connections = 100\n")
    assert (tmp_path / "fashionrec.conf").read_text() == "jit = 'off'\nshared_buffers = '1024MB'\n"


@pytest.mark.django_db
@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="about the embedded server; DATABASE_URL is set")
def test_the_running_embedded_server_uses_them():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), current_setting('random_page_cost')")
        assert cursor.fetchone() == ("off", "1.1")
