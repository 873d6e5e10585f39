"""The outfit model: how well garments go together, from what people wear in the street.

Three learned parts, each a small table or index, combined linearly into a pair's raw score
(then a logistic calibration maps it into [0, 1]):

- **kind**: pointwise mutual information of two kinds in the same outfit (tops go with
  trousers and skirts; a dress rarely with a skirt). It also decides the *complementary kinds*
  of a kind (``complementary_kinds``). Constant among candidates of one kind.
- **colour**: a learned colour harmony between the two garments' colour histograms:
  ``sqrt(p1)ᵀ W sqrt(p2)``, ``p1`` the garment of the kind listed first in ``kinds`` (a top's
  colour plays another role than the trousers'). ``W`` is a logistic regression on the outer
  products of the histograms: true pairs of a train outfit vs pairs of the same kinds from
  different outfits (``NEGATIVES_PER_PAIR`` each, seeded), L2 ``colour_l2``. The histogram's
  bins are either the catalog's colour names (v001) or, since v002, a **Lab palette**:
  ``palette_size`` colours found by k-means in CIE Lab over the train garments' own pixels
  (``palette``), each pixel counted at its nearest palette colour. Thirteen names lump shades
  people match differently (every light, mid and denim blue is "blue"); the palette keeps them
  apart and its
  harmony ranks street partners better (selection and train cross-validation figures in
  docs/outfits.md). A catalog product has no pixels here, only its colour name: its histogram is
  that name's row of ``name_palette`` (the palette histogram of the train pixels given that
  name), so the SQL still reads one colour term per catalog colour name (``colour_terms``).
  The plain co-occurrence table of colour names (log of observed over chance pairs of bins,
  add-α smoothed; ``colour_cooccurrence``) is kept as the benchmark's colour-only baseline.
- **partners** ("people who wore a garment like this wore these"): the street index holds every
  training garment's embedding and, per kind, the row of its outfit partner of that kind. For a
  query garment of kind a and a candidate of kind b, the ``neighbours`` street garments of kind
  a nearest to the query that were worn with a b are found; their b partners, weighted by a
  softmax of the query's cosine to each neighbour (``temperature``), average to the *partner
  vector* P, and the score is ``candidate · P``. Because it is linear in the candidate, the
  catalog can rank every candidate with one vector search for P (``recommender.queries``).
  For a pair the score is the mean of both directions.
- **direct**: the cosine of the two garments' embeddings (same fabric or style across kinds).

**Hub correction (centring, since v003).** A candidate that scores well with *every* query of a
kind (a black shoe, a garment near the middle of its kind's embeddings) tops the look of most
queries: a "hub" (Radovanović et al., JMLR 2010). Each direction's score is therefore taken
relative to the candidate's mean score over reference queries, the train garments of the
query's kind (Suzuki et al., EMNLP 2013, "centering similarity measures to reduce hubs"; CSLS in
Conneau et al. 2018 is the local version). Both parts are linear in the query side, so the mean
over the queries is the score against the *mean query*: the colour part uses
``sqrt(p_q) - centring x colour_centres[kind q]`` (the kind's mean root histogram) and the
partners part ``P - centring x partner_centres[kind q, kind c]`` (the mean partner vector of the
kind's train garments, each left out of its own neighbours). So the look SQL still ranks every
candidate with one vector search and one colour term per colour name; a pair's score is the mean
of its two directions. ``weights.centring`` 0 (v001, v002) turns it off.

The weights are chosen by fill-in-the-blank accuracy on the CCP *selection* split and the
calibration is fitted on selection pairs (true pairs vs pairs of the same kinds from different
outfits); see ``manage.py train_outfits``. Everything is plain numpy; a model is a folder with
``outfits.npz`` (arrays) and ``model.json`` (names, weights, encoder version, card).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from recommender.outfits import photo_lighting

MODEL_FORMAT = "fashionrec-outfits/4"
# v001's files: no palette (the harmony is over the colour names); v002's: no hub correction
# (no centres, no ``centring`` weight); v003's and v004's: no photo lighting method (pixels as
# photographed). All still loaded, and score as they did.
READABLE_FORMATS = ("fashionrec-outfits/1", "fashionrec-outfits/2", "fashionrec-outfits/3", MODEL_FORMAT)
FEATURES = ("kind", "colour", "partners", "direct")
# add-α smoothing of the colour table, in (fractional) garment pairs per cell
COLOUR_SMOOTHING = 2.0
NEGATIVES_PER_PAIR = 5
COLOUR_L2 = 1e-3
# Lab k-means of the palette: pixels sampled per train garment, iterations (chosen on selection: docs/outfits.md).
PALETTE_PIXELS_PER_GARMENT = 200
PALETTE_ITERATIONS = 20
# A kind completes another when at least this share of the outfits wearing the first wear it too.
COMPLEMENT_MIN_SHARE = 0.10


class GarmentLike(Protocol):
    kind: str
    colours: np.ndarray  # share per colour name
    embedding: np.ndarray | None
    # Optional ``pixels``: (n, 3) uint8 sample of the garment's own pixels (street and photo
    # garments); without it (a catalog product) the palette histogram comes from ``colours``.
    # Optional ``palette_root``: a catalog garment's stored root palette histogram
    # (``catalog_colour``, of this model), used before pixels and colour names.
    # Optional ``photo_mean``: the whole photo's mean R, G, B (0..1), for the model's lighting
    # normalisation (``recommender.outfits.photo_lighting``); without it the pixels are read as they are.


ColourNamer = Callable[[np.ndarray], np.ndarray]  # (n, 3) floats in 0..1 -> (n,) colour names


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (D65) of (n, 3) uint8 sRGB pixels: L in 0..100, a and b roughly -100..100."""
    c = np.asarray(rgb, dtype=np.float64).reshape(-1, 3) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = c @ _SRGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


