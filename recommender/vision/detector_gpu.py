"""Train the detector on a GPU machine that has PyTorch but no ultralytics, no datasets and no network.

Two halves:

- `pack_detector_run` (here, via `manage.py pack_detector_gpu`): one folder holding everything a
  run needs: the training and selection photos of the segmenting recipe resized to the input
  size as WebP, with their label files unchanged (`dataset.tar.gz`), the recipe (`pack.json`),
  and the wheels ultralytics needs that such a machine lacks (`wheels/`). It travels with the
  checkout and the encoder's pack in one call (64 MiB in all), so it is kept small (~16 MiB).
- `main` (there, `python -m recommender.vision.detector_gpu --pack PACK --out OUT --minutes N`):
  installs the missing wheels offline into OUT, unpacks the photos, trains with
  `detector_training.train_detector` (same code as the CPU command, `--device cuda`), optionally
  resuming a run folder, and leaves the run (weights/last.pt, detector.pt, metrics.json) in OUT.

Imports nothing from Django and nothing from ultralytics at module level: ultralytics may only
exist after `install_wheels` ran.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

PACK_FORMAT_VERSION = 2  # 1: dataset.tar of JPEG photos
PACK_LIMIT_BYTES = 60 * 1024 * 1024
DATASET_ARCHIVE = "dataset.tar.gz"
# Wheels a PyTorch + OpenCV + SciPy + Pillow machine lacks for a training run (checked against
# ultralytics' requirements: torch, numpy, opencv, pillow, scipy are there; matplotlib, requests
# and nvidia-ml-py are only imported for plots, downloads and GPU stats, all off here).
# polars (54 MB) and torchvision (tied to the machine's torch build) do not fit or cannot be
# chosen in advance: `_fallbacks_for_missing` covers the two calls a run makes into them.
PACKED_REQUIREMENTS = ("ultralytics==8.4.190", "ultralytics-thop==2.2.3", "psutil==7.2.2", "PyYAML==6.0.4")
# import name of each packed distribution, to install only what is missing
_MODULE_OF = {"ultralytics": "ultralytics", "ultralytics_thop": "thop", "psutil": "psutil", "pyyaml": "yaml"}
# WebP quality of the packed photos. Measured on the 1,775 photos at 320 px (2026-12-06): JPEG
# q85 (format 1) 28.8 MiB, q80 24.7; WebP q80 17.7, q75 14.5, q70 13.6, q60 12.0, q50 10.6 MiB.
# PSNR against the resized photo (every 18th): JPEG q85 37.6 dB, WebP q70 35.2, q60 34.4, q50 33.7.
# q60 is the highest of these that lets checkout + this pack + the encoder's 128 px pack stay under 60 MiB
# (docs/vision.md, "What travels"); YOLO's own augmentation (HSV, scale, mosaic) alters a photo far
# more than the 0.8 dB it gives up to q70. ultralytics reads .webp (cv2 and Pillow ship libwebp).
WEBP_QUALITY = 60
# gzip: the outline label files (3 MiB of decimal text) shrink ~3x, and the 512-byte tar header
# and padding of each of the 3,550 files (~2.7 MiB) mostly vanish; the WebP photos do not shrink.
OWN_PARTS = ("dataset", "dataset.tar", DATASET_ARCHIVE, "wheels", "pack.json")


class PackTooLarge(Exception):
    pass


def download_wheels(target: Path, *, python_version: str = "3.12") -> list[Path]:
    """`pip download` the packed requirements for the GPU machine's Python (cached in `target`)."""
    target.mkdir(parents=True, exist_ok=True)
    missing = [r for r in PACKED_REQUIREMENTS if not _wheel_for(target, r)]
    if missing:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"),
                *("--python-version", python_version, "--platform", "manylinux_2_28_x86_64"),
                *("--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64"),
                *("-d", str(target), *missing),
            ],
            check=True,
        )
    return [_wheel_for(target, r) for r in PACKED_REQUIREMENTS]  # type: ignore[misc]


def _wheel_for(folder: Path, requirement: str) -> Path | None:
    name, version = requirement.lower().replace("-", "_").split("==")
    found = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(f"{name}-{version}-"))
    return found[0] if found else None


