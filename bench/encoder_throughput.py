"""Training throughput of encoder v2's street recipe (images per second), to size a run before it starts.

    python -m bench.encoder_throughput [--device cpu|cuda] [--threads 1] [--image-size 112]
        [--widths 32,64,128,256 48,96,192,384] [--batch-size 64] [--steps 12]

Times ``encoder_street_training.train_street`` itself (augmentation, both margin heads, AdamW,
the weight average) for two epochs of ``--steps`` batches on random pixels: the cost of a step
does not depend on what the pixels show. The first epoch pays the warm-up; the second is the
figure. Django-free, so it also runs on a lent GPU machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from recommender.vision.encoder_data import KINDS, EncoderData
from recommender.vision.encoder_street_training import StreetTrainSettings, train_street


def synthetic_data(n: int, image_size: int, seed: int = 0) -> EncoderData:
    """``n`` training samples (half worn, with a box inside their context crop) and 32 selection ones."""
    rng = np.random.default_rng(seed)
    total, aug = n + 32, round(image_size * 8 / 7)
    worn = np.arange(total) % 2 == 1
    inner = np.where(worn[:, None], [-0.7, -0.7, 0.7, 0.7], [-1.0, -1.0, 1.0, 1.0]).astype(np.float32)
    return EncoderData(
        aug=rng.integers(0, 256, (total, 3, aug, aug), dtype=np.uint8),
        masks=(rng.random((total, 1, aug, aug)) < 0.6).astype(np.uint8),
        inner=inner,
        eval=rng.integers(0, 256, (total, 3, image_size, image_size), dtype=np.uint8),
        kinds=rng.integers(0, len(KINDS), total),
        categories=rng.integers(0, 10, total),
        worn=worn,
        selection=np.arange(total) >= n,
        class_names=[f"class{i}" for i in range(10)],
        names=[f"sample{i}" for i in range(total)],
    )


def measure(widths, *, image_size: int, batch_size: int, steps: int, device: str, threads: int) -> float:
    """Images per second of the second of two epochs."""
    data = synthetic_data(steps * batch_size, image_size)
    with tempfile.TemporaryDirectory() as output:
        settings = StreetTrainSettings(
            dataset=None,
            ccp=None,
            output=Path(output),
            epochs=2,
            image_size=image_size,
            widths=tuple(widths),
            batch_size=batch_size,
            threads=threads,
            device=device,
            eval_every=0,
            data_digest="synthetic",
        )
        result = train_street(settings, progress=lambda message: None, data=data)
    return steps * batch_size / max(result.history[-1]["seconds"], 1e-3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--widths", nargs="+", default=["32,64,128,256"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12, help="batches per epoch")
    args = parser.parse_args(argv)
    os.environ.setdefault("FASHIONREC_NO_PROGRESS", "1")
    print("| widths | px | batch | device | threads | images/s |\n|---|---:|---:|---|---:|---:|")
    for widths in args.widths:
        rate = measure(
            [int(w) for w in widths.split(",")],
            image_size=args.image_size,
            batch_size=args.batch_size,
            steps=args.steps,
            device=args.device,
            threads=args.threads,
        )
        print(f"| {widths} | {args.image_size} | {args.batch_size} | {args.device} | {args.threads} | {rate:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
