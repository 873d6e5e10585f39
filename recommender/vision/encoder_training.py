"""Training of the garment autoencoder (``manage.py train_encoder`` is a thin wrapper).

Designed for 2 shared CPU cores, minutes not hours:
- every training image is decoded once (through ``load_image``, the same path as ingest) and
  kept as a uint8 tensor; augmentation then runs batched on tensors (one ``grid_sample`` per
  batch for random-resized-crop + flip, arithmetic for colour jitter), not per image in PIL;
- validation images and the train "catalog" are cached at the encoder's exact input transform,
  so the metrics in the model card are what ``AutoencoderEncoder.encode`` produces.

Deterministic: the model is initialised from ``seed``, each epoch draws its permutation and its
augmentations from a generator seeded by (seed, epoch), and deterministic algorithms are on, so
a resumed run continues exactly like an uninterrupted one and retraining reproduces the weights
(same torch version and thread count).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fashionrec.imaging import load_image
from recommender.vision.encoder import CHECKPOINT_FORMAT, images_to_tensor, weights_sha256
from recommender.vision.encoder_eval import RetrievalResult, limited_round_robin, list_split, retrieval_metrics
from recommender.vision.encoder_model import AutoencoderConfig, GarmentAutoencoder, one_cycle
from recommender.vision.preprocess import resize_exact

CHECKPOINT_NAME = "checkpoint.pt"
WEIGHTS_NAME = "encoder.pt"
CARD_NAME = "MODEL_CARD.md"
METRICS_NAME = "metrics.json"


@dataclass
class TrainSettings:
    dataset: Path
    output: Path
    epochs: int = 30
    image_size: int = 112
    seed: int = 0
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    recon_weight: float = 1.0
    crop_area: tuple[float, float] = (0.35, 1.0)
    colour_jitter: float = 0.2
    limit: int | None = None
    threads: int = 2
    eval_every: int = 10
    crops: str = "whole"  # "whole" images, or "detector": the most confident detector crop
    command: str = ""
    # Decoded images are kept here between runs (keyed by files, sizes and crops): decoding the
    # 3,409 photos costs ~2 minutes on the shared cores, every training and benchmark run.
    cache_dir: Path | None = None

    def key(self) -> dict:
        """What a resumed run must share with the checkpoint it continues."""
        data = asdict(self)
        for volatile in ("output", "threads", "command", "eval_every", "cache_dir"):
            data.pop(volatile)
        data["dataset"] = str(Path(self.dataset).resolve())
        data["crop_area"] = list(self.crop_area)
        return data


@dataclass
class TrainResult:
    weights_path: Path
    card_path: Path
    version: str
    metrics: dict
    history: list[dict] = field(default_factory=list)


Cropper = Callable[[list[Image.Image]], list[Image.Image]]
Progress = Callable[[str], None]


def _cache(
    paths: list[Path],
    sizes: tuple[int, ...],
    cropper: Cropper | None,
    progress: Progress,
    cache_dir: Path | None = None,
    crops: str = "whole",
) -> list[torch.Tensor]:
    """Decode every image once; return one uint8 (n, 3, s, s) tensor per requested size."""
    cache_file = None
    if cache_dir is not None:
        digest = hashlib.sha256(repr((sizes, crops)).encode())
        for path in paths:
            stat = path.stat()
            digest.update(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        cache_file = Path(cache_dir) / f"encoder-images-{digest.hexdigest()[:16]}.pt"
        if cache_file.exists():
            progress(f"using decoded images from {cache_file}")
            return list(torch.load(cache_file, weights_only=True))
    out = [torch.empty((len(paths), 3, s, s), dtype=torch.uint8) for s in sizes]
    chunk = 32
    for start in range(0, len(paths), chunk):
        images = [load_image(p) for p in paths[start : start + chunk]]
        if cropper is not None:
            images = cropper(images)
        for i, image in enumerate(images):
            for tensor, size in zip(out, sizes, strict=True):
                array = np.array(resize_exact(image, size), dtype=np.uint8)
                tensor[start + i] = torch.from_numpy(array).permute(2, 0, 1)
        if (start // chunk) % 20 == 0:
            progress(f"decoded {min(start + chunk, len(paths))}/{len(paths)} images")
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(".partial")
        torch.save(out, partial)
        partial.replace(cache_file)
    return out


def augment(
    batch: torch.Tensor, size: int, generator: torch.Generator, crop_area=(0.35, 1.0), jitter: float = 0.2
) -> torch.Tensor:
    """Random resized crop (aspect 3/4..4/3), horizontal flip and colour jitter, batched.

    ``batch`` is uint8 (n, 3, h, w); the result is float (n, 3, size, size) in [0, 1].
    """
    x = batch.float().div_(255.0)
    n = x.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.empty(n).uniform_(low, high, generator=generator)

    area = uniform(*crop_area)
    ratio = torch.exp(uniform(math.log(3 / 4), math.log(4 / 3)))
    width = torch.sqrt(area * ratio).clamp(max=1.0)
    height = torch.sqrt(area / ratio).clamp(max=1.0)
    centre_x = uniform(-1.0, 1.0) * (1 - width)
    centre_y = uniform(-1.0, 1.0) * (1 - height)
    flip = torch.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = width * flip
    theta[:, 0, 2] = centre_x
    theta[:, 1, 1] = height
    theta[:, 1, 2] = centre_y
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    if jitter > 0:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        out = out * uniform(1 - jitter, 1 + jitter).view(n, 1, 1, 1)
        grey_mean = (out * weights).sum(1, keepdim=True).mean((2, 3), keepdim=True)
        out = (out - grey_mean) * uniform(1 - jitter, 1 + jitter).view(n, 1, 1, 1) + grey_mean
        grey = (out * weights).sum(1, keepdim=True)
        out = (out - grey) * uniform(1 - jitter, 1 + jitter).view(n, 1, 1, 1) + grey
    return out.clamp_(0.0, 1.0)


def _normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


def embed_cached(model: GarmentAutoencoder, arrays: torch.Tensor, mean, std, batch_size: int = 128) -> np.ndarray:
    model.eval()
    mean_t, std_t = torch.tensor(mean), torch.tensor(std)
    chunks = []
    with torch.inference_mode():
        for start in range(0, arrays.shape[0], batch_size):
            x = _normalise(arrays[start : start + batch_size].float().div(255.0), mean_t, std_t)
            chunks.append(model.embed(x))
    return torch.cat(chunks).numpy()


# Kept under its old name for bench/retrieval.py.
_limited = limited_round_robin


def train(settings: TrainSettings, *, cropper: Cropper | None = None, progress: Progress = print) -> TrainResult:
    started = time.monotonic()
    torch.set_num_threads(settings.threads)
    torch.use_deterministic_algorithms(True)
    # Deterministic mode also fills every new tensor with NaN (to expose reads of uninitialised
    # memory); profiled at ~20% of a CPU training step here, and CPU kernels do not need it.
    torch.utils.deterministic.fill_uninitialized_memory = False
    output = Path(settings.output)
    output.mkdir(parents=True, exist_ok=True)

    train_paths, train_labels, class_names = list_split(settings.dataset, "train")
    train_paths, train_labels = _limited(train_paths, train_labels, settings.limit)
    try:
        val_paths, val_labels, val_classes = list_split(settings.dataset, "validation")
        if val_classes != class_names:
            raise ValueError(f"validation classes {val_classes} differ from train classes {class_names}")
        val_paths, val_labels = _limited(val_paths, val_labels, settings.limit)
    except FileNotFoundError:
        val_paths, val_labels = [], []

    size = settings.image_size
    # Augmentation crops from a slightly larger cache, so a full-area crop is a mild downscale.
    cache_size = round(size * 8 / 7)
    progress(f"decoding {len(train_paths)} train and {len(val_paths)} validation images ({settings.crops} crops)")
    cache_args = (cropper, progress, settings.cache_dir, settings.crops)
    train_aug, train_eval = _cache(train_paths, (cache_size, size), *cache_args)
    (val_eval,) = _cache(val_paths, (size,), *cache_args) if val_paths else (None,)
    decode_seconds = time.monotonic() - started
    labels_t = torch.tensor(train_labels)

    pixels = train_eval.float().div(255.0)
    mean = [round(float(v), 4) for v in pixels.mean((0, 2, 3))]
    std = [round(float(v), 4) for v in pixels.std((0, 2, 3)).clamp(min=1e-3)]
    del pixels
    mean_t, std_t = torch.tensor(mean), torch.tensor(std)

    config = AutoencoderConfig(input_size=size, num_classes=len(class_names))
    torch.manual_seed(settings.seed)
    model = GarmentAutoencoder(config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    n = len(train_paths)
    steps_per_epoch = max(1, n // settings.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, one_cycle(settings.epochs * steps_per_epoch))

    history: list[dict] = []
    start_epoch = 0
    train_seconds = 0.0
    checkpoint_path = output / CHECKPOINT_NAME
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        if state["key"] != settings.key():
            raise ValueError(
                f"{checkpoint_path} was written with other settings ({state['key']}); "
                "delete it or choose another --output"
            )
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = state["epoch"] + 1
        history = json.loads(state["history"])
        train_seconds = float(state["train_seconds"])
        progress(f"resuming from {checkpoint_path} after epoch {start_epoch}")

    from tqdm import tqdm

    for epoch in range(start_epoch, settings.epochs):
        epoch_started = time.monotonic()
        generator = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=generator)
        model.train()
        totals = {"loss": 0.0, "ce": 0.0, "recon": 0.0, "accuracy": 0.0}
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch + 1}/{settings.epochs}",
            unit="batch",
            disable=os.environ.get("FASHIONREC_NO_PROGRESS") == "1",
            leave=False,
        )
        for step in bar:
            batch_index = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            views = augment(train_aug[batch_index], size, generator, settings.crop_area, settings.colour_jitter)
            target = F.interpolate(views, size=(config.recon_size, config.recon_size), mode="area")
            _, logits, reconstruction = model(_normalise(views, mean_t, std_t))
            labels = labels_t[batch_index]
            ce = F.cross_entropy(logits, labels, label_smoothing=settings.label_smoothing)
            recon = F.mse_loss(reconstruction, target)
            loss = ce + settings.recon_weight * recon
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            totals["loss"] += loss.item()
            totals["ce"] += ce.item()
            totals["recon"] += recon.item()
            totals["accuracy"] += float((logits.argmax(1) == labels).float().mean())
            bar.set_postfix(loss=f"{loss.item():.3f}", ce=f"{ce.item():.3f}", recon=f"{recon.item():.4f}")
        train_seconds += time.monotonic() - epoch_started
        record = {"epoch": epoch + 1, **{k: round(v / steps_per_epoch, 5) for k, v in totals.items()}}
        record["seconds"] = round(time.monotonic() - epoch_started, 1)
        last = epoch + 1 == settings.epochs
        if val_eval is not None and (last or (settings.eval_every and (epoch + 1) % settings.eval_every == 0)):
            result = _evaluate(model, train_eval, train_labels, val_eval, val_labels, class_names, mean, std)
            record["val_precision@10"] = round(result.precision, 4)
            record["val_map@10"] = round(result.map, 4)
        history.append(record)
        partial = checkpoint_path.with_suffix(".partial")
        torch.save(
            {
                "key": settings.key(),
                "epoch": epoch,
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "scheduler": scheduler.state_dict(),
                "history": json.dumps(history),
                "train_seconds": train_seconds,
                "config": config.to_dict(),
                "class_names": class_names,
                "normalisation": _normalisation(mean, std, size),
            },
            partial,
        )
        partial.replace(checkpoint_path)  # atomic: a reader (or a crash) never sees half a file
        # Reported after the checkpoint is on disk: an interrupted run resumes after this epoch.
        progress(" ".join(f"{k}={v}" for k, v in record.items()))

    final = None
    if val_eval is not None:
        final = _evaluate(model, train_eval, train_labels, val_eval, val_labels, class_names, mean, std)
    state_dict = {k: v.detach().clone() for k, v in model.state_dict().items()}
    digest = weights_sha256(state_dict)
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    version = f"ae{config.embedding_dim}-{today}-{digest[:8]}"
    metrics = {
        "train_images": n,
        "validation_queries": len(val_paths),
        "epochs": settings.epochs,
        "train_seconds": round(train_seconds, 1),
        "decode_seconds": round(decode_seconds, 1),
        "wall_seconds_this_run": round(time.monotonic() - started, 1),
    }
    if final is not None:
        metrics.update({"val_precision@10": round(final.precision, 4), "val_map@10": round(final.map, 4)})
        metrics["per_class"] = {
            name: {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
            for name, row in final.per_class.items()
        }
    card = {
        "version": version,
        "weights_sha256": digest,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": settings.command,
        "settings": {**settings.key(), "threads": settings.threads, "dataset": str(settings.dataset)},
        "data": {"classes": class_names, "train_images": n, "crops": settings.crops},
        "metrics": metrics,
        "history": history,
        "environment": {
            "torch": str(torch.__version__),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_threads": settings.threads,
        },
    }
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "kind": "autoencoder",
        "version": version,
        "config": config.to_dict(),
        "class_names": class_names,
        "normalisation": _normalisation(mean, std, size),
        "state_dict": state_dict,
        "card": {k: v for k, v in card.items() if k != "history"} | {"metrics": json.dumps(metrics)},
    }
    weights_path = output / WEIGHTS_NAME
    partial = output / (WEIGHTS_NAME + ".partial")
    torch.save(checkpoint, partial)
    partial.replace(weights_path)
    (output / METRICS_NAME).write_text(json.dumps(card, indent=2) + "\n")
    card_path = output / CARD_NAME
    card_path.write_text(model_card_markdown(card, weights_path, model))
    checkpoint_path.unlink(missing_ok=True)
    progress(f"wrote {weights_path} ({weights_path.stat().st_size / 1e6:.1f} MB), version {version}")
    return TrainResult(weights_path, card_path, version, metrics, history)


def _normalisation(mean, std, size: int) -> dict:
    return {"mean": mean, "std": std, "input_size": size, "resize": "stretch", "range": "0-1"}


def export_snapshot(output: Path, weights_path: Path | None = None) -> str:
    """Write versioned weights from the last epoch of an unfinished run (``checkpoint.pt``).

    For integration while a long training continues: the snapshot loads like final weights and
    its card says which epoch it is. Returns the version.
    """
    output = Path(output)
    state = torch.load(output / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    state_dict = state["model"]
    digest = weights_sha256(state_dict)
    version = f"ae{state['config']['embedding_dim']}-{dt.datetime.now(dt.UTC):%Y%m%d}-{digest[:8]}"
    history = json.loads(state["history"])
    card = {
        "version": version,
        "weights_sha256": digest,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "snapshot_of_epoch": state["epoch"] + 1,
        "settings": state["key"],
        "history": history,
    }
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "kind": "autoencoder",
        "version": version,
        "config": state["config"],
        "class_names": state["class_names"],
        "normalisation": state["normalisation"],
        "state_dict": state_dict,
        "card": {k: v for k, v in card.items() if k != "history"} | {"history": json.dumps(history)},
    }
    weights_path = Path(weights_path) if weights_path else output / WEIGHTS_NAME
    partial = weights_path.with_suffix(".partial")
    torch.save(checkpoint, partial)
    partial.replace(weights_path)
    settings_rows = "\n".join(f"| {k} | `{v}` |" for k, v in state["key"].items())
    curve = "\n".join(
        f"| {row['epoch']} | {row['loss']:.3f} | {row['accuracy']:.3f} | {row.get('val_precision@10', '')} |"
        for row in history
    )
    (weights_path.parent / CARD_NAME).write_text(
        f"# Garment encoder `{version}` (interim snapshot)\n\n"
        f"Snapshot of epoch {state['epoch'] + 1} of {state['key']['epochs']} of a training still running, "
        "exported with `python manage.py train_encoder --snapshot` so that other components can integrate; "
        "the finished training replaces it with full metrics.\n\n"
        f"- weights: `{weights_path.name}`, {weights_path.stat().st_size / 1e6:.1f} MB, sha256 `{digest}`\n"
        "- data: clothing-small `train/` split, whole images (CC0 1.0, "
        "github.com/alexeygrigorev/clothing-dataset-small)\n"
        "- loading: `recommender.vision.encoder.load_encoder(path)`, no network\n\n"
        "| setting | value |\n|---|---|\n" + settings_rows + "\n\n"
        "| epoch | loss | train acc | val p@10 |\n|---:|---:|---:|---:|\n" + curve + "\n"
    )
    return version


def _evaluate(model, train_eval, train_labels, val_eval, val_labels, class_names, mean, std) -> RetrievalResult:
    index = embed_cached(model, train_eval, mean, std)
    queries = embed_cached(model, val_eval, mean, std)
    return retrieval_metrics(queries, val_labels, index, train_labels, class_names, k=10)


def model_card_markdown(card: dict, weights_path: Path, model: GarmentAutoencoder) -> str:
    metrics = card["metrics"]
    settings = card["settings"]
    parameters = sum(p.numel() for p in model.parameters())
    encoder_parameters = sum(p.numel() for p in model.encoder.parameters())
    crops = card["data"]["crops"]
    crops_text = (
        "whole images (each clothing-small photo shows one garment; the detector's crops were not used)"
        if crops == "whole"
        else "the detector's most confident crop of each image (the whole image when nothing passed)"
    )
    lines = [
        f"# Garment encoder `{card['version']}`",
        "",
        "Residual convolutional autoencoder: a narrow ResNet trunk (stride-4 stem: conv + max-pool, "
        "then 4 basic blocks, widths "
        f"{'/'.join(map(str, model.config.widths))}, {settings.get('image_size')} px input) → 128-d bottleneck, "
        "L2-normalised = the stored embedding; a small "
        "decoder reconstructs a 32×32 thumbnail from it; a cosine-softmax classifier over the catalog "
        "categories shapes the space for cosine retrieval.",
        "",
        f"- weights: `{weights_path.name}`, {weights_path.stat().st_size / 1e6:.1f} MB, "
        f"{parameters:,} parameters ({encoder_parameters:,} in the encoder used at inference)",
        f"- weights sha256: `{card['weights_sha256']}`",
        f"- created: {card['created']}",
        "- loading: `recommender.vision.encoder.load_encoder(path)`, `torch.load(weights_only=True)`, no network",
        "",
        "## Data and licence",
        "",
        f"- `clothing-small` (`{settings['dataset']}`): `train/` split, {card['data']['train_images']} photos, "
        f"{len(card['data']['classes'])} categories ({', '.join(card['data']['classes'])}). Source: "
        "github.com/alexeygrigorev/clothing-dataset-small, **CC0 1.0** (public domain).",
        f"- Crops: {crops_text}.",
        "- The weights are released with the project under Apache-2.0.",
        "",
        "## Exact command",
        "",
        "```sh",
        card["command"] or "(called from Python)",
        "```",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    for key, value in settings.items():
        lines.append(f"| {key} | `{value}` |")
    lines += [
        "",
        "Losses: cross-entropy with label smoothing on the cosine classifier + `recon_weight` × MSE of the "
        "32×32 reconstruction. Augmentation: random resized crop (area range above, aspect 3/4–4/3), "
        "horizontal flip, ±`colour_jitter` brightness/contrast/saturation. AdamW, linear warm-up over 25% "
        "of the steps then cosine decay.",
        "",
        "## Metrics (measured at the end of training, on this machine)",
        "",
        "Retrieval: the train split is the index, every validation image a query, cosine top-10 over "
        "whole images; a hit is a neighbour of the same category.",
        "",
        "| metric | value |",
        "|---|---:|",
    ]
    for key in ("val_precision@10", "val_map@10", "train_images", "validation_queries", "epochs"):
        if key in metrics:
            lines.append(f"| {key} | {metrics[key]} |")
    lines.append(
        f"| training time | {metrics['train_seconds'] / 60:.1f} min on {card['environment']['cpu_threads']} "
        f"CPU threads (+ {metrics['decode_seconds']:.0f} s decoding) |"
    )
    if metrics.get("per_class"):
        lines += ["", "| category | queries | precision@10 | mAP@10 |", "|---|---:|---:|---:|"]
        for name, row in metrics["per_class"].items():
            lines.append(f"| {name} | {row['queries']} | {row['precision@10']:.3f} | {row['map@10']:.3f} |")
    lines += ["", "## Training curve", "", "| epoch | loss | ce | recon | train acc | s | val p@10 |"]
    lines.append("|---:|---:|---:|---:|---:|---:|---:|")
    for row in card["history"]:
        lines.append(
            f"| {row['epoch']} | {row['loss']:.3f} | {row['ce']:.3f} | {row['recon']:.4f} | "
            f"{row['accuracy']:.3f} | {row['seconds']} | {row.get('val_precision@10', '')} |"
        )
    env = card["environment"]
    lines += [
        "",
        f"Environment: torch {env['torch']}, Python {env['python']}, {env['machine']}. Retraining with the same "
        "command, torch version and thread count reproduces the weights (fixed seeds, deterministic algorithms).",
        "",
    ]
    return "\n".join(lines)


__all__ = ["TrainResult", "TrainSettings", "augment", "images_to_tensor", "train"]
