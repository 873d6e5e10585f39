"""Street-photo detection benchmark: does the API's vision path find the garments a person wears?

Every photo goes through `VisionPipeline.analyse` (decode → detect → main garment first → crop →
encode), the code path of `POST /api/v1/recommendations/`, with the served weights and confidence
(`FASHIONREC_DETECTOR_WEIGHTS`, `FASHIONREC_DETECTOR_CONFIDENCE`) unless overridden.

- Photos: the CCP **report** split (number divisible by 7, 129 photos): never trained on, never
  used for a choice. `--split selection` scores the selection split instead (numbers ending in 3,
  not divisible by 7): use that one to choose checkpoints, confidences and settings.
- Ground truth: `detector_data.boxes_from_label_map`, the box rule as it was before the
  segmenting detector (a garment worn once is one box, each shoe its own, specks dropped). The
  training outlines (`detector_segments`) are not used here.
- Matching, per photo: ground-truth and detected boxes paired one-to-one by IoU ≥ 0.5, highest
  IoU first, whatever their labels (a box around the right garment with the wrong label counts
  for recall and against label accuracy). The whole-image fallback is not a detection.

Measures: recall50 (matched / ground-truth boxes), main_recall50 (the same over top, outerwear,
dress, trousers, skirt, shorts), precision50 (matched / detected boxes), label_acc (matched pairs
with the same label), per-class recall, main_garment (photos whose ground truth has a main garment
and whose default garment, index 0, is of a main kind and overlaps a main ground-truth garment at
IoU ≥ 0.5), detect p50/p95 ms (the pipeline's own detect timing, one photo at a time).

Writes `bench/reports/detect.md` (or `detect-selection.md`) and a contact sheet `detect.png` of 12
photos (ground truth thin green, detections red with labels, the default garment thick). Last line:
`recall50 <v> main_recall50 <v> precision50 <v> label_acc <v> main_garment <v> detect_p95_ms <v>`.

    .venv/bin/python bench/detect.py [--split report|selection] [--weights PATH] [--confidence C] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "bench" / "reports"
MAIN_KINDS = ("top", "outerwear", "dress", "trousers", "skirt", "shorts")
IOU_THRESHOLD = 0.5
SHEET_PHOTOS = 12


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionrec.settings")
    import django

    django.setup()


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(truth: list, found: list) -> list[tuple[int, int]]:
    """(truth index, found index) pairs, one-to-one, IoU ≥ 0.5, highest IoU first (labels ignored)."""
    candidates = sorted(
        ((iou(t[1], f[1]), ti, fi) for ti, t in enumerate(truth) for fi, f in enumerate(found)), reverse=True
    )
    used_t, used_f, pairs = set(), set(), []
    for overlap, ti, fi in candidates:
        if overlap < IOU_THRESHOLD:
            break
        if ti not in used_t and fi not in used_f:
            used_t.add(ti)
            used_f.add(fi)
            pairs.append((ti, fi))
    return pairs


@dataclass
class PhotoResult:
    name: str
    truth: list  # [(label, box)]
    found: list  # [(label, box, confidence)], default garment first
    pairs: list
    detect_ms: float


def score(results: list[PhotoResult]) -> dict:
    truth_total = sum(len(r.truth) for r in results)
    found_total = sum(len(r.found) for r in results)
    matched = sum(len(r.pairs) for r in results)
    main_truth = sum(1 for r in results for label, _ in r.truth if label in MAIN_KINDS)
    main_matched = sum(1 for r in results for ti, _ in r.pairs if r.truth[ti][0] in MAIN_KINDS)
    same_label = sum(1 for r in results for ti, fi in r.pairs if r.truth[ti][0] == r.found[fi][0])
    per_class = {}
    for label in sorted({label for r in results for label, _ in r.truth}):
        total = sum(1 for r in results for t, _ in r.truth if t == label)
        hits = sum(1 for r in results for ti, _ in r.pairs if r.truth[ti][0] == label)
        per_class[label] = (hits, total)
    with_main = [r for r in results if any(label in MAIN_KINDS for label, _ in r.truth)]
    main_ok = 0
    for r in with_main:
        if r.found and r.found[0][0] in MAIN_KINDS:
            default_box = r.found[0][1]
            if any(label in MAIN_KINDS and iou(box, default_box) >= IOU_THRESHOLD for label, box in r.truth):
                main_ok += 1
    default_kinds: dict[str, int] = {}
    for r in results:
        kind = "none (whole photo)" if not r.found else ("main" if r.found[0][0] in MAIN_KINDS else r.found[0][0])
        default_kinds[kind] = default_kinds.get(kind, 0) + 1
    timings = sorted(r.detect_ms for r in results)
    return {
        "photos": len(results),
        "truth_boxes": truth_total,
        "detected_boxes": found_total,
        "recall50": matched / max(1, truth_total),
        "main_recall50": main_matched / max(1, main_truth),
        "precision50": matched / max(1, found_total),
        "label_acc": same_label / max(1, matched),
        "main_garment": main_ok / max(1, len(with_main)),
        "photos_with_main": len(with_main),
        "no_box_photos": sum(1 for r in results if not r.found),
        "per_class": per_class,
        "default_kinds": default_kinds,
        "detect_p50_ms": statistics.median(timings) if timings else 0.0,
        "detect_p95_ms": _percentile(timings, 0.95) if timings else 0.0,
    }


def _percentile(ordered: list[float], q: float) -> float:
    rank = (len(ordered) - 1) * q
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def photos_of_split(ccp_dir: Path, split: str) -> list[Path]:
    # the split rules, restated here rather than imported from the training code they check
    def wanted(number: int) -> bool:
        if split == "report":
            return number % 7 == 0
        return number % 7 != 0 and number % 10 == 3

    annotations = ccp_dir / "annotations" / "pixel-level"
    return [
        p
        for p in sorted((ccp_dir / "photos").glob("*.jpg"))
        if wanted(int(p.stem)) and (annotations / f"{p.stem}.mat").exists()
    ]


def contact_sheet(results: list[PhotoResult], photos: dict[str, Path], out: Path, *, tile: int = 300) -> None:
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    font = ImageFont.load_default()
    step = max(1, len(results) // SHEET_PHOTOS)
    chosen = results[::step][:SHEET_PHOTOS]
    columns = 4
    rows = -(-len(chosen) // columns)
    sheet = Image.new("RGB", (columns * tile, rows * tile), (255, 255, 255))
    for n, r in enumerate(chosen):
        with Image.open(photos[r.name]) as raw:
            image = ImageOps.exif_transpose(raw).convert("RGB")
        scale = min(tile / image.width, (tile - 14) / image.height)
        image = image.resize((round(image.width * scale), round(image.height * scale)))
        draw = ImageDraw.Draw(image)
        for _, box in r.truth:
            draw.rectangle([v * scale for v in box], outline=(40, 170, 60), width=1)
        placed: list[tuple[float, float]] = []
        for i, (label, box, confidence) in enumerate(r.found):
            x1, y1, x2, y2 = (v * scale for v in box)
            draw.rectangle((x1, y1, x2, y2), outline=(220, 30, 30), width=3 if i == 0 else 1)
            text = f"{label} {confidence:.2f}"
            # labels inside the box's top edge, moved down while they would overlap an earlier one
            ty = y1 + 1
            while any(abs(ty - py) < 11 and abs(x1 - px) < 60 for px, py in placed):
                ty += 11
            placed.append((x1, ty))
            width = draw.textlength(text, font=font)
            draw.rectangle((x1 + 1, ty, x1 + 3 + width, ty + 10), fill=(220, 30, 30))
            draw.text((x1 + 2, ty - 1), text, fill=(255, 255, 255), font=font)
        x, y = (n % columns) * tile, (n // columns) * tile
        sheet.paste(image, (x, y))
        caption = f"{r.name}: {len(r.pairs)}/{len(r.truth)} found"
        ImageDraw.Draw(sheet).text((x + 2, y + tile - 13), caption, fill=(0, 0, 0), font=font)
    sheet.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("report", "selection"), default="report")
    parser.add_argument("--weights", type=Path, default=None, help="detector weights (default: the served ones)")
    parser.add_argument("--confidence", type=float, default=None, help="default: FASHIONREC_DETECTOR_CONFIDENCE")
    parser.add_argument("--imgsz", type=int, default=None, help="default: FASHIONREC_DETECTOR_IMGSZ (320)")
    parser.add_argument("--limit", type=int, default=None, help="first N photos of the split (quick checks)")
    parser.add_argument(
        "--max-garments", type=int, default=None, help="boxes kept per photo (default: the pipeline's cap)"
    )
    # one core: on the shared machine two threads thrash (p95 5.6 s vs 0.16 s at load 15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    _setup_django()

    import torch
    from django.conf import settings

    from recommender.vision.detector import GarmentDetector
    from recommender.vision.detector_data import boxes_from_label_map, ccp_label_names
    from recommender.vision.encoder import load_encoder
    from recommender.vision.pipeline import VisionPipeline

    torch.set_num_threads(args.threads)
    weights = args.weights or Path(settings.FASHIONREC_DETECTOR_WEIGHTS)
    confidence = settings.FASHIONREC_DETECTOR_CONFIDENCE if args.confidence is None else args.confidence
    imgsz = args.imgsz or int(getattr(settings, "FASHIONREC_DETECTOR_IMGSZ", 320))
    pipeline = VisionPipeline(
        load_encoder(settings.FASHIONREC_ENCODER_WEIGHTS),
        GarmentDetector(weights, confidence=confidence, imgsz=imgsz),
        max_bytes=settings.FASHIONREC_MAX_UPLOAD_BYTES,
        max_pixels=settings.FASHIONREC_MAX_IMAGE_PIXELS,
    )
    if args.max_garments is not None:
        pipeline.max_garments = args.max_garments
    ccp_dir = Path(settings.FASHIONREC_CCP_DATASET)
    import scipy.io

    names = ccp_label_names(ccp_dir)
    photos = photos_of_split(ccp_dir, args.split)[: args.limit]
    pipeline.analyse(photos[0].read_bytes())  # warm-up: first-call allocations are not a query's cost

    results = []
    for path in photos:
        label_map = scipy.io.loadmat(str(ccp_dir / "annotations" / "pixel-level" / f"{path.stem}.mat"))["groundtruth"]
        truth = [(b.garment, b.box) for b in boxes_from_label_map(label_map, names)]
        analysis = pipeline.analyse(path.read_bytes())
        if (analysis.height, analysis.width) != label_map.shape:
            raise SystemExit(f"{path}: photo {analysis.width}×{analysis.height} vs label map {label_map.shape}")
        found = [(g.label, g.box, g.confidence) for g in analysis.garments if not g.is_whole_image]
        results.append(PhotoResult(path.stem, truth, found, match(truth, found), analysis.timings_ms["detect"]))

    s = score(results)
    suffix = "" if args.split == "report" else f"-{args.split}"
    sheet = REPORTS / f"detect{suffix}.png"
    contact_sheet(results, {p.stem: p for p in photos}, sheet)
    report = REPORTS / f"detect{suffix}.md"
    report.write_text(markdown(s, args, weights, confidence, imgsz, sheet.name))
    print(report.read_text())
    print(
        f"recall50 {s['recall50']:.3f} main_recall50 {s['main_recall50']:.3f} precision50 {s['precision50']:.3f} "
        f"label_acc {s['label_acc']:.3f} main_garment {s['main_garment']:.3f} detect_p95_ms {s['detect_p95_ms']:.1f}"
    )


def markdown(s: dict, args, weights: Path, confidence: float, imgsz: int, sheet: str) -> str:
    try:
        shown = weights.resolve().relative_to(ROOT)
    except ValueError:
        shown = weights
    split = {
        "report": "report split (CCP photos whose number is divisible by 7; never trained on, never used for a choice)",
        "selection": "selection split (CCP numbers ending in 3, not divisible by 7; used for choices)",
    }[args.split]
    cap = f"{args.max_garments} per photo, --max-garments" if args.max_garments else "6 per photo, the pipeline's cap"
    lines = [
        "# Street-photo detection (`make bench-detect`)",
        "",
        f"{s['photos']} photos of the {split}, through `VisionPipeline.analyse` with `{shown}` at confidence "
        f"{confidence:g}, imgsz {imgsz}, {args.threads} torch threads on {platform.machine()} "
        f"({os.cpu_count()} cores, shared). Ground truth: `detector_data.boxes_from_label_map` "
        f"({s['truth_boxes']} boxes); {s['detected_boxes']} boxes detected (at most {cap}).",
        "",
        "| measure | value | target |",
        "|---|---:|---:|",
        f"| recall50 (all garments, IoU ≥ 0.5) | {s['recall50']:.3f} | ≥ 0.65 |",
        f"| main_recall50 (top, outerwear, dress, trousers, skirt, shorts) | {s['main_recall50']:.3f} | ≥ 0.75 |",
        f"| precision50 | {s['precision50']:.3f} | ≥ 0.60 |",
        f"| label_acc (matched boxes with the right label) | {s['label_acc']:.3f} | ≥ 0.85 |",
        f"| main_garment ({s['photos_with_main']} photos with a main garment) | {s['main_garment']:.3f} | ≥ 0.85 |",
        f"| photos with no box at all | {s['no_box_photos']} of {s['photos']} | |",
        f"| detect p50 / p95 ms | {s['detect_p50_ms']:.1f} / {s['detect_p95_ms']:.1f} | |",
        "",
        "| class | ground-truth boxes | recall50 |",
        "|---|---:|---:|",
    ]
    for label, (hits, total) in s["per_class"].items():
        lines.append(f"| {label} | {total} | {hits / max(1, total):.3f} |")
    lines += ["", "Default garment (index 0) of each photo:", "", "| kind | photos |", "|---|---:|"]
    lines += [f"| {kind} | {count} |" for kind, count in sorted(s["default_kinds"].items())]
    lines += [
        "",
        f"Contact sheet `{sheet}`: 12 photos, ground truth thin green, detections red with label and confidence, "
        "the default garment thick.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
