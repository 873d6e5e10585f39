"""Encoder v2 training: flat-lay catalog photos and worn garments in one retrieval space.

Recipe (``manage.py train_encoder``, the default recipe ``street``), chosen for what the shop
pages ask of the encoder: a worn garment cropped by the detector must land among catalog photos
of its kind, and a catalog photo among its category.

- **Data** (``encoder_data``): clothing-small ``train/`` photos and the garments of the CCP
  training photos, minus the selection split (10% of each, used to pick checkpoints).
- **Losses**: additive-margin cosine classifiers (CosFace: logits = s·(cos − m·target)) over the
  catalog categories (samples that have one) and over the coarse kinds (every sample). A cosine
  classifier's weights are class proxies, so this is a proxy loss on the unit sphere that
  pgvector searches; the margin pulls each class tighter than plain normalised softmax (v1),
  which is what precision@10 rewards. No reconstruction term by default (it spent capacity on
  backgrounds).
- **Augmentation** (batched on tensors): worn boxes jittered edge by edge as a detector misplaces
  them; flat-lay photos random-resized-cropped; a random homography (perspective, rotation,
  shear); a background swap that replaces the non-garment pixels (CCP masks, a simple foreground
  for flat-lay) with a flat colour, noise or another photo, so a garment on a body and one on a
  bed meet; colour jitter.
- **Sampling**: each epoch draws its batches with probability ∝ 1/√(group size), groups being
  (source, category or kind), so hats and skirts (1–3% of the data) are not drowned by shoes.
- **Weights**: an exponential moving average of the parameters is what is evaluated and
  exported, so a snapshot taken mid-schedule (the shared machine may stop a run any time) is
  already usable.

Resumable per epoch, seeded (the permutation and augmentations of an epoch come from a generator
seeded by (seed, epoch)), ``device`` "cpu" or "cuda". The catalog's ``validation/`` split and the
CCP report photos are never read.
"""

from __future__ import annotations

import copy
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

from recommender.vision.calibration import MatchCalibration, fit_match_calibration
from recommender.vision.encoder import CHECKPOINT_FORMAT, weights_sha256
from recommender.vision.encoder_data import KINDS, EncoderData, build_encoder_data
from recommender.vision.encoder_eval import top_k
from recommender.vision.encoder_model import AutoencoderConfig, GarmentAutoencoder, one_cycle

CHECKPOINT_NAME = "checkpoint.pt"
WEIGHTS_NAME = "encoder.pt"
BEST_NAME = "best.pt"
CARD_NAME = "MODEL_CARD.md"
METRICS_NAME = "metrics.json"
DATA_FORMAT = 1
VERSION_PREFIX = "st"
SELECTION_KEYS = ("catalog_p10", "street_p10", "street_p10_kinds", "score")

Progress = Callable[[str], None]


@dataclass
class StreetTrainSettings:
    dataset: Path | None  # None: the caller passes the data (a catalog from the database)
    ccp: Path | None
    output: Path
    epochs: int = 40
    image_size: int = 112
    widths: tuple[int, ...] = (32, 64, 128, 256)
    seed: int = 0
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 5e-4
    cosine_scale: float = 16.0
    margin: float = 0.15
    kind_weight: float = 0.5
    crop_area: tuple[float, float] = (0.35, 1.0)
    box_jitter: float = 0.12
    perspective: float = 0.06
    background_swap: float = 0.4
    colour_jitter: float = 0.25
    ema_decay: float = 0.998
    limit: int | None = None
    threads: int = 1
    device: str = "cpu"
    eval_every: int = 2
    minutes: float | None = None
    command: str = ""
    cache_dir: Path | None = None
    # Identifies data passed in by the caller (``encoder_catalog_data.CatalogTrainingSet.digest``),
    # so a run resumes only on the same photos, labels and splits.
    data_digest: str | None = None

    def key(self) -> dict:
        """What a resumed run must share with the checkpoint it continues (not where it runs)."""
        data = asdict(self)
        for volatile in ("output", "threads", "device", "eval_every", "minutes", "command", "cache_dir"):
            data.pop(volatile)
        if self.data_digest is None:
            data.pop("data_digest")  # keeps the key of runs written before catalog training existed
        data["dataset"] = str(Path(self.dataset).resolve()) if self.dataset else None
        data["ccp"] = str(Path(self.ccp).resolve()) if self.ccp else None
        data["crop_area"] = list(self.crop_area)
        data["widths"] = list(self.widths)
        return data


@dataclass
class StreetTrainResult:
    weights_path: Path | None  # None: stopped by the time budget, resume to finish
    version: str | None
    selection: dict
    history: list[dict] = field(default_factory=list)


# --- data -------------------------------------------------------------------------------------


