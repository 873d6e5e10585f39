"""The API docs pages: pinned Swagger UI and Redoc served from our own static files, OPTIONS safe."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

DOCS_PAGES = ["/api/v1/docs/", "/api/v1/redoc/"]


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", [*DOCS_PAGES, "/api/v1/schema/"])
def test_options_on_a_docs_page_answers_its_methods(client, settings, path, debug):
    # given: development and production (DEBUG off) alike
    settings.DEBUG = debug
    # when
    response = client.options(path)
    # then: not the 500 that Swagger UI's template gave without its page context
    assert response.status_code == 200
    assert "GET" in response["Allow"] and "OPTIONS" in response["Allow"]


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_the_docs_pages_load_only_local_static_assets(client, path):
    # when
    response = client.get(path)
    html = response.content.decode()
    # then: nothing from a CDN or Google Fonts, no absolute URL at all ...
    assert response.status_code == 200
    assert re.findall(r"(?:https?:)?//[\w.-]+\.\w+/", html) == []
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html[:500]
    # ... every asset a static file that this checkout serves (so the page works offline)
    for url in assets:
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), url
