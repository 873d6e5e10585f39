"""Garment encoders: image crops in, unit-norm 128-d float32 vectors out.

``Encoder`` is the interface the pipeline uses. Two implementations, both loaded from a local
file with no network access (``load_encoder`` picks by the checkpoint's ``kind``):

- ``AutoencoderEncoder`` (the default, ``models/encoder/encoder.pt``): the project's residual
  convolutional autoencoder trained by ``manage.py train_encoder``.
- ``TorchvisionEncoder``: any torchvision classification architecture with locally stored
  weights (``from_backbone_weights``), its pooled features projected to 128-d, so a stronger
  pretrained backbone can replace the default without touching the rest of the system.

Checkpoints are plain dicts of tensors, strings and numbers loaded with
``torch.load(weights_only=True)``: opening a weights file never runs code from it.

``load_encoder(path, onnx_threads=n)`` (the served pipeline) runs the network in ONNX Runtime, from
the checkpoint's cached (or newly exported) ONNX copy (``onnx_runtime``); the input transform, the
normalisation and the outputs (to within float rounding) are the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from recommender.vision.calibration import MatchCalibration
from recommender.vision.encoder_model import AutoencoderConfig, GarmentAutoencoder
from recommender.vision.onnx_runtime import OnnxModel, load_onnx_copy
from recommender.vision.preprocess import resize_exact

EMBEDDING_DIM = 128
CHECKPOINT_FORMAT = "fashionrec-encoder/1"
# Batches larger than this are encoded in chunks to bound memory (activations at 112 px are
# about 1.6 MB per image in the widest layer).
MAX_BATCH = 64


@runtime_checkable
class Encoder(Protocol):
    version: str
    dim: int

    def encode(self, crops: Sequence[Image.Image]) -> np.ndarray:
        """float32 array of shape (len(crops), dim), each row of unit L2 norm."""
        ...


def images_to_tensor(
    images: Sequence[Image.Image], size: int, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """The encoders' input transform: RGB, resized to size×size (aspect ignored), normalised."""
    arrays = np.stack([np.asarray(resize_exact(image.convert("RGB"), size), dtype=np.uint8) for image in images])
    tensor = torch.from_numpy(arrays).permute(0, 3, 1, 2).float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (tensor - mean_t) / std_t


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """A digest of the parameters themselves (not of the file, which also holds metadata)."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


class _TorchEncoder:
    """Shared batching and normalisation of the two implementations."""

    version: str
    dim: int = EMBEDDING_DIM
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # set by ``load_encoder`` when a current exported copy of the checkpoint is served
    onnx: OnnxModel | None = None

    @property
    def runtime(self) -> str:
        return "onnx" if self.onnx is not None else "torch"

    def _embed_tensor(self, batch: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _embed(self, batch: torch.Tensor) -> torch.Tensor:
        if self.onnx is not None:
            return torch.from_numpy(self.onnx(batch.numpy()))
        return self._embed_tensor(batch)

    def encode(self, crops: Sequence[Image.Image]) -> np.ndarray:
        if not crops:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(crops), MAX_BATCH):
                batch = images_to_tensor(crops[start : start + MAX_BATCH], self.input_size, self.mean, self.std)
                chunks.append(F.normalize(self._embed(batch).float(), dim=1))
        return torch.cat(chunks).numpy().astype(np.float32, copy=False)


class AutoencoderEncoder(_TorchEncoder):
    """The shipped encoder: the bottleneck of ``GarmentAutoencoder``."""

    def __init__(self, checkpoint: dict) -> None:
        if checkpoint.get("format") != CHECKPOINT_FORMAT or checkpoint.get("kind") != "autoencoder":
            raise ValueError("not a fashionrec autoencoder checkpoint")
        self.config = AutoencoderConfig.from_dict(checkpoint["config"])
        self.model = GarmentAutoencoder(self.config)
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.eval()
        self.version: str = checkpoint["version"]
        self.dim = self.config.embedding_dim
        self.input_size = self.config.input_size
        self.mean = tuple(checkpoint["normalisation"]["mean"])
        self.std = tuple(checkpoint["normalisation"]["std"])
        self.class_names: list[str] = list(checkpoint["class_names"])
        self.card: dict = dict(checkpoint.get("card", {}))
        # cosine -> probability of the same kind (encoder v2, or `manage.py calibrate_encoder`)
        self.calibration: MatchCalibration | None = (
            MatchCalibration.from_dict(checkpoint["calibration"]) if "calibration" in checkpoint else None
        )

    def _embed_tensor(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.embed(batch)

    def reconstruct(self, crops: Sequence[Image.Image]) -> np.ndarray:
        """Decoder output (n, recon, recon, 3) uint8: what the bottleneck remembers of each crop.

        Raises ``ValueError`` for weights shipped without a decoder (encoder v2).
        """
        if self.model.decoder is None:
            raise ValueError(f"encoder {self.version} has no decoder: it cannot reconstruct")
        with torch.inference_mode():
            batch = images_to_tensor(crops, self.input_size, self.mean, self.std)
            images = self.model.decoder(self.model.embed(batch))
        return (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TorchvisionEncoder(_TorchEncoder):
    """A torchvision classifier without its head, projected to ``dim`` dimensions.

    The projection is either given (e.g. fitted by PCA or trained on the catalog and stored in
    the checkpoint) or a fixed random orthonormal matrix seeded from the architecture name:
    random projections preserve cosine similarities approximately (Johnson-Lindenstrauss), so
    a pretrained backbone is usable at once and stays deterministic.
    """

    def __init__(
        self,
        arch: str,
        state_dict: dict[str, torch.Tensor],
        *,
        input_size: int = 224,
        projection: torch.Tensor | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        dim: int = EMBEDDING_DIM,
    ) -> None:
        import torchvision

        self.arch = arch
        self.model = torchvision.models.get_model(arch, weights=None)
        head = _remove_head(self.model)
        # Accept the full classifier's weights (as torchvision publishes them) or headless ones.
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith(f"{head}.")}
        self.model.load_state_dict(state_dict)
        self.model.eval()
        self.input_size = input_size
        self.mean, self.std = tuple(mean), tuple(std)
        self.dim = dim
        with torch.inference_mode():
            features = self.model(torch.zeros(1, 3, input_size, input_size)).flatten(1).shape[1]
        if projection is None:
            generator = torch.Generator().manual_seed(int(hashlib.sha256(arch.encode()).hexdigest()[:8], 16))
            gaussian = torch.randn(features, max(features, dim), generator=generator)
            projection = torch.linalg.qr(gaussian).Q[:, :dim] if features >= dim else gaussian[:, :dim]
        if tuple(projection.shape) != (features, dim):
            raise ValueError(f"projection must be {features}×{dim}, got {tuple(projection.shape)}")
        self.projection = projection.float()
        self.version = f"tv-{arch}-{weights_sha256({**state_dict, '_projection': self.projection})[:8]}"
        self.calibration: MatchCalibration | None = None  # set from a checkpoint that has one

    @classmethod
    def from_backbone_weights(cls, arch: str, weights_path: str | Path, **options) -> TorchvisionEncoder:
        """Load a torchvision ``state_dict`` saved locally (e.g. resnet50-*.pth copied by hand)."""
        state_dict = torch.load(Path(weights_path), map_location="cpu", weights_only=True)
        return cls(arch, state_dict, **options)

    def _embed_tensor(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch).flatten(1) @ self.projection

    def checkpoint(self) -> dict:
        """A self-contained checkpoint ``load_encoder`` understands."""
        return {
            "format": CHECKPOINT_FORMAT,
            "kind": "torchvision",
            "arch": self.arch,
            "version": self.version,
            "input_size": self.input_size,
            "normalisation": {"mean": list(self.mean), "std": list(self.std)},
            "projection": self.projection,
            "state_dict": dict(self.model.state_dict()),
            **({"calibration": self.calibration.to_dict()} if self.calibration is not None else {}),
        }


def _remove_head(model: nn.Module) -> str:
    """Replace the classification head with the identity, leaving the pooled features."""
    for name in ("fc", "classifier", "heads", "head"):
        if isinstance(getattr(model, name, None), nn.Module):
            setattr(model, name, nn.Identity())
            return name
    raise ValueError(f"do not know the classification head of {type(model).__name__}")


def load_encoder(path: str | Path, *, onnx_threads: int | None = None) -> Encoder:
    """Load any encoder checkpoint written by this project (no network access).

    ``onnx_threads``: serve it with ONNX Runtime (that many threads), from the cached (or newly
    exported) ONNX copy of ``path``; None, or no copy to be had: PyTorch.
    """
    checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    encoder = encoder_from_checkpoint(checkpoint)
    if onnx_threads:
        encoder.onnx = load_onnx_copy(path, kind="encoder", threads=onnx_threads)  # type: ignore[attr-defined]
    return encoder


def encoder_from_checkpoint(checkpoint: dict) -> Encoder:
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError("not a fashionrec encoder checkpoint (missing format marker)")
    kind = checkpoint.get("kind")
    if kind == "autoencoder":
        return AutoencoderEncoder(checkpoint)
    if kind == "torchvision":
        encoder = TorchvisionEncoder(
            checkpoint["arch"],
            dict(checkpoint["state_dict"]),
            input_size=checkpoint["input_size"],
            projection=checkpoint["projection"],
            mean=checkpoint["normalisation"]["mean"],
            std=checkpoint["normalisation"]["std"],
        )
        encoder.version = checkpoint["version"]
        encoder.calibration = (
            MatchCalibration.from_dict(checkpoint["calibration"]) if "calibration" in checkpoint else None
        )
        return encoder
    raise ValueError(f"unknown encoder kind {kind!r}")
