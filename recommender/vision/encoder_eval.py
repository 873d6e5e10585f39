"""Retrieval metrics shared by ``train_encoder`` (model card) and ``bench/retrieval.py``.

Protocol: the train split is the catalog (index), every validation image is a query, cosine
similarity on unit vectors, a hit is a neighbour of the same category.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def list_split(dataset: str | Path, split: str) -> tuple[list[Path], list[int], list[str]]:
    """(paths, label indices, class names) of ``dataset/split/<class>/*``, sorted, so deterministic."""
    root = Path(dataset) / split
    if not root.is_dir():
        raise FileNotFoundError(f"no {split!r} split at {root}")
    class_names = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(class_names):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [index] * len(files)
    return paths, labels, class_names


def limited_round_robin(paths: list[Path], labels: list[int], limit: int | None) -> tuple[list[Path], list[int]]:
    """The first ``limit`` images taken round-robin over classes, so tiny runs see every class."""
    if limit is None or limit >= len(paths):
        return paths, labels
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    chosen: list[int] = []
    depth = 0
    while len(chosen) < limit:
        for label in sorted(by_class):
            if depth < len(by_class[label]) and len(chosen) < limit:
                chosen.append(by_class[label][depth])
        depth += 1
    chosen.sort()
    return [paths[i] for i in chosen], [labels[i] for i in chosen]


@dataclass
class RetrievalResult:
    k: int
    precision: float
    map: float
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    neighbours: np.ndarray | None = None  # (queries, k) index positions, best first

    def as_dict(self) -> dict:
        return {f"precision@{self.k}": self.precision, f"map@{self.k}": self.map, "per_class": self.per_class}


def top_k(queries: np.ndarray, index: np.ndarray, k: int) -> np.ndarray:
    """Exact cosine top-k (rows are unit vectors); ties broken by index position, deterministic."""
    similarity = queries @ index.T
    order = np.argsort(-similarity, axis=1, kind="stable")
    return order[:, :k]


def retrieval_metrics(
    queries: np.ndarray,
    query_labels: Sequence[int],
    index: np.ndarray,
    index_labels: Sequence[int],
    class_names: Sequence[str],
    k: int = 10,
) -> RetrievalResult:
    """precision@k and mAP@k (AP@k divided by min(k, relevant items in the index))."""
    query_labels_a = np.asarray(query_labels)
    index_labels_a = np.asarray(index_labels)
    neighbours = top_k(queries.astype(np.float32), index.astype(np.float32), k)
    hits = index_labels_a[neighbours] == query_labels_a[:, None]
    precision = hits.mean(axis=1)
    ranks = np.arange(1, k + 1)
    precision_at_rank = np.cumsum(hits, axis=1) / ranks
    relevant = np.array([min(k, int((index_labels_a == label).sum())) for label in query_labels_a])
    average_precision = (precision_at_rank * hits).sum(axis=1) / np.maximum(relevant, 1)
    per_class = {}
    for label, name in enumerate(class_names):
        mask = query_labels_a == label
        if mask.any():
            per_class[name] = {
                "queries": int(mask.sum()),
                f"precision@{k}": float(precision[mask].mean()),
                f"map@{k}": float(average_precision[mask].mean()),
            }
    return RetrievalResult(
        k=k,
        precision=float(precision.mean()),
        map=float(average_precision.mean()),
        per_class=per_class,
        neighbours=neighbours,
    )