def load_data(settings: StreetTrainSettings, aug_size: int, progress: Progress) -> EncoderData:
    """``build_encoder_data``, cached on disk (decoding ~3,900 photos costs minutes on 2 cores)."""
    config = {
        "format": DATA_FORMAT,
        "dataset": str(Path(settings.dataset).resolve()),
        "ccp": str(Path(settings.ccp).resolve()) if settings.ccp else None,
        "aug": aug_size,
        "eval": settings.image_size,
        "limit": settings.limit,
    }
    cache_file = None
    if settings.cache_dir is not None:
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
        cache_file = Path(settings.cache_dir) / f"encoder-v2-data-{digest}.npz"
        if cache_file.exists():
            progress(f"using decoded data from {cache_file}")
            with np.load(cache_file, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            return EncoderData(
                **{k: v for k, v in arrays.items() if k not in ("class_names", "names")},
                class_names=[str(n) for n in arrays["class_names"]],
                names=[str(n) for n in arrays["names"]],
            )
    data = build_encoder_data(
        Path(settings.dataset),
        Path(settings.ccp) if settings.ccp else None,
        aug_size=aug_size,
        eval_size=settings.image_size,
        limit=settings.limit,
        progress=progress,
    )
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_name(cache_file.name + ".partial.npz")
        arrays = {k: v for k, v in vars(data).items() if k not in ("class_names", "names")}
        np.savez(partial, **arrays, class_names=np.array(data.class_names), names=np.array(data.names))
        partial.replace(cache_file)
    return data


# --- augmentation -----------------------------------------------------------------------------


# Every random draw of the augmentation is made on the generator's device: on the CPU the stream is
# the one the CPU runs were seeded with; on a GPU the whole batch is augmented there (a CPU would
# not keep up with it), from a generator of that device.


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.empty(n, device=generator.device).uniform_(low, high, generator=generator)


def sample_boxes(
    inner: torch.Tensor, worn: torch.Tensor, generator: torch.Generator, crop_area, box_jitter: float
) -> torch.Tensor:
    """The crop each view shows, (n, 4) in the cached image's [-1, 1] coordinates.

    Worn garments: their box with every edge moved by up to ±``box_jitter`` of the box size (a
    detector's error). Flat-lay photos: a random resized crop (area ``crop_area``, aspect 3/4–4/3).
    """
    n = inner.shape[0]
    size = torch.stack([inner[:, 2] - inner[:, 0], inner[:, 3] - inner[:, 1]] * 2, dim=1)
    jitter = torch.empty(n, 4, device=generator.device).uniform_(-box_jitter, box_jitter, generator=generator)
    jittered = inner + jitter * size

    area = _uniform(n, *crop_area, generator)
    ratio = torch.exp(_uniform(n, math.log(3 / 4), math.log(4 / 3), generator))
    half_w = torch.sqrt(area * ratio).clamp(max=1.0)
    half_h = torch.sqrt(area / ratio).clamp(max=1.0)
    centre_x = _uniform(n, -1.0, 1.0, generator) * (1 - half_w)
    centre_y = _uniform(n, -1.0, 1.0, generator) * (1 - half_h)
    resized = torch.stack([centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h], dim=1)
    return torch.where(worn.view(n, 1), jittered, resized)


def sampling_grid(boxes: torch.Tensor, size: int, generator: torch.Generator, perspective: float) -> torch.Tensor:
    """``grid_sample`` grid (n, size, size, 2): a random homography of the output square, mapped
    into each box, with a random horizontal flip."""
    n, device = boxes.shape[0], generator.device
    steps = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / size * 2 - 1
    v, u = torch.meshgrid(steps, steps, indexing="ij")
    points = torch.stack([u, v, torch.ones_like(u)], dim=-1).view(1, -1, 3)
    homography = torch.eye(3, device=device).repeat(n, 1, 1)
    homography[:, :2, :2] += torch.empty(n, 2, 2, device=device).uniform_(
        -perspective, perspective, generator=generator
    )
    homography[:, 2, :2] = torch.empty(n, 2, device=device).uniform_(-perspective, perspective, generator=generator)
    warped = points @ homography.transpose(1, 2)
    warped = warped[..., :2] / warped[..., 2:].clamp(min=0.5)
    flip = torch.where(_uniform(n, 0, 1, generator) < 0.5, -1.0, 1.0)
    centre = torch.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], dim=1)
    half = torch.stack([(boxes[:, 2] - boxes[:, 0]) / 2 * flip, (boxes[:, 3] - boxes[:, 1]) / 2], dim=1)
    return (centre.view(n, 1, 2) + half.view(n, 1, 2) * warped).view(n, size, size, 2)


