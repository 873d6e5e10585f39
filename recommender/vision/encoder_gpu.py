"""Train encoder v2 (recipe ``street``) on a GPU machine that has PyTorch but no Django, no datasets, no network.

Two halves, like ``detector_gpu``:

- ``pack_encoder_data`` (here, via ``manage.py pack_encoder_gpu``): the samples the CPU recipe
  trains on (``encoder_data.build_encoder_data``: clothing-small ``train/`` photos and the worn
  garments of the CCP training photos, selection split included, report splits never), written
  compactly into ``PACK/encoder/``: the augmentation-size images as WebP, the garment masks
  bit-packed at half size, labels and boxes in one ``samples.npz``, and ``encoder.json``.
- ``main`` (there, ``python -m recommender.vision.encoder_gpu --pack PACK --out DIR --minutes M``):
  decodes the pack and runs ``encoder_street_training.train_street`` on it (the CPU recipe's own
  code, ``data=`` its pluggable source), checkpointing every epoch into DIR (``--resume`` a
  ``checkpoint.pt`` to continue), stopping at an epoch boundary within the budget, and always
  leaving ``encoder.pt`` (+ MODEL_CARD.md) and ``summary.json`` with the selection figures in DIR.

The pack's evaluation views (what the encoder sees at inference) are derived from the packed
images, not stored: a worn garment's box is cut from its context crop and resized, so those views
are a little softer than the exact crops. The selection figures in DIR choose between epochs;
``manage.py train_encoder --evaluate DIR/encoder.pt`` here measures the same split exactly.

Imports nothing from Django or the package ``fashionrec`` (checked by its test).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import math
import shlex
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from recommender.vision.encoder_data import EncoderData
from recommender.vision.preprocess import RESAMPLE, resize_exact

PACK_FORMAT_VERSION = 1
PACK_FOLDER = "encoder"  # inside the pack folder the detector's pack shares
MANIFEST_NAME = "encoder.json"
SAMPLES_NAME = "samples.npz"
SUMMARY_NAME = "summary.json"
DEFAULT_QUALITY = 70
# Proposed for a lent GPU (docs/vision.md, "Training on a lent GPU"): wider than the CPU run's
# 32/64/128/256 at 112 px, a batch 4x as large with the peak rate scaled by √4 (Adam-type
# optimisers scale closer to √batch than linearly), epochs sized to the budget by a probe.
GPU_DEFAULTS = {"widths": (48, 96, 192, 384), "image_size": 128, "batch_size": 256, "learning_rate": 6e-3}


class PackTooLarge(Exception):
    pass


# --- pack (written here, read there) ------------------------------------------------------------


def _encode(array: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.transpose(1, 2, 0)).save(buffer, "WEBP", quality=quality, method=6)
    return buffer.getvalue()


def pack_encoder_data(
    pack_dir: Path,
    data: EncoderData,
    *,
    image_size: int,
    quality: int = DEFAULT_QUALITY,
    limit_bytes: int | None = None,
) -> dict:
    """Write ``pack_dir/encoder/`` from decoded samples; returns its manifest (with ``bytes``).

    Replaces only its own folder (the detector's pack beside it stays). Raises ``PackTooLarge``
    and leaves nothing when the folder would exceed ``limit_bytes``.
    """
    target = Path(pack_dir) / PACK_FOLDER
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with ThreadPoolExecutor() as pool:
        encoded = list(pool.map(lambda a: _encode(a, quality), data.aug))
    offsets = np.cumsum([0, *map(len, encoded)]).astype(np.int64)
    aug_size = data.aug.shape[-1]
    # Masks at half size: they only decide which pixels a background swap replaces, and
    # grid_sample reads them at the view's resolution anyway.
    mask_size = max(1, aug_size // 2)
    small = np.stack(
        [np.asarray(Image.fromarray(m[0] * 255).resize((mask_size, mask_size), RESAMPLE)) > 127 for m in data.masks]
    )
    arrays = {
        "aug_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "aug_offsets": offsets,
        "masks": np.packbits(small.reshape(len(small), -1), axis=1),
        "inner": data.inner,
        "kinds": data.kinds,
        "categories": data.categories,
        "worn": data.worn,
        "selection": data.selection,
        "names": np.array(data.names),
        "class_names": np.array(data.class_names),
    }
    np.savez_compressed(target / SAMPLES_NAME, **arrays)
    digest = _digest(arrays)
    train, selection = ~data.selection, data.selection
    manifest = {
        "format": PACK_FORMAT_VERSION,
        "image_size": image_size,
        "aug_size": aug_size,
        "mask_size": mask_size,
        "codec": "webp",
        "quality": quality,
        "samples_sha256": digest,
        "class_names": list(data.class_names),
        "samples": {
            "train_flat": int((train & ~data.worn).sum()),
            "train_worn": int((train & data.worn).sum()),
            "selection_flat": int((selection & ~data.worn).sum()),
            "selection_worn": int((selection & data.worn).sum()),
        },
        "gpu_defaults": {**GPU_DEFAULTS, "widths": list(GPU_DEFAULTS["widths"])},
    }
    (target / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    size = sum(p.stat().st_size for p in target.iterdir())
    if limit_bytes is not None and size > limit_bytes:
        shutil.rmtree(target)
        raise PackTooLarge(f"the encoder pack would be {size / 2**20:.1f} MiB, over {limit_bytes / 2**20:.1f} MiB")
    return {**manifest, "bytes": size}


def _digest(arrays: dict[str, np.ndarray]) -> str:
    """Of the content, not of the zip file (whose entries carry the time they were written): the
    same samples packed twice resume each other's checkpoints, and a damaged copy is noticed."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


def _decode(blob: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(blob)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)


def _eval_view(aug: np.ndarray, inner: np.ndarray, size: int) -> np.ndarray:
    """What the encoder sees at inference, from the packed context crop: the garment box, resized."""
    side = aug.shape[-1]
    box = tuple(float((v + 1) / 2 * side) for v in inner)
    image = Image.fromarray(aug.transpose(1, 2, 0))
    if box == (0.0, 0.0, float(side), float(side)):
        return np.asarray(resize_exact(image, size), dtype=np.uint8).transpose(2, 0, 1)
    return np.asarray(image.resize((size, size), RESAMPLE, box=box), dtype=np.uint8).transpose(2, 0, 1)


def load_pack_data(pack_dir: Path, *, image_size: int) -> tuple[EncoderData, dict]:
    """The samples of ``pack_dir/encoder/`` as ``EncoderData`` (evaluation views at ``image_size``)."""
    source = Path(pack_dir) / PACK_FOLDER
    manifest = json.loads((source / MANIFEST_NAME).read_text())
    if manifest["format"] != PACK_FORMAT_VERSION:
        raise ValueError(f"{source} has pack format {manifest['format']}, this code reads {PACK_FORMAT_VERSION}")
    with np.load(source / SAMPLES_NAME, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    if _digest(arrays) != manifest["samples_sha256"]:
        raise ValueError(f"{source / SAMPLES_NAME} does not match {MANIFEST_NAME}: pack it again")
    blob, offsets = arrays["aug_bytes"].tobytes(), arrays["aug_offsets"]
    with ThreadPoolExecutor() as pool:
        aug = np.stack(list(pool.map(_decode, (blob[a:b] for a, b in itertools.pairwise(offsets)))))
        evals = np.stack(list(pool.map(lambda i: _eval_view(aug[i], arrays["inner"][i], image_size), range(len(aug)))))
    side, mask_size = aug.shape[-1], manifest["mask_size"]
    small = np.unpackbits(arrays["masks"], axis=1, count=mask_size * mask_size).reshape(-1, mask_size, mask_size)
    # back to the images' size (nearest): EncoderData's masks match its images
    rows = np.minimum((np.arange(side) + 0.5) * mask_size / side, mask_size - 1).astype(int)
    masks = small[:, rows][:, :, rows][:, None].astype(np.uint8)
    data = EncoderData(
        aug=aug,
        masks=masks,
        inner=arrays["inner"],
        eval=evals,
        kinds=arrays["kinds"],
        categories=arrays["categories"],
        worn=arrays["worn"],
        selection=arrays["selection"],
        class_names=[str(n) for n in arrays["class_names"]],
        names=[str(n) for n in arrays["names"]],
    )
    return data, manifest


# --- training (there) ---------------------------------------------------------------------------


def epochs_for_budget(epoch_seconds: float, minutes: float, *, share: float = 0.85, most: int = 200) -> int:
    """How many whole epochs of ``epoch_seconds`` fit ``share`` of the budget (one at least): the
    schedule must end inside the budget, or the weights are those of a half-decayed learning rate."""
    return max(1, min(most, math.floor(minutes * 60 * share / max(epoch_seconds, 1e-6))))


def _probe_epoch_seconds(data: EncoderData, settings, out_dir: Path, progress) -> float:
    """Seconds one epoch of ``settings`` takes here, from two epochs of 16 batches each of the same
    training code (the first pays the warm-up; the second, with one evaluation, is the measure)."""
    from recommender.vision.encoder_street_training import train_street

    training = np.flatnonzero(~data.selection)
    take = np.zeros(len(data.names), dtype=bool)
    take[training[: 16 * settings.batch_size]] = True
    take[np.flatnonzero(data.selection)[: settings.batch_size]] = True
    probe_dir = out_dir / "probe"
    shutil.rmtree(probe_dir, ignore_errors=True)
    probe = type(settings)(**{**vars(settings), "output": probe_dir, "epochs": 2, "eval_every": 0, "minutes": None})
    result = train_street(probe, progress=lambda m: None, data=data.subset(take))
    shutil.rmtree(probe_dir, ignore_errors=True)
    probed = int(take[training].sum())
    seconds = result.history[-1]["seconds"] * (int((~data.selection).sum()) / probed)
    progress(f"probe: {result.history[-1]['seconds']} s for {probed} samples -> one epoch ~{seconds:.1f} s")
    return seconds


def train_from_pack(
    pack_dir: Path,
    out_dir: Path,
    *,
    minutes: float | None,
    device: str = "cuda",
    resume: Path | None = None,
    epochs: int | None = None,
    widths: tuple[int, ...] = GPU_DEFAULTS["widths"],
    image_size: int = GPU_DEFAULTS["image_size"],
    batch_size: int = GPU_DEFAULTS["batch_size"],
    learning_rate: float = GPU_DEFAULTS["learning_rate"],
    threads: int = 4,
    eval_every: int | None = None,
    share: float = 0.85,
    seed: int = 0,
    command: str = "",
    progress=print,
) -> dict:
    """Train (or resume) on the pack into ``out_dir``; returns (and writes) ``summary.json``.

    ``epochs`` None: as many as fit ``share`` of ``minutes`` by a probe of this machine (a resumed
    run keeps the epochs of its checkpoint); lower ``share`` when another training shares the GPU
    but starts later than the probe. ``eval_every`` None: about 20 selection measurements a run.

    ``out_dir`` gets ``checkpoint.pt`` (every epoch, while unfinished), ``best.pt``, ``encoder.pt``
    + ``MODEL_CARD.md`` and ``summary.json``; when the schedule is complete also the recipe's
    ``metrics.json``.
    """
    import torch

    from recommender.vision.encoder_street_training import (
        CARD_NAME,
        CHECKPOINT_NAME,
        WEIGHTS_NAME,
        StreetTrainSettings,
        export_weights,
        street_model_card,
        train_street,
    )

    started = time.monotonic()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    data, manifest = load_pack_data(pack_dir, image_size=image_size)
    progress(f"pack: {len(data.names)} samples decoded in {time.monotonic() - started:.1f} s ({manifest['samples']})")
    if image_size > manifest["image_size"]:
        progress(f"warning: --image-size {image_size} above the pack's {manifest['image_size']}: views are upsampled")
    if resume is not None:
        source = Path(resume) / CHECKPOINT_NAME if Path(resume).is_dir() else Path(resume)
        if source.resolve() != (out_dir / CHECKPOINT_NAME).resolve():
            shutil.copyfile(source, out_dir / CHECKPOINT_NAME)
            if (source.parent / "best.pt").exists():
                shutil.copyfile(source.parent / "best.pt", out_dir / "best.pt")
        if epochs is None:  # the schedule is part of what a resumed run must share
            state = torch.load(out_dir / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
            epochs = int(state["key"]["epochs"])
    settings = StreetTrainSettings(
        dataset=None,
        ccp=None,
        output=out_dir,
        epochs=epochs or 1,
        image_size=image_size,
        widths=tuple(widths),
        seed=seed,
        batch_size=batch_size,
        learning_rate=learning_rate,
        threads=threads,
        device=device,
        eval_every=eval_every or 2,
        command=command,
        data_digest=f"gpu-pack:{manifest['samples_sha256'][:16]}",
    )
    probed = None
    if epochs is None:
        if minutes is None:
            raise ValueError("--epochs auto needs --minutes")
        probed = _probe_epoch_seconds(data, settings, out_dir, progress)
        elapsed = (time.monotonic() - started) / 60
        settings.epochs = epochs_for_budget(probed, max(0.0, minutes - elapsed), share=share)
        progress(f"epochs sized to the budget: {settings.epochs}")
    if eval_every is None:  # each measurement costs an embedding pass over ~3,400 photos
        settings.eval_every = max(2, round(settings.epochs / 20))
    if minutes is not None:
        # train_street stops after the epoch that passes its budget: leave it the rest of ours
        settings.minutes = max(0.0, minutes - (time.monotonic() - started) / 60)
    result = train_street(settings, progress=progress, data=data)
    finished = result.weights_path is not None
    if not finished:
        export_weights(out_dir, "latest", out_dir / WEIGHTS_NAME, data=data, progress=progress)
    checkpoint = torch.load(out_dir / WEIGHTS_NAME, map_location="cpu", weights_only=True)
    if finished:  # export_weights wrote the card of a stopped run's snapshot
        (out_dir / CARD_NAME).write_text(street_model_card(checkpoint, out_dir / WEIGHTS_NAME))
    selection = json.loads(checkpoint["card"]["selection"])
    trained = result.history
    summary = {
        "finished": finished,
        "version": checkpoint["version"],
        "epochs_done": trained[-1]["epoch"] if trained else 0,
        "epochs": settings.epochs,
        "selection": selection,
        "best": result.selection if not finished else json.loads(checkpoint["card"].get("best", "{}")),
        "seconds_per_epoch": [row["seconds"] for row in trained],
        "probed_epoch_seconds": probed,
        "weights_mb": round((out_dir / WEIGHTS_NAME).stat().st_size / 1e6, 2),
        "settings": settings.key(),
        "device": device,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "minutes": round((time.monotonic() - started) / 60, 2),
        "derived_eval_views": True,
        "django_imported": "django" in sys.modules,
    }
    (out_dir / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n")
    progress(json.dumps({k: summary[k] for k in ("finished", "version", "epochs_done", "epochs", "selection")}))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", type=Path, required=True, help="folder written by manage.py pack_encoder_gpu")
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoint, weights, summary")
    parser.add_argument("--minutes", type=float, default=None, help="stop at an epoch boundary within this budget")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--resume", type=Path, default=None, help="a checkpoint.pt (or the folder holding it)")
    parser.add_argument("--epochs", default="auto", help="'auto': as many as fit --share of --minutes (probed)")
    parser.add_argument("--widths", default=",".join(map(str, GPU_DEFAULTS["widths"])))
    parser.add_argument("--image-size", type=int, default=GPU_DEFAULTS["image_size"])
    parser.add_argument("--batch-size", type=int, default=GPU_DEFAULTS["batch_size"])
    parser.add_argument("--lr", type=float, default=GPU_DEFAULTS["learning_rate"], help="peak learning rate")
    parser.add_argument("--threads", type=int, default=4, help="torch CPU threads")
    parser.add_argument("--eval-every", type=int, default=None, help="selection figures every N epochs (~20 a run)")
    parser.add_argument("--share", type=float, default=0.85, help="share of --minutes that auto epochs may fill")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    epochs = None if args.epochs == "auto" else int(args.epochs)
    train_from_pack(
        args.pack,
        args.out,
        minutes=args.minutes,
        device=args.device,
        resume=args.resume,
        epochs=epochs,
        widths=tuple(int(w) for w in args.widths.split(",")),
        image_size=args.image_size,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        threads=args.threads,
        eval_every=args.eval_every,
        share=args.share,
        seed=args.seed,
        command="python -m recommender.vision.encoder_gpu " + " ".join(map(shlex.quote, argv or sys.argv[1:])),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
