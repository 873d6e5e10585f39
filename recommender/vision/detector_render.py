"""Draw detections on real photos of both kinds into one PNG (a visual check of a detector)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from catalog.label_layout import labels_place
from recommender.vision.detector import GarmentDetector
from recommender.vision.detector_data import is_ccp_holdout
from recommender.vision.taxonomy import GARMENT_CLASSES

_COLOURS = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
]


def sample_photos(ccp_dir: Path, catalog_dir: Path, *, people: int = 6, flat: int = 10) -> list[Path]:
    """Held-out CCP photos (never trained on) and one catalog validation photo per folder."""
    ccp = [p for p in sorted((Path(ccp_dir) / "photos").glob("*.jpg")) if is_ccp_holdout(int(p.stem))]
    step = max(1, len(ccp) // people)
    chosen = ccp[::step][:people]
    folders = sorted(p for p in (Path(catalog_dir) / "validation").iterdir() if p.is_dir())
    for folder in folders[:flat]:
        files = sorted(folder.glob("*.jpg"))
        chosen.append(files[len(files) // 2])
    return chosen


def render_detections(detector: GarmentDetector, photos: list[Path], out_path: Path, *, tile: int = 260) -> Path:
    font = ImageFont.load_default()
    tiles = []
    for path in photos:
        with Image.open(path) as raw:
            image = raw.convert("RGB")
        (detections,) = detector.detect([image])
        scale = tile / max(image.size)
        shown = image.resize((round(image.width * scale), round(image.height * scale)))
        draw = ImageDraw.Draw(shown)
        colours, texts, natural = [], [], []
        for d in detections:
            colour = (
                _COLOURS[GARMENT_CLASSES.index(d.label) % len(_COLOURS)]
                if d.label in GARMENT_CLASSES
                else (255, 255, 255)
            )
            box = [round(v * scale) for v in d.box]
            draw.rectangle(box, outline=colour, width=2)
            text = f"{d.label} {d.confidence:.2f}"
            colours.append(colour)
            texts.append(text)
            natural.append((box[0], box[1], box[0] + 6 * len(text) + 4, box[1] + 11))
        # labels after every box, placed apart (boxes of one outfit often share a corner)
        for colour, text, (x1, y1, x2, y2) in zip(
            colours, texts, labels_place(natural, shown.width, shown.height), strict=True
        ):
            draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=(0, 0, 0))
            draw.text((x1 + 2, y1), text, fill=colour, font=font)
        source = "ccp" if path.parent.name == "photos" else path.parent.name
        caption = f"{source}/{path.stem[:12]}" + ("" if detections else "  (no detection)")
        draw.rectangle([0, shown.height - 12, 6 * len(caption) + 4, shown.height], fill=(0, 0, 0))
        draw.text((2, shown.height - 12), caption, fill=(255, 255, 255), font=font)
        tiles.append(shown)
    columns = 8
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * tile, rows * tile), (255, 255, 255))
    for i, shown in enumerate(tiles):
        sheet.paste(shown, ((i % columns) * tile, (i // columns) * tile))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # 256-colour palette: a third of the bytes of a true-colour PNG, plenty to judge boxes by
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out_path, optimize=True)
    return out_path