def augment_views(
    images: torch.Tensor,
    masks: torch.Tensor,
    inner: torch.Tensor,
    worn: torch.Tensor,
    size: int,
    generator: torch.Generator,
    settings: StreetTrainSettings,
) -> torch.Tensor:
    """Training views, float (n, 3, size, size) in [0, 1], from the cached uint8 images and masks
    (all tensors on the generator's device)."""
    n, device = images.shape[0], generator.device
    boxes = sample_boxes(inner, worn, generator, settings.crop_area, settings.box_jitter)
    grid = sampling_grid(boxes, size, generator, settings.perspective)
    out = F.grid_sample(images.float().div_(255.0), grid, mode="bilinear", padding_mode="border", align_corners=False)
    mask = F.grid_sample(masks.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    if settings.background_swap > 0:
        choice = _uniform(n, 0, 1, generator)
        # A view that shows (almost) no garment pixels keeps its background: swapping it would
        # leave a picture of nothing with a garment label.
        shows_garment = mask.mean((1, 2, 3)) > 0.1
        swap = ((_uniform(n, 0, 1, generator) < settings.background_swap) & shows_garment).view(n, 1, 1, 1).float()
        flat = torch.empty(n, 3, 1, 1, device=device).uniform_(0, 1, generator=generator).expand(n, 3, size, size)
        noise = 0.5 + 0.15 * torch.randn(n, 1, size, size, generator=generator, device=device)
        noise = noise.clamp(0, 1).expand(n, 3, size, size)
        other = out.roll(1, dims=0)
        background = torch.where(
            (choice < 1 / 3).view(n, 1, 1, 1), flat, torch.where((choice < 2 / 3).view(n, 1, 1, 1), noise, other)
        )
        out = out * (1 - swap) + swap * (out * mask + background * (1 - mask))

    jitter = settings.colour_jitter
    if jitter > 0:
        weights = torch.tensor([0.299, 0.587, 0.114], device=device).view(1, 3, 1, 1)
        out = out * _uniform(n, 1 - jitter, 1 + jitter, generator).view(n, 1, 1, 1)
        grey_mean = (out * weights).sum(1, keepdim=True).mean((2, 3), keepdim=True)
        out = (out - grey_mean) * _uniform(n, 1 - jitter, 1 + jitter, generator).view(n, 1, 1, 1) + grey_mean
        grey = (out * weights).sum(1, keepdim=True)
        out = (out - grey) * _uniform(n, 1 - jitter, 1 + jitter, generator).view(n, 1, 1, 1) + grey
    return out.clamp_(0.0, 1.0)


# --- loss, sampling, EMA ----------------------------------------------------------------------


def margin_logits(embedding: torch.Tensor, centres: torch.Tensor, labels: torch.Tensor, scale: float, margin: float):
    """CosFace logits: s·cos(embedding, centre), the target's lowered by ``margin``."""
    cosine = embedding @ F.normalize(centres, dim=1).t()
    return scale * (cosine - margin * F.one_hot(labels.clamp(min=0), centres.shape[0]).float())


def sampling_weights(data: EncoderData) -> torch.Tensor:
    """∝ 1/√(size of the sample's group): rare garments are seen more often, without oversampling
    a 30-photo class 100× (which would just memorise it)."""
    groups = [
        (bool(w), int(c) if c >= 0 else 100 + int(k))
        for w, c, k in zip(data.worn, data.categories, data.kinds, strict=True)
    ]
    counts: dict[tuple[bool, int], int] = {}
    for group in groups:
        counts[group] = counts.get(group, 0) + 1
    return torch.tensor([1.0 / math.sqrt(counts[g]) for g in groups], dtype=torch.float64)


@torch.no_grad()
def ema_decay_at(step: int, decay: float) -> float:
    """The averaging rate at optimiser step ``step`` (0-based): it ramps up to ``decay`` so that
    the average is not anchored to the random initialisation (at a fixed 0.998, 70% of the
    average would still be the initial weights after 170 steps, two epochs here)."""
    return min(decay, (1 + step) / (10 + step))


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for averaged, current in zip(ema.state_dict().values(), model.state_dict().values(), strict=True):
        if averaged.dtype.is_floating_point:
            averaged.mul_(decay).add_(current.detach(), alpha=1 - decay)
        else:
            averaged.copy_(current)


# --- selection metrics ------------------------------------------------------------------------


def embed_arrays(model: GarmentAutoencoder, arrays: np.ndarray, mean, std, device: str, batch: int = 128) -> np.ndarray:
    """Embeddings of uint8 (n, 3, S, S) arrays, exactly as ``AutoencoderEncoder.encode`` computes them."""
    model.eval()
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(arrays), batch):
            x = torch.from_numpy(arrays[start : start + batch]).to(device).float().div_(255.0)
            chunks.append(model.embed((x - mean_t) / std_t).float().cpu())
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, model.config.embedding_dim), np.float32)


