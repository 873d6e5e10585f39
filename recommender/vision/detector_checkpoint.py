"""A detector run's resumable checkpoint (weights/last.pt) made small enough to commit and carry.

ultralytics saves last.pt with the AdamW moments (`exp_avg`, `exp_avg_sq`) in fp32: 25 MiB of the
committed 31.5 MiB checkpoint, for 6.4 MiB of fp16 EMA weights. A GPU `run` call carries the
whole checkout in 64 MiB, so the committed checkpoint keeps everything a resume reads except the
moments.

Why the optimizer entry is kept with an empty `state` rather than set to None: ultralytics'
`Model.train(resume=True)` treats a checkpoint whose `optimizer` is None as finished (that is what
`strip_optimizer` writes) and silently starts a *new* training; `is_paused` uses the same test. With
the param groups kept and no state, `BaseTrainer._load_checkpoint_state` loads the groups
(learning rates, betas, weight decay; the scheduler sets the rate again anyway) and AdamW creates
zero moments at the first step after the resume: the moments restart, as if from a fresh optimizer
at that point of the schedule, while the epoch, EMA, scheduler position, best fitness and early
stopping continue.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from recommender.vision import detector as _detector  # noqa: F401  (sets YOLO_OFFLINE before ultralytics loads)


@dataclass(frozen=True)
class SlimResult:
    path: Path
    bytes_before: int
    bytes_after: int
    parameters_dropped: int  # parameters whose optimizer state (step, moments) was removed


def checkpoint_path(run_or_file: Path) -> Path:
    """`RUN_DIR/weights/last.pt` for a run folder, the file itself otherwise."""
    path = Path(run_or_file)
    return path / "weights" / "last.pt" if path.is_dir() else path


def _load(path: Path) -> dict:
    import torch

    # an ultralytics checkpoint pickles the model: only the project's own runs are opened here
    return torch.load(path, map_location="cpu", weights_only=False)


def parameters_with_state(checkpoint: dict) -> int:
    optimizer = checkpoint.get("optimizer") or {}
    return sum(1 for state in (optimizer.get("state") or {}).values() if state)


def optimizer_state_bytes(path: Path) -> int:
    """Bytes of the tensors in a checkpoint's optimizer state (0 when slim, or finished: no optimizer)."""
    import torch

    optimizer = _load(checkpoint_path(path)).get("optimizer") or {}
    return sum(
        value.numel() * value.element_size()
        for state in (optimizer.get("state") or {}).values()
        for value in state.values()
        if isinstance(value, torch.Tensor)
    )


def slim_resume_checkpoint(run_or_file: Path) -> SlimResult:
    """Rewrite last.pt without the optimizer's per-parameter state, in place and atomically.

    Refuses a checkpoint that cannot be resumed (no epoch, or no optimizer: a finished or exported
    one), since there is nothing to slim and a resume of it would start a new training. Running it
    on a slim checkpoint leaves the file untouched.
    """
    import torch

    path = checkpoint_path(run_or_file)
    before = path.stat().st_size
    checkpoint = _load(path)
    if checkpoint.get("epoch", -1) < 0 or checkpoint.get("optimizer") is None:
        raise ValueError(f"{path} is not a resumable training checkpoint (no epoch or no optimizer)")
    dropped = parameters_with_state(checkpoint)
    if not dropped:
        return SlimResult(path, before, before, 0)
    checkpoint["optimizer"] = {**checkpoint["optimizer"], "state": {}}
    # written beside it and renamed over it: a crash leaves the old file or the new one, never half of one
    handle, temporary = tempfile.mkstemp(prefix=".last-", suffix=".pt", dir=path.parent)
    try:
        os.chmod(temporary, path.stat().st_mode & 0o777)
        with os.fdopen(handle, "wb") as out:
            torch.save(checkpoint, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return SlimResult(path, before, path.stat().st_size, dropped)
