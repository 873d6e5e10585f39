"""Cold and warm start of the embedded PostgreSQL (``fashionrec/embedded_db.py``).

    .venv/bin/python bench/embedded_db_start.py [--runs 5]

Each start runs in a fresh Python process (as ``manage.py`` would) and times only
``embedded_database_settings``: **cold** on an empty data directory (initdb, the memory
settings, start, CREATE DATABASE), **warm** on the data directory the cold start left (start and
the database check). The server stops when that process exits, so every warm start is a real
start, not a join of a running server. Medians over ``--runs`` fresh directories; the last line is
``cold_start_s <median> warm_start_s <median>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_TIMED_START = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from fashionrec.embedded_db import embedded_database_settings
start = time.perf_counter()
embedded_database_settings(Path({data_dir!r}), name="fashionrec_start_bench")
print(time.perf_counter() - start)
"""


def timed_start(data_dir: Path) -> float:
    """Seconds one fresh process spends starting (or creating and starting) the server."""
    code = _TIMED_START.format(root=str(ROOT), data_dir=str(data_dir))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="fashionrec-start-") as tmp:
            cold.append(timed_start(Path(tmp)))
            warm.append(timed_start(Path(tmp)))
        print(f"cold {cold[-1]:.2f} s  warm {warm[-1]:.2f} s", flush=True)
    print(f"1-minute load average {os.getloadavg()[0]:.1f} (2 cores: above 2, other jobs competed)")
    print(f"cold_start_s {statistics.median(cold):.2f} warm_start_s {statistics.median(warm):.2f}")


if __name__ == "__main__":
    main()
