"""What a call to a lent GPU machine sends, against its limit.

A `run` call copies the checkout's tracked and not-ignored files plus the ignored paths it carries
(the packs), 64 MiB in all (/work/.library/device/README.md). The committed models count: the
detector's resume checkpoint is 31.5 MiB as ultralytics saves it, 6.4 MiB once
`manage.py slim_detector_checkpoint` dropped its AdamW moments. Both pack commands report this
total from the files as they are (a checkpoint that is not slim yet counts in full, with what
slimming it would free), so a pack that cannot travel is known here, not after a machine was
started.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TRAVEL_LIMIT_BYTES = 64 * 2**20
# room a pack should leave under the limit for what later commits add to the checkout
MARGIN_BYTES = 4 * 2**20
RESUME_CHECKPOINTS = "models/detector/training/*/weights/last.pt"


def _folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _listed(repo: Path, *pathspec: str) -> list[Path]:
    """Files a call sends: git's tracked and untracked-not-ignored ones (not a deleted tracked file, though listed)."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *pathspec],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    paths = (Path(repo) / name.decode() for name in dict.fromkeys(filter(None, listed)))
    return [p for p in paths if p.is_file() and not p.is_symlink()]


def travelling_bytes(repo: Path, carried: Iterable[Path] = ()) -> dict[str, int]:
    """Bytes of the checkout that travels and of the carried paths, and their total."""
    tree = sum(path.stat().st_size for path in _listed(repo))
    carried_bytes = {str(p): _folder_bytes(Path(p)) for p in carried if Path(p).exists()}
    return {"tree": tree, **carried_bytes, "total": tree + sum(carried_bytes.values())}


@dataclass(frozen=True)
class TravellingCheckpoint:
    path: Path
    bytes: int
    moment_bytes: int  # the optimizer's per-parameter state in it; 0 once slimmed


def resume_checkpoints(repo: Path) -> list[TravellingCheckpoint]:
    """The detector resume checkpoints the checkout sends, and how much of each is optimizer state."""
    from recommender.vision.detector_checkpoint import optimizer_state_bytes

    return [
        TravellingCheckpoint(path, path.stat().st_size, optimizer_state_bytes(path))
        for path in _listed(repo, RESUME_CHECKPOINTS)
    ]


def describe(
    sizes: dict[str, int],
    limit: int = TRAVEL_LIMIT_BYTES,
    *,
    checkpoints: Iterable[TravellingCheckpoint] = (),
    repo: Path | None = None,
) -> str:
    """The budget of a call, one part a line: the checkout (and its resume checkpoints), each carried
    path, the total against the limit and the margin left for later commits."""
    mib = 2**20
    lines = [f"a run call would send {sizes['total'] / mib:.1f} MiB of its {limit / mib:.0f} MiB:"]
    lines.append(f"  checkout {sizes['tree'] / mib:.1f} MiB")
    fat = 0
    for checkpoint in checkpoints:
        name = checkpoint.path.relative_to(repo) if repo else checkpoint.path
        if checkpoint.moment_bytes:
            fat += checkpoint.moment_bytes
            state = (
                f"with {checkpoint.moment_bytes / mib:.1f} MiB of AdamW moments: "
                f"`manage.py slim_detector_checkpoint {Path(name).parent.parent}` drops them"
            )
        else:
            state = "slim (no optimizer moments)"
        lines.append(f"    of which {name} {checkpoint.bytes / mib:.1f} MiB, {state}")
    lines += [f"  {name} {value / mib:.1f} MiB" for name, value in sizes.items() if name not in ("tree", "total")]
    spare = limit - sizes["total"]
    if spare < 0:
        verdict = f"does NOT fit: {-spare / mib:.1f} MiB over"
    elif spare < MARGIN_BYTES:
        verdict = (
            f"fits, but with {spare / mib:.1f} MiB to spare, under the {MARGIN_BYTES / mib:.0f} MiB later commits need"
        )
    else:
        verdict = f"fits, {spare / mib:.1f} MiB to spare"
    lines.append(f"  {verdict}")
    if fat:
        after = sizes["total"] - fat
        lines.append(
            f"  with the checkpoints slimmed: about {after / mib:.1f} MiB "
            f"({'fits' if after <= limit else 'still does NOT fit'}, {(limit - after) / mib:.1f} MiB to spare)"
        )
    return "\n".join(lines)


def travel_report(repo: Path, carried: Iterable[Path] = (), limit: int = TRAVEL_LIMIT_BYTES) -> tuple[dict, str]:
    """The sizes (`travelling_bytes`) and their description, checkpoints included."""
    sizes = travelling_bytes(repo, carried)
    return sizes, describe(sizes, limit, checkpoints=resume_checkpoints(repo), repo=Path(repo))
