"""What a call to a lent GPU machine sends, against its limit.

A `run` call copies the checkout's tracked and not-ignored files plus the ignored paths it carries
(the packs), 64 MiB in all (/work/.library/device/README.md). The committed models count: the
detector's resume checkpoint alone is 33 MB, so a pack's own size says little. Both pack commands
report this total, so a pack that cannot travel is known here, not after a machine was started.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

TRAVEL_LIMIT_BYTES = 64 * 2**20


def _folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def travelling_bytes(repo: Path, carried: Iterable[Path] = ()) -> dict[str, int]:
    """Bytes of the checkout that travels (git's tracked + untracked-not-ignored files) and of the carried paths."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    tree = 0
    for name in filter(None, listed):
        path = Path(repo) / name.decode()
        if path.is_file() and not path.is_symlink():  # a deleted tracked file is listed but does not travel
            tree += path.stat().st_size
    carried_bytes = {str(p): _folder_bytes(Path(p)) for p in carried if Path(p).exists()}
    return {"tree": tree, **carried_bytes, "total": tree + sum(carried_bytes.values())}


def describe(sizes: dict[str, int], limit: int = TRAVEL_LIMIT_BYTES) -> str:
    parts = ", ".join(f"{name} {value / 2**20:.1f} MiB" for name, value in sizes.items() if name != "total")
    verdict = "fits" if sizes["total"] <= limit else "does NOT fit"
    return (
        f"a run call would send {sizes['total'] / 2**20:.1f} MiB ({parts}): {verdict} the {limit / 2**20:.0f} MiB limit"
    )
