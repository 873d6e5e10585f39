"""The GPU pack and its entry point, run on CPU: a tiny two-step-per-epoch training from the pack alone."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from PIL import Image

from recommender.vision.detector_gpu import (
    PACK_LIMIT_BYTES,
    WEBP_QUALITY,
    PackTooLarge,
    pack_detector_run,
    unpack_dataset,
)

REPO = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    # given a pack of 2 photos per source and split at imgsz 64 (wheels fetched once into the data cache)
    root = tmp_path_factory.mktemp("gpu")
    call_command(
        "pack_detector_gpu",
        output=root / "pack",
        cache=root / "cache",
        wheels=Path(settings.DATA_DIR) / "cache" / "gpu-wheels",
        imgsz=64,
        epochs=2,
        batch=2,
        limit=2,
    )
    return root / "pack"


def test_pack_holds_resized_photos_labels_recipe_and_the_missing_wheels(pack):
    # then the pack is one folder under the limit
    size = sum(p.stat().st_size for p in pack.rglob("*") if p.is_file())
    assert size < PACK_LIMIT_BYTES

    # with the recipe and the wheels a PyTorch-only machine lacks, for Python 3.12
    manifest = json.loads((pack / "pack.json").read_text())
    assert manifest["recipe"]["model_yaml"] == "yolov8n-seg.yaml"
    assert manifest["recipe"]["imgsz"] == 64 and manifest["recipe"]["epochs"] == 2
    assert manifest["images"] == {"selection": 2, "train": 4}
    wheels = sorted(p.name.split("-")[0].lower() for p in (pack / "wheels").glob("*.whl"))
    assert wheels == ["psutil", "pyyaml", "ultralytics", "ultralytics_thop"]
    assert any("cp312" in p.name for p in (pack / "wheels").glob("pyyaml-*.whl"))

    # and photos resized to the input size as WebP in a gzipped tar, each with its label file unchanged
    assert manifest["dataset"] == "dataset.tar.gz" and manifest["webp_quality"] == WEBP_QUALITY
    with tarfile.open(pack / "dataset.tar.gz", "r:gz") as archive:
        names = archive.getnames()
        images = [n for n in names if n.startswith("dataset/images/") and "." in n.rsplit("/", 1)[-1]]
        assert len(images) == 6 and all(n.endswith(".webp") for n in images)
        assert all(n.replace("/images/", "/labels/").replace(".webp", ".txt") in names for n in images)
        data = archive.extractfile(images[0]).read()
        label = images[0].replace("/images/", "/labels/").replace(".webp", ".txt")
        packed_label = archive.extractfile(label).read()
    (source_label,) = (pack.parent / "cache").glob(f"detector-seg-*/{label.removeprefix('dataset/')}")
    assert packed_label == source_label.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "WEBP" and max(image.size) == 64
    # decoded the way ultralytics reads photos (OpenCV, whose wheels ship libwebp), the same pixels as Pillow's
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (image.height, image.width, 3)
    with Image.open(io.BytesIO(data)) as image:
        assert np.abs(decoded[..., ::-1].astype(int) - np.asarray(image.convert("RGB"), int)).max() <= 1


def test_a_pack_over_the_limit_is_refused_and_removed(pack, tmp_path):
    # given the dataset of the pack above, unpacked
    with tarfile.open(pack / "dataset.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    (tmp_path / "dataset" / "data.yaml").write_text("")

    # when it is packed with a 10 kB limit
    with pytest.raises(PackTooLarge):
        pack_detector_run(
            tmp_path / "big",
            data_yaml=tmp_path / "dataset" / "data.yaml",
            wheels=[],
            recipe={},
            imgsz=64,
            limit_bytes=10_000,
        )

    # then nothing half-written is left
    assert not (tmp_path / "big").exists()


def test_packing_the_detector_leaves_the_encoders_part_of_the_folder(pack, tmp_path):
    # given a pack folder that already holds the encoder's part (manage.py pack_encoder_gpu), 2 MB of it
    with tarfile.open(pack / "dataset.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    (tmp_path / "dataset" / "data.yaml").write_text("")
    encoder_part = tmp_path / "shared" / "encoder"
    encoder_part.mkdir(parents=True)
    (encoder_part / "samples.npz").write_bytes(b"x" * 2_000_000)

    # when the detector is packed into it with a 1 MB limit, then refused into it with a 10 kB one
    manifest = pack_detector_run(
        tmp_path / "shared",
        data_yaml=tmp_path / "dataset" / "data.yaml",
        wheels=[],
        recipe={},
        imgsz=64,
        limit_bytes=1_000_000,
    )
    with pytest.raises(PackTooLarge):
        pack_detector_run(
            tmp_path / "shared",
            data_yaml=tmp_path / "dataset" / "data.yaml",
            wheels=[],
            recipe={},
            imgsz=64,
            limit_bytes=10_000,
        )

    # then its limit counted only its own parts, and the encoder's part survived both
    assert 0 < manifest["bytes"] < 1_000_000
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == ["encoder"]
    assert (encoder_part / "samples.npz").stat().st_size == 2_000_000


def test_entry_point_installs_from_the_pack_and_trains_without_django(pack, tmp_path):
    # when the entry point runs as a plain script on CPU, installing ultralytics from the pack and using
    # the stand-ins a machine without polars and torchvision would get, first with a budget that
    # stops it after one epoch, then resuming that run
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    command = [sys.executable, "-m", "recommender.vision.detector_gpu", "--pack", str(pack), "--out", str(out)]
    command += ["--device", "cpu", "--workers", "0", "--force-install", "--stand-ins", "polars,torchvision"]
    paused = subprocess.run([*command, "--minutes", "0.01"], cwd=REPO, env=env, capture_output=True, text=True)
    assert paused.returncode == 0, paused.stdout[-3000:] + paused.stderr[-3000:]
    first = json.loads((out / "summary.json").read_text())
    resume = ["--resume", first["run"], "--minutes", "10"]
    finished = subprocess.run([*command, *resume], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]

    # then the first call stopped after epoch 1 and the second finished the packed schedule (2 epochs of
    # 2 steps) in the same run folder, finalised on the selection photos
    assert (first["epochs_done"], first["finished"]) == (1, False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["epochs_done"] == 2
    assert summary["run"] == first["run"]
    assert summary["stand_ins"] == ["polars", "torchvision"]
    assert not summary["django_imported"]
    # ultralytics came from the pack's wheel, installed under OUT
    assert summary["ultralytics"].startswith(str(out / "site-packages"))
    assert any(name.startswith("ultralytics-") for name in summary["installed"])
    # ultralytics found every packed WebP photo and its label (a photo without one would train as background)
    from ultralytics.data.utils import load_dataset_cache_file

    for split, count in (("train", 4), ("selection", 2)):
        found, missing, empty, corrupt, total = load_dataset_cache_file(
            out / "data" / "dataset" / "labels" / f"{split}.cache"
        )["results"]
        assert (found, missing, empty, corrupt, total) == (count, 0, 0, 0, count)
    run = Path(summary["run"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["selection_ccp"]["images"] == 2
    assert (run / "detector.pt").stat().st_size > 0


def test_a_format_1_pack_of_jpegs_still_unpacks(pack, tmp_path):
    # given a pack as written before WebP: an uncompressed dataset.tar and no "dataset" in pack.json
    old = tmp_path / "old"
    with tarfile.open(pack / "dataset.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    old.mkdir()
    with tarfile.open(old / "dataset.tar", "w") as archive:
        archive.add(tmp_path / "dataset", arcname="dataset")
    (old / "pack.json").write_text(json.dumps({"format": 1, "recipe": {}}))

    # when it is unpacked on the GPU machine
    data_yaml = unpack_dataset(old, tmp_path / "there")

    # then the photos and labels are there, with a data.yaml pointing at them
    assert data_yaml == tmp_path / "there" / "dataset" / "data.yaml"
    assert f"path: {(tmp_path / 'there' / 'dataset').resolve()}" in data_yaml.read_text()
    assert len(list((tmp_path / "there" / "dataset" / "labels" / "train").glob("*.txt"))) == 4