@dataclass(frozen=True)
class OutfitWeights:
    kind: float = 0.0
    colour: float = 1.0
    partners: float = 1.0
    direct: float = 0.0
    neighbours: int = 20
    temperature: float = 0.05
    # share of the reference queries' mean subtracted from each direction's score (the hub
    # correction, module docstring); 0 in models saved before it existed
    centring: float = 0.0

    def vector(self) -> np.ndarray:
        return np.array([self.kind, self.colour, self.partners, self.direct])


@dataclass
class OutfitModel:
    version: str
    encoder_version: str
    kinds: tuple[str, ...]
    colour_bins: tuple[str, ...]
    kind_counts: np.ndarray  # (K, K) outfits wearing both kinds; diagonal: outfits wearing the kind
    outfit_count: int
    colour_harmony: np.ndarray  # (P, P) learned bilinear weights over the palette, rows: the earlier kind
    colour_cooccurrence: np.ndarray  # (C, C) log ratio of observed to chance, symmetric (baseline)
    index_embeddings: np.ndarray  # (N, D) float32 unit rows
    index_kinds: np.ndarray  # (N,) kind index
    index_partners: np.ndarray  # (N, K) row of the same outfit's garment of each kind, -1 if none
    weights: OutfitWeights = field(default_factory=OutfitWeights)
    calibration: tuple[float, float] = (1.0, 0.0)  # p = sigmoid(a * raw + b)
    card: dict = field(default_factory=dict)
    # The harmony's bins: None = the colour names (v001); else (P, 3) Lab colours, and per colour
    # name (C, P) the palette histogram a product of that name gets.
    palette: np.ndarray | None = None
    name_palette: np.ndarray | None = None
    # The hub correction's reference queries (None before v003): (K, P) mean root histogram of the
    # train garments of each kind; (K, K, D) mean partner vector of each kind's train garments
    # towards each kind, for ``weights``' neighbours and temperature (``fit_partner_centres``).
    colour_centres: np.ndarray | None = None
    partner_centres: np.ndarray | None = None
    # How a garment's pixels are normalised for its photo's lighting before the palette reads
    # them (``recommender.outfits.photo_lighting``; "none" before v005).
    lighting: str = photo_lighting.NONE

    # --- learning -------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        outfits: Sequence[Sequence[GarmentLike]],
        *,
        kinds: Sequence[str],
        colour_bins: Sequence[str],
        encoder_version: str,
        version: str = "v001",
        weights: OutfitWeights | None = None,
        colour_l2: float = COLOUR_L2,
        seed: int = 0,
        palette_size: int = 0,
        namer: ColourNamer | None = None,
        lighting: str = photo_lighting.NONE,
    ) -> OutfitModel:
        """Count kinds and colours and build the street index from ``outfits`` (lists of garments).

        With ``palette_size`` (and ``namer``, to tie the palette to the catalog's colour names)
        the colour harmony is learned over a Lab palette of the garments' ``pixels``; without,
        over the colour names. ``lighting`` normalises each garment's pixels for its photo's
        lighting before the palette and the harmony read them (and later, every garment scored).
        """
        if lighting not in photo_lighting.METHODS:
            raise ValueError(f"unknown lighting method {lighting!r}")
        kinds = tuple(kinds)
        kind_index = {k: i for i, k in enumerate(kinds)}
        n_kinds, n_bins = len(kinds), len(colour_bins)
        kind_counts = np.zeros((n_kinds, n_kinds))
        colour_pairs = np.zeros((n_bins, n_bins))
        embeddings, index_kinds, partners = [], [], []
        for outfit in outfits:
            present = [kind_index[g.kind] for g in outfit]
            for a in set(present):
                for b in set(present):
                    kind_counts[a, b] += 1
            for i, first in enumerate(outfit):
                for second in outfit[i + 1 :]:
                    pair = np.outer(first.colours, second.colours)
                    colour_pairs += pair + pair.T
            if all(g.embedding is not None for g in outfit):
                rows = {g.kind: len(embeddings) + j for j, g in enumerate(outfit)}
                for g in outfit:
                    embeddings.append(np.asarray(g.embedding, dtype=np.float32))
                    index_kinds.append(kind_index[g.kind])
                    partners.append([rows.get(k, -1) if k != g.kind else -1 for k in kinds])
        total = colour_pairs.sum()
        marginal = colour_pairs.sum(axis=1) / max(total, 1e-9)
        expected = total * np.outer(marginal, marginal)
        cooccurrence = np.log((colour_pairs + COLOUR_SMOOTHING) / (expected + COLOUR_SMOOTHING))
        palette = name_palette = None
        if palette_size:
            if namer is None:
                raise ValueError("a palette needs the colour namer (to give catalog colour names a palette histogram)")
            palette, name_palette = _learn_palette(
                outfits, tuple(colour_bins), palette_size, namer, seed, lambda g: garment_pixels(g, lighting)
            )
        dim = len(embeddings[0]) if embeddings else 0
        model = cls(
            version=version,
            encoder_version=encoder_version,
            kinds=kinds,
            colour_bins=tuple(colour_bins),
            kind_counts=kind_counts,
            outfit_count=len(outfits),
            colour_harmony=np.zeros((0, 0)),
            colour_cooccurrence=cooccurrence,
            index_embeddings=np.asarray(embeddings, dtype=np.float32).reshape(len(embeddings), dim),
            index_kinds=np.asarray(index_kinds, dtype=np.int64),
            index_partners=np.asarray(partners, dtype=np.int64).reshape(-1, n_kinds),
            weights=weights or OutfitWeights(),
            palette=palette,
            name_palette=name_palette,
            lighting=lighting,
        )
        n_harmony = palette_size or n_bins
        model.colour_harmony = _learn_colour_harmony(
            outfits, kinds, model.palette_histogram, n_harmony, colour_l2, seed
        )
        model.colour_centres = _colour_centres(outfits, kinds, model.palette_histogram, n_harmony)
        model.fit_partner_centres()
        return model

    def fit_partner_centres(self) -> None:
        """The mean partner vector of each kind's street garments towards each kind, for the
        current ``weights`` (neighbours, temperature): call again after changing them.

        Every index garment of kind a is a reference query; its own row is left out of its
        neighbours (else the mean would be the mean of the true partners, not of what the model
        answers for a garment it has not seen). A zero vector where no garment of a was worn with a b.
        """
        n_kinds = len(self.kinds)
        dim = self.index_embeddings.shape[1] if self.index_embeddings.ndim == 2 else 0
        centres = np.zeros((n_kinds, n_kinds, dim), dtype=np.float32)
        for a in range(n_kinds):
            queries = np.flatnonzero(self.index_kinds == a)
            for b in range(n_kinds):
                rows = np.flatnonzero((self.index_kinds == a) & (self.index_partners[:, b] >= 0))
                if a == b or len(queries) == 0 or len(rows) == 0:
                    continue
                similarity = self.index_embeddings[queries] @ self.index_embeddings[rows].T
                similarity[queries[:, None] == rows[None, :]] = -np.inf  # leave each query out
                take = min(self.weights.neighbours, len(rows))
                top = np.argsort(-similarity, axis=1, kind="stable")[:, :take]
                chosen = np.take_along_axis(similarity, top, axis=1)
                logits = chosen / self.weights.temperature
                valid = np.isfinite(chosen).any(axis=1)  # a lone garment has no neighbour but itself
                peak = np.where(valid, logits.max(axis=1), 0.0)[:, None]
                share = np.exp(logits - peak)  # exp(-inf) = 0: the query itself is left out
                share /= np.maximum(share.sum(axis=1, keepdims=True), 1e-30)
                partners = self.index_embeddings[self.index_partners[rows[top], b]]  # (q, take, D)
                if valid.any():
                    centres[a, b] = (share[valid, :, None] * partners[valid]).sum(axis=1).mean(axis=0)
        self.partner_centres = centres

    # --- the parts ------------------------------------------------------------------------

    def kind_pmi(self, a: str, b: str) -> float:
        i, j = self.kinds.index(a), self.kinds.index(b)
        n = max(self.outfit_count, 1)
        both, first, second = self.kind_counts[i, j], self.kind_counts[i, i], self.kind_counts[j, j]
        return float(np.log((both + 1.0) * n / ((first + 1.0) * (second + 1.0))))

    def complementary_kinds(self, kind: str, *, include_own: bool = False) -> list[str]:
        """Kinds worn with ``kind`` in at least ``COMPLEMENT_MIN_SHARE`` of its outfits, most often first.

        Never the kind itself unless ``include_own``. An unknown kind (e.g. the pipeline's
        whole-image "garment") gets every kind seen in the street, most common first.
        """
        if kind not in self.kinds:
            order = np.argsort(-np.diag(self.kind_counts), kind="stable")
            return [self.kinds[j] for j in order if self.kind_counts[j, j] > 0]
        i = self.kinds.index(kind)
        worn = max(self.kind_counts[i, i], 1.0)
        shares = self.kind_counts[i] / worn
        order = np.argsort(-shares, kind="stable")
        return [
            self.kinds[j]
            for j in order
            if (j != i and shares[j] >= COMPLEMENT_MIN_SHARE) or (j == i and include_own and worn > 0)
        ]

    def palette_histogram(self, garment: GarmentLike) -> np.ndarray:
        """The garment's histogram over the harmony's bins: its pixels at their nearest palette
        colour; without pixels (a catalog product) or without a palette (v001), from its colour names."""
        colours = np.asarray(garment.colours, dtype=np.float64)
        if self.palette is None:
            return colours
        stored = getattr(garment, "palette_root", None)
        if stored is not None:  # a catalog garment's stored colour, read by this model (``catalog_colour``)
            histogram = np.asarray(stored, dtype=np.float64) ** 2
            return histogram / max(histogram.sum(), 1e-12)
        pixels = garment_pixels(garment, self.lighting)
        if pixels is None or len(pixels) == 0:
            return colours @ self.name_palette
        nearest = _nearest(rgb_to_lab(pixels), self.palette)
        return np.bincount(nearest, minlength=len(self.palette)) / len(nearest)

    def colour_terms(self, garment: GarmentLike, candidate_kind: str) -> dict[str, float]:
        """Colour score of ``garment`` against a ``candidate_kind`` catalog product of each colour
        name (the product's histogram: that name's palette row), per name: what the look SQL looks up.

        One direction, centred on the candidate: its harmony with ``garment`` less ``centring`` x
        its mean harmony with the train garments of ``garment``'s kind (the hub correction)."""
        names = np.eye(len(self.colour_bins))
        rows = np.sqrt(names if self.name_palette is None else self.name_palette)
        values = rows @ self.colour_vector(garment, candidate_kind)
        return {name: float(v) for name, v in zip(self.colour_bins, values, strict=True)}

    def colour_vector(self, garment: GarmentLike, candidate_kind: str) -> np.ndarray:
        """u such that a ``candidate_kind`` candidate whose root histogram is r scores ``r · u``
        against ``garment`` (one direction, centred on the candidate, as ``colour_terms``): what
        the look SQL takes the inner product of with a catalog garment's stored colour."""
        root = self._centred_root(garment)
        return self.colour_harmony.T @ root if self._first(garment.kind, candidate_kind) else self.colour_harmony @ root

    @property
    def colour_key(self) -> str | None:
        """What a stored catalog colour (``catalog_colour``) is tied to: this model's version and a
        digest of its palette and lighting, so two models named alike but with other palettes never
        read each other's colours (their sizes could differ: the look SQL's inner product would
        fail). None without a palette."""
        if self.palette is None:
            return None
        digest = hashlib.sha1(np.ascontiguousarray(self.palette, dtype=np.float64).tobytes())
        digest.update(self.lighting.encode())
        return f"{self.version}-{digest.hexdigest()[:10]}"

    def catalog_colour(self, pixels: np.ndarray, photo_mean: np.ndarray | None = None) -> np.ndarray | None:
        """The root palette histogram stored for a catalog garment read as ``pixels`` (a sample of
        its own pixels, ``recommender.outfits.colour_read``); None for a model without a palette
        (v001) or without pixels. Tied to this model's palette: stored with its ``colour_key``."""
        if self.palette is None or pixels is None or len(pixels) == 0:
            return None
        pixels = photo_lighting.normalise(pixels, photo_mean, self.lighting)
        nearest = _nearest(rgb_to_lab(pixels), self.palette)
        return np.sqrt(np.bincount(nearest, minlength=len(self.palette)) / len(nearest))

    def _first(self, kind: str, other: str) -> bool:
        """Whether a ``kind`` garment takes the rows of ``colour_harmony`` against an ``other`` one."""
        order = {k: i for i, k in enumerate(self.kinds)}
        return order.get(kind, len(order)) <= order.get(other, len(order))

    def _colour_centre(self, kind: str) -> np.ndarray | None:
        """``centring`` x the kind's mean root histogram, or None (no correction, unknown kind)."""
        if self.colour_centres is None or not self.weights.centring or kind not in self.kinds:
            return None
        return self.weights.centring * self.colour_centres[self.kinds.index(kind)]

    def _centred_root(self, garment: GarmentLike) -> np.ndarray:
        root = np.sqrt(self.palette_histogram(garment))
        centre = self._colour_centre(garment.kind)
        return root if centre is None else root - centre

    def colour_score(self, first: GarmentLike, second: GarmentLike) -> float:
        """The learned harmony of a pair; with the hub correction, the mean of its two directions,
        each centred on its candidate: ``½ (r1 - m1)ᵀ W r2 + ½ r1ᵀ W (r2 - m2)``."""
        if not self._first(first.kind, second.kind):
            first, second = second, first
        r1, r2 = np.sqrt(self.palette_histogram(first)), np.sqrt(self.palette_histogram(second))
        c1, c2 = self._centred_root(first), self._centred_root(second)
        return float(0.5 * (c1 @ self.colour_harmony @ r2 + r1 @ self.colour_harmony @ c2))

    def colour_table_score(self, first: GarmentLike, second: GarmentLike) -> float:
        """The co-occurrence table's colour score (the benchmark's colour-only baseline)."""
        return float(np.asarray(first.colours) @ self.colour_cooccurrence @ np.asarray(second.colours))

    def one_hot(self, colour: str) -> np.ndarray:
        """The colour histogram of a catalog product (one colour name); uniform when unknown."""
        histogram = np.zeros(len(self.colour_bins))
        if colour in self.colour_bins:
            histogram[self.colour_bins.index(colour)] = 1.0
        else:
            histogram[:] = 1.0 / len(self.colour_bins)
        return histogram

    def partner_vector(
        self, embedding: np.ndarray, from_kind: str, to_kind: str, *, centred: bool = True
    ) -> np.ndarray | None:
        """Weighted mean embedding of the ``to_kind`` partners of the street garments like ``embedding``.

        None when no street garment of ``from_kind`` was worn with a ``to_kind`` (or a kind is
        unknown). Not normalised: ``candidate · P`` is the partners score. With ``centred`` (and
        ``weights.centring``) less ``centring`` x the kinds' mean partner vector, so the score is
        the candidate's against this garment less its mean over the kind's garments (hub correction).
        """
        if from_kind not in self.kinds or to_kind not in self.kinds or len(self.index_kinds) == 0:
            return None
        a, b = self.kinds.index(from_kind), self.kinds.index(to_kind)
        rows = np.flatnonzero((self.index_kinds == a) & (self.index_partners[:, b] >= 0))
        if len(rows) == 0:
            return None
        similarity = self.index_embeddings[rows] @ np.asarray(embedding, dtype=np.float32)
        top = np.argsort(-similarity, kind="stable")[: self.weights.neighbours]
        logits = similarity[top] / self.weights.temperature
        share = np.exp(logits - logits.max())
        share /= share.sum()
        vector = (share[:, None] * self.index_embeddings[self.index_partners[rows[top], b]]).sum(axis=0)
        if centred and self.weights.centring and self.partner_centres is not None:
            vector = vector - self.weights.centring * self.partner_centres[a, b]
        return vector

    def pair_features(self, first: GarmentLike, second: GarmentLike) -> np.ndarray:
        """(kind, colour, partners, direct) of a pair; embedding terms are 0 when one is missing."""
        kind = self.kind_pmi(first.kind, second.kind) if first.kind in self.kinds and second.kind in self.kinds else 0.0
        colour = self.colour_score(first, second)
        partners = direct = 0.0
        if first.embedding is not None and second.embedding is not None:
            scores = []
            for query, candidate in ((first, second), (second, first)):
                vector = self.partner_vector(query.embedding, query.kind, candidate.kind)
                if vector is not None:
                    scores.append(float(np.asarray(candidate.embedding) @ vector))
            partners = float(np.mean(scores)) if scores else 0.0
            direct = float(np.asarray(first.embedding) @ np.asarray(second.embedding))
        return np.array([kind, colour, partners, direct])

    # --- scores ---------------------------------------------------------------------------

    def raw(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features) @ self.weights.vector()

    def probability(self, raw: np.ndarray | float) -> np.ndarray:
        a, b = self.calibration
        return 1.0 / (1.0 + np.exp(-(a * np.asarray(raw) + b)))

    def pair_score(self, first: GarmentLike, second: GarmentLike) -> float:
        """Compatibility of two garments in [0, 1]."""
        return float(self.probability(self.raw(self.pair_features(first, second))))

    def set_score(self, garments: Sequence[GarmentLike]) -> tuple[float, list[tuple[int, int, float]]]:
        """(mean pair score, [(i, j, pair score) for i < j]) of 2 or more garments."""
        if len(garments) < 2:
            raise ValueError("an outfit score needs at least two garments")
        pairs = [
            (i, j, self.pair_score(garments[i], garments[j]))
            for i in range(len(garments))
            for j in range(i + 1, len(garments))
        ]
        return float(np.mean([p[2] for p in pairs])), pairs

    # --- files ----------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            folder / "outfits.npz",
            kind_counts=self.kind_counts,
            colour_harmony=self.colour_harmony,
            colour_cooccurrence=self.colour_cooccurrence,
            # half precision: unit vectors keep ~3 decimal digits, a fifth of the file size
            index_embeddings=self.index_embeddings.astype(np.float16),
            index_kinds=self.index_kinds,
            index_partners=self.index_partners,
            **({"palette": self.palette, "name_palette": self.name_palette} if self.palette is not None else {}),
            **(
                {"colour_centres": self.colour_centres, "partner_centres": self.partner_centres}
                if self.colour_centres is not None and self.partner_centres is not None
                else {}
            ),
        )
        meta = {
            "format": MODEL_FORMAT,
            "version": self.version,
            "encoder_version": self.encoder_version,
            "kinds": list(self.kinds),
            "colour_bins": list(self.colour_bins),
            "outfit_count": self.outfit_count,
            "weights": asdict(self.weights),
            "calibration": list(self.calibration),
            "card": self.card,
            "lighting": self.lighting,
        }
        (folder / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path) -> OutfitModel:
        folder = Path(folder)
        meta = json.loads((folder / "model.json").read_text())
        if meta.get("format") not in READABLE_FORMATS:
            raise ValueError(f"{folder}: not a fashionrec outfit model")
        if meta.get("lighting", photo_lighting.NONE) not in photo_lighting.METHODS:
            raise ValueError(f"{folder}: unknown lighting method {meta['lighting']!r}")
        with np.load(folder / "outfits.npz", allow_pickle=False) as arrays:
            return cls(
                version=meta["version"],
                encoder_version=meta["encoder_version"],
                kinds=tuple(meta["kinds"]),
                colour_bins=tuple(meta["colour_bins"]),
                kind_counts=arrays["kind_counts"],
                outfit_count=int(meta["outfit_count"]),
                colour_harmony=arrays["colour_harmony"],
                colour_cooccurrence=arrays["colour_cooccurrence"],
                index_embeddings=arrays["index_embeddings"].astype(np.float32),
                index_kinds=arrays["index_kinds"],
                index_partners=arrays["index_partners"],
                weights=OutfitWeights(**meta["weights"]),
                calibration=tuple(meta["calibration"]),
                card=meta.get("card", {}),
                palette=arrays.get("palette", None),
                name_palette=arrays.get("name_palette", None),
                colour_centres=arrays.get("colour_centres", None),
                partner_centres=arrays.get("partner_centres", None),
                lighting=meta.get("lighting", photo_lighting.NONE),
            )