def pack_detector_run(
    pack_dir: Path,
    *,
    data_yaml: Path,
    wheels: list[Path],
    recipe: dict,
    imgsz: int,
    quality: int = WEBP_QUALITY,
    limit_bytes: int = PACK_LIMIT_BYTES,
) -> dict:
    """Write the pack: photos of the dataset of `data_yaml` at long side `imgsz` as WebP of `quality`,
    labels, wheels, recipe.

    `recipe` holds the `TrainConfig` fields of the run (model, epochs, batch, seed…). Raises
    `PackTooLarge` (and leaves no pack) when the folder would exceed `limit_bytes`.
    """
    from PIL import Image

    from recommender.vision.detector_seg_dataset import PHOTO_SUFFIXES

    source = Path(data_yaml).parent
    _remove_own_parts(pack_dir)
    (pack_dir / "wheels").mkdir(parents=True)
    staging = pack_dir / "dataset"
    counts: dict[str, int] = {}
    staging.mkdir(parents=True)
    photos = sorted(p for p in source.glob("images/*/*") if p.suffix.lower() in PHOTO_SUFFIXES)
    for image_path in photos:
        split = image_path.parent.name
        label = source / "labels" / split / f"{image_path.stem}.txt"
        for folder in ("images", "labels"):
            (staging / folder / split).mkdir(parents=True, exist_ok=True)
        with Image.open(image_path) as image:
            scale = min(1.0, imgsz / max(image.size))
            image = image.convert("RGB")
            if scale < 1.0:
                image = image.resize(
                    (round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC
                )
            image.save(staging / "images" / split / f"{image_path.stem}.webp", "WEBP", quality=quality, method=4)
        # YOLO labels are normalised: unchanged by the resize
        shutil.copyfile(label, staging / "labels" / split / label.name)
        counts[split] = counts.get(split, 0) + 1
    with tarfile.open(pack_dir / DATASET_ARCHIVE, "w:gz") as archive:
        archive.add(staging, arcname="dataset")
    shutil.rmtree(staging)
    for wheel in wheels:
        shutil.copyfile(wheel, pack_dir / "wheels" / wheel.name)
    manifest = {
        "format": PACK_FORMAT_VERSION,
        "recipe": {**recipe, "imgsz": imgsz},
        "dataset": DATASET_ARCHIVE,
        "webp_quality": quality,
        "images": counts,
        "wheels": sorted(w.name for w in wheels),
    }
    (pack_dir / "pack.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    size = sum(p.stat().st_size for name in OWN_PARTS for p in _files(pack_dir / name))
    if size > limit_bytes:
        _remove_own_parts(pack_dir)
        if not any(pack_dir.iterdir()):
            pack_dir.rmdir()
        raise PackTooLarge(f"pack would be {size / 2**20:.1f} MiB, over {limit_bytes / 2**20:.0f} MiB")
    return {**manifest, "bytes": size}


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []


def _remove_own_parts(pack_dir: Path) -> None:
    """The folder is shared with the encoder's pack (``PACK/encoder/``): replace only this pack's parts."""
    for name in OWN_PARTS:
        path = Path(pack_dir) / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _compatible(wheel: Path) -> bool:
    """Whether pip can install this wheel on this interpreter (by its python/abi tags)."""
    python_tag, abi_tag = wheel.stem.split("-")[-3:-1]
    here = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return any(tag.startswith("py3") for tag in python_tag.split(".")) or abi_tag == "abi3" or here in python_tag


def install_wheels(wheels_dir: Path, target: Path, *, force: bool = False) -> list[str]:
    """Install the packed wheels whose module is missing here (all compatible ones with `force`)
    into `target` with pip, offline, and put `target` first on sys.path. Returns what was installed."""
    # an earlier call's installation counts as present
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    chosen = []
    for wheel in sorted(Path(wheels_dir).glob("*.whl")):
        module = _MODULE_OF.get(wheel.name.split("-")[0].lower())
        if module is None or not _compatible(wheel):
            continue
        if force or importlib.util.find_spec(module) is None:
            chosen.append(wheel)
    if chosen:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--upgrade"),
                *("--target", str(target), *map(str, chosen)),
            ],
            check=True,
        )
        importlib.invalidate_caches()
    return [w.name for w in chosen]


def _fallbacks_for_missing(forced: frozenset[str] = frozenset()) -> list[str]:
    """Stand-ins for the two modules a run touches but the pack cannot carry (see PACKED_REQUIREMENTS).

    - polars: ultralytics reads results.csv with it only to copy the table into each checkpoint
      (`BaseTrainer.read_results_csv`); the csv module gives the same dict of columns.
    - torchvision: the validator imports it only to time NMS fairly, and NMS then calls
      `torchvision.ops.nms`; a module whose `ops.nms` is ultralytics' own pure-torch NMS serves.
    """
    applied = []
    if "polars" in forced or importlib.util.find_spec("polars") is None:
        import csv

        from ultralytics.engine.trainer import BaseTrainer

        def read_results_csv(self) -> dict:
            try:
                with open(self.csv, newline="") as handle:
                    rows = list(csv.DictReader(handle))
            except OSError:
                return {}
            return {key.strip(): [_number(row[key]) for row in rows] for key in (rows[0] if rows else {})}

        BaseTrainer.read_results_csv = read_results_csv
        applied.append("polars")
    if "torchvision" in forced or importlib.util.find_spec("torchvision") is None:
        import types

        from ultralytics.utils.nms import TorchNMS

        torchvision = types.ModuleType("torchvision")
        torchvision.ops = types.ModuleType("torchvision.ops")
        torchvision.ops.nms = TorchNMS.nms
        torchvision.__version__ = "0.0.0+fashionrec-stand-in"
        sys.modules["torchvision"], sys.modules["torchvision.ops"] = torchvision, torchvision.ops
        applied.append("torchvision")
    return applied


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def unpack_dataset(pack_dir: Path, target: Path) -> Path:
    """Extract the photos and labels into `target` and return a data.yaml pointing at them."""
    from recommender.vision.detector_seg_dataset import write_data_yaml

    manifest = json.loads((Path(pack_dir) / "pack.json").read_text())
    # a format-1 pack (dataset.tar of JPEGs) still unpacks: tarfile detects the compression
    with tarfile.open(Path(pack_dir) / manifest.get("dataset", "dataset.tar")) as archive:
        archive.extractall(target, filter="data")
    return write_data_yaml(target / "dataset")


