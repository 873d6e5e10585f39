"""The demo's script modules as production serves them: collectstatic with production settings,
then WhiteNoise over the collected folder (no database needed)."""

import json
import os
import re
import subprocess
import sys
import wsgiref.util
from pathlib import Path

import pytest
from whitenoise import WhiteNoise

ROOT = Path(__file__).resolve().parents[2]
MODULE_IMPORT = re.compile(r'\bfrom\s*"\./([^"]+)";')


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("collected")
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "fashionrec.settings_production",
            "DJANGO_SECRET_KEY": "x" * 64 + "-a-long-random-production-secret",
            # collectstatic never connects; a URL keeps the embedded server out of the temp folder
            "DATABASE_URL": "postgres://nobody@127.0.0.1:9/unused",
            # production settings refuse to start without a shared throttle cache (never contacted here)
            "REDIS_CACHE_URL": "redis://127.0.0.1:6379/15",
            "FASHIONREC_DATA_DIR": str(data_dir),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return data_dir / "static"


def served(static_root: Path, url: str) -> tuple[str, dict[str, str], bytes]:
    app = WhiteNoise(lambda environ, start_response: [], root=static_root, prefix="/static/")
    environ = {"PATH_INFO": url, "REQUEST_METHOD": "GET"}
    wsgiref.util.setup_testing_defaults(environ)
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


def test_every_module_imports_the_hashed_names_of_the_others(collected):
    # given the manifest written by collectstatic with production settings
    manifest = json.loads((collected / "staticfiles.json").read_text())["paths"]
    modules = {name: hashed for name, hashed in manifest.items() if name.startswith("fashionrec/js/")}

    # when each hashed module's imports are read
    imports = {
        hashed: MODULE_IMPORT.findall((collected / hashed).read_text(encoding="utf-8")) for hashed in modules.values()
    }

    # then every import names the hashed file of another module, so a deploy never pairs new and old
    hashed_files = {Path(hashed).name for hashed in modules.values()}
    assert "fashionrec/js/main.js" in modules and len(modules) > 5
    assert imports[modules["fashionrec/js/main.js"]]
    for module, names in imports.items():
        for name in names:
            assert name in hashed_files, f"{module} imports {name}"


def test_whitenoise_serves_the_entry_module_as_javascript(collected):
    # given the hashed name the templates' {% static %} gives in production
    manifest = json.loads((collected / "staticfiles.json").read_text())["paths"]
    entry = manifest["fashionrec/js/main.js"]

    # when a browser fetches it
    status, headers, body = served(collected, f"/static/{entry}")

    # then with a JavaScript MIME type: browsers refuse to run a module script served as anything else
    assert status.startswith("200")
    assert headers["Content-Type"].split(";")[0] == "text/javascript"
    assert b"import" in body