def _nearest(lab: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Index of the nearest palette colour of each Lab row (|x|² - 2x·c + |c|²: no (n, P, 3) array)."""
    return np.argmin((palette**2).sum(axis=1)[None, :] - 2.0 * (lab @ palette.T), axis=1)


def garment_pixels(garment: GarmentLike, lighting: str) -> np.ndarray | None:
    """The garment's pixel sample as the palette reads it: normalised for its photo's lighting
    by ``lighting`` when the garment knows its photo's mean colour; None without pixels."""
    pixels = getattr(garment, "pixels", None)
    if pixels is None:
        return None
    return photo_lighting.normalise(pixels, getattr(garment, "photo_mean", None), lighting)


def _learn_palette(
    outfits,
    colour_bins: tuple[str, ...],
    size: int,
    namer: ColourNamer,
    seed: int,
    read_pixels: Callable[[GarmentLike], np.ndarray | None],
) -> tuple[np.ndarray, np.ndarray]:
    """(palette (size, 3) Lab, name_palette (C, size)): k-means of the garments' pixels in Lab
    (``PALETTE_PIXELS_PER_GARMENT`` sampled per garment, so a big coat does not outweigh the
    shoes), seeded; and per colour name the palette histogram of the sampled pixels given that name."""
    rng = np.random.default_rng(seed)
    samples = []
    for outfit in outfits:
        for garment in outfit:
            pixels = read_pixels(garment)
            if pixels is None or len(pixels) == 0:
                continue
            take = rng.choice(len(pixels), size=min(PALETTE_PIXELS_PER_GARMENT, len(pixels)), replace=False)
            samples.append(np.asarray(pixels)[take])
    if not samples:
        raise ValueError("no garment pixels to learn a palette from")
    rgb = np.concatenate(samples)
    lab = rgb_to_lab(rgb)
    if len(lab) < size:
        raise ValueError(f"{len(lab)} pixels cannot make a palette of {size} colours")
    centres = lab[rng.choice(len(lab), size=size, replace=False)]
    for _ in range(PALETTE_ITERATIONS):
        nearest = _nearest(lab, centres)
        for k in range(size):
            if (nearest == k).any():
                centres[k] = lab[nearest == k].mean(axis=0)
    nearest = _nearest(lab, centres)
    names = np.asarray(namer(rgb.astype(np.float32) / 255.0))
    name_palette = np.full((len(colour_bins), size), 1.0 / size)
    for i, name in enumerate(colour_bins):
        chosen = nearest[names == name]
        if len(chosen):
            name_palette[i] = np.bincount(chosen, minlength=size) / len(chosen)
    return centres, name_palette


def _colour_centres(
    outfits, kinds: Sequence[str], histogram: Callable[[GarmentLike], np.ndarray], n_bins: int
) -> np.ndarray:
    """(K, n_bins): the mean root histogram of the garments of each kind (zeros for a kind not worn)."""
    sums, counts = np.zeros((len(kinds), n_bins)), np.zeros(len(kinds))
    index = {k: i for i, k in enumerate(kinds)}
    for outfit in outfits:
        for garment in outfit:
            if garment.kind in index:
                sums[index[garment.kind]] += np.sqrt(histogram(garment))
                counts[index[garment.kind]] += 1
    return sums / np.maximum(counts, 1)[:, None]


def _learn_colour_harmony(
    outfits,
    kinds: Sequence[str],
    histogram: Callable[[GarmentLike], np.ndarray],
    n_bins: int,
    l2: float,
    seed: int,
) -> np.ndarray:
    """W of ``sqrt(p1)ᵀ W sqrt(p2)`` by L2-regularised logistic regression (Newton steps).

    Positives: every pair of garments of one outfit, ordered by kind; negatives: the first garment
    with ``NEGATIVES_PER_PAIR`` garments of the second's kind from other outfits. Both classes
    weigh half, so W measures "worn together" against "the same kinds, at random".
    """
    order = {k: i for i, k in enumerate(kinds)}
    roots = {id(g): np.sqrt(histogram(g)) for outfit in outfits for g in outfit}
    by_kind: dict[str, list[tuple[int, np.ndarray]]] = {}
    for position, outfit in enumerate(outfits):
        for g in outfit:
            by_kind.setdefault(g.kind, []).append((position, roots[id(g)]))
    rng = np.random.default_rng(seed)
    positives, negatives = [], []
    for position, outfit in enumerate(outfits):
        ranked = sorted(outfit, key=lambda g: order.get(g.kind, len(order)))
        for i, first in enumerate(ranked):
            root = roots[id(first)]
            for second in ranked[i + 1 :]:
                positives.append(np.outer(root, roots[id(second)]).ravel())
                others = [h for p, h in by_kind[second.kind] if p != position]
                picks = rng.choice(len(others), size=min(NEGATIVES_PER_PAIR, len(others)), replace=False)
                negatives += [np.outer(root, others[j]).ravel() for j in picks]
    if not positives or not negatives:
        return np.zeros((n_bins, n_bins))
    x = np.vstack([positives, negatives])
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    weight = np.where(y == 1, 0.5 / len(positives), 0.5 / len(negatives))
    w = np.zeros(x.shape[1])
    for _ in range(25):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (weight * (p - y)) + 2 * l2 * w
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x + 2 * l2 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w.reshape(n_bins, n_bins)