def selection_metrics(embeddings: np.ndarray, data: EncoderData, k: int = 10) -> dict:
    """Retrieval on the selection split, against the training flat-lay photos as the catalog.

    - ``catalog_p10``: selection flat-lay photo → same category (what bench-retrieval measures);
    - ``street_p10`` / ``street_p10_kinds``: selection worn crop → same kind (bench-street), overall
      and the mean over kinds;
    - ``score``: the mean of the three, what checkpoint selection maximises.
    """
    index = ~data.worn & ~data.selection
    index_vectors = embeddings[index]
    result: dict = {}
    flat_queries = ~data.worn & data.selection
    if flat_queries.any() and index.any():
        neighbours = top_k(embeddings[flat_queries], index_vectors, k)
        hits = data.categories[index][neighbours] == data.categories[flat_queries][:, None]
        result["catalog_p10"] = round(float(hits.mean()), 4)
    worn_queries = data.worn & data.selection
    if worn_queries.any() and index.any():
        neighbours = top_k(embeddings[worn_queries], index_vectors, k)
        hits = (data.kinds[index][neighbours] == data.kinds[worn_queries][:, None]).mean(axis=1)
        result["street_p10"] = round(float(hits.mean()), 4)
        per_kind = {
            KINDS[kind]: float(hits[data.kinds[worn_queries] == kind].mean())
            for kind in np.unique(data.kinds[worn_queries])
        }
        result["street_p10_kinds"] = round(float(np.mean(list(per_kind.values()))), 4)
        result["street_per_kind"] = {name: round(v, 3) for name, v in per_kind.items()}
    parts = [result[name] for name in ("catalog_p10", "street_p10", "street_p10_kinds") if name in result]
    result["score"] = round(float(np.mean(parts)), 4) if parts else 0.0
    return result


def calibration_from_selection(embeddings: np.ndarray, data: EncoderData, k: int = 100) -> MatchCalibration:
    """Fit the match score on the selection split: each held-out query (catalog photo or worn
    garment) against the training catalog photos, its top ``k`` labelled same kind or not (the
    range of similarities a shopper's results come from)."""
    index = ~data.worn & ~data.selection
    queries = data.selection
    k = min(k, int(index.sum()))
    similarity = embeddings[queries] @ embeddings[index].T
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    cosines = np.take_along_axis(similarity, top, axis=1)
    # A catalog trained from the database has no garment kinds (-1): the score is then the
    # probability of the same class (its category at the trained level).
    labels = data.kinds if (data.kinds >= 0).all() else data.categories
    same_kind = labels[index][top] == labels[queries][:, None]
    return fit_match_calibration(cosines.ravel(), same_kind.ravel())


def _select(
    model: GarmentAutoencoder, data: EncoderData, mean, std, device: str
) -> tuple[dict, MatchCalibration | None]:
    # Only the rows the metrics read (training flat-lay = the index, the selection split = the
    # queries): the training worn crops would double the cost of every evaluation.
    needed = ~data.worn | data.selection
    embeddings = np.zeros((len(data.names), model.config.embedding_dim), np.float32)
    embeddings[needed] = embed_arrays(model, data.eval[needed], mean, std, device)
    try:
        calibration = calibration_from_selection(embeddings, data)
    except ValueError:
        calibration = None  # a tiny run without selection pairs at two similarities
    return selection_metrics(embeddings, data), calibration


# --- checkpoints ------------------------------------------------------------------------------


def encoder_checkpoint(
    state_dict: dict,
    config: AutoencoderConfig,
    class_names,
    normalisation,
    card: dict,
    calibration: MatchCalibration | None = None,
) -> dict:
    """The file ``recommender.vision.encoder.load_encoder`` reads (kind "autoencoder").

    The decoder is left out (``recon_size`` 0): this recipe does not train it.
    """
    config = AutoencoderConfig.from_dict({**config.to_dict(), "recon_size": 0})
    state_dict = {
        name: tensor.detach().cpu().clone() for name, tensor in state_dict.items() if not name.startswith("decoder.")
    }
    digest = weights_sha256(state_dict)
    version = f"{VERSION_PREFIX}{config.embedding_dim}-{dt.datetime.now(dt.UTC):%Y%m%d}-{digest[:8]}"
    card = {**card, "version": version, "weights_sha256": digest}
    return {
        "format": CHECKPOINT_FORMAT,
        "kind": "autoencoder",
        "version": version,
        "config": config.to_dict(),
        "class_names": list(class_names),
        "normalisation": normalisation,
        "state_dict": state_dict,
        "card": {name: value if isinstance(value, str) else json.dumps(value) for name, value in card.items()},
        **({"calibration": calibration.to_dict()} if calibration is not None else {}),
    }


def _save_atomic(payload, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)  # a reader, or a crash, never sees half a file