def train_from_pack(
    pack_dir: Path,
    out_dir: Path,
    *,
    minutes: float | None,
    device: str = "cuda",
    resume: Path | None = None,
    workers: int = 8,
    force_install: bool = False,
    stand_ins: frozenset[str] = frozenset(),
    overrides: dict | None = None,
    progress=print,
) -> Path:
    """Install, unpack and train (or resume `resume`, a run folder with run.json and weights/last.pt).

    Returns the run folder under `out_dir/runs/`: weights/last.pt (resumable when stopped by the
    budget), and once the schedule is complete detector.pt and metrics.json on the selection split.
    """
    started = time.monotonic()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((Path(pack_dir) / "pack.json").read_text())
    installed = install_wheels(Path(pack_dir) / "wheels", out_dir / "site-packages", force=force_install)
    progress(f"installed from the pack: {', '.join(installed) or 'nothing (all present)'}")
    data_yaml = unpack_dataset(Path(pack_dir), out_dir / "data")

    import ultralytics

    from recommender.vision.detector_training import TrainConfig, train_detector

    progress(f"ultralytics {ultralytics.__version__} from {Path(ultralytics.__file__).parent}")
    applied = _fallbacks_for_missing(stand_ins)
    if applied:
        progress(f"stand-ins for missing modules: {', '.join(applied)}")
    missing = out_dir / "no-datasets-here"  # the CCP/catalog folders: not on this machine
    recipe = {**manifest["recipe"], **(overrides or {})}
    config = TrainConfig(
        output_dir=out_dir / "runs",
        ccp_dir=missing,
        catalog_dir=missing,
        cache_dir=out_dir / "data",
        device=device,
        minutes=minutes,
        workers=workers,
        **recipe,
    )
    if resume is not None:
        # a copy of the run under OUT, so the pack's caller gets one folder back
        target = out_dir / "runs" / Path(resume).name
        if Path(resume).resolve() != target.resolve():
            shutil.copytree(resume, target, dirs_exist_ok=True)
        resume = target
    run_dir = train_detector(config, resume=resume, data_yaml=data_yaml, progress=progress)
    summary = {
        "run": str(run_dir),
        "device": device,
        "minutes": round((time.monotonic() - started) / 60, 2),
        "epochs_done": max(0, len((run_dir / "results.csv").read_text().strip().splitlines()) - 1),
        "finished": (run_dir / "detector.pt").exists(),
        "installed": installed,
        "stand_ins": applied,
        "ultralytics": str(Path(ultralytics.__file__).parent),
        "django_imported": "django" in sys.modules,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    progress(json.dumps(summary))
    return run_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, required=True, help="folder written by manage.py pack_detector_gpu")
    parser.add_argument("--out", type=Path, required=True, help="run folder, installed wheels and photos go here")
    parser.add_argument("--minutes", type=float, default=None, help="stop at an epoch boundary within this budget")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--resume", type=Path, default=None, help="a run folder (run.json, weights/last.pt)")
    parser.add_argument("--workers", type=int, default=8, help="dataloader processes")
    parser.add_argument("--epochs", type=int, default=None, help="override the packed schedule (tests)")
    parser.add_argument("--batch", type=int, default=None, help="override the packed batch size")
    parser.add_argument("--force-install", action="store_true", help="install every compatible packed wheel")
    parser.add_argument(
        "--stand-ins", default="", help="comma-separated: use the polars/torchvision stand-ins though installed (tests)"
    )
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in {"epochs": args.epochs, "batch": args.batch}.items() if v is not None}
    train_from_pack(
        args.pack,
        args.out,
        minutes=args.minutes,
        device=args.device,
        resume=args.resume,
        workers=args.workers,
        force_install=args.force_install,
        stand_ins=frozenset(filter(None, args.stand_ins.split(","))),
        overrides=overrides,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
