"""``scripts/ensure_chromium.sh``, run by ``make test`` before pytest: the browser must be there.

Chromium cannot be removed on a shared machine, so the missing browser is a path that does not
exist (``FASHIONREC_CHROMIUM``), and the user who may not install packages is real: the script
runs as ``nobody`` (or as the current user when that is not root) with no-new-privileges, so
neither root nor sudo is available to it. The install itself (root, apt) is not run here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure_chromium.sh"
MISSING = "/nonexistent/fashionrec-test/chromium"


def run_without_install_rights(command: list[str], *, chromium: str) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs"]
    else:
        drop = ["setpriv", "--no-new-privs"]  # sudo cannot elevate under no_new_privs
    env = {"PATH": os.environ["PATH"], "HOME": "/tmp", "FASHIONREC_CHROMIUM": chromium}
    return subprocess.run([*drop, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_an_installed_browser_passes_silently():
    # given: any executable file the user can run stands for an installed chromium
    chromium = shutil.which("sh")
    # when
    result = run_without_install_rights(["bash", str(SCRIPT)], chromium=chromium)
    # then: nothing to do, nothing said, no attempt to install
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""


def test_a_missing_browser_stops_with_the_exact_command_when_the_user_cannot_install():
    # when
    result = run_without_install_rights(["bash", str(SCRIPT)], chromium=MISSING)
    # then: one sentence on stderr naming the path and the command, and a failure
    assert result.returncode == 1
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message
    assert MISSING in message
    assert "apt-get update && apt-get install -y chromium" in message
    assert message.endswith("then make test again.")


def test_make_test_stops_before_pytest_when_the_browser_is_missing():
    # when: the venv counts as installed (-o), so only the browser check stands before pytest
    result = run_without_install_rights(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "test"], chromium=MISSING
    )
    # then
    assert result.returncode != 0
    assert "apt-get update && apt-get install -y chromium" in result.stderr
    assert "pytest" not in result.stdout + result.stderr