def export_checkpoint_weights(output: Path, weights_path: Path | None = None) -> str:
    """Write loadable weights (EMA) from the last finished epoch of a running or stopped run."""
    output = Path(output)
    state = torch.load(output / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    config = AutoencoderConfig.from_dict(state["config"])
    card = json.loads(state["card"]) | {"history": json.loads(state["history"])}
    checkpoint = encoder_checkpoint(state["ema"], config, state["class_names"], state["normalisation"], card)
    _save_atomic(checkpoint, Path(weights_path) if weights_path else output / WEIGHTS_NAME)
    return checkpoint["version"]


# --- training ---------------------------------------------------------------------------------


def train_street(
    settings: StreetTrainSettings, *, progress: Progress = print, data: EncoderData | None = None
) -> StreetTrainResult:
    """Train (or resume) a run; ``data``: use these samples instead of the dataset folders
    (``settings.data_digest`` must then identify them)."""
    started = time.monotonic()
    device = settings.device
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    torch.set_num_threads(settings.threads)
    if device == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # Bit-exact on the CPU (the resume test relies on it). On a GPU some kernels have no
    # deterministic version: warn rather than stop a run on a lent machine whose minutes are counted.
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")
    torch.utils.deterministic.fill_uninitialized_memory = False
    output = Path(settings.output)
    output.mkdir(parents=True, exist_ok=True)

    size = settings.image_size
    aug_size = round(size * 8 / 7)
    if data is None:
        data = load_data(settings, aug_size, progress)
    training = data.subset(~data.selection)
    worn_count = int(training.worn.sum())
    progress(
        f"data: {len(training.names)} training samples ({len(training.names) - worn_count} flat-lay, "
        f"{worn_count} worn), {int(data.selection.sum())} in the selection split"
    )
    # On a GPU the whole training set lives there (uint8, ~0.5 GB at 146 px) and is augmented there.
    images = torch.from_numpy(training.aug).to(device)
    masks = torch.from_numpy(training.masks).to(device)
    inner = torch.from_numpy(training.inner).to(device)
    worn = torch.from_numpy(training.worn).to(device)
    categories = torch.from_numpy(training.categories).to(device)
    kinds = torch.from_numpy(training.kinds).to(device)
    weights = sampling_weights(training)

    pixels = torch.from_numpy(training.eval).float().div(255.0)
    mean = [round(float(v), 4) for v in pixels.mean((0, 2, 3))]
    std = [round(float(v), 4) for v in pixels.std((0, 2, 3)).clamp(min=1e-3)]
    del pixels
    normalisation = {"mean": mean, "std": std, "input_size": size, "resize": "stretch", "range": "0-1"}
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)

    config = AutoencoderConfig(
        input_size=size,
        widths=tuple(settings.widths),
        num_classes=len(data.class_names),
        num_kinds=len(KINDS),
        cosine_scale=settings.cosine_scale,
    )
    torch.manual_seed(settings.seed)
    model = GarmentAutoencoder(config).to(device)
    ema = copy.deepcopy(model)
    # The decoder is not trained by this recipe; leaving it out of the optimiser keeps AdamW's
    # weight decay from shrinking it to nothing for no purpose.
    parameters = [p for name, p in model.named_parameters() if not name.startswith("decoder.")]
    optimiser = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    n = len(training.names)
    steps_per_epoch = max(1, n // settings.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, one_cycle(settings.epochs * steps_per_epoch))

    history: list[dict] = []
    start_epoch, train_seconds, best = 0, 0.0, {"score": -1.0}
    checkpoint_path = output / CHECKPOINT_NAME
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        if state["key"] != settings.key():
            raise ValueError(
                f"{checkpoint_path} was written with other settings ({state['key']}); "
                "delete it or choose another --output"
            )
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = state["epoch"] + 1
        history = json.loads(state["history"])
        best = json.loads(state["best"])
        train_seconds = float(state["train_seconds"])
        progress(f"resuming from {checkpoint_path} after epoch {start_epoch}")

    def card(epoch: int, selection: dict) -> dict:
        return {
            "recipe": "street",
            "epoch": epoch,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": settings.command,
            "settings": settings.key(),
            "selection": selection,
            "data": {
                "classes": data.class_names,
                "kinds": list(KINDS),
                "train_flat": n - worn_count,
                "train_worn": worn_count,
                "selection_flat": int((~data.worn & data.selection).sum()),
                "selection_worn": int((data.worn & data.selection).sum()),
            },
            "environment": {
                "torch": str(torch.__version__),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "device": device,
                "cpu_threads": settings.threads,
            },
        }

    from tqdm import tqdm

    stopped = False
    for epoch in range(start_epoch, settings.epochs):
        epoch_started = time.monotonic()
        generator = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
        order = torch.multinomial(weights, steps_per_epoch * settings.batch_size, replacement=True, generator=generator)
        order = order.to(device)
        augment_generator = generator
        if device != "cpu":
            augment_generator = torch.Generator(device=device).manual_seed(settings.seed * 100_003 + epoch)
        model.train()
        totals = {"loss": 0.0, "category": 0.0, "kind": 0.0, "accuracy": 0.0}
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch + 1}/{settings.epochs}",
            unit="batch",
            disable=os.environ.get("FASHIONREC_NO_PROGRESS") == "1",
            leave=False,
            mininterval=30,
        )
        for step in bar:
            batch = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            views = augment_views(
                images[batch], masks[batch], inner[batch], worn[batch], size, augment_generator, settings
            )
            embedding = model.embed((views - mean_t) / std_t)
            batch_categories, batch_kinds = categories[batch], kinds[batch]
            category_logits = margin_logits(
                embedding, model.class_centres, batch_categories, settings.cosine_scale, settings.margin
            )
            kind_logits = margin_logits(
                embedding, model.kind_centres, batch_kinds, settings.cosine_scale, settings.margin
            )
            has_category = batch_categories >= 0
            category_loss = (
                F.cross_entropy(category_logits[has_category], batch_categories[has_category])
                if has_category.any()
                else embedding.sum() * 0
            )
            has_kind = batch_kinds >= 0
            kind_loss = (
                F.cross_entropy(kind_logits[has_kind], batch_kinds[has_kind]) if has_kind.any() else embedding.sum() * 0
            )
            loss = category_loss + settings.kind_weight * kind_loss
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            ema_update(ema, model, ema_decay_at(epoch * steps_per_epoch + step, settings.ema_decay))
            totals["loss"] += loss.item()
            totals["category"] += category_loss.item()
            totals["kind"] += kind_loss.item()
            # on the plain cosines: the margin lowers the target's logit, which would bias the count
            if has_kind.all():
                nearest = (embedding.detach() @ F.normalize(model.kind_centres.detach(), dim=1).t()).argmax(1)
                totals["accuracy"] += float((nearest == batch_kinds).float().mean())
            else:  # no kinds (a catalog from the database): the nearest class centre instead
                nearest = (embedding.detach() @ F.normalize(model.class_centres.detach(), dim=1).t()).argmax(1)
                totals["accuracy"] += float((nearest == batch_categories).float().mean())
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)  # refreshed at most every 30 s
        train_seconds += time.monotonic() - epoch_started
        record: dict = {"epoch": epoch + 1, **{k: round(v / steps_per_epoch, 5) for k, v in totals.items()}}
        record["seconds"] = round(time.monotonic() - epoch_started, 1)
        last = epoch + 1 == settings.epochs
        if last or (settings.eval_every and (epoch + 1) % settings.eval_every == 0):
            selection, calibration = _select(ema, data, mean, std, device)
            record.update({k: v for k, v in selection.items() if k != "street_per_kind"})
            if selection["score"] > best["score"]:
                best = {**selection, "epoch": epoch + 1}
                checkpoint = encoder_checkpoint(
                    ema.state_dict(),
                    config,
                    data.class_names,
                    normalisation,
                    card(epoch + 1, selection) | {"history": [*history, record]},
                    calibration,
                )
                _save_atomic(checkpoint, output / BEST_NAME)
                record["best"] = checkpoint["version"]
        history.append(record)
        _save_atomic(
            {
                "key": settings.key(),
                "epoch": epoch,
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "optimiser": optimiser.state_dict(),
                "scheduler": scheduler.state_dict(),
                "history": json.dumps(history),
                "best": json.dumps(best),
                "train_seconds": train_seconds,
                "config": config.to_dict(),
                "class_names": data.class_names,
                "normalisation": normalisation,
                "card": json.dumps(card(epoch + 1, {k: v for k, v in record.items() if k in SELECTION_KEYS})),
            },
            checkpoint_path,
        )
        # Reported after the checkpoint is on disk: an interrupted run resumes after this epoch.
        progress(" ".join(f"{k}={v}" for k, v in record.items()))
        if settings.minutes is not None and time.monotonic() - started > settings.minutes * 60 and not last:
            progress(f"time budget of {settings.minutes} min reached after epoch {epoch + 1}: run again to resume")
            stopped = True
            break

    if stopped:
        return StreetTrainResult(None, None, best, history)
    selection, calibration = _select(ema, data, mean, std, device)
    final_card = card(settings.epochs, selection) | {
        "best": best,
        "history": history,
        "train_seconds": round(train_seconds, 1),
    }
    checkpoint = encoder_checkpoint(ema.state_dict(), config, data.class_names, normalisation, final_card, calibration)
    weights_path = output / WEIGHTS_NAME
    _save_atomic(checkpoint, weights_path)
    (output / METRICS_NAME).write_text(json.dumps(final_card | {"version": checkpoint["version"]}, indent=2) + "\n")
    checkpoint_path.unlink(missing_ok=True)
    progress(f"wrote {weights_path} ({weights_path.stat().st_size / 1e6:.1f} MB), version {checkpoint['version']}")
    return StreetTrainResult(weights_path, checkpoint["version"], selection, history)


