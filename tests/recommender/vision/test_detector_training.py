import json
import shutil
from pathlib import Path

import pytest
import torch
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from recommender.vision.detector import GarmentDetector
from recommender.vision.detector_training import is_paused
from recommender.vision.taxonomy import GARMENT_CLASSES


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory, django_db_setup, django_db_blocker):
    # given a tiny training run (4 photos per source and split, 1 epoch, imgsz 64), done twice
    root = tmp_path_factory.mktemp("detector")
    options = dict(limit=4, epochs=1, imgsz=64, batch=4, output=root / "runs", cache=root / "cache", no_flat_eval=True)
    with django_db_blocker.unblock():  # the command reads the staff-corrected boxes (none here)
        call_command("train_detector", **options)
        call_command("train_detector", **options)
    return root / "runs"


# django_db on each test of tiny_runs: pytest-django sets the test database up only for a session
# holding such a test, and the fixture reads the staff corrections
@pytest.mark.django_db
def test_train_detector_writes_versioned_loadable_weights_with_metrics(tiny_runs):
    # then each run has its own version folder with stripped weights and per-class metrics
    assert sorted(p.name for p in tiny_runs.iterdir()) == ["v001", "v002"]
    weights = tiny_runs / "v002" / "detector.pt"
    assert weights.stat().st_size < 6.5e6
    assert "optimizer" not in torch.load(weights, map_location="cpu", weights_only=False) or (
        torch.load(weights, map_location="cpu", weights_only=False)["optimizer"] is None
    )
    metrics = json.loads((tiny_runs / "v002" / "metrics.json").read_text())
    assert set(metrics["heldout_ccp"]["per_class_map50"]) == set(GARMENT_CLASSES)
    assert metrics["heldout_ccp"]["images"] == 4
    assert (tiny_runs / "v002" / "detections.png").exists()

    # and the weights load into the detector with the taxonomy's labels
    detector = GarmentDetector(weights, imgsz=64, confidence=0.0)
    assert list(detector.labels.values()) == list(GARMENT_CLASSES)
    detections = detector.detect([Image.new("RGB", (90, 120), (200, 30, 30))])
    assert len(detections) == 1


@pytest.mark.django_db
def test_training_is_deterministic_for_a_seed(tiny_runs):
    # then two runs with the same seed and data end with identical weights
    first = torch.load(tiny_runs / "v001" / "detector.pt", map_location="cpu", weights_only=False)["model"]
    second = torch.load(tiny_runs / "v002" / "detector.pt", map_location="cpu", weights_only=False)["model"]
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.django_db
def test_user_weights_with_foreign_class_names_are_mapped_or_kept(tiny_runs, tmp_path):
    # given a YOLO checkpoint whose classes are named like DeepFashion2's, plus one unknown name
    checkpoint = torch.load(tiny_runs / "v001" / "detector.pt", map_location="cpu", weights_only=False)
    foreign = ["short_sleeved_shirt", "long_sleeved_outwear", "sling_dress", "trousers", "skirt", "shorts"]
    checkpoint["model"].names = dict(enumerate([*foreign, "footwear", "umbrella", "bag"]))
    path = tmp_path / "deepfashion2.pt"
    torch.save(checkpoint, path)

    # when it is loaded
    detector = GarmentDetector(path, imgsz=64)

    # then known names map onto the taxonomy and unknown ones keep their own name
    assert detector.labels == {
        0: "top",
        1: "outerwear",
        2: "dress",
        3: "trousers",
        4: "skirt",
        5: "shorts",
        6: "shoes",
        7: "umbrella",
        8: "bag",
    }


def test_missing_weights_fail_clearly_instead_of_downloading(tmp_path):
    with pytest.raises(FileNotFoundError):
        GarmentDetector(tmp_path / "yolov8n.pt")


