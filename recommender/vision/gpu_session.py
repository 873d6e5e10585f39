"""One call on a lent GPU trains both models: ``python -m recommender.vision.gpu_session --out $OUT``.

Runs ``detector_gpu`` (resuming the committed run) and ``encoder_gpu`` at the same time on the one
GPU, each under the same budget, their working folders outside ``$OUT`` (the detector installs
wheels and unpacks photos there), then packs what should come back into ``$OUT`` within what a
call returns: at most 8 files of 16 MiB, 64 MiB together, no deeper than two folders. Everything
goes into one tar, most needed first (logs and figures, the encoder's weights, the detector's
resumable checkpoint, …), split into 15 MiB parts; whatever would pass the total is left out and
named in ``$OUT/collected.json``. Here: ``cat FILES_AT/results.tar.part-* | tar -x -C DEST``.

Django-free, like the two entry points it starts (docs/vision.md, "Training on a lent GPU").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

PART_BYTES = 15 * 2**20  # under the 16 MiB a returned file may have
RETURN_BYTES = 56 * 2**20  # under the 64 MiB a call returns, room left for collected.json and the logs
LOG_BYTES = 2 * 2**20  # each log keeps its last 2 MiB
DETECTOR_RESUME = Path("models/detector/training/seg-v001")


def _wanted(detector_out: Path, encoder_out: Path) -> list[Path]:
    """What to bring back, most needed first."""
    runs = sorted((detector_out / "runs").glob("*")) if (detector_out / "runs").is_dir() else []
    small = [detector_out / "summary.json", encoder_out / "summary.json"]
    for run in runs:
        small += [run / name for name in ("run.json", "results.csv", "args.yaml", "metrics.json")]
    small += [encoder_out / name for name in ("metrics.json", "MODEL_CARD.md")]
    large = [encoder_out / "encoder.pt"]
    for run in runs:
        large += [run / "weights" / "last.pt", run / "detector.pt"]
    large += [encoder_out / "best.pt", encoder_out / "checkpoint.pt"]
    for run in runs:
        large += [run / "weights" / "best.pt"]
    return [p for p in small + large if p.is_file()]


def _keep_tail(path: Path, most: int) -> None:
    if path.stat().st_size > most:
        with open(path, "rb") as handle:
            handle.seek(-most, os.SEEK_END)
            tail = handle.read()
        path.write_bytes(b"[... earlier lines cut to fit what a call returns]\n" + tail)


def collect_results(
    files: list[tuple[Path, str]], out: Path, *, part_bytes: int = PART_BYTES, budget: int = RETURN_BYTES
) -> dict:
    """Tar ``files`` ((path, name in the tar), in priority order) into ``out/results.tar.part-NN``
    while the total stays within ``budget``; returns (and writes to ``out/collected.json``) what
    was packed and what was left out."""
    out.mkdir(parents=True, exist_ok=True)
    packed, left_out, total = [], [], 0
    for path, name in files:
        size = path.stat().st_size + 1024  # tar header and padding
        if total + size > budget:
            left_out.append({"name": name, "bytes": path.stat().st_size})
            continue
        packed.append((path, name))
        total += size
    tar_path = out / "results.tar"
    with tarfile.open(tar_path, "w") as archive:
        for path, name in packed:
            archive.add(path, arcname=name)
    parts = []
    with open(tar_path, "rb") as whole:
        while chunk := whole.read(part_bytes):
            part = out / f"results.tar.part-{len(parts):02d}"
            part.write_bytes(chunk)
            parts.append(part.name)
    tar_path.unlink()
    report = {"parts": parts, "packed": [name for _, name in packed], "left_out": left_out}
    (out / "collected.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-out")))
    parser.add_argument("--pack", type=Path, default=Path("gpu-pack"))
    parser.add_argument("--minutes", type=float, default=6.0, help="budget of each training (they run together)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fashionrec-gpu"), help="the trainings' folders")
    parser.add_argument("--detector-resume", type=Path, default=DETECTOR_RESUME, help="run folder ('none': skip)")
    parser.add_argument("--encoder-resume", type=Path, default=None, help="an encoder checkpoint.pt to continue")
    parser.add_argument("--encoder-args", default="", help="more encoder_gpu options, e.g. '--widths 64,128,256,512'")
    parser.add_argument("--device", default="cuda", help="cpu: rehearse the call here on a tiny pack (tests)")
    args = parser.parse_args(argv)

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FASHIONREC_NO_PROGRESS": "1"}
    detector_out, encoder_out = args.work / "detector", args.work / "encoder"
    started, jobs, logs = time.monotonic(), {}, {}
    if (args.pack / "pack.json").is_file() and str(args.detector_resume) != "none":
        command = [sys.executable, "-m", "recommender.vision.detector_gpu", "--pack", str(args.pack)]
        command += ["--out", str(detector_out), "--minutes", str(args.minutes), "--device", args.device]
        command += ["--resume", str(args.detector_resume)]
        jobs["detector"] = command
    if (args.pack / "encoder" / "encoder.json").is_file():
        command = [sys.executable, "-m", "recommender.vision.encoder_gpu", "--pack", str(args.pack)]
        command += ["--out", str(encoder_out), "--minutes", str(args.minutes), "--device", args.device]
        command += ["--resume", str(args.encoder_resume)] if args.encoder_resume else []
        if "detector" in jobs:
            # its probe runs while the detector still installs and unpacks: leave room for the slowdown
            command += ["--share", "0.6"]
        jobs["encoder"] = command + args.encoder_args.split()
    if not jobs:
        print(f"nothing to train: no pack.json nor encoder/encoder.json in {args.pack}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    running = {}
    for name, command in jobs.items():
        logs[name] = args.out / f"{name}.log"
        print(f"{name}: {' '.join(command)}", flush=True)
        running[name] = subprocess.Popen(command, env=env, stdout=open(logs[name], "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    codes = {name: process.wait() for name, process in running.items()}
    for log in logs.values():
        _keep_tail(log, LOG_BYTES)
    print(f"done in {(time.monotonic() - started) / 60:.1f} min: exit codes {codes}", flush=True)

    wanted = _wanted(detector_out, encoder_out)
    files = [(path, str(path.relative_to(args.work))) for path in wanted]
    report = collect_results(files, args.out)
    print(json.dumps({"exit_codes": codes, **report}), flush=True)
    for name, log in logs.items():  # the ends of the logs, for the call's output
        print(f"--- {name} ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]), flush=True)
    return 0 if all(code == 0 for code in codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