def evaluate_weights(
    weights_path: Path,
    *,
    dataset: Path,
    ccp: Path | None,
    cache_dir: Path | None = None,
    limit: int | None = None,
    progress: Progress = print,
) -> dict:
    """Selection-split figures of any autoencoder weights file (v1 or v2), for choosing what to ship.

    Beware: encoder v1 was trained on all of clothing-small ``train/``, selection photos included,
    so its ``catalog_p10`` here is flattered; its street figures are fair (it never saw CCP).
    """
    checkpoint = torch.load(Path(weights_path), map_location="cpu", weights_only=True)
    config = AutoencoderConfig.from_dict(checkpoint["config"])
    model = GarmentAutoencoder(config)
    model.load_state_dict(checkpoint["state_dict"])
    settings = StreetTrainSettings(
        dataset=dataset, ccp=ccp, output=Path("."), image_size=config.input_size, limit=limit, cache_dir=cache_dir
    )
    data = load_data(settings, round(config.input_size * 8 / 7), progress)
    norm = checkpoint["normalisation"]
    selection, _ = _select(model, data, norm["mean"], norm["std"], "cpu")
    return {"version": checkpoint["version"], **selection}


# --- export and model card --------------------------------------------------------------------


def export_weights(
    output: Path,
    which: str,
    weights_path: Path,
    *,
    cache_dir: Path | None = None,
    data: EncoderData | None = None,
    progress: Progress = print,
) -> str:
    """Write ``which`` ("best": the selection-chosen weights, "latest": the EMA of the last
    finished epoch, "final": the finished run's weights) of the run in ``output`` to
    ``weights_path``, with MODEL_CARD.md beside it. Returns the version.

    Weights without selection figures or a match calibration (a mid-run snapshot) get both here,
    measured on the run's selection split (decoded data from ``cache_dir`` when it is there, or
    ``data``, the samples the run was trained on, e.g. from a GPU pack).
    """
    output, weights_path = Path(output), Path(weights_path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    if which == "latest":
        export_checkpoint_weights(output, weights_path)
    else:
        source = output / (BEST_NAME if which == "best" else WEIGHTS_NAME)
        if not source.exists():
            raise FileNotFoundError(f"no {source.name} in {output}")
        checkpoint = torch.load(source, map_location="cpu", weights_only=True)
        if "decoder.project.weight" in checkpoint["state_dict"]:
            # written by an earlier version of this module, which kept the untrained decoder
            calibration = checkpoint.get("calibration")
            checkpoint = encoder_checkpoint(
                checkpoint["state_dict"],
                AutoencoderConfig.from_dict(checkpoint["config"]),
                checkpoint["class_names"],
                checkpoint["normalisation"],
                checkpoint["card"],
                MatchCalibration.from_dict(calibration) if calibration else None,
            )
        _save_atomic(checkpoint, weights_path)
    checkpoint = torch.load(weights_path, map_location="cpu", weights_only=True)
    if "calibration" not in checkpoint or not _card_value(checkpoint["card"], "selection"):
        if data is None:
            key = _card_value(checkpoint["card"], "settings")
            settings = StreetTrainSettings(
                dataset=Path(key["dataset"]),
                ccp=Path(key["ccp"]) if key["ccp"] else None,
                output=output,
                image_size=key["image_size"],
                limit=key["limit"],
                cache_dir=cache_dir,
            )
            data = load_data(settings, round(settings.image_size * 8 / 7), progress)
        config = AutoencoderConfig.from_dict(checkpoint["config"])
        model = GarmentAutoencoder(config)
        model.load_state_dict(checkpoint["state_dict"])
        norm = checkpoint["normalisation"]
        selection, calibration = _select(model, data, norm["mean"], norm["std"], "cpu")
        checkpoint["card"]["selection"] = json.dumps(selection)
        if calibration is not None:
            checkpoint["calibration"] = calibration.to_dict()
        _save_atomic(checkpoint, weights_path)
    (weights_path.parent / CARD_NAME).write_text(street_model_card(checkpoint, weights_path))
    return checkpoint["version"]


def _card_value(card: dict, name: str, default=None):
    value = card.get(name, default)
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def street_model_card(checkpoint: dict, weights_path: Path) -> str:
    """MODEL_CARD.md of encoder v2 weights, from what the checkpoint itself records."""
    card = checkpoint["card"]
    settings = _card_value(card, "settings", {})
    data = _card_value(card, "data", {})
    selection = _card_value(card, "selection", {})
    history = _card_value(card, "history", [])
    environment = _card_value(card, "environment", {})
    config = AutoencoderConfig.from_dict(checkpoint["config"])
    model = GarmentAutoencoder(config)
    encoder_parameters = sum(p.numel() for p in model.encoder.parameters())
    epoch = _card_value(card, "epoch") or _card_value(card, "snapshot_of_epoch")
    lines = [
        f"# Garment encoder `{checkpoint['version']}` (encoder v2, recipe `street`)",
        "",
        "A narrow ResNet trunk (stride-4 stem, one basic block per width, widths "
        f"{'/'.join(map(str, config.widths))}, {config.input_size} px input, aspect ignored) → 128-d, "
        "L2-normalised = the stored embedding. Trained to put a garment cropped from a street photo "
        "next to catalog photos of its kind, and a catalog photo next to its category.",
        "",
        f"- weights: `{weights_path.name}`, {weights_path.stat().st_size / 1e6:.1f} MB, "
        f"{encoder_parameters:,} parameters used at inference",
        f"- weights sha256: `{checkpoint['card'].get('weights_sha256', '')}`",
        f"- epoch {epoch} of {settings.get('epochs')}; exported {dt.datetime.now(dt.UTC):%Y-%m-%d}",
        "- loading: `recommender.vision.encoder.load_encoder(path)`, `torch.load(weights_only=True)`, no network",
        "",
        "## Data, licences and splits",
        "",
        f"- **clothing-small** `train/` (CC0 1.0, github.com/alexeygrigorev/clothing-dataset-small): "
        f"{data.get('train_flat')} photos trained on, {data.get('selection_flat')} in the selection split; "
        f"categories {', '.join(data.get('classes', []))}. `validation/` is never read by training or selection.",
        f"- **CCP** street photos (Apache-2.0, github.com/bearpaw/clothing-co-parsing): {data.get('train_worn')} worn "
        f"garments of the training photos trained on, {data.get('selection_worn')} in the selection split. "
        "Boxes by the detector's ground-truth rule (`detector_data.boxes_from_label_map`), category = the "
        "catalog folder of the box's majority CCP label (`encoder_data.CCP_TO_CATEGORY`; tops, vests, bodysuits "
        "and rompers keep only their kind). Photos whose number is a multiple of 7 are the report split "
        "(`make bench-street`), never trained on.",
        "- Selection split: `encoder_data.is_selection`, 10% of each source by a hash of the file name "
        "(whole CCP photos). The weights are released with the project under Apache-2.0.",
        "",
        "## Recipe",
        "",
        "CosFace (additive-margin cosine) classifiers over the catalog categories and the coarse kinds; "
        "augmentation: detector-like box jitter (worn), random resized crop (flat-lay), random homography, "
        "background swap through the garment masks, colour jitter; sampling ∝ 1/√(group size); AdamW with "
        "linear warm-up then cosine decay; the exported weights are the exponential moving average. "
        "Details in `recommender/vision/encoder_street_training.py`.",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | `{v}` |" for k, v in settings.items()]
    command = card.get("command") or "python manage.py train_encoder (see settings)"
    lines += [
        "",
        "## Reproduce",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Environment: torch {environment.get('torch')}, Python {environment.get('python')}, "
        f"device {environment.get('device')}, {environment.get('cpu_threads')} CPU thread(s). Seeded and "
        "deterministic on one device and thread count; an interrupted run resumes after its last epoch.",
        "",
        "## Selection split (training data held out; not a report figure)",
        "",
        "| measure | value |",
        "|---|---:|",
    ]
    for name in SELECTION_KEYS:
        if name in selection:
            lines.append(f"| {name} | {selection[name]} |")
    if selection.get("street_per_kind"):
        lines.append("")
        lines.append(
            "Worn → kind p@10 per kind: " + ", ".join(f"{k} {v}" for k, v in selection["street_per_kind"].items())
        )
    calibration = checkpoint.get("calibration")
    if calibration:
        points = ", ".join(
            f"{c:.3f} → {p:.2f}"
            for c, p in list(zip(calibration["cosines"], calibration["probabilities"], strict=True))[::4]
        )
        lines += [
            "",
            "## Match score",
            "",
            "`calibration` in the weights file: cosine → probability that a result is the same kind of garment, "
            f"isotonic regression on {calibration['pairs']:,} selection-split pairs (each held-out query's top 100 "
            "training catalog photos), `recommender/vision/calibration.py`. Some of its knots: " + points + ".",
        ]
    lines += [
        "",
        "Held-out figures: `make bench-retrieval` (validation photos → category) and `make bench-street` "
        "(CCP report photos' garments → kind) with these weights installed.",
        "",
        "## Training curve",
        "",
        "| epoch | loss | category | kind | kind acc | s | catalog p@10 | street p@10 | kinds p@10 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in history:
        lines.append(
            f"| {row['epoch']} | {row['loss']:.3f} | {row['category']:.3f} | {row['kind']:.3f} | "
            f"{row['accuracy']:.3f} | {row['seconds']} | {row.get('catalog_p10', '')} | "
            f"{row.get('street_p10', '')} | {row.get('street_p10_kinds', '')} |"
        )
    return "\n".join(lines) + "\n"