@pytest.fixture(scope="module")
def paused_seg_run(tmp_path_factory):
    # given a tiny segmenting run (2 photos per source and split, imgsz 64) whose one-second budget
    # stops it after its first of two epochs (no database: staff labels are tested with tiny_runs,
    # catalog kinds in tests/recommender/vision/test_taxonomy_kinds.py)
    root = tmp_path_factory.mktemp("seg-detector")
    call_command(
        "train_detector",
        model="yolov8n-seg.yaml",
        limit=2,
        epochs=2,
        imgsz=64,
        batch=2,
        minutes=1e-6,  # no epoch fits: stops after epoch 1 on any machine
        optimizer="SGD",
        output=root / "runs",
        cache=root / "cache",
        no_flat_eval=True,
        no_staff_labels=True,
        no_catalog_kinds=True,
    )
    return root / "runs" / "v001"


def test_a_budget_stop_leaves_a_resumable_run_that_resume_finishes(paused_seg_run):
    # then the paused run has one epoch, no final weights, and a last.pt that still holds its optimizer
    assert len((paused_seg_run / "results.csv").read_text().strip().splitlines()) == 2  # header + epoch 1
    assert not (paused_seg_run / "detector.pt").exists()
    assert is_paused(paused_seg_run)

    # when it is resumed without a budget, on a machine that lacks the run's dataset cache (a run
    # committed by another session)
    shutil.rmtree(paused_seg_run.parent.parent / "cache")
    elsewhere = paused_seg_run.parent.parent / "another-cache"
    call_command(
        "train_detector", resume=str(paused_seg_run), output=paused_seg_run.parent, cache=elsewhere, no_flat_eval=True
    )

    # then it ran the remaining epoch of the same schedule and was finalised on the selection split
    assert len((paused_seg_run / "results.csv").read_text().strip().splitlines()) == 3
    assert not is_paused(paused_seg_run)
    assert any(elsewhere.rglob("data.yaml"))  # the dataset was built again from the photos
    metrics = json.loads((paused_seg_run / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 2
    assert metrics["selection_ccp"]["images"] == 2
    assert "heldout_ccp" not in metrics

    # and its weights, exported with their mask head, serve boxes and masks through the detector
    served = torch.load(paused_seg_run / "detector.pt", map_location="cpu", weights_only=False)["model"]
    assert served.yaml["head"][-1][2] == "Segment"
    detector = GarmentDetector(paused_seg_run / "detector.pt", imgsz=64, confidence=0.0)
    assert list(detector.labels.values()) == list(GARMENT_CLASSES)
    (detections,) = detector.detect([Image.new("RGB", (90, 120), (200, 30, 30))])
    assert detections and all(0 <= d.box[0] < d.box[2] <= 90 for d in detections)
    assert all(d.mask.shape == (d.box[3] - d.box[1], d.box[2] - d.box[0]) for d in detections)


def test_export_serves_the_same_boxes_and_masks_without_the_optimizer(paused_seg_run, tmp_path):
    # given the tiny segmenting run's checkpoint (with optimizer and mask head)
    checkpoint = paused_seg_run / "weights" / "last.pt"
    served = tmp_path / "served.pt"

    # when it is exported for serving, as the shipped detector is
    call_command("export_detector", str(checkpoint), str(served))

    # then the served model keeps its mask head but no optimizer state
    exported = torch.load(served, map_location="cpu", weights_only=False)
    assert exported["optimizer"] is None and exported["ema"] is None
    assert exported["model"].yaml["head"][-1][2] == "Segment"

    # and it finds exactly the boxes, and the masks, the checkpoint finds
    photo = Image.open(sorted((Path(settings.FASHIONREC_CCP_DATASET) / "photos").iterdir())[0]).convert("RGB")
    original = GarmentDetector(checkpoint, imgsz=64, confidence=0.0).detect([photo])
    found = GarmentDetector(served, imgsz=64, confidence=0.0).detect([photo])
    assert found == original and original[0]
    for mine, theirs in zip(found[0], original[0], strict=True):
        assert mine.mask.shape == (mine.box[3] - mine.box[1], mine.box[2] - mine.box[0])
        # half precision moves a few logits across 0 at the edges, no more
        assert (mine.mask != theirs.mask).mean() < 0.05


def test_a_boxes_only_export_serves_the_same_boxes_without_the_mask_branch_or_optimizer(paused_seg_run, tmp_path):
    # given the tiny segmenting run's checkpoint (with optimizer and mask head)
    checkpoint = paused_seg_run / "weights" / "last.pt"
    served = tmp_path / "served.pt"

    # when it is exported for serving with boxes only
    call_command("export_detector", str(checkpoint), str(served), "--boxes-only")

    # then the served model is a detection model without the mask branch or optimizer state
    exported = torch.load(served, map_location="cpu", weights_only=False)
    assert exported["optimizer"] is None and exported["ema"] is None
    assert exported["model"].yaml["head"][-1][2] == "Detect"
    assert not any(".proto." in key or ".cv4." in key for key in exported["model"].state_dict())

    # and it finds exactly the boxes the checkpoint finds
    photo = Image.open(sorted((Path(settings.FASHIONREC_CCP_DATASET) / "photos").iterdir())[0]).convert("RGB")
    original = GarmentDetector(checkpoint, imgsz=64, confidence=0.0).detect([photo])
    boxes_only = GarmentDetector(served, imgsz=64, confidence=0.0).detect([photo])
    assert boxes_only == original and original[0]
    assert all(d.mask is None for d in boxes_only[0])


def _optimizer_steps(run: Path) -> int:
    checkpoint = torch.load(run / "weights" / "last.pt", map_location="cpu", weights_only=False)
    return int(checkpoint["optimizer"]["state"][0]["step"])


def test_a_slimmed_checkpoint_resumes_the_schedule_with_fresh_adamw_moments(tmp_path):
    # given a tiny AdamW segmenting run of 3 epochs (an optimizer step each batch of 2) paused by its
    # budget after epoch 1, and a copy of it
    # a budget no epoch fits: every invocation stops after its first epoch, however fast the machine
    # (one second was not enough: a warm resume ran epochs 2 and 3 within it)
    options = dict(limit=2, imgsz=64, batch=2, minutes=1e-6, no_flat_eval=True)
    call_command(
        "train_detector",
        model="yolov8n-seg.yaml",
        epochs=3,
        optimizer="AdamW",
        nominal_batch=2,
        output=tmp_path / "runs",
        cache=tmp_path / "cache",
        no_staff_labels=True,
        no_catalog_kinds=True,
        **options,
    )
    run = tmp_path / "runs" / "v001"
    control = tmp_path / "control" / "v001"
    shutil.copytree(run, control)
    first_epoch = (run / "results.csv").read_text().strip().splitlines()
    steps_in_epoch_1 = _optimizer_steps(run)
    full = (run / "weights" / "last.pt").stat().st_size

    # when one is slimmed (twice: the second leaves it as it is) and both are resumed for one more epoch
    call_command("slim_detector_checkpoint", str(run))
    slim = (run / "weights" / "last.pt").stat().st_size
    call_command("slim_detector_checkpoint", str(run / "weights" / "last.pt"))
    assert (run / "weights" / "last.pt").stat().st_size == slim
    assert is_paused(run)  # still resumable: ultralytics would start a new training otherwise
    for folder in (run, control):
        call_command("train_detector", resume=str(folder), output=folder.parent, cache=tmp_path / "cache", **options)

    # then the slimmed file lost the AdamW moments (two fp32 tensors per parameter, ~4/5 of it)
    assert slim < full * 0.3
    # and the resume continued the same run: epoch 1's row kept, epoch 2 added, paused again
    resumed = (run / "results.csv").read_text().strip().splitlines()
    assert resumed[:2] == first_epoch and len(resumed) == 3
    assert is_paused(run) and not (run / "detector.pt").exists()
    # with AdamW's moments started afresh at epoch 2, where the unslimmed copy carried epoch 1's on
    assert steps_in_epoch_1 > 0
    assert _optimizer_steps(run) == _optimizer_steps(control) - steps_in_epoch_1


def test_slimming_refuses_a_finished_checkpoint(paused_seg_run, tmp_path):
    # given a checkpoint without an optimizer (as a finished run's or an export's)
    served = tmp_path / "served.pt"
    call_command("export_detector", str(paused_seg_run / "weights" / "last.pt"), str(served))

    # when it is slimmed, then the command refuses it and leaves it unchanged
    before = served.read_bytes()
    with pytest.raises(CommandError, match="not a resumable training checkpoint"):
        call_command("slim_detector_checkpoint", str(served))
    assert served.read_bytes() == before
