"""The garment autoencoder: a narrow residual encoder, a 128-d bottleneck and a small decoder.

Why this shape (measured on this machine, shared/notes/measured-on-this-machine.md): a plain
conv autoencoder trained on reconstruction alone reached precision@10 0.42 on clothing-small;
adding cross-entropy on the bottleneck and augmentation reached 0.59; a narrow ResNet trunk
with classification and augmentation reached 0.68-0.75. So the encoder half is a residual
trunk, the bottleneck is what we store (L2-normalised, cosine distance in pgvector), and three
heads train it: a cosine-softmax classifier over the catalog categories (it shapes the space
for *cosine* retrieval directly), and the decoder, which keeps colour and layout in the code
so that neighbours within a category also look alike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class AutoencoderConfig:
    embedding_dim: int = 128
    input_size: int = 112
    widths: tuple[int, ...] = (32, 64, 128, 256)
    # Side of the decoder's thumbnail; 0 = no decoder (encoder v2 weights, whose recipe does not
    # train one: shipping an untrained decoder would only pretend to reconstruct).
    recon_size: int = 32
    num_classes: int = 10
    # Fixed scale of the cosine classifier: logits = scale * cos(embedding, class centre).
    # 16 lets the softmax saturate for well-separated classes without exploding early.
    cosine_scale: float = 16.0
    arch: str = field(default="resae")
    # Encoder v2 also classifies the coarse garment kind (top, outerwear, ...) with a second
    # cosine head, so that garments the catalog has no category for still shape the space.
    # 0 = no kind head (v1 checkpoints, which do not carry this key, load unchanged).
    num_kinds: int = 0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["widths"] = list(self.widths)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> AutoencoderConfig:
        data = dict(data)
        data["widths"] = tuple(data["widths"])
        return cls(**data)


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResidualEncoder(nn.Module):
    """Stem (1/4 resolution) then one residual block per width, each after the first halving the size."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        widths = config.widths
        # ResNet-style stem (stride 2 + max-pool): the first block runs at 1/4 resolution, which
        # keeps a training step affordable on 2 shared CPU cores (~4× fewer MACs than at 1/2).
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, 2, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        )
        blocks = [BasicBlock(widths[0], widths[0], 1)]
        blocks += [BasicBlock(widths[i - 1], widths[i], 2) for i in range(1, len(widths))]
        self.blocks = nn.Sequential(*blocks)
        self.bottleneck = nn.Linear(widths[-1], config.embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.stem(x))
        return self.bottleneck(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))


class Decoder(nn.Module):
    """Reconstructs a small (recon_size²) thumbnail from the unit embedding."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.start = 4
        steps = max(0, (config.recon_size // self.start).bit_length() - 1)
        # Narrow on purpose: the decoder is a training signal, not a product, and must stay cheap.
        channels = [64, 32, 16, 8, 8, 8][: steps + 1]
        self.project = nn.Linear(config.embedding_dim, channels[0] * self.start * self.start)
        layers: list[nn.Module] = []
        for i in range(steps):
            layers += [
                nn.ConvTranspose2d(channels[i], channels[i + 1], 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels[i + 1]),
                nn.ReLU(),
            ]
        layers.append(nn.Conv2d(channels[-1], 3, 3, 1, 1))
        self.layers = nn.Sequential(*layers)
        self.channels = channels[0]

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.project(embedding)).view(-1, self.channels, self.start, self.start)
        return torch.sigmoid(self.layers(x))


class GarmentAutoencoder(nn.Module):
    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ResidualEncoder(config)
        self.decoder = Decoder(config) if config.recon_size else None
        self.class_centres = nn.Parameter(torch.randn(config.num_classes, config.embedding_dim) * 0.01)
        if config.num_kinds:
            self.kind_centres = nn.Parameter(torch.randn(config.num_kinds, config.embedding_dim) * 0.01)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings, what retrieval stores."""
        return F.normalize(self.encoder(x), dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(embedding, class logits, reconstruction)."""
        embedding = self.embed(x)
        logits = self.config.cosine_scale * embedding @ F.normalize(self.class_centres, dim=1).t()
        if self.decoder is None:
            raise ValueError("this model has no decoder (recon_size 0): use embed()")
        return embedding, logits, self.decoder(embedding)


# Both recipes' learning-rate schedule. Here, beside the model, rather than in either recipe's module:
# the street recipe (and its GPU entry point, encoder_gpu, on a machine without Django) must not
# import the v1 recipe, whose decoding goes through fashionrec.imaging.
def one_cycle(total_steps: int, warmup_fraction: float = 0.25, floor: float = 0.04):
    """Linear warm-up to the peak rate, then cosine decay (a one-cycle schedule that also
    works for the 2-step runs of the tests, where torch's OneCycleLR divides by zero)."""
    warmup = max(1, round(total_steps * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return floor + (1 - floor) * step / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor
